"""The audit trail: each security event is recorded with its account, address and agent.

Recording happens in the background, after the answer: every test drains the app first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from punchclock.config import Settings
from punchclock.models import AuditEvent
from punchclock.services import Services
from punchclock.store import Store
from punchclock.store.postgres import PostgresStore
from punchclock.store.sqlite import SQLiteStore
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, sign_up
from tests.support import basic, cookie_header, outbox, reset_code_in, session_from, token_auth

IP = "203.0.113.7"  # the test client's address (tests/conftest.py)
AGENT = "audit-test/1.0"
NEW_PASSWORD = "a whole new password"
DAY = 24 * 3600


@pytest.fixture
def env(backend_env: dict[str, str]) -> dict[str, str]:
    # two failures a minute per account and address, so that the third is throttled
    return {**backend_env, "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "2/minute"}


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(IP, 4321))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": AGENT}
    ) as c:
        yield c


def open_store(settings: Settings) -> Store:
    if settings.postgres_url:
        return PostgresStore(settings.postgres_url)
    return SQLiteStore(settings.database_path)


async def recorded(app: App, settings: Settings) -> list[AuditEvent]:
    """Return every event in the trail, oldest first, once the background work is done."""
    await app.drain()
    store = open_store(settings)
    try:
        return list(reversed(await store.events(None, 0, 1000)))
    finally:
        await store.close()


def kinds(events: list[AuditEvent]) -> list[tuple[str, int | None, str | None]]:
    """Return what each event says, sorted: events of one instant may land in any order
    (they are written in the background, on PostgreSQL on several connections)."""
    return sorted(((e.event, e.account_id, e.detail) for e in events), key=repr)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/sessions", json={"email": email, "password": password})


async def test_sign_up_and_log_in_are_recorded_with_account_address_and_agent(
    client: httpx.AsyncClient, app: App, settings: Settings, clock: FixedClock
) -> None:
    ann = await sign_up(client)
    clock.advance(5)
    assert (await log_in(client, ann.email, ann.password)).status_code == 200

    signed_up, logged_in = await recorded(app, settings)

    ann_id = ann.me["id"]
    assert (signed_up.event, signed_up.account_id) == ("sign_up", ann_id)
    assert (logged_in.event, logged_in.account_id) == ("log_in", ann_id)
    assert logged_in.at == clock.now()
    assert signed_up.at == clock.now() - 5_000_000
    assert {(e.ip, e.user_agent) for e in (signed_up, logged_in)} == {(IP, AGENT)}


async def test_each_event_carries_the_request_id_of_the_answer_that_recorded_it(
    client: httpx.AsyncClient, app: App, settings: Settings, user: User
) -> None:
    refused = await log_in(client, user.email, "wrong password")
    accepted = await log_in(client, user.email, user.password)
    assert (refused.status_code, accepted.status_code) == (403, 200)

    events = {e.event: e for e in await recorded(app, settings) if e.event != "sign_up"}

    # the id the answer's X-Request-Id header gave, so the access log's line can be found
    assert events["log_in_failed"].request_id == refused.headers["x-request-id"]
    assert events["log_in"].request_id == accepted.headers["x-request-id"]
    assert refused.headers["x-request-id"] != accepted.headers["x-request-id"]


async def test_failed_log_ins_are_recorded_with_the_account_or_none_for_an_unknown_email(
    client: httpx.AsyncClient, app: App, settings: Settings, user: User
) -> None:
    assert (await log_in(client, user.email, "wrong password")).status_code == 403
    assert (await log_in(client, "nobody@example.com", "wrong password")).status_code == 403
    wrong_basic = await client.get("/api/v9/me", headers=basic(user.email, "wrong again"))
    assert wrong_basic.status_code == 403

    events = [e for e in await recorded(app, settings) if e.event != "sign_up"]

    assert kinds(events) == sorted(
        [
            ("log_in_failed", user.me["id"], "log_in"),
            ("log_in_failed", None, "log_in"),
            ("log_in_failed", user.me["id"], "basic"),
        ],
        key=repr,
    )
    assert {(e.ip, e.user_agent) for e in events} == {(IP, AGENT)}
    # the email tried for no account is kept nowhere, not even in part
    assert not any("nobody" in str(value) for e in events for value in fields(e))


async def test_a_throttled_log_in_is_recorded_once_a_minute(
    client: httpx.AsyncClient, app: App, settings: Settings, user: User, clock: FixedClock
) -> None:
    for _ in range(2):
        assert (await log_in(client, user.email, "wrong password")).status_code == 403
    for _ in range(3):  # refused at once, however many come
        assert (await log_in(client, user.email, "wrong password")).status_code == 429
    clock.advance(61)
    assert (await log_in(client, user.email, "wrong password")).status_code == 429

    events = [e for e in await recorded(app, settings) if e.event == "throttled"]

    assert kinds(events) == [("throttled", user.me["id"], "password")] * 2
    assert {(e.ip, e.user_agent) for e in events} == {(IP, AGENT)}


async def test_ending_sessions_is_recorded_with_how_they_ended(
    client: httpx.AsyncClient, app: App, settings: Settings, user: User
) -> None:
    await log_in(client, user.email, user.password)
    third = session_from(await log_in(client, user.email, user.password))
    listed = (await client.get("/api/sessions", headers=cookie_header(third))).json()
    other = next(s["id"] for s in listed if not s["current"])
    response = await client.delete(f"/api/sessions/{other}", headers=cookie_header(third))
    assert response.status_code == 200
    others = await client.delete("/api/sessions?others=true", headers=cookie_header(third))
    assert others.status_code == 200
    assert (await client.delete("/api/sessions", headers=cookie_header(third))).status_code == 200

    events = [e for e in await recorded(app, settings) if e.event == "session_ended"]

    ann = user.me["id"]
    assert kinds(events) == sorted(
        [
            ("session_ended", ann, "by_id"),
            ("session_ended", ann, "others"),
            ("session_ended", ann, "log_out"),
        ],
        key=repr,
    )
    assert {(e.ip, e.user_agent) for e in events} == {(IP, AGENT)}


async def test_password_change_token_reset_and_closing_are_recorded(
    client: httpx.AsyncClient, app: App, settings: Settings, user: User
) -> None:
    change = {"password": NEW_PASSWORD, "current_password": "wrong one"}
    refused = await client.put("/api/v9/me", headers=token_auth(user.token), json=change)
    assert refused.status_code == 400  # "Current password is not valid"
    change["current_password"] = user.password
    changed = await client.put("/api/v9/me", headers=token_auth(user.token), json=change)
    assert changed.status_code == 200
    reset = await client.post("/api/v9/me/reset_token", headers=token_auth(user.token))
    assert reset.status_code == 200
    closed = await client.post("/api/me/close_account/track", headers=token_auth(reset.json()))
    assert closed.status_code == 200

    events = [e for e in await recorded(app, settings) if e.event != "sign_up"]

    ann = user.me["id"]
    assert kinds(events) == sorted(
        [
            ("log_in_failed", ann, "current_password"),
            ("password_changed", ann, None),
            ("api_token_reset", ann, None),
            ("account_closed", ann, None),
        ],
        key=repr,
    )
    assert {(e.ip, e.user_agent) for e in events} == {(IP, AGENT)}


async def test_password_reset_is_recorded_from_request_to_completion(
    client: httpx.AsyncClient, app: App, settings: Settings, user: User, data_dir: Path
) -> None:
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await client.post("/api/me/password_reset/request", json={"email": "nobody@example.com"})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[0])
    bad = await client.post(
        "/api/me/password_reset/confirm/" + "x" * 32, json={"password": NEW_PASSWORD}
    )
    assert bad.status_code != 200
    done = await client.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": NEW_PASSWORD}
    )
    assert done.status_code == 200

    events = [e for e in await recorded(app, settings) if e.event != "sign_up"]

    ann = user.me["id"]
    assert kinds(events) == sorted(
        [
            ("reset_requested", ann, None),
            ("reset_requested", None, None),
            ("reset_failed", None, None),
            ("reset_completed", ann, None),
        ],
        key=repr,
    )
    assert {(e.ip, e.user_agent) for e in events} == {(IP, AGENT)}


async def test_no_password_token_code_or_cookie_reaches_the_audit_trail(
    client: httpx.AsyncClient, app: App, settings: Settings, data_dir: Path
) -> None:
    ann = await sign_up(client)
    logged_in = await log_in(client, ann.email, ann.password)
    failed = "a wrong guess at the password"
    await log_in(client, ann.email, failed)
    await log_in(client, "nobody@example.com", failed)
    await client.post("/api/me/password_reset/request", json={"email": ann.email})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[0])
    reset = await client.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": NEW_PASSWORD}
    )
    new_token = (await client.post("/api/v9/me/reset_token", headers=token_auth(ann.token))).json()

    events = await recorded(app, settings)

    secrets = [
        ann.password,
        failed,
        NEW_PASSWORD,
        ann.token,
        new_token,
        code,
        ann.session,
        session_from(logged_in),
        session_from(reset),
        "nobody@example.com",
    ]
    assert len(events) >= 6
    for event in events:
        for value in fields(event):
            for secret in secrets:
                assert secret not in str(value), (event, secret)


async def test_reading_me_records_nothing(
    client: httpx.AsyncClient, app: App, settings: Settings, user: User
) -> None:
    before = await recorded(app, settings)
    for headers in (cookie_header(user.session), token_auth(user.token)):
        assert (await client.get("/api/v9/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v9/me", headers=basic(user.email, user.password))).is_success

    assert await recorded(app, settings) == before


async def test_the_purge_removes_only_events_past_the_retention(
    client: httpx.AsyncClient,
    app: App,
    services: Services,
    settings: Settings,
    clock: FixedClock,
) -> None:
    ann = await sign_up(client)  # recorded now
    clock.advance(settings.audit_retention_days * DAY - 60)
    await log_in(client, ann.email, ann.password)  # a minute younger than the retention
    clock.advance(120)  # the sign-up is now past the retention; the log-in is not
    await app.drain()  # both are written

    assert await services.audit.purge() == 1

    assert kinds(await recorded(app, settings)) == [("log_in", ann.me["id"], None)]


def fields(event: AuditEvent) -> list[object]:
    return [getattr(event, name) for name in event.__struct_fields__]
