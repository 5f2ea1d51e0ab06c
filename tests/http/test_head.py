"""HEAD on every GET route: the GET answer's status and headers, no body (RFC 9110 9.3.2)."""

from __future__ import annotations

import httpx
import pytest

from punchclock.web.asgi import App
from tests.conftest import User
from tests.support import token_auth

# the request paths of the app's GET routes, with any path parameter filled in
GET_PATHS = [
    "/api/v9/me",
    "/api/v9/me/logged",
    "/api/sessions",
    "/.well-known/jwks.json",
    "/api/openapi.json",
    "/api/auth/verify",
    "/health/live",
    "/health/ready",
    "/email/confirm/" + "A" * 43,  # the links in email-change mails: a page, the code unused
    "/email/undo/" + "A" * 43,
    # what Toggl clients call after /me (issue 13)
    "/api/v9/me/workspaces",
    "/api/v9/workspaces",
    "/api/v9/me/organizations",
    "/api/v9/me/features",
    "/api/v9/me/preferences",
    "/api/v9/me/location",
    "/api/v9/me/flags",
    "/api/v9/status",
]
# the GET routes with a path parameter, and how a test fills it in for the signed-up user
TEMPLATED = {
    "/api/v9/workspaces/{workspace_id}": "/api/v9/workspaces/{default_workspace_id}",
    "/api/v9/organizations/{organization_id}": "/api/v9/organizations/{default_workspace_id}",
    "/api/v9/me/preferences/{client}": "/api/v9/me/preferences/desktop",
}


# the pages' GET routes (web/pages), and a request path for each
PAGE_PATHS = {
    "/": "/",
    "/login": "/login",
    "/login/code": "/login/code",  # without a log-in step: back to /login
    "/signup": "/signup",
    "/forgot": "/forgot",
    "/reset/{code}": "/reset/" + "A" * 43,
    "/account": "/account",
    "/account/token": "/account/token",
    "/account/2fa/setup": "/account/2fa/setup",  # set-up starts from a button (a POST)
    "/closed": "/closed",
    "/static/{name}": "/static/icon.svg",  # replaced by its hashed name in the test
}


def test_the_paths_tested_are_every_get_route(app: App) -> None:
    routed = {route.path for route in app.routes if route.method == "GET"}
    assert routed == {
        *(path.replace("A" * 43, "{code}") for path in GET_PATHS),
        *TEMPLATED,
        *PAGE_PATHS,
    }


@pytest.mark.parametrize("template", TEMPLATED.values())
async def test_head_answers_as_get_on_routes_with_a_parameter(
    client: httpx.AsyncClient, user: User, template: str
) -> None:
    # a new server's first account has workspace 1 in organization 1
    path = template.format(default_workspace_id=user.me["default_workspace_id"])
    get = await client.get(path, headers=token_auth(user.token))
    head = await client.head(path, headers=token_auth(user.token))
    assert (get.status_code, head.status_code, head.content) == (200, 200, b"")
    assert head.headers["content-length"] == str(len(get.content))


@pytest.mark.parametrize("path", PAGE_PATHS.values())
async def test_head_on_a_page_answers_as_get_without_a_body(
    client: httpx.AsyncClient, path: str
) -> None:
    if path.startswith("/static/"):
        login = (await client.get("/login")).text
        path = login.split('rel="icon" href="', 1)[1].split('"', 1)[0]
    get = await client.get(path)
    head = await client.head(path)
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for name in ("content-type", "cache-control", "content-security-policy", "location"):
        assert head.headers.get(name) == get.headers.get(name), name


@pytest.mark.parametrize("path", GET_PATHS)
async def test_head_answers_as_get_without_a_body(
    client: httpx.AsyncClient, user: User, path: str
) -> None:
    get = await client.get(path, headers=token_auth(user.token))
    head = await client.head(path, headers=token_auth(user.token))
    assert get.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for name in ("content-type", "cache-control", "x-content-type-options", "x-frame-options"):
        assert head.headers.get(name) == get.headers.get(name), name


@pytest.mark.parametrize("path", ["/api/v9/me", "/api/v9/me/logged", "/api/sessions"])
async def test_head_without_credentials_is_refused_as_get_is(
    client: httpx.AsyncClient, path: str
) -> None:
    head = await client.head(path)
    assert head.status_code == 403
    assert head.content == b""


async def test_head_with_a_wrong_token_is_refused(client: httpx.AsyncClient) -> None:
    head = await client.head("/api/v9/me", headers=token_auth("0" * 32))
    assert (head.status_code, head.content) == (403, b"")


async def test_head_is_not_a_way_into_a_route_without_get(
    client: httpx.AsyncClient, user: User
) -> None:
    head = await client.head("/api/v9/me/reset_token", headers=token_auth(user.token))
    assert head.status_code == 405
    assert head.headers["allow"] == "POST"
    me = await client.get("/api/v9/me", headers=token_auth(user.token))
    assert me.json()["api_token"] == user.token  # nothing was reset


async def test_a_405_on_a_get_route_offers_head(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v9/me")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, PUT"
