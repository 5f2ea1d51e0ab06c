"""Every authenticated endpoint takes Basic email:password, Basic token:api_token, the cookie."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from punchclock.keys import KeyRing, SigningKey
from punchclock.tokens import SessionTokens
from tests.conftest import FixedClock, User, sign_up
from tests.support import FORBIDDEN, basic, cookie_header, token_auth

AUTHENTICATED = [
    ("GET", "/api/v9/me"),
    ("GET", "/api/v9/me/logged"),
    ("PUT", "/api/v9/me"),
    ("POST", "/api/v9/me/reset_token"),
    ("DELETE", "/api/sessions"),
    ("POST", "/api/me/close_account/track"),
]


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
@pytest.mark.parametrize("how", ["password", "token", "cookie"])
async def test_every_authenticated_endpoint_accepts_every_method(
    client: httpx.AsyncClient, user: User, method: str, path: str, how: str
) -> None:
    headers = {
        "password": basic(user.email, user.password),
        "token": token_auth(user.token),
        "cookie": cookie_header(user.session),
    }[how]
    body = {"fullname": "Ann B"} if method == "PUT" else None
    response = await client.request(method, path, headers=headers, json=body)
    assert response.status_code == 200, response.text


def _raw(value: str) -> dict[str, str]:
    return {"Authorization": value}


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


BAD_CREDENTIALS = {
    "nothing": {},
    "wrong password": basic("ann@example.com", "wrong password!"),
    "unknown email": basic("nobody@example.com", "correct horse battery staple"),
    "wrong token": token_auth("0" * 32),
    "empty token": token_auth(""),
    "malformed base64": _raw("Basic !!!not-base64!!!"),
    "no colon": _raw(f"Basic {_b64(b'ann@example.com')}"),
    "not utf-8": _raw(f"Basic {_b64(bytes([0xFF, 0xFE, 0x3A, 0x41]))}"),
    "bearer scheme": _raw("Bearer abc"),
    "empty header": _raw(""),
    "huge header": _raw("Basic " + "A" * 10_000),
    "garbage cookie": cookie_header("not-a-jwt"),
    "empty cookie": cookie_header(""),
    "alg none cookie": cookie_header(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."  # {"alg":"none"} {"sub":"x"}
    ),
}


@pytest.mark.parametrize("name", list(BAD_CREDENTIALS))
async def test_bad_credentials_are_403_with_the_toggl_body(
    client: httpx.AsyncClient, user: User, name: str
) -> None:
    response = await client.get("/api/v9/me", headers=BAD_CREDENTIALS[name])
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == FORBIDDEN


async def test_tampered_cookie_is_403(client: httpx.AsyncClient, user: User) -> None:
    header, payload, signature = user.session.split(".")
    claims = base64.urlsafe_b64decode(payload + "==").replace(b'"track"', b'"trick"')
    forged = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    response = await client.get(
        "/api/v9/me", headers=cookie_header(f"{header}.{forged}.{signature}")
    )
    assert response.status_code == 403


async def test_cookie_past_its_28_days_is_403(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> None:
    clock.advance(28 * 24 * 3600 - 60)
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200
    clock.advance(120)
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403


async def test_cookie_signed_by_another_key_with_the_same_kid_is_403(
    client: httpx.AsyncClient, user: User
) -> None:
    other = KeyRing.of([SigningKey(_header(user.session)["kid"], Ed25519PrivateKey.generate())])
    claims = _claims(user.session)
    forged, _ = SessionTokens(other, "http://testserver", 3600).issue(
        claims["sub"], claims["jti"], claims["iat"]
    )
    response = await client.get("/api/v9/me", headers=cookie_header(forged))
    assert response.status_code == 403


def _decode(part: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def _header(jwt: str) -> dict[str, Any]:
    return _decode(jwt.split(".")[0])


def _claims(jwt: str) -> dict[str, Any]:
    return _decode(jwt.split(".")[1])


async def test_basic_auth_takes_precedence_over_a_bad_cookie(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = {**token_auth(user.token), **cookie_header("garbage")}
    assert (await client.get("/api/v9/me", headers=headers)).status_code == 200


async def test_email_is_matched_case_insensitively_for_log_in(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get("/api/v9/me", headers=basic("ANN@EXAMPLE.com", user.password))
    assert response.status_code == 200


async def test_password_api_token_with_an_email_is_a_password(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, email="odd@example.com", password="api_token")
    response = await client.get("/api/v9/me", headers=basic("odd@example.com", "api_token"))
    assert response.status_code == 200
