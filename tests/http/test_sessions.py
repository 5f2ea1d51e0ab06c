from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from punchclock.config import SESSION_LIFETIME
from punchclock.passwords import PasswordHasher
from punchclock.web.app import Parts
from tests.conftest import User, sign_up
from tests.support import FORBIDDEN, basic, cookie_header, session_from, token_auth


async def log_in(client: httpx.AsyncClient, user: User, **extra: object) -> httpx.Response:
    return await client.post(
        "/api/sessions", json={"email": user.email, "password": user.password, **extra}
    )


async def test_log_in_sets_the_cookie_exactly_as_the_seed_shows(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await log_in(client, user)
    assert response.status_code == 200
    assert response.json()["email"] == user.email
    token = session_from(response)
    assert response.headers.get_list("set-cookie")[0] == (
        f"__Secure-accounts-session={token}; Path=/; HttpOnly; Secure; SameSite=Lax"
    )


async def test_log_in_with_remember_me_keeps_the_cookie_28_days(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await log_in(client, user, remember_me=True)
    assert response.headers.get_list("set-cookie")[0].endswith(f"; Max-Age={SESSION_LIFETIME}")


def _part(jwt: str, index: int) -> dict[str, object]:
    part = jwt.split(".")[index]
    value: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


async def test_session_jwt_has_the_real_services_header_and_claims(
    client: httpx.AsyncClient, user: User
) -> None:
    jwt = session_from(await log_in(client, user))
    header = _part(jwt, 0)
    assert list(header) == ["alg", "kid", "typ"]
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "JWT"
    assert isinstance(header["kid"], str)
    assert len(header["kid"]) == 10  # the key's creation date, YYYY-MM-DD
    claims = _part(jwt, 1)
    assert list(claims) == ["aud", "exp", "iat", "iss", "jti", "nbf", "sub"]
    assert claims["aud"] == ["track"]
    assert claims["iss"] == "http://testserver"
    assert claims["sub"] == user.me["toggl_accounts_id"]
    iat = claims["iat"]
    assert isinstance(iat, int)
    assert claims["exp"] == iat + 28 * 24 * 3600
    assert claims["nbf"] == iat - 300
    jti = claims["jti"]
    assert isinstance(jti, str)
    assert len(jti) == 32
    int(jti, 16)


async def test_each_log_in_is_a_new_session(client: httpx.AsyncClient, user: User) -> None:
    first = session_from(await log_in(client, user))
    second = session_from(await log_in(client, user))
    assert _part(first, 1)["jti"] != _part(second, 1)["jti"]


async def test_log_in_with_a_wrong_password_is_403(client: httpx.AsyncClient, user: User) -> None:
    response = await client.post(
        "/api/sessions", json={"email": user.email, "password": "not the password"}
    )
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert "set-cookie" not in response.headers


async def test_log_in_with_an_unknown_email_is_the_same_403(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/sessions", json={"email": "nobody@example.com", "password": "whatever123"}
    )
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_log_in_with_a_malformed_email_is_the_same_403(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/sessions", json={"email": "x", "password": ""})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_log_in_without_a_body_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/sessions")
    assert response.status_code == 400
    assert response.json().startswith("Invalid request body")


async def test_log_out_ends_the_session_on_the_next_request(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.delete("/api/sessions", headers=cookie_header(user.session))
    assert response.status_code == 200
    cleared = response.headers["set-cookie"]
    assert cleared.startswith("__Secure-accounts-session=;")
    assert "Max-Age=0" in cleared
    after = await client.get("/api/v9/me", headers=cookie_header(user.session))
    assert after.status_code == 403
    assert after.json() == FORBIDDEN


async def test_log_out_leaves_other_sessions_alone(client: httpx.AsyncClient, user: User) -> None:
    other = session_from(await log_in(client, user))
    await client.delete("/api/sessions", headers=cookie_header(user.session))
    assert (await client.get("/api/v9/me", headers=cookie_header(other))).status_code == 200


async def test_log_out_with_basic_auth_and_no_cookie_is_200(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.delete("/api/sessions", headers=token_auth(user.token))
    assert response.status_code == 200
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200


async def test_log_out_with_basic_auth_ends_the_cookies_session(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = {**basic(user.email, user.password), **cookie_header(user.session)}
    assert (await client.delete("/api/sessions", headers=headers)).status_code == 200
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403


async def test_log_out_cannot_end_another_accounts_session(
    client: httpx.AsyncClient, user: User
) -> None:
    bob = await sign_up(client, email="bob@example.com")
    headers = {**token_auth(bob.token), **cookie_header(user.session)}
    assert (await client.delete("/api/sessions", headers=headers)).status_code == 200
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 200


async def test_log_out_without_credentials_is_403(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/sessions")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_log_out_twice_is_403_the_second_time(client: httpx.AsyncClient, user: User) -> None:
    assert (await client.delete("/api/sessions", headers=cookie_header(user.session))).is_success
    second = await client.delete("/api/sessions", headers=cookie_header(user.session))
    assert second.status_code == 403


class CountingVerify:
    def __init__(self, hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = hasher.verify

        async def verify(password_hash: str | None, password: str) -> bool:
            self.calls += 1
            return await real(password_hash, password)

        monkeypatch.setattr(hasher, "verify", verify)


async def test_every_log_in_costs_a_full_hash(
    client: httpx.AsyncClient, user: User, parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingVerify(parts.hasher, monkeypatch)
    for _ in range(3):
        assert (await log_in(client, user)).status_code == 200
    assert counter.calls == 3


async def test_a_repeat_basic_caller_is_hashed_once(
    client: httpx.AsyncClient, user: User, parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingVerify(parts.hasher, monkeypatch)
    for _ in range(3):
        response = await client.get("/api/v9/me", headers=basic(user.email, user.password))
        assert response.status_code == 200
    assert counter.calls == 1
    wrong = await client.get("/api/v9/me", headers=basic(user.email, "not the password"))
    assert wrong.status_code == 403
    assert counter.calls == 2  # a wrong password is never served from the cache


async def test_callers_sending_the_same_pair_at_once_share_one_hash(
    client: httpx.AsyncClient, user: User, parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingVerify(parts.hasher, monkeypatch)
    responses = await asyncio.gather(
        *(client.get("/api/v9/me", headers=basic(user.email, user.password)) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {200}
    assert counter.calls == 1
    wrong = await asyncio.gather(
        *(client.get("/api/v9/me", headers=basic(user.email, "wrong password")) for _ in range(4))
    )
    assert {r.status_code for r in wrong} == {403}
    assert counter.calls == 2
