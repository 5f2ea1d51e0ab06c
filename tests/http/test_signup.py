from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from punchclock.config import SESSION_LIFETIME
from tests.conftest import User, sign_up
from tests.support import PASSWORD, basic, session_from, token_auth

ME_KEYS = [
    "id",
    "api_token",
    "email",
    "fullname",
    "timezone",
    "toggl_accounts_id",
    "default_workspace_id",
    "beginning_of_week",
    "image_url",
    "created_at",
    "updated_at",
    "openid_email",
    "openid_enabled",
    "country_id",
    "has_password",
    "at",
    "authorization_updated_at",
    "2fa_enabled",
]


async def test_sign_up_answers_the_user_in_the_me_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/signup",
        json={
            "email": "ann@example.com",
            "password": PASSWORD,
            "display_name": "Ann Lee",
            "tos_accepted_for": "track",
            "remember_me": True,
            "timezone": "America/New_York",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    me = response.json()
    assert list(me) == ME_KEYS
    assert me["email"] == "ann@example.com"
    assert me["fullname"] == "Ann Lee"
    assert me["timezone"] == "America/New_York"
    assert isinstance(me["default_workspace_id"], int)
    assert len(me["api_token"]) == 32
    assert len(me["toggl_accounts_id"]) == 22


async def test_sign_up_creates_a_real_default_workspace(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get(
        "/api/v9/me", params={"with_related_data": "true"}, headers=token_auth(user.token)
    )
    workspaces = response.json()["workspaces"]
    assert [w["id"] for w in workspaces] == [user.me["default_workspace_id"]]
    assert workspaces[0]["name"] == "Ann's workspace"


async def test_sign_up_sets_a_session_cookie_that_authenticates(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    response = await client.get(
        "/api/v9/me", headers={"Cookie": f"__Secure-accounts-session={user.session}"}
    )
    assert response.status_code == 200
    assert response.json()["email"] == user.email


async def test_sign_up_with_remember_me_sets_a_28_day_cookie(client: httpx.AsyncClient) -> None:
    body = {"email": "ann@example.com", "password": PASSWORD, "remember_me": True}
    response = await client.post("/api/signup", json=body)
    assert response.headers.get_list("set-cookie")[0].endswith(
        f"; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={SESSION_LIFETIME}"
    )


async def test_sign_up_without_remember_me_sets_a_browser_session_cookie(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/signup", json={"email": "ann@example.com", "password": PASSWORD}
    )
    token = session_from(response)
    assert response.headers.get_list("set-cookie")[0] == (
        f"__Secure-accounts-session={token}; Path=/; HttpOnly; Secure; SameSite=Lax"
    )


async def test_sign_up_defaults_the_name_and_timezone(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/signup", json={"email": "bob.smith@example.com", "password": PASSWORD}
    )
    assert response.json()["fullname"] == "bob.smith"
    assert response.json()["timezone"] == "UTC"


async def test_sign_up_with_a_taken_email_is_400_in_any_case(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.post(
        "/api/signup", json={"email": "ANN@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json() == "user with this email already exists"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "not-an-email"}, "Invalid email"),
        ({"email": "a@b"}, "Invalid email"),
        ({"email": "ann@example.com\r\nBcc: x@example.com"}, "Invalid email"),
        ({"password": "short"}, "Password must be at least 8"),
        ({"password": "x" * 129}, "Password must be at most 128"),
        ({"timezone": "Mars/Base"}, "Invalid timezone"),
        ({"timezone": "../../etc/passwd"}, "Invalid timezone"),
        ({"tos_accepted_for": "other"}, "tos_accepted_for"),
        ({"display_name": "  "}, "Invalid fullname"),
        ({"display_name": "Ann\nLee"}, "Invalid fullname"),
        ({"password": None}, "Invalid request body"),
        ({"email": 5}, "Invalid request body"),
        ({"remember_me": "yes"}, "Invalid request body"),
    ],
)
async def test_sign_up_with_bad_input_is_400_and_creates_nothing(
    client: httpx.AsyncClient, changes: dict[str, object], message: str
) -> None:
    good = {"email": "ann@example.com", "password": PASSWORD}
    response = await client.post("/api/signup", json={**good, **changes})
    assert response.status_code == 400
    assert isinstance(response.json(), str)
    assert message in response.json()
    assert "set-cookie" not in response.headers
    retry = await client.post("/api/signup", json=good)
    assert retry.status_code == 200  # the email was not taken by the failed attempt


async def test_sign_up_accepts_a_128_character_unicode_password(
    client: httpx.AsyncClient,
) -> None:
    password = "ø" * 128
    await sign_up(client, password=password)
    response = await client.get("/api/v9/me", headers=basic("ann@example.com", password))
    assert response.status_code == 200


async def test_sign_up_with_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/signup", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json().startswith("Invalid request body")


async def test_a_database_dump_holds_neither_the_token_nor_the_password(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    user = await sign_up(client)
    files = [data_dir / "punchclock.sqlite3", data_dir / "punchclock.sqlite3-wal"]
    dump = b"".join(path.read_bytes() for path in files if path.exists())
    assert user.email.encode() in dump  # the dump is readable: the test looks in the right place
    assert user.token.encode() not in dump
    assert user.password.encode() not in dump
    assert b"$argon2id$" in dump


@pytest.mark.parametrize(
    ("email", "display_name", "password"),
    [
        ("grace.hopper@example.com", "Grace", "grace.hopper rules"),
        ("gh@example.com", "Grace Hopper", "i am grace hopper"),
        ("gh@example.com", "Grace Hopper", "my punchclock login"),
    ],
)
async def test_sign_up_refuses_a_password_made_of_the_users_own_words(
    client: httpx.AsyncClient, email: str, display_name: str, password: str
) -> None:
    response = await client.post(
        "/api/signup", json={"email": email, "password": password, "display_name": display_name}
    )
    assert response.status_code == 400
    assert "must not contain your email address" in response.json()


async def test_the_minimum_password_length_is_configurable(env: dict[str, str]) -> None:
    from punchclock.config import Settings
    from punchclock.web.app import create_app

    app = create_app(Settings.from_env({**env, "PUNCHCLOCK_PASSWORD_MIN_LENGTH": "15"}))
    async with (
        app.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        # "x" * 15 would do, but it is on the list of common passwords
        fourteen, fifteen = "quiet red lamp", "quiet red lamps"
        short = await c.post("/api/signup", json={"email": "a@example.com", "password": fourteen})
        assert (short.status_code, short.json()) == (400, "Password must be at least 15 characters")
        ok = await c.post("/api/signup", json={"email": "a@example.com", "password": fifteen})
        assert ok.status_code == 200
