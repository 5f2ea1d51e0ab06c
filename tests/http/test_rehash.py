from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from punchclock.config import Settings
from punchclock.web.app import create_app
from tests.conftest import User
from tests.support import basic


def _hash_of(data_dir: Path, email: str) -> str:
    db = sqlite3.connect(data_dir / "punchclock.sqlite3")
    try:
        value: str = db.execute(
            "SELECT password_hash FROM accounts WHERE email = ?", (email,)
        ).fetchone()[0]
        return value
    finally:
        db.close()


async def test_a_password_is_rehashed_at_log_in_when_the_parameters_change(
    user: User, env: dict[str, str], data_dir: Path
) -> None:
    assert ",t=1," in _hash_of(data_dir, user.email)
    stronger = create_app(Settings.from_env({**env, "PUNCHCLOCK_ARGON2_TIME_COST": "2"}))
    async with (
        stronger.running(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=stronger), base_url="http://testserver"
        ) as client,
    ):
        response = await client.get("/api/v9/me", headers=basic(user.email, user.password))
        assert response.status_code == 200
        assert ",t=2," in _hash_of(data_dir, user.email)
        again = await client.get("/api/v9/me", headers=basic(user.email, user.password))
        assert again.status_code == 200
