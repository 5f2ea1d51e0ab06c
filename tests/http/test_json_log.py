"""PUNCHCLOCK_LOG_FORMAT=json: one JSON object a line with the answer's fields; and in either
format, no password, token, cookie or code ever reaches a log line (ASVS 4.0.3 V7.1.1)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from punchclock.web.auth import DEVICE_COOKIE
from punchclock.web.logs import FLUSH_DELAY, JsonFormatter
from tests.conftest import FixedClock, User, sign_up
from tests.support import basic, cookie_header, outbox, reset_code_in, session_from, token_auth

EMAIL_LINK = re.compile(r"http://testserver/email/(confirm|undo)/([A-Za-z0-9_-]{40,})")
NEW_PASSWORD = "a new and longer passphrase"
FIELDS = [
    "time",
    "level",
    "logger",
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "auth",
    "account_id",
    "client",
]


@pytest.fixture(params=["text", "json"])
def log_format(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def serve(env: dict[str, str]) -> AsyncIterator[tuple[App, httpx.AsyncClient]]:
    app = create_app(Settings.from_env(env), clock=FixedClock())
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield app, c


@pytest.fixture
async def served(
    base_env: dict[str, str], log_format: str
) -> AsyncIterator[tuple[App, httpx.AsyncClient]]:
    async for pair in serve({**base_env, "PUNCHCLOCK_LOG_FORMAT": log_format}):
        yield pair


@pytest.fixture
async def json_served(base_env: dict[str, str]) -> AsyncIterator[tuple[App, httpx.AsyncClient]]:
    async for pair in serve({**base_env, "PUNCHCLOCK_LOG_FORMAT": "json"}):
        yield pair


@pytest.fixture
def app_log_lines() -> Iterator[io.StringIO]:
    """The application's log lines, as `serve` formats them with PUNCHCLOCK_LOG_FORMAT=json."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(lambda record: not record.name.startswith("httpx"))  # the test's client
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def access_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    await asyncio.sleep(FLUSH_DELAY * 1.5)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


async def test_each_answer_is_one_json_object_with_what_happened(
    json_served: tuple[App, httpx.AsyncClient], capsys: pytest.CaptureFixture[str]
) -> None:
    _, client = json_served
    user = await sign_up(client)
    await access_lines(capsys)
    answers = [
        await client.get("/api/v9/me", headers=token_auth(user.token)),
        await client.get("/api/v9/me", headers=basic(user.email, user.password)),
        await client.get("/api/v9/me", headers=cookie_header(user.session)),
        await client.get("/api/v9/me", headers=token_auth("0" * 32)),
        await client.get("/api/v9/me"),
        await client.delete("/api/sessions/123", headers=token_auth(user.token)),
        await client.get(f"/no/such/{user.token}?email={user.email}"),
        await client.post("/api/sessions", json={"email": user.email, "password": user.password}),
        await client.post("/api/sessions", json={"email": user.email, "password": "wrong one"}),
    ]
    lines = await access_lines(capsys)
    assert [list(line) for line in lines] == [FIELDS] * len(answers)
    account = user.me["id"]
    assert [
        (line["method"], line["route"], line["status"], line["auth"], line["account_id"])
        for line in lines
    ] == [
        ("GET", "/api/v9/me", 200, "token", account),
        ("GET", "/api/v9/me", 200, "password", account),
        ("GET", "/api/v9/me", 200, "session", account),
        ("GET", "/api/v9/me", 403, "token", None),
        ("GET", "/api/v9/me", 403, "none", None),
        ("DELETE", "/api/sessions/{id}", 404, "token", account),
        ("GET", None, 404, "none", None),  # no path a client chose
        ("POST", "/api/sessions", 200, "password", account),  # a log-in
        ("POST", "/api/sessions", 403, "password", None),
    ]
    for line, answer in zip(lines, answers, strict=True):
        assert line["request_id"] == answer.headers["x-request-id"]
        assert (line["level"], line["logger"], line["client"]) == (
            "INFO",
            "punchclock.access",
            "203.0.113.7",
        )
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
        assert 0 <= line["duration_ms"] < 10_000


async def test_the_client_is_the_address_a_trusted_proxy_forwarded(
    base_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**base_env, "PUNCHCLOCK_LOG_FORMAT": "json", "PUNCHCLOCK_TRUSTED_PROXIES": "203.0.113.7"}
    async for _, client in serve(env):
        await client.get("/health/live", headers={"X-Forwarded-For": "198.51.100.1, 192.0.2.9"})
        [line] = await access_lines(capsys)
        assert line["client"] == "192.0.2.9"  # the entry the trusted proxy wrote


async def test_application_lines_are_json_with_the_request_id(
    json_served: tuple[App, httpx.AsyncClient], app_log_lines: io.StringIO
) -> None:
    _, client = json_served
    logging.getLogger("punchclock.web").warning("about to answer")  # outside any request
    answer = await client.get("/api/v9/me")  # fails: no log line of its own
    log = logging.getLogger("punchclock.test")

    async def log_in_a_request(request: Any) -> Any:
        log.warning("inside %s", "a request")
        raise ValueError("a bug")  # logged with its traceback, answered 500

    app, _ = json_served
    app._static["/boom"] = {"GET": log_in_a_request}
    boom = await client.get("/boom")
    assert (answer.status_code, boom.status_code) == (403, 500)
    lines = [json.loads(line) for line in app_log_lines.getvalue().splitlines()]
    outside = next(line for line in lines if line["message"] == "about to answer")
    assert "request_id" not in outside
    inside = next(line for line in lines if line["message"] == "inside a request")
    assert inside["request_id"] == boom.headers["x-request-id"]
    assert (inside["level"], inside["logger"]) == ("WARNING", "punchclock.test")
    crash = next(line for line in lines if "unexpected error" in line["message"])
    assert "ValueError: a bug" in crash["exception"]
    assert crash["request_id"] == boom.headers["x-request-id"]


async def test_no_password_token_cookie_or_code_reaches_any_log_line(
    served: tuple[App, httpx.AsyncClient],
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    app_log_lines: io.StringIO,
) -> None:
    """Every credential kind and every link with a code, then every line of both logs."""
    app, client = served
    user: User = await sign_up(client)
    logged_in = await client.post(
        "/api/sessions", json={"email": user.email, "password": user.password}
    )
    session = session_from(logged_in)
    device = logged_in.cookies.get(DEVICE_COOKIE) or ""
    secrets = [user.password, user.token, user.session, session, device, NEW_PASSWORD]
    await client.get("/api/v9/me", headers=token_auth(user.token))
    await client.get("/api/v9/me", headers=basic(user.email, user.password))
    await client.get("/api/v9/me", headers=basic(user.email, "a wrong password"))
    await client.get("/api/v9/me", headers=cookie_header(session))
    await client.get("/account", headers=cookie_header(session))
    await client.get("/api/auth/verify", headers=token_auth(user.token))
    secrets.append(
        (await client.post("/api/v9/me/reset_token", headers=token_auth(user.token))).json()
    )
    # a reset code, by the API's path and by the mailed link's
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[-1])
    secrets.append(code)
    await client.get(f"/reset/{code}?utm=mail")
    confirmed = await client.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": NEW_PASSWORD}
    )
    assert confirmed.status_code == 200, confirmed.text
    # an email change: the codes of its confirm and undo links
    changed = await client.put(
        "/api/v9/me",
        json={"email": "new@example.com", "current_password": NEW_PASSWORD},
        headers=basic(user.email, NEW_PASSWORD),
    )
    assert changed.status_code == 200, changed.text
    await app.drain()
    [(_, confirm)] = EMAIL_LINK.findall(str(outbox(data_dir)[-1].get_body(("plain",))))
    secrets.append(confirm)
    await client.get(f"/email/confirm/{confirm}")
    assert (await client.post(f"/api/me/email_change/confirm/{confirm}")).status_code == 200
    await app.drain()
    [(_, undo)] = EMAIL_LINK.findall(str(outbox(data_dir)[-1].get_body(("plain",))))
    secrets.append(undo)
    await client.get(f"/email/undo/{undo}")
    await client.post(f"/api/me/email_change/undo/{undo}")
    await asyncio.sleep(FLUSH_DELAY * 1.5)
    captured = capsys.readouterr()
    written = captured.out + captured.err + app_log_lines.getvalue()
    assert written.count("\n") >= 17  # every answer's line is there...
    for secret in secrets:
        assert len(secret) >= 8
        assert secret not in written  # ...and no secret in any
