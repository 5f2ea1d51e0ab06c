"""Signing keys kept in PostgreSQL, shared by every host."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from punchclock.errors import ConfigError
from punchclock.store import keyrows
from punchclock.store.keyrows import StoredKeys
from punchclock.store.postgres import PostgresStore
from punchclock.tokens import SecretBox
from tests.store.test_store_contract import T0, new_account, session

TODAY = dt.date(2026, 11, 28)
BOX = SecretBox(b"k" * 32)


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    backend = PostgresStore(postgres_url)
    await backend.migrate()
    try:
        yield backend
    finally:
        await backend.close()


async def test_hosts_starting_together_agree_on_one_first_key(store: PostgresStore) -> None:
    hosts = [StoredKeys(store, BOX) for _ in range(5)]
    rings = await asyncio.gather(*(host.load(TODAY) for host in hosts))
    assert {ring.current.kid for ring in rings} == {"2026-11-28"}
    assert len(await store.signing_keys()) == 1
    assert len({ring.verifying["2026-11-28"].public_bytes_raw() for ring in rings}) == 1


async def test_keys_are_stored_sealed_not_in_the_clear(store: PostgresStore) -> None:
    await StoredKeys(store, BOX).load(TODAY)
    [(kid, sealed, _)] = await store.signing_keys()
    assert b"PRIVATE KEY" not in sealed
    assert BOX.open_signing_key(sealed, kid).startswith(b"-----BEGIN PRIVATE KEY-----")


async def test_a_host_with_another_server_key_refuses_to_start(store: PostgresStore) -> None:
    await StoredKeys(store, BOX).load(TODAY)
    with pytest.raises(ConfigError, match="same PUNCHCLOCK_SECRET_KEY"):
        await StoredKeys(store, SecretBox(b"x" * 32)).load(TODAY)


async def test_a_rotated_key_verifies_at_once_and_signs_once_every_host_has_read_it(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_800_000_000_000_000]
    monkeypatch.setattr(keyrows, "_now", lambda: now[0])
    here, there = StoredKeys(store, BOX), StoredKeys(store, BOX)
    first = (await here.load(TODAY)).current.kid
    new, signs_from = await here.rotate(TODAY)
    assert signs_from - now[0] >= keyrows.REFRESH_INTERVAL * 1_000_000 * 2
    for host in (here, there):
        ring = await host.load(TODAY)
        assert new.kid in ring.verifying
        assert ring.current.kid == first  # not yet: another host may not have read it
    now[0] = signs_from
    assert here.ring().current.kid == new.kid  # no re-read needed when its time comes
    assert there.ring().current.kid == new.kid


async def test_retiring_a_key_ends_its_sessions_and_forgets_it(store: PostgresStore) -> None:
    keys = StoredKeys(store, BOX)
    old = (await keys.load(TODAY)).current.kid
    new, _ = await keys.rotate(TODAY)
    account = await store.create_account(new_account())
    await store.add_session(session(account, jti="a" * 32, kid=old))
    await store.add_session(session(account, jti="b" * 32, kid=new.kid))
    assert await keys.retire(old) == 1
    assert old not in {kid for kid, _, _ in await store.signing_keys()}
    assert [s.kid for s in await store.sessions_of(account.id, T0)] == [new.kid]
