"""Whether this process can serve: what a load balancer's or an orchestrator's probe asks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from punchclock.errors import ConfigError, StoreUnavailable
from punchclock.keys import KeyRing
from punchclock.passwords import PasswordHasher
from punchclock.store import Store

STORE_CHECK_MAX_AGE = 1.0  # seconds a store check is reused for by later probes
STORE_CHECK_TIMEOUT = 1.0  # seconds a probe waits for the store before calling it down

# What a probe may say: fixed words, never a credential, an address or an account.
STORE_DOWN = "store: the database does not answer"
SCHEMA_NOT_CURRENT = "schema: not at the version this code needs"
SCHEMA_UNCHECKED = "schema: not checked yet (the server is starting)"
KEYS_NOT_LOADED = "signing keys: not loaded"
HASH_POOL_DEAD = "hash pool: no password hashing worker is alive"


class Health:
    """Tell what keeps this process from serving; an empty list means ready.

    Cheap enough for a probe every second from every balancer: the store is asked at most
    once a second, whatever the number of concurrent probes (they share one check); the
    schema is checked once, at start-up (a probe that walked the migrations each time is
    what ory/kratos#1337 was about); the keys and the hash pool are looked at in memory.
    """

    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        signing_keys: Callable[[], KeyRing],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._signing_keys = signing_keys
        self._monotonic = monotonic
        self._schema_current: bool | None = None  # None: not checked yet
        self._store_up = False
        self._store_checked_at = -float("inf")
        self._store_check: asyncio.Future[bool] | None = None

    async def check_schema(self) -> None:
        """Check, once at start-up, that the schema is the one this code was written for."""
        self._schema_current = await self._store.schema_is_current()

    async def problems(self) -> list[str]:
        """Return what is wrong, in fixed words; empty when this process is ready."""
        found = []
        store_up = await self._store_answers()
        if not store_up:
            found.append(STORE_DOWN)
        elif self._schema_current is None:  # the store was down at start-up: check it now
            with contextlib.suppress(StoreUnavailable):
                await self.check_schema()
        if self._schema_current is None:
            found.append(SCHEMA_UNCHECKED)
        elif not self._schema_current:
            found.append(SCHEMA_NOT_CURRENT)
        if not self._keys_loaded():
            found.append(KEYS_NOT_LOADED)
        if not self._hasher.alive():
            found.append(HASH_POOL_DEAD)
        return found

    async def _store_answers(self) -> bool:
        if self._monotonic() - self._store_checked_at <= STORE_CHECK_MAX_AGE:
            return self._store_up
        if self._store_check is None:  # the first probe asks; the others wait for its answer
            self._store_check = asyncio.ensure_future(self._ask_store())
        return await asyncio.shield(self._store_check)

    async def _ask_store(self) -> bool:
        try:
            async with asyncio.timeout(STORE_CHECK_TIMEOUT):
                await self._store.ping()
            up = True
        except (StoreUnavailable, TimeoutError):
            up = False
        self._store_up = up
        self._store_checked_at = self._monotonic()
        self._store_check = None
        return up

    def _keys_loaded(self) -> bool:
        with contextlib.suppress(ConfigError, OSError):
            return bool(self._signing_keys().current.kid)
        return False
