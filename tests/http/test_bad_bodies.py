"""Bodies found to give a 500 or to be taken when they should not: each is a clear 400."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from punchclock.web.asgi import App
from tests.conftest import User
from tests.support import outbox, token_auth

DEEP = 5000  # levels: past the decoder's recursion limit


def nested_arrays(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def nested_objects(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize("body", [nested_objects(DEEP), nested_arrays(DEEP)])
@pytest.mark.parametrize(
    ("method", "path", "authenticated"),
    [
        ("POST", "/api/me/password_reset/confirm/" + "A" * 43, False),
        ("POST", "/api/me/password_reset/request", False),
        ("POST", "/api/sessions", False),
        ("POST", "/api/signup", False),
        ("PUT", "/api/v9/me", True),
    ],
)
async def test_a_deeply_nested_body_is_a_400_not_a_500(
    client: httpx.AsyncClient,
    user: User,
    method: str,
    path: str,
    authenticated: bool,
    body: bytes,
) -> None:
    headers = {"Content-Type": "application/json"}
    if authenticated:
        headers |= token_auth(user.token)
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json().startswith("Invalid request body")


async def test_a_deeply_nested_member_is_a_400_too(client: httpx.AsyncClient, user: User) -> None:
    body = b'{"fullname":"Ann","x":' + nested_arrays(DEEP) + b"}"
    response = await client.put(
        "/api/v9/me",
        content=body,
        headers={"Content-Type": "application/json", **token_auth(user.token)},
    )
    assert response.status_code == 400
    assert (await client.get("/api/v9/me", headers=token_auth(user.token))).json()[
        "fullname"
    ] == "Ann"


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "posix/Europe/Paris"])
async def test_a_time_zone_that_is_no_iana_name_is_refused(
    client: httpx.AsyncClient, user: User, zone: str
) -> None:
    response = await client.put(
        "/api/v9/me", json={"timezone": zone}, headers=token_auth(user.token)
    )
    assert (response.status_code, response.json()) == (400, "Invalid timezone")
    signed_up = await client.post(
        "/api/signup",
        json={"email": "tz@example.com", "password": "a fine long password", "timezone": zone},
    )
    assert (signed_up.status_code, signed_up.json()) == (400, "Invalid timezone")


@pytest.mark.parametrize("zone", ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires"])
async def test_iana_time_zones_are_taken(client: httpx.AsyncClient, user: User, zone: str) -> None:
    response = await client.put(
        "/api/v9/me", json={"timezone": zone}, headers=token_auth(user.token)
    )
    assert response.status_code == 200
    assert response.json()["timezone"] == zone


@pytest.mark.parametrize("password", [" " * 20, "\t" * 12 + " " * 8, "\u3000" * 16, "\u00a0" * 16])
async def test_a_password_of_only_white_space_is_refused_everywhere(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, password: str
) -> None:
    refused = "Password must not be only spaces"
    signed_up = await client.post(
        "/api/signup", json={"email": "ws@example.com", "password": password}
    )
    assert (signed_up.status_code, signed_up.json()) == (400, refused)
    changed = await client.put(
        "/api/v9/me",
        json={"current_password": user.password, "password": password},
        headers=token_auth(user.token),
    )
    assert (changed.status_code, changed.json()) == (400, refused)
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    from tests.support import reset_code_in

    code = reset_code_in(outbox(data_dir)[-1])
    reset = await client.post(f"/api/me/password_reset/confirm/{code}", json={"password": password})
    assert (reset.status_code, reset.json()) == (400, refused)


async def test_a_display_name_that_is_an_encoded_word_is_shown_as_typed(
    client: httpx.AsyncClient, app: App, data_dir: Path
) -> None:
    name = "=?utf-8?q?PayPal_Security?="
    signed_up = await client.post(
        "/api/signup",
        json={"email": "ew@example.com", "password": "a fine long password", "display_name": name},
    )
    assert signed_up.status_code == 200
    await client.post("/api/me/password_reset/request", json={"email": "ew@example.com"})
    await app.drain()
    (message,) = outbox(data_dir)
    raw = message.as_bytes()
    assert b"PayPal_Security?= <" not in raw  # not written bare, for mail clients to decode
    # a mail client decodes the header once and shows exactly the name that was typed
    assert message["To"].addresses[0].display_name == name
    assert message["To"].addresses[0].addr_spec == "ew@example.com"
