"""Session signing keys kept as rows of the database, for punchclock on several hosts.

With PostgreSQL, hosts share nothing but the database, so the keys live there, each
sealed (AES-256-GCM) under the server key, which never enters the database: a dump alone
signs nothing. Every host must therefore be given the same PUNCHCLOCK_SECRET_KEY; a host
with another one cannot open the keys and refuses to start, saying so.

Each worker re-reads the keys every few seconds. A rotated key only starts signing once
every worker has had time to read it (`signs_from`), so a session signed on one host is
never refused by another that has not caught up yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Protocol

from punchclock.errors import ConfigError, StoreUnavailable
from punchclock.keys import KeyRing, SigningKey, key_from_pem, key_to_pem, new_signing_key
from punchclock.tokens import SecretBox

log = logging.getLogger("punchclock.keys")

REFRESH_INTERVAL = 2.0  # seconds between re-reads of the keys by each worker
ACTIVATION_DELAY = 3 * REFRESH_INTERVAL  # seconds from a rotation to its first signature


class KeyRows(Protocol):
    """What a store offers to keep signing keys (PostgresStore does)."""

    async def signing_keys(self) -> list[tuple[str, bytes, int]]: ...

    async def add_signing_key(self, kid: str, sealed: bytes, now: int, signs_from: int) -> bool: ...

    async def delete_signing_key(self, kid: str) -> int: ...


def _now() -> int:
    return time.time_ns() // 1000


class StoredKeys:
    """The signing keys in the database, as a ring each worker keeps fresh."""

    def __init__(self, rows: KeyRows, box: SecretBox) -> None:
        self._rows = rows
        self._box = box
        self._keys: list[tuple[SigningKey, int]] = []
        self._ring: KeyRing | None = None
        self._next_switch = 0  # when a waiting key starts signing (us); 0: none waits

    async def load(self, today: dt.date) -> KeyRing:
        """Read the keys, making the first one if there is none; raise ConfigError if the
        server key cannot open them."""
        rows = await self._rows.signing_keys()
        if not rows:
            key = new_signing_key(today, set())
            sealed = self._box.seal_signing_key(key_to_pem(key), key.kid)
            now = _now()
            await self._rows.add_signing_key(key.kid, sealed, now, now)  # another host may win
            rows = await self._rows.signing_keys()
        self._keys = [(self._open(kid, sealed), signs_from) for kid, sealed, signs_from in rows]
        self._ring = None
        return self.ring()

    def ring(self) -> KeyRing:
        """Return the ring as last read: every stored key verifies, the newest active one signs."""
        now = _now()
        if self._ring is None or (self._next_switch and now >= self._next_switch):
            if not self._keys:
                raise ConfigError("the signing keys have not been read from the database yet")
            active = {key.kid for key, signs_from in self._keys if signs_from <= now}
            self._ring = KeyRing.of([key for key, _ in self._keys], signing=active)
            waiting = [signs_from for _, signs_from in self._keys if signs_from > now]
            self._next_switch = min(waiting, default=0)
        return self._ring

    async def keep_fresh(self, today: dt.date, every: float = REFRESH_INTERVAL) -> None:
        """Re-read the keys every `every` seconds, for as long as the worker runs."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.load(today)
            except StoreUnavailable:
                log.debug("the database is unavailable; keeping the keys read last")
            except Exception:
                log.exception("reading the signing keys failed; keeping the keys read last")

    async def rotate(self, today: dt.date) -> tuple[SigningKey, int]:
        """Add a key named by today's date; return it and when (us) it starts signing."""
        taken = {kid for kid, _, _ in await self._rows.signing_keys()}
        while True:
            key = new_signing_key(today, taken)
            sealed = self._box.seal_signing_key(key_to_pem(key), key.kid)
            now = _now()
            signs_from = now + int(ACTIVATION_DELAY * 1_000_000)
            if await self._rows.add_signing_key(key.kid, sealed, now, signs_from):
                return key, signs_from
            taken.add(key.kid)  # another rotation took that name a moment ago

    async def retire(self, kid: str) -> int:
        """End every session the key signed and delete it; return how many sessions ended."""
        return await self._rows.delete_signing_key(kid)

    def _open(self, kid: str, sealed: bytes) -> SigningKey:
        try:
            return key_from_pem(kid, self._box.open_signing_key(sealed, kid))
        except ValueError:
            raise ConfigError(
                f"the signing key {kid} in the database cannot be opened with this host's "
                "server key: every host must have the same PUNCHCLOCK_SECRET_KEY"
            ) from None
