"""Log-in CSRF: a page on another site must not log a visitor in, sign one up or start a
reset, and a body a plain HTML form can send (text/plain, a form encoding) is not JSON.

The cross-site rule covers every state-changing request, authenticated or not; clients
that send neither Origin nor Sec-Fetch-Site (curl, server-side code) still pass.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import User
from tests.support import token_auth

EVIL_PAGE = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
CROSS_SITE = [
    EVIL_PAGE,
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://sub.testserver"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_a_log_in_from_another_site_is_refused_and_sets_no_cookie(
    client: httpx.AsyncClient, user: User, headers: dict[str, str]
) -> None:
    body = {"email": user.email, "password": user.password}
    response = await client.post("/api/sessions", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json() == "Cross-site request refused"
    assert "set-cookie" not in response.headers
    sessions = await client.get("/api/sessions", headers=token_auth(user.token))
    assert len(sessions.json()) == 1  # only the sign-up's


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_a_sign_up_from_another_site_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {"email": "mallory@example.com", "password": "a fine long password"}
    response = await client.post("/api/signup", json=body, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    # the address is still free: a sign-up from no site at all gets it
    assert (await client.post("/api/signup", json=body)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/me/password_reset/request",
        "/api/me/password_reset/confirm/" + "A" * 43,
        "/api/me/email_change/confirm/" + "A" * 43,
        "/api/me/email_change/undo/" + "A" * 43,
    ],
)
async def test_other_unauthenticated_changes_from_another_site_are_refused(
    client: httpx.AsyncClient, path: str
) -> None:
    body = {"email": "ann@example.com", "password": "a fine long password"}
    response = await client.post(path, json=body, headers=EVIL_PAGE)
    assert response.status_code == 403
    assert response.json() == "Cross-site request refused"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, server-side clients
        {"Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        # a form on punchclock's own page, under Referrer-Policy: no-referrer, says Origin: null
        {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked by the user
    ],
)
async def test_a_log_in_from_punchclocks_own_origin_or_no_browser_passes(
    client: httpx.AsyncClient, user: User, headers: dict[str, str]
) -> None:
    body = {"email": user.email, "password": user.password}
    response = await client.post("/api/sessions", json=body, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/html",
    ],
)
async def test_a_body_a_plain_form_can_send_is_not_parsed_as_json(
    client: httpx.AsyncClient, user: User, content_type: str
) -> None:
    # what <form enctype="text/plain"> with one field named '{"email":...,"x":"' sends
    body = json.dumps({"email": user.email, "password": user.password}).encode()
    for path in ("/api/sessions", "/api/signup"):
        response = await client.post(path, content=body, headers={"Content-Type": content_type})
        assert response.status_code == 415
        assert response.json() == "Content-Type must be application/json"
        assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"]
)
async def test_json_bodies_are_read_whatever_the_parameters(
    client: httpx.AsyncClient, user: User, content_type: str
) -> None:
    body = json.dumps({"email": user.email, "password": user.password}).encode()
    response = await client.post(
        "/api/sessions", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200
