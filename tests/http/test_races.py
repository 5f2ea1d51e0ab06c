"""Requests racing for one thing, on each store: exactly one of them wins."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from punchclock.web.asgi import App
from tests.conftest import User
from tests.support import basic, outbox, reset_code_in


@pytest.fixture
def env(backend_env: dict[str, str]) -> dict[str, str]:
    return backend_env


async def test_fifty_parallel_sign_ups_with_one_email_make_one_account(
    client: httpx.AsyncClient,
) -> None:
    async def sign_up(n: int) -> httpx.Response:
        return await client.post(
            "/api/signup",
            json={
                "email": "Race@Example.com",
                "password": f"racing password {n}",
                "timezone": "UTC",
            },
        )

    answers = await asyncio.gather(*(sign_up(n) for n in range(50)))
    won = [a for a in answers if a.status_code == 200]
    assert len(won) == 1
    assert {(a.status_code, a.json()) for a in answers if a not in won} == {
        (400, "user with this email already exists")
    }
    password = f"racing password {answers.index(won[0])}"
    me = await client.get("/api/v9/me", headers=basic("race@example.com", password))
    assert me.json()["id"] == won[0].json()["id"]


async def test_twenty_parallel_confirms_of_one_reset_code_succeed_once(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()  # the code is queued after the answer, then sent
    code = reset_code_in(outbox(data_dir)[0])

    async def confirm(n: int) -> httpx.Response:
        return await client.post(
            f"/api/me/password_reset/confirm/{code}", json={"password": f"reset to number {n}"}
        )

    answers = await asyncio.gather(*(confirm(n) for n in range(20)))
    won = [n for n, a in enumerate(answers) if a.status_code == 200]
    assert len(won) == 1
    assert {(a.status_code, a.json()) for a in answers if a.status_code != 200} == {
        (400, "Password reset code is invalid or has expired")
    }
    for n in range(20):  # the winner's password is the one that holds
        me = await client.get("/api/v9/me", headers=basic(user.email, f"reset to number {n}"))
        assert me.status_code == (200 if n == won[0] else 403)
