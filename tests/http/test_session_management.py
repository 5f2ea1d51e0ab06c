from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from punchclock.config import Settings
from punchclock.services import Services
from punchclock.web.app import app_for, build_services
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, log_in, sign_up
from tests.support import basic, cookie_header, outbox, reset_code_in, token_auth


async def test_sessions_are_listed_with_the_current_one_marked(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    clock.advance(1)  # newest first: the log-in comes after the sign-up's session
    other = await log_in(client, user, agent="Firefox/200")
    response = await client.get("/api/sessions", headers=cookie_header(other))
    assert response.status_code == 200
    listed = response.json()
    assert len(listed) == 2
    assert [s["current"] for s in listed] == [True, False]
    newest = listed[0]
    assert newest["user_agent"] == "Firefox/200"
    assert newest["ip"] == "203.0.113.7"
    assert set(newest) == {
        "id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current",
    }  # fmt: skip
    assert len(newest["id"]) == 32
    assert user.session not in response.text  # neither the JWT nor its jti is shown


async def test_sessions_of_another_account_are_not_listed(
    client: httpx.AsyncClient, user: User
) -> None:
    bob = await sign_up(client, email="bob@example.com")
    listed = (await client.get("/api/sessions", headers=token_auth(bob.token))).json()
    assert len(listed) == 1
    assert listed[0]["current"] is False  # Basic auth has no current session


async def test_ending_a_session_by_id_refuses_it_on_the_next_request(
    client: httpx.AsyncClient, user: User
) -> None:
    other = await log_in(client, user)
    listed = (await client.get("/api/sessions", headers=cookie_header(other))).json()
    target = next(s["id"] for s in listed if not s["current"])
    response = await client.delete(f"/api/sessions/{target}", headers=cookie_header(other))
    assert response.status_code == 200
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403
    assert (await client.get("/api/v9/me", headers=cookie_header(other))).status_code == 200


async def test_someone_elses_session_id_is_not_found_and_stays(
    client: httpx.AsyncClient, user: User
) -> None:
    bob = await sign_up(client, email="bob@example.com")
    [bobs] = (await client.get("/api/sessions", headers=cookie_header(bob.session))).json()
    response = await client.delete(f"/api/sessions/{bobs['id']}", headers=token_auth(user.token))
    assert response.status_code == 404
    assert response.json() == "Session not found"
    assert (await client.get("/api/v9/me", headers=cookie_header(bob.session))).status_code == 200
    unknown = await client.delete("/api/sessions/" + "0" * 32, headers=token_auth(user.token))
    assert unknown.status_code == 404


async def test_ending_the_other_sessions_keeps_the_current_one(
    client: httpx.AsyncClient, user: User
) -> None:
    second, third = await log_in(client, user), await log_in(client, user)
    response = await client.delete("/api/sessions?others=true", headers=cookie_header(third))
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    for ended in (user.session, second):
        assert (await client.get("/api/v9/me", headers=cookie_header(ended))).status_code == 403
    assert (await client.get("/api/v9/me", headers=cookie_header(third))).status_code == 200


@pytest.fixture
async def idle_client(
    env: dict[str, str], clock: FixedClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    settings = Settings.from_env({**env, "PUNCHCLOCK_SESSION_IDLE_TIMEOUT": "600"})
    parts = build_services(settings, clock=clock)
    app = app_for(settings, parts)
    async with (
        app.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield c, parts.services


async def test_a_session_unused_for_the_idle_timeout_ends(
    idle_client: tuple[httpx.AsyncClient, Services], clock: FixedClock
) -> None:
    client, services = idle_client
    user = await sign_up(client)
    clock.advance(599)
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200
    await services.background.drain()  # the use is recorded in the background
    clock.advance(599)  # used 599 s ago: still live
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200
    await services.background.drain()
    clock.advance(601)
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403
    # the API token has no idle timeout
    assert (await client.get("/api/v9/me", headers=token_auth(user.token))).status_code == 200


async def test_expired_and_idle_sessions_are_purged(
    idle_client: tuple[httpx.AsyncClient, Services], clock: FixedClock
) -> None:
    client, services = idle_client
    user = await sign_up(client)
    await log_in(client, user)
    assert await services.sessions.purge_sessions() == 0
    clock.advance(601)
    assert await services.sessions.purge_sessions() == 2
    assert (await client.get("/api/sessions", headers=token_auth(user.token))).json() == []


# What each event ends at once (the foundation's rules, kept as a table).
ENDS = {
    # event: (the cookie of another session, the API token, the old password)
    "log out": (False, False, False),
    "change password": (True, False, True),
    "reset password": (True, False, True),
    "reset token": (False, True, False),
    "close account": (True, True, True),
}


@pytest.mark.parametrize("event", list(ENDS))
async def test_what_each_event_ends(
    client: httpx.AsyncClient, user: User, app: App, data_dir: Path, event: str
) -> None:
    other = await log_in(client, user)
    token, password = user.token, user.password
    if event == "log out":
        await client.delete("/api/sessions", headers=cookie_header(user.session))
    elif event == "change password":
        await client.put(
            "/api/v9/me",
            headers=cookie_header(user.session),
            json={"current_password": password, "password": "a changed password"},
        )
    elif event == "reset password":
        await client.post("/api/me/password_reset/request", json={"email": user.email})
        await app.drain()
        [message] = outbox(data_dir)
        code = reset_code_in(message)
        confirm = await client.post(
            f"/api/me/password_reset/confirm/{code}", json={"password": "reset password 1"}
        )
        assert confirm.status_code == 200
    elif event == "reset token":
        await client.post("/api/v9/me/reset_token", headers=cookie_header(user.session))
    else:
        await client.post("/api/me/close_account/track", headers=cookie_header(user.session))
    statuses = [
        (await client.get("/api/v9/me", headers=headers)).status_code
        for headers in (cookie_header(other), token_auth(token), basic(user.email, password))
    ]
    assert statuses == [403 if ended else 200 for ended in ENDS[event]]
