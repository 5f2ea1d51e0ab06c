from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.app import create_app
from tests.conftest import User, sign_up
from tests.support import FORBIDDEN, basic, cookie_header, token_auth

EVIL = {"Origin": "https://evil.example.net"}


async def _token_still(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/v9/me", headers=token_auth(token))).status_code


@pytest.mark.parametrize(
    "headers",
    [
        EVIL,
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Site": "same-site"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver:81"},
    ],
)
async def test_a_cross_site_cookie_request_that_changes_state_is_refused(
    client: httpx.AsyncClient, user: User, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v9/me/reset_token", headers={**cookie_header(user.session), **headers}
    )
    assert response.status_code == 403
    assert response.json() == "Cross-site request refused"
    assert await _token_still(client, user.token) == 200  # nothing changed


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, server-side clients
        {"Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        {"Sec-Fetch-Site": "none"},
        # Chromium's own same-origin POST from a page under Referrer-Policy: no-referrer
        {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
    ],
)
async def test_same_origin_and_header_less_cookie_requests_pass(
    client: httpx.AsyncClient, user: User, headers: dict[str, str]
) -> None:
    response = await client.put(
        "/api/v9/me", headers={**cookie_header(user.session), **headers}, json={"fullname": "A"}
    )
    assert response.status_code == 200


async def test_basic_auth_carries_its_own_credentials_from_any_origin(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.post(
        "/api/v9/me/reset_token", headers={**basic(user.email, user.password), **EVIL}
    )
    assert response.status_code == 200


async def test_reading_with_the_cookie_from_another_origin_is_not_refused(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get("/api/v9/me", headers={**cookie_header(user.session), **EVIL})
    assert response.status_code == 200


async def test_a_bad_cookie_from_another_site_is_still_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await client.delete("/api/sessions", headers={**cookie_header("x.y.z"), **EVIL})
    assert response.status_code == 403


@pytest.fixture
async def trusting_client(env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env(
        {**env, "PUNCHCLOCK_ALLOWED_ORIGINS": "https://app.example.com, http://localhost:3000"}
    )
    app = create_app(settings)
    async with (
        app.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield c


async def test_allowed_origins_may_use_the_cookie(trusting_client: httpx.AsyncClient) -> None:
    user = await sign_up(trusting_client)
    for origin in ("https://app.example.com", "http://localhost:3000"):
        response = await trusting_client.post(
            "/api/v9/me/reset_token", headers={**cookie_header(user.session), "Origin": origin}
        )
        assert response.status_code == 200
    refused = await trusting_client.post(
        "/api/v9/me/reset_token", headers={**cookie_header(user.session), **EVIL}
    )
    assert refused.status_code == 403


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


async def test_every_answer_carries_the_security_headers(
    client: httpx.AsyncClient, user: User
) -> None:
    answers = [
        await client.get("/api/v9/me", headers=token_auth(user.token)),
        await client.get("/api/v9/me"),
        await client.get("/nowhere"),
        await client.post("/api/signup", content=b"x" * 70_000),
        await client.post("/api/me/password_reset/request", json={"email": "x@example.com"}),
        await client.get("/.well-known/jwks.json"),
    ]
    assert [a.status_code for a in answers] == [200, 403, 404, 413, 200, 200]
    assert answers[1].json() == FORBIDDEN
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    for answer in answers[:-1]:
        assert answer.headers["cache-control"] == "no-store"
    assert answers[-1].headers["cache-control"] == "public, max-age=300"
