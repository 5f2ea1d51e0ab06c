"""Two apps stand for two worker processes on one SQLite file, and for two hosts sharing one
PostgreSQL (each with a data directory of its own): what one revokes, the other refuses on
its very next request, whatever it had cached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from tests.conftest import User, log_in, sign_up
from tests.support import basic, cookie_header, outbox, reset_code_in, token_auth


@pytest.fixture
def env(backend_env: dict[str, str]) -> dict[str, str]:
    return backend_env


@pytest.fixture
async def other_app(env: dict[str, str], tmp_path: Path) -> AsyncIterator[App]:
    if "PUNCHCLOCK_DATABASE_URL" in env:  # another host: nothing shared but the database
        env = {**env, "PUNCHCLOCK_DATA_DIR": str(tmp_path / "other-host")}
    application = create_app(Settings.from_env(env))
    async with application.running():
        yield application


@pytest.fixture
async def other(other_app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=other_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _warm(other: httpx.AsyncClient, user: User) -> None:
    """Use every credential on the other worker, so that each is in its caches."""
    for headers in (
        basic(user.email, user.password),
        token_auth(user.token),
        cookie_header(user.session),
    ):
        for _ in range(2):
            assert (await other.get("/api/v9/me", headers=headers)).status_code == 200


async def test_a_session_made_on_one_worker_works_on_the_other(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    session = await log_in(client, user)
    me = await other.get("/api/v9/me", headers=cookie_header(session))
    assert me.status_code == 200
    assert me.json()["email"] == user.email


async def test_a_session_ended_on_one_worker_is_refused_by_the_other(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    await _warm(other, user)
    await client.delete("/api/sessions", headers=cookie_header(user.session))
    assert (await other.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403


async def test_a_token_reset_on_one_worker_is_refused_by_the_other(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    await _warm(other, user)
    new = (await client.post("/api/v9/me/reset_token", headers=token_auth(user.token))).json()
    assert (await other.get("/api/v9/me", headers=token_auth(user.token))).status_code == 403
    me = await other.get("/api/v9/me", headers=token_auth(new))
    assert me.json()["api_token"] == new


async def test_a_password_changed_on_one_worker_is_refused_by_the_other(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    await _warm(other, user)
    await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"current_password": user.password, "password": "the new password"},
    )
    old = await other.get("/api/v9/me", headers=basic(user.email, user.password))
    assert old.status_code == 403
    assert (await other.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403
    new = await other.get("/api/v9/me", headers=basic(user.email, "the new password"))
    assert new.status_code == 200


async def test_a_password_reset_on_one_worker_is_refused_by_the_other(
    client: httpx.AsyncClient,
    other: httpx.AsyncClient,
    user: User,
    app: App,
    other_app: App,
    data_dir: Path,
) -> None:
    await _warm(other, user)
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()  # queued and, unless the other worker's sender has it, sent
    await other_app.drain()  # that sender's pass, if it took the message, is over
    [message] = outbox(data_dir)
    confirm = await client.post(
        f"/api/me/password_reset/confirm/{reset_code_in(message)}",
        json={"password": "reset to this one"},
    )
    assert confirm.status_code == 200
    assert (
        await other.get("/api/v9/me", headers=basic(user.email, user.password))
    ).status_code == 403
    assert (await other.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403


async def test_an_account_closed_on_one_worker_is_refused_by_the_other(
    client: httpx.AsyncClient, other: httpx.AsyncClient, user: User
) -> None:
    await _warm(other, user)
    await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    for headers in (
        basic(user.email, user.password),
        token_auth(user.token),
        cookie_header(user.session),
    ):
        assert (await other.get("/api/v9/me", headers=headers)).status_code == 403


async def test_a_profile_change_on_one_worker_shows_on_the_other(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    user = await sign_up(client, email="zed@example.com")
    await _warm(other, user)
    await client.put("/api/v9/me", headers=token_auth(user.token), json={"fullname": "Zed Z"})
    me = await other.get("/api/v9/me", headers=token_auth(user.token))
    assert me.json()["fullname"] == "Zed Z"
