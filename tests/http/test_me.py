from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, sign_up
from tests.http.test_signup import ME_KEYS
from tests.support import FORBIDDEN, basic, cookie_header, outbox, session_from, token_auth

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


async def test_me_has_toggls_fields_in_order_and_types(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get("/api/v9/me", headers=token_auth(user.token))
    assert response.status_code == 200
    me = response.json()
    assert list(me) == ME_KEYS
    assert isinstance(me["id"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", me["api_token"])
    assert len(me["toggl_accounts_id"]) == 22
    assert isinstance(me["default_workspace_id"], int)
    assert me["beginning_of_week"] in range(7)
    assert me["image_url"].startswith("https://")
    for key in ("created_at", "updated_at", "at", "authorization_updated_at"):
        assert TIMESTAMP.fullmatch(me[key]), (key, me[key])
    assert me["openid_email"] is None
    assert me["openid_enabled"] is False
    assert me["country_id"] is None
    assert me["has_password"] is True
    assert me["2fa_enabled"] is False
    assert "intercom_hash" not in me


@pytest.mark.parametrize("value", ["false", "0", "False"])
async def test_me_without_related_data_has_no_workspaces(
    client: httpx.AsyncClient, user: User, value: str
) -> None:
    response = await client.get(
        "/api/v9/me", params={"with_related_data": value}, headers=token_auth(user.token)
    )
    assert "workspaces" not in response.json()


async def test_me_with_related_data_adds_workspaces_and_leaves_out_empty_lists(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get("/api/v9/me?with_related_data=true", headers=token_auth(user.token))
    me = response.json()
    assert list(me) == [*ME_KEYS, "workspaces"]
    workspace = me["workspaces"][0]
    assert workspace["id"] == me["default_workspace_id"]
    assert workspace["admin"] is True
    for absent in ("projects", "tags", "time_entries", "clients", "tasks"):
        assert absent not in me


async def test_me_with_a_bad_related_data_flag_is_400(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get(
        "/api/v9/me?with_related_data=maybe", headers=token_auth(user.token)
    )
    assert response.status_code == 400


async def test_logged_is_200_with_an_empty_body(client: httpx.AsyncClient, user: User) -> None:
    response = await client.get("/api/v9/me/logged", headers=token_auth(user.token))
    assert response.status_code == 200
    assert response.content == b""


async def test_logged_without_credentials_is_403(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v9/me/logged")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_put_me_changes_profile_fields(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    clock.advance(5)
    response = await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={
            "fullname": "Ann Smith",
            "timezone": "Europe/Tallinn",
            "beginning_of_week": 0,
            "country_id": 70,
            "default_workspace_id": user.me["default_workspace_id"],
        },
    )
    assert response.status_code == 200
    me = response.json()
    assert (me["fullname"], me["timezone"], me["beginning_of_week"], me["country_id"]) == (
        "Ann Smith",
        "Europe/Tallinn",
        0,
        70,
    )
    assert me["updated_at"] > user.me["updated_at"]
    assert TIMESTAMP.fullmatch(me["toggl_accounts_updated_at"])
    again = (await client.get("/api/v9/me", headers=token_auth(user.token))).json()
    assert again["fullname"] == "Ann Smith"
    assert again["country_id"] == 70


async def test_put_me_changes_the_email_used_to_log_in_once_confirmed(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    response = await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"email": "ann.new@example.com", "current_password": user.password},
    )
    assert response.json()["email"] == user.email  # until the new address confirms
    await app.drain()
    [confirmation] = outbox(data_dir)
    text = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    code = text.split("/email/confirm/")[1].split()[0]
    assert (await client.post(f"/api/me/email_change/confirm/{code}")).status_code == 200
    assert (
        await client.get("/api/v9/me", headers=basic(user.email, user.password))
    ).status_code == 403
    new = await client.get("/api/v9/me", headers=basic("ann.new@example.com", user.password))
    assert new.status_code == 200


async def test_put_me_can_clear_the_country(client: httpx.AsyncClient, user: User) -> None:
    await client.put("/api/v9/me", headers=token_auth(user.token), json={"country_id": 5})
    response = await client.put(
        "/api/v9/me", headers=token_auth(user.token), json={"country_id": None}
    )
    assert response.json()["country_id"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"beginning_of_week": 7}, "Invalid beginning_of_week"),
        ({"beginning_of_week": "1"}, "Invalid beginning_of_week"),
        ({"beginning_of_week": True}, "Invalid beginning_of_week"),
        ({"country_id": 0}, "Invalid country_id"),
        ({"country_id": "x"}, "Invalid country_id"),
        ({"default_workspace_id": 999999}, "Invalid default_workspace_id"),
        ({"default_workspace_id": 2**70}, "Invalid default_workspace_id"),
        ({"email": "nope"}, "Invalid email"),
        ({"fullname": ""}, "Invalid fullname"),
        ({"fullname": 12}, "Invalid fullname"),
        ({"timezone": "Not/AZone"}, "Invalid timezone"),
        ({"password": "new password 123"}, "Current password must be present to change password"),
        (
            {"password": "new password 123", "current_password": "wrong one"},
            "Current password is not valid",
        ),
        ({"password": "short", "current_password": "correct horse battery staple"}, "at least 8"),
        ({"fullname": "Valid", "beginning_of_week": 9}, "Invalid beginning_of_week"),
        (
            {
                "password": "ann@example.com rocks",
                "current_password": "correct horse battery staple",
            },
            "must not contain your email address",
        ),
        ({"current_password": 5}, "Invalid current_password"),
        ({"fullname": "Valid", "current_password": ["x"]}, "Invalid current_password"),
    ],
)
async def test_put_me_with_bad_input_is_400_verbatim_and_changes_nothing(
    client: httpx.AsyncClient, user: User, body: dict[str, object], message: str
) -> None:
    response = await client.put("/api/v9/me", headers=token_auth(user.token), json=body)
    assert response.status_code == 400
    assert message in response.json()
    after = (await client.get("/api/v9/me", headers=token_auth(user.token))).json()
    assert after == user.me
    still = await client.get("/api/v9/me", headers=basic(user.email, user.password))
    assert still.status_code == 200


async def test_put_me_with_a_taken_email_answers_as_with_a_free_one(
    client: httpx.AsyncClient, user: User
) -> None:
    await sign_up(client, email="bob@example.com")
    response = await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"email": "BOB@example.com", "current_password": user.password},
    )
    assert response.status_code == 200  # tests/http/test_email_change.py: exactly as a free one
    assert response.json()["email"] == user.email


async def test_put_me_with_a_non_object_body_is_400(client: httpx.AsyncClient, user: User) -> None:
    response = await client.put("/api/v9/me", headers=token_auth(user.token), json=[1, 2])
    assert response.status_code == 400


async def test_password_change_needs_the_current_password_and_ends_other_sessions(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    clock.advance(1)
    other = session_from(
        await client.post("/api/sessions", json={"email": user.email, "password": user.password})
    )
    response = await client.put(
        "/api/v9/me",
        headers=cookie_header(user.session),
        json={"current_password": user.password, "password": "a brand new password"},
    )
    assert response.status_code == 200
    assert response.json()["authorization_updated_at"] > user.me["authorization_updated_at"]
    assert (await client.get("/api/v9/me", headers=cookie_header(other))).status_code == 403
    # the session that made the change goes on
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200
    old = await client.get("/api/v9/me", headers=basic(user.email, user.password))
    assert old.status_code == 403
    new = await client.get("/api/v9/me", headers=basic(user.email, "a brand new password"))
    assert new.status_code == 200


async def test_password_change_by_token_ends_every_session(
    client: httpx.AsyncClient, user: User
) -> None:
    await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"current_password": user.password, "password": "a brand new password"},
    )
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403


async def test_reset_token_gives_a_new_token_and_the_old_one_dies_at_once(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.post("/api/v9/me/reset_token", headers=token_auth(user.token))
    assert response.status_code == 200
    new_token = response.json()
    assert isinstance(new_token, str)
    assert re.fullmatch(r"[0-9a-f]{32}", new_token)
    assert new_token != user.token
    assert (await client.get("/api/v9/me", headers=token_auth(user.token))).status_code == 403
    me = await client.get("/api/v9/me", headers=token_auth(new_token))
    assert me.json()["api_token"] == new_token
