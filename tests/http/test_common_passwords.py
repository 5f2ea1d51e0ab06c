"""Every way of setting a password refuses a common one, with a 400 that says why."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from punchclock.web.asgi import App
from tests.conftest import User
from tests.support import basic, outbox, reset_code_in, token_auth

COMMON = ["password1", "iloveyou1", "qwertyuiop"]
WHY = "Password is too common: it is on a list of leaked passwords; choose another"


@pytest.mark.parametrize("password", COMMON)
async def test_sign_up_with_a_common_password_is_400(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await client.post(
        "/api/signup", json={"email": "ann@example.com", "password": password}
    )
    assert (response.status_code, response.json()) == (400, WHY)


@pytest.mark.parametrize("password", COMMON)
async def test_changing_to_a_common_password_is_400_and_changes_nothing(
    client: httpx.AsyncClient, user: User, password: str
) -> None:
    response = await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"current_password": user.password, "password": password.upper()},
    )
    assert (response.status_code, response.json()) == (400, WHY)
    me = await client.get("/api/v9/me", headers=basic(user.email, user.password))
    assert me.status_code == 200


@pytest.mark.parametrize("password", COMMON)
async def test_resetting_to_a_common_password_is_400_and_keeps_the_code(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, password: str
) -> None:
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[0])
    url = f"/api/me/password_reset/confirm/{code}"
    refused = await client.post(url, json={"password": password})
    assert (refused.status_code, refused.json()) == (400, WHY)
    assert (await client.post(url, json={"password": "an uncommon one"})).status_code == 200
