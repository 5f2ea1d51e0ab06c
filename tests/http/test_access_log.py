"""Every answer the app gives is one access-log line on stdout, unless the log is off."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.app import create_app
from punchclock.web.logs import FLUSH_DELAY
from tests.conftest import FixedClock, User


async def test_every_answer_is_a_line_with_its_status_and_request_id(
    client: httpx.AsyncClient, user: User, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.sleep(FLUSH_DELAY * 1.5)  # the sign-up's line
    capsys.readouterr()
    answers = [
        await client.get("/api/v9/me", auth=(user.token, "api_token")),
        await client.get("/api/v9/me"),  # no credentials
        await client.get("/nowhere"),
        await client.put("/api/sessions"),  # a method the path does not take
        await client.post("/api/signup", content=b"x" * (65 * 1024)),  # too large
        await client.post("/api/me/password_reset/confirm/s3cr3t-c0de", json={"password": "x"}),
    ]
    await asyncio.sleep(FLUSH_DELAY * 1.5)  # the lines of a batch are written together
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{line} request_id={answer.headers['x-request-id']}"
        for line, answer in zip(
            [
                'INFO:     203.0.113.7:4321 - "GET /api/v9/me HTTP/1.1" 200 OK',
                'INFO:     203.0.113.7:4321 - "GET /api/v9/me HTTP/1.1" 403 Forbidden',
                'INFO:     203.0.113.7:4321 - "GET /nowhere HTTP/1.1" 404 Not Found',
                'INFO:     203.0.113.7:4321 - "PUT /api/sessions HTTP/1.1" 405 Method Not Allowed',
                'INFO:     203.0.113.7:4321 - "POST /api/signup HTTP/1.1" 413 Request Entity Too '
                "Large",
                'INFO:     203.0.113.7:4321 - "POST /api/me/password_reset/confirm/*** HTTP/1.1" '
                "400 Bad Request",
            ],
            answers,
            strict=True,
        )
    ]
    assert len({answer.headers["x-request-id"] for answer in answers}) == len(answers)


async def test_the_lines_still_waiting_are_written_at_shutdown(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings, clock=FixedClock())
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, object]:
        return {"type": "lifespan.shutdown"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async with app.running():
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "path": "/api/v9/me/logged",
            "raw_path": b"/api/v9/me/logged",
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 1),
        }

        async def no_body() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        await app(scope, no_body, send)
        assert capsys.readouterr().out == ""  # its batch waits for FLUSH_DELAY
        await app({"type": "lifespan"}, receive, send)  # the server shuts the app down
        written = capsys.readouterr().out
        assert '"GET /api/v9/me/logged HTTP/1.1" 403 Forbidden request_id=' in written


async def test_punchclock_access_log_off_writes_no_line(
    base_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(Settings.from_env({**base_env, "PUNCHCLOCK_ACCESS_LOG": "off"}))
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/api/v9/me/logged")).status_code == 403
    assert capsys.readouterr().out == ""
