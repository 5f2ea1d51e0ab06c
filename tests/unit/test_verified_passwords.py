from __future__ import annotations

import hashlib

from punchclock.passwords import VerifiedPasswords

NOW = 1_000_000_000


def test_a_remembered_pair_holds_for_its_account_and_hash() -> None:
    cache = VerifiedPasswords()
    key = cache.key("ann@example.com", "secret password")
    cache.remember(key, 1, "hash-1", NOW)
    assert cache.holds(key, 1, "hash-1", NOW)
    assert cache.holds(cache.key("ANN@example.com", "secret password"), 1, "hash-1", NOW)


def test_the_key_is_keyed_per_process_and_holds_no_password() -> None:
    one, two = VerifiedPasswords(), VerifiedPasswords()
    key = one.key("ann@example.com", "secret password")
    assert len(key) == 32
    assert b"secret" not in key
    assert key != two.key("ann@example.com", "secret password")
    assert key != one.key("ann@example.com", "secret passwore")
    pair = b"ann@example.com\0secret password"
    unkeyed = (hashlib.blake2b(pair, digest_size=32).digest(), hashlib.sha256(pair).digest())
    assert key not in unkeyed  # a guess cannot be tested against it without the key


def test_a_changed_password_hash_makes_the_entry_useless_and_drops_it() -> None:
    cache = VerifiedPasswords()
    key = cache.key("ann@example.com", "old password")
    cache.remember(key, 1, "hash-1", NOW)
    assert not cache.holds(key, 1, "hash-2", NOW)
    assert len(cache) == 0


def test_an_entry_expires() -> None:
    cache = VerifiedPasswords(ttl=60)
    key = cache.key("ann@example.com", "pw")
    cache.remember(key, 1, "hash-1", NOW)
    assert cache.holds(key, 1, "hash-1", NOW + 59_000_000)
    assert not cache.holds(key, 1, "hash-1", NOW + 60_000_000)


def test_the_cache_is_bounded_and_drops_the_oldest() -> None:
    cache = VerifiedPasswords(max_entries=3)
    keys = [cache.key(f"u{i}@example.com", "pw") for i in range(4)]
    for i, key in enumerate(keys):
        cache.remember(key, i, "h", NOW)
    assert len(cache) == 3
    assert not cache.holds(keys[0], 0, "h", NOW)
    assert all(cache.holds(k, i, "h", NOW) for i, k in enumerate(keys) if i)
