"""Password policy and argon2id hashing, run in a bounded thread pool off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import secrets
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from punchclock.errors import Overloaded, PasswordRejected

T = TypeVar("T")

MIN_LENGTH = 8  # NIST SP 800-63B 5.1.1.2; ASVS 4.0.3 V2.1.1 (level 2 asks 12: configurable later)
MAX_LENGTH = 128  # ASVS 4.0.3 V2.1.2: at least 64 allowed, more than 128 may be denied


def normalize(password: str) -> str:
    """Return the password as it is hashed: NFKC, never truncated (NIST SP 800-63B 5.1.1.2)."""
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str) -> None:
    """Raise PasswordRejected unless the password may be set; no composition rules (V2.1.9)."""
    length = len(normalize(password))  # one code point counts as one character
    if length < MIN_LENGTH:
        raise PasswordRejected(f"Password must be at least {MIN_LENGTH} characters")
    if length > MAX_LENGTH:
        raise PasswordRejected(f"Password must be at most {MAX_LENGTH} characters")


def _lower_priority() -> None:
    """Make the calling hash thread yield the CPU to the threads that serve requests.

    Hashing may use every idle core, but while a log-in flood runs, a request that needs
    no hash must not wait behind one. On Linux each thread has its own scheduling policy:
    SCHED_IDLE gives it a weight of 3 against the event loop's 1024, so the loop's thread
    takes a core the moment it wakes, and hashing still gets every cycle nobody else wants.
    """
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not permitted
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))


class PasswordHasher:
    """argon2id hash and verify on a fixed pool of threads, with a bounded queue.

    argon2-cffi releases the GIL while hashing, so a pool of one thread per core keeps
    every core busy while the event loop goes on serving requests that need no hash.
    """

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost: int = 19456,
        parallelism: int = 1,
        workers: int = 0,
        max_pending: int = 256,
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=workers or os.cpu_count() or 1,
            thread_name_prefix="argon2",
            initializer=_lower_priority,
        )
        self._max_pending = max_pending
        self._pending = 0
        # Verified against when an email has no account, so that the answer takes as long
        # as for a wrong password (OWASP Authentication Cheat Sheet; ASVS 5 V6.3.8).
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        """Return the argon2id hash of the normalised password."""
        return await self._run(self._argon2.hash, normalize(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Tell whether the password matches; with no hash, spend the same time and say no."""
        if password_hash is None:
            await self._run(self._verify, self._dummy_hash, normalize(password))
            return False
        return await self._run(self._verify, password_hash, normalize(password))

    def needs_rehash(self, password_hash: str) -> bool:
        """Tell whether the hash was made with other parameters than the current ones."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        if self._pending >= self._max_pending:
            raise Overloaded()
        self._pending += 1  # only touched from the event loop thread
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._pending -= 1


class VerifiedPasswords:
    """Email and password pairs verified recently, so that a repeat caller skips argon2.

    Toggl's clients send email:password on every API call; without this, each call would
    cost a full hash. Entries are keyed by an HMAC under a random per-process key, so the
    cache holds no password and no hash an attacker could test guesses against. Each entry
    remembers the password hash it was verified against and is used only while the stored
    hash is the same, so a password change stops it at once in every process. It is
    bounded in size (oldest dropped first) and in time.
    """

    def __init__(self, max_entries: int = 10_000, ttl: int = 300) -> None:
        self._key = secrets.token_bytes(32)
        self._max_entries = max_entries
        self._ttl = ttl * 1_000_000  # microseconds
        self._entries: dict[bytes, tuple[int, str, int]] = {}  # key -> (account, hash, until)

    def key(self, email: str, password: str) -> bytes:
        """Return the cache key of a pair: HMAC-SHA256 under the process key."""
        pair = email.lower().encode() + b"\0" + password.encode("utf-8", "surrogatepass")
        return hmac.digest(self._key, pair, "sha256")

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

    def forget_account(self, account_id: int) -> None:
        """Drop every entry of an account (its password changed or it was closed)."""
        for key in [k for k, entry in self._entries.items() if entry[0] == account_id]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
