"""GET /health/live and /health/ready: what probes see, on both stores, and what they never see."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from punchclock.config import Settings
from punchclock.keys import KeyRing
from punchclock.passwords import PasswordHasher
from punchclock.services import Services
from punchclock.services.health import (
    HASH_POOL_DEAD,
    KEYS_NOT_LOADED,
    SCHEMA_NOT_CURRENT,
    STORE_DOWN,
    Health,
)
from punchclock.store.keyfiles import load_signing_keys
from punchclock.store.postgres import PostgresStore
from punchclock.store.sqlite import SQLiteStore
from punchclock.web.app import Parts, app_for, build_services
from tests.conftest import SECRET_KEY, User
from tests.support import FORBIDDEN
from tests.system.tcp_proxy import TcpProxy


@pytest.fixture
def env(backend_env: dict[str, str]) -> dict[str, str]:
    return backend_env


async def test_live_is_200_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == "OK"
    assert response.headers["cache-control"] == "no-store"


async def test_ready_is_200_with_an_empty_list_when_all_is_well(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == []


async def test_ready_tells_nothing_about_accounts_or_credentials(
    client: httpx.AsyncClient, user: User, parts: Parts
) -> None:
    await parts.hasher.close()  # something to report
    response = await client.get("/health/ready", headers={"Cookie": f"x={user.session}"})
    body = response.text
    assert response.status_code == 503
    for secret in (user.email, user.token, user.session, user.password, "sqlite3", "postgres"):
        assert secret not in body


async def test_ready_is_503_naming_a_dead_hash_pool(
    client: httpx.AsyncClient, parts: Parts
) -> None:
    await parts.hasher.close()
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == [HASH_POOL_DEAD]
    assert (await client.get("/health/live")).status_code == 200  # alive, not ready


async def test_health_is_answered_with_a_wrong_credential_too(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Basic bm90OmFwaV90b2tlbg=="}
    assert (await client.get("/health/ready", headers=headers)).status_code == 200
    assert (await client.get("/api/v9/me", headers=headers)).json() == FORBIDDEN


async def test_concurrent_probes_share_one_store_check_a_second(
    client: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = services.health
    pings = 0
    store = health._store
    ping = store.ping

    async def counted() -> None:
        nonlocal pings
        pings += 1
        await asyncio.sleep(0.05)  # long enough for every probe to arrive while it runs
        await ping()

    monkeypatch.setattr(store, "ping", counted)
    health._store_checked_at = -float("inf")
    answers = await asyncio.gather(*(client.get("/health/ready") for _ in range(20)))
    assert {a.status_code for a in answers} == {200}
    assert pings == 1
    for _ in range(20):  # within the second: no new check
        await client.get("/health/ready")
    assert pings == 1
    health._store_checked_at -= 1.1  # a second later, a probe asks again
    await client.get("/health/ready")
    assert pings == 2


async def test_ready_answers_in_well_under_a_millisecond(client: httpx.AsyncClient) -> None:
    await client.get("/health/ready")  # the store check of this second
    app = client._transport.app  # type: ignore[attr-defined]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/health/ready",
        "raw_path": b"/health/ready",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    statuses = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        await app(scope, receive, send)
    each = (time.perf_counter() - started) / rounds
    assert set(statuses) == {200}
    assert each < 0.001, f"{each * 1e6:.0f} us a probe"


# -- a store that does not answer ------------------------------------------------------------


async def test_ready_is_503_while_postgresql_is_unreachable_and_200_when_it_is_back(
    base_env: dict[str, str], postgres_url: str
) -> None:
    parts_url = urlsplit(postgres_url)
    proxy = TcpProxy((parts_url.hostname or "127.0.0.1", parts_url.port or 5432))
    proxy.start()
    netloc = parts_url.netloc.rpartition("@")
    through = urlunsplit(parts_url._replace(netloc=f"{netloc[0]}{netloc[1]}127.0.0.1:{proxy.port}"))
    env = {**base_env, "PUNCHCLOCK_DATABASE_URL": through, "PUNCHCLOCK_SECRET_KEY": SECRET_KEY}
    settings = Settings.from_env(env)
    application = app_for(settings, build_services(settings))
    transport = httpx.ASGITransport(app=application)
    try:
        async with (
            application.running(),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as c,
        ):
            assert (await c.get("/health/ready")).status_code == 200
            proxy.stop()
            await asyncio.sleep(STORE_CHECK_AGE)
            started = time.monotonic()
            down = await c.get("/health/ready")
            assert time.monotonic() - started < 2.5  # never a hang
            assert down.status_code == 503
            assert down.json() == [STORE_DOWN]
            assert (await c.get("/health/live")).status_code == 200
            proxy.start()
            await asyncio.sleep(STORE_CHECK_AGE)
            assert (await c.get("/health/ready")).status_code == 200
    finally:
        proxy.stop()


STORE_CHECK_AGE = 1.1  # seconds: past the age a store check is reused for


async def test_ready_is_503_while_the_signing_keys_are_not_loaded(
    base_env: dict[str, str], postgres_url: str
) -> None:
    env = {**base_env, "PUNCHCLOCK_DATABASE_URL": postgres_url, "PUNCHCLOCK_SECRET_KEY": SECRET_KEY}
    parts = build_services(Settings.from_env(env))
    store = parts.store
    assert isinstance(store, PostgresStore)

    async def migrate_only() -> None:  # the keys are read from the database at start: not now
        await store.migrate()

    parts.on_start[:] = [migrate_only]
    application = app_for(Settings.from_env(env), parts)
    transport = httpx.ASGITransport(app=application)
    async with (
        application.running(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as c,
    ):
        response = await c.get("/health/ready")
    assert response.status_code == 503
    assert KEYS_NOT_LOADED in response.json()


# -- the hash pool, with real worker processes ------------------------------------------------


async def test_a_killed_hash_pool_is_reported_then_replaced(tmp_path: Path) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, workers=2)
    store = SQLiteStore(tmp_path / "db.sqlite3")
    health = Health(store, hasher, lambda: _ring(tmp_path))
    await health.check_schema()
    try:
        assert await hasher.verify(await hasher.hash("a password"), "a password")
        assert await health.problems() == []
        for pid in hasher._processes.pids():  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while HASH_POOL_DEAD not in await health.problems():
            assert time.monotonic() < deadline, "the dead pool was never reported"
            await asyncio.sleep(0.05)
        while await health.problems():  # the probe's look replaced the dead workers
            assert time.monotonic() < deadline, "the dead pool was never replaced"
            await asyncio.sleep(0.05)
        assert await hasher.verify(await hasher.hash("a password"), "a password")
    finally:
        await hasher.close()
        await store.close()


def _ring(data_dir: Path) -> KeyRing:
    return load_signing_keys(data_dir, dt.date(2026, 1, 1))


async def test_a_closed_store_is_down(tmp_path: Path) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, processes=False)
    store = SQLiteStore(tmp_path / "db.sqlite3")
    health = Health(store, hasher, lambda: _ring(tmp_path))
    await health.check_schema()
    assert await health.problems() == []
    await store.close()
    health._store_checked_at = -float("inf")
    assert await health.problems() == [STORE_DOWN]
    await hasher.close()


async def test_a_schema_that_is_not_current_at_start_up_is_reported(tmp_path: Path) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, processes=False)
    store = SQLiteStore(tmp_path / "db.sqlite3")
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    db.execute("PRAGMA user_version = 999")  # another punchclock migrated it further
    db.close()
    health = Health(store, hasher, lambda: _ring(tmp_path))
    await health.check_schema()
    assert await health.problems() == [SCHEMA_NOT_CURRENT]
    await store.close()
    await hasher.close()
