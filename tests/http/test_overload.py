from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from tests.conftest import sign_up


@pytest.fixture
async def narrow_app(env: dict[str, str]) -> AsyncIterator[App]:
    """An app with one hashing thread and room for one hash in its queue."""
    settings = Settings.from_env(
        {
            **env,
            "PUNCHCLOCK_HASH_WORKERS": "1",
            "PUNCHCLOCK_HASH_QUEUE": "1",
            "PUNCHCLOCK_ARGON2_MEMORY_KIB": "8192",
            "PUNCHCLOCK_ARGON2_TIME_COST": "3",
        }
    )
    application = create_app(settings)
    async with application.running():
        yield application


async def test_log_ins_beyond_the_hash_queue_get_a_fast_503(narrow_app: App) -> None:
    transport = httpx.ASGITransport(app=narrow_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        user = await sign_up(client)
        body = {"email": user.email, "password": user.password}
        responses = await asyncio.gather(
            *(client.post("/api/sessions", json=body) for _ in range(6))
        )
        statuses = sorted(r.status_code for r in responses)
        assert 200 in statuses
        assert 503 in statuses
        busy = next(r for r in responses if r.status_code == 503)
        assert busy.json() == "Server is busy, please retry shortly"
        assert busy.headers["retry-after"] == "1"
        assert "set-cookie" not in busy.headers
        # the queue drains: a later log-in succeeds
        assert (await client.post("/api/sessions", json=body)).status_code == 200
