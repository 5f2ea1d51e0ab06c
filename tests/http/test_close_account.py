from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.conftest import User, sign_up
from tests.support import basic, cookie_header, token_auth


async def test_closing_ends_sessions_token_and_password_at_once(
    client: httpx.AsyncClient, user: User
) -> None:
    other = await client.post(
        "/api/sessions", json={"email": user.email, "password": user.password}
    )
    other_cookie = other.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    response = await client.post("/api/me/close_account/track", headers=cookie_header(user.session))
    assert response.status_code == 200
    for headers in (
        cookie_header(user.session),
        cookie_header(other_cookie),
        token_auth(user.token),
        basic(user.email, user.password),
    ):
        assert (await client.get("/api/v9/me", headers=headers)).status_code == 403
    relog = await client.post(
        "/api/sessions", json={"email": user.email, "password": user.password}
    )
    assert relog.status_code == 403


async def test_closing_erases_personal_data(
    client: httpx.AsyncClient, user: User, data_dir: Path
) -> None:
    await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    db = sqlite3.connect(data_dir / "punchclock.sqlite3")
    try:
        row = db.execute(
            "SELECT email, email_key, fullname, password_hash, api_token_lookup, "
            "api_token_sealed, closed_at FROM accounts WHERE id = ?",
            (user.me["id"],),
        ).fetchone()
        assert row[:6] == (None, None, "", None, None, None)
        assert row[6] is not None
        for table in ("sessions", "workspaces", "reset_codes"):
            count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            assert count == 0, table
    finally:
        db.close()


async def test_a_closed_accounts_email_can_sign_up_again(
    client: httpx.AsyncClient, user: User
) -> None:
    await client.post("/api/me/close_account/track", headers=basic(user.email, user.password))
    again = await sign_up(client, email=user.email, password="another good password")
    assert again.me["id"] != user.me["id"]
    assert again.me["toggl_accounts_id"] != user.me["toggl_accounts_id"]


async def test_closing_without_credentials_is_403_and_closes_nothing(
    client: httpx.AsyncClient, user: User
) -> None:
    assert (await client.post("/api/me/close_account/track")).status_code == 403
    assert (await client.get("/api/v9/me", headers=token_auth(user.token))).status_code == 200


async def test_closing_one_account_leaves_others_alone(
    client: httpx.AsyncClient, user: User
) -> None:
    bob = await sign_up(client, email="bob@example.com")
    await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    assert (await client.get("/api/v9/me", headers=token_auth(bob.token))).status_code == 200
    assert (await client.get("/api/v9/me", headers=cookie_header(bob.session))).status_code == 200
