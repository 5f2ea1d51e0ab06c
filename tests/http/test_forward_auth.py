"""/api/auth/verify: forward auth for nginx, Caddy and Traefik, judged as /api/v9/me is."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from punchclock.config import Settings
from punchclock.errors import ConfigError
from punchclock.store.sqlite import SQLiteStore
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, log_in
from tests.support import FORBIDDEN, basic, cookie_header, token_auth

PROXY = "203.0.113.7"  # the test client's address (tests/conftest.py), trusted here
STRANGER = "198.51.100.9"  # not a trusted proxy
VERIFY = "/api/auth/verify"
APP_ORIGIN = "https://app.example.com"
NEW_PASSWORD = "a whole new password"
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@pytest.fixture
def env(base_env: dict[str, str]) -> dict[str, str]:
    return {
        **base_env,
        "PUNCHCLOCK_TRUSTED_PROXIES": f"{PROXY}/32",
        "PUNCHCLOCK_ALLOWED_ORIGINS": APP_ORIGIN,
    }


@pytest.fixture
async def stranger(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """A caller that is not a trusted proxy."""
    transport = httpx.ASGITransport(app=app, client=(STRANGER, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def forwarded(method: str = "GET", uri: str = "/reports?week=1", **extra: str) -> dict[str, str]:
    """The headers Caddy's forward_auth and Traefik's ForwardAuth add."""
    return {
        "X-Forwarded-Method": method,
        "X-Forwarded-Uri": uri,
        "X-Forwarded-Host": "app.example.com",
        "X-Forwarded-Proto": "https",
        **extra,
    }


async def session_id_of(client: httpx.AsyncClient, session: str) -> str:
    listed = (await client.get("/api/sessions", headers=cookie_header(session))).json()
    (current,) = [s["id"] for s in listed if s["current"]]
    return str(current)


# -- who is calling -------------------------------------------------------------------------


async def test_a_token_is_answered_200_with_the_identity_and_no_body(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get(VERIFY, headers=token_auth(user.token))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-punchclock-user-id"] == str(user.me["id"])
    assert response.headers["x-punchclock-account-id"] == user.me["toggl_accounts_id"]
    assert response.headers["x-punchclock-email"] == user.email
    assert response.headers["x-punchclock-workspace-id"] == str(user.me["default_workspace_id"])
    assert response.headers["x-punchclock-auth"] == "token"


async def test_every_identity_header_is_present_even_when_it_does_not_apply(
    client: httpx.AsyncClient, user: User
) -> None:
    # Caddy 2.6 copies a header the answer lacks as its literal placeholder
    response = await client.get(VERIFY, headers=token_auth(user.token))
    assert response.headers["x-punchclock-session-id"] == ""
    assert response.headers["x-punchclock-identity"] == ""  # the signed token is off


async def test_email_and_password_are_answered_as_password(
    client: httpx.AsyncClient, user: User
) -> None:
    response = await client.get(VERIFY, headers=basic(user.email, user.password))
    assert response.status_code == 200
    assert response.headers["x-punchclock-auth"] == "password"
    assert response.headers["x-punchclock-user-id"] == str(user.me["id"])
    assert response.headers["x-punchclock-session-id"] == ""


async def test_the_cookie_is_answered_as_session_with_its_public_id(
    client: httpx.AsyncClient, user: User
) -> None:
    other = await log_in(client, user)
    for session in (user.session, other, user.session):  # the second time from memory
        response = await client.get(VERIFY, headers=cookie_header(session))
        assert response.status_code == 200
        assert response.headers["x-punchclock-auth"] == "session"
        assert response.headers["x-punchclock-user-id"] == str(user.me["id"])
        assert response.headers["x-punchclock-session-id"] == await session_id_of(client, session)
    assert await session_id_of(client, other) != await session_id_of(client, user.session)


@pytest.mark.parametrize("method", EVERY_METHOD)
async def test_any_method_is_answered(client: httpx.AsyncClient, user: User, method: str) -> None:
    response = await client.request(method, VERIFY, headers=token_auth(user.token))
    assert response.status_code == 200
    assert response.headers["x-punchclock-auth"] == "token"


async def test_the_answer_is_not_stored_by_caches(client: httpx.AsyncClient, user: User) -> None:
    response = await client.get(VERIFY, headers=token_auth(user.token))
    assert response.headers["cache-control"] == "no-store"


# -- refused ------------------------------------------------------------------------------

BAD = {
    "nothing": {},
    "wrong password": basic("ann@example.com", "wrong password!"),
    "unknown email": basic("nobody@example.com", "correct horse battery staple"),
    "wrong token": token_auth("0" * 32),
    "bearer": {"Authorization": "Bearer abc"},
    "garbage cookie": cookie_header("not-a-jwt"),
}


@pytest.mark.parametrize("name", list(BAD))
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_bad_credentials_are_403_with_the_toggl_body_and_no_identity(
    client: httpx.AsyncClient, user: User, name: str, method: str
) -> None:
    response = await client.request(method, VERIFY, headers={**BAD[name], **forwarded()})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert not [h for h in response.headers if h.startswith("x-punchclock-")]


async def test_forged_identity_headers_from_the_caller_are_not_echoed(
    client: httpx.AsyncClient, user: User
) -> None:
    forged = {"X-Punchclock-User-Id": "1", "X-Punchclock-Email": "boss@example.com"}
    refused = await client.get(VERIFY, headers=forged)
    assert refused.status_code == 403
    allowed = await client.get(VERIFY, headers={**forged, **token_auth(user.token)})
    assert allowed.headers["x-punchclock-user-id"] == str(user.me["id"])
    assert allowed.headers["x-punchclock-email"] == user.email


@pytest.mark.parametrize("name", ["X-Punchclock-Role", "x-punchclock-user-ids", "X-PUNCHCLOCK-"])
async def test_an_x_punchclock_header_punchclock_never_sets_is_refused(
    client: httpx.AsyncClient, user: User, name: str
) -> None:
    # nginx passes a caller's invented X-Punchclock-Role on to the upstream (it cannot
    # remove headers by pattern): the check sees it in the subrequest and refuses
    headers = {name: "admin", **token_auth(user.token), **forwarded()}
    refused = await client.get(VERIFY, headers=headers)
    assert refused.status_code == 403
    assert refused.json() == FORBIDDEN
    assert not [h for h in refused.headers if h.startswith("x-punchclock-")]


# -- revoked at once ------------------------------------------------------------------------


async def test_a_logged_out_session_is_refused_on_the_next_request(
    client: httpx.AsyncClient, user: User
) -> None:
    assert (await client.get(VERIFY, headers=cookie_header(user.session))).status_code == 200
    assert (await client.delete("/api/sessions", headers=cookie_header(user.session))).is_success
    response = await client.get(VERIFY, headers=cookie_header(user.session))
    assert response.status_code == 403


async def test_a_session_ended_by_id_is_refused_though_its_id_was_remembered(
    client: httpx.AsyncClient, user: User
) -> None:
    other = await log_in(client, user)
    assert (await client.get(VERIFY, headers=cookie_header(other))).status_code == 200
    ended = await client.delete(
        f"/api/sessions/{await session_id_of(client, other)}", headers=token_auth(user.token)
    )
    assert ended.status_code == 200
    assert (await client.get(VERIFY, headers=cookie_header(other))).status_code == 403


async def test_a_reset_token_is_refused_on_the_next_request(
    client: httpx.AsyncClient, user: User
) -> None:
    assert (await client.get(VERIFY, headers=token_auth(user.token))).status_code == 200
    new = (await client.post("/api/v9/me/reset_token", headers=token_auth(user.token))).json()
    assert (await client.get(VERIFY, headers=token_auth(user.token))).status_code == 403
    assert (await client.get(VERIFY, headers=token_auth(new))).status_code == 200


async def test_a_changed_password_is_refused_on_the_next_request(
    client: httpx.AsyncClient, user: User
) -> None:
    old = basic(user.email, user.password)
    assert (await client.get(VERIFY, headers=old)).status_code == 200  # now remembered
    changed = await client.put(
        "/api/v9/me",
        headers=old,
        json={"password": NEW_PASSWORD, "current_password": user.password},
    )
    assert changed.status_code == 200, changed.text
    assert (await client.get(VERIFY, headers=old)).status_code == 403
    assert (await client.get(VERIFY, headers=basic(user.email, NEW_PASSWORD))).status_code == 200


async def test_a_closed_account_is_refused_on_the_next_request(
    client: httpx.AsyncClient, user: User
) -> None:
    for credentials in (token_auth(user.token), cookie_header(user.session)):
        assert (await client.get(VERIFY, headers=credentials)).status_code == 200
    closed = await client.post("/api/me/close_account/track", headers=token_auth(user.token))
    assert closed.status_code == 200
    for credentials in (
        token_auth(user.token),
        cookie_header(user.session),
        basic(user.email, user.password),
    ):
        assert (await client.get(VERIFY, headers=credentials)).status_code == 403


# -- the cross-site rule, on the original method --------------------------------------------


@pytest.mark.parametrize("header", ["X-Forwarded-Method", "X-Original-Method"])
async def test_a_cookie_change_from_another_site_is_refused_by_its_original_method(
    client: httpx.AsyncClient, user: User, header: str
) -> None:
    evil = {"Origin": "https://evil.example", header: "POST"}
    response = await client.get(VERIFY, headers={**cookie_header(user.session), **evil})
    assert response.status_code == 403
    assert response.json() == "Cross-site request refused"


async def test_nginx_subrequests_carry_the_original_method_itself(
    client: httpx.AsyncClient, user: User
) -> None:
    evil = {"Origin": "https://evil.example"}
    refused = await client.delete(VERIFY, headers={**cookie_header(user.session), **evil})
    assert refused.json() == "Cross-site request refused"
    fetch = {"Sec-Fetch-Site": "cross-site"}
    refused = await client.put(VERIFY, headers={**cookie_header(user.session), **fetch})
    assert refused.json() == "Cross-site request refused"


async def test_a_cookie_change_from_an_allowed_origin_or_a_read_from_anywhere_is_allowed(
    client: httpx.AsyncClient, user: User
) -> None:
    cookie = cookie_header(user.session)
    same_site = forwarded("POST", Origin=APP_ORIGIN)
    assert (await client.get(VERIFY, headers={**cookie, **same_site})).status_code == 200
    read = forwarded("GET", Origin="https://evil.example")
    assert (await client.get(VERIFY, headers={**cookie, **read})).status_code == 200


async def test_basic_credentials_carry_no_cross_site_risk(
    client: httpx.AsyncClient, user: User
) -> None:
    evil = forwarded("DELETE", Origin="https://evil.example")
    response = await client.get(VERIFY, headers={**token_auth(user.token), **evil})
    assert response.status_code == 200


async def test_an_untrusted_caller_can_make_the_check_stricter_never_laxer(
    stranger: httpx.AsyncClient, user: User
) -> None:
    cookie = {**cookie_header(user.session), "Origin": "https://evil.example"}
    # claims an unsafe method: judged unsafe
    claimed_post = await stranger.get(VERIFY, headers={**cookie, "X-Forwarded-Method": "POST"})
    assert claimed_post.status_code == 403
    # a POST claiming to be a GET: not believed
    claimed_get = await stranger.post(VERIFY, headers={**cookie, "X-Original-Method": "GET"})
    assert claimed_get.status_code == 403
    assert (await stranger.get(VERIFY, headers=cookie)).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"X-Original-Method": "GET", "X-Forwarded-Method": "POST"},
        {"X-Original-Method": "POST", "X-Forwarded-Method": "GET"},
        {"X-Forwarded-Method": "GET"},
    ],
)
async def test_a_trusted_proxy_passing_a_callers_header_on_cannot_make_a_change_a_read(
    client: httpx.AsyncClient, user: User, claims: dict[str, str]
) -> None:
    # Caddy writes X-Forwarded-Method but passes a caller's X-Original-Method on; nginx's
    # subrequest carries the original method itself
    cookie = {**cookie_header(user.session), "Origin": "https://evil.example", **claims}
    method = "POST" if claims.get("X-Forwarded-Method") == "GET" and len(claims) == 1 else "GET"
    response = await client.request(method, VERIFY, headers=cookie)
    assert response.status_code == 403
    assert response.json() == "Cross-site request refused"


# -- sending a browser to log in --------------------------------------------------------------

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.parametrize(("login", "status"), [("302", 302), ("401", 401)])
async def test_a_browser_without_credentials_is_sent_to_log_in_on_the_same_host(
    client: httpx.AsyncClient, login: str, status: int
) -> None:
    response = await client.get(f"{VERIFY}?login={login}", headers={**BROWSER, **forwarded()})
    assert response.status_code == status
    assert response.headers["location"] == "/login?next=%2Freports%3Fweek%3D1"


async def test_nginx_style_headers_give_the_same_redirect(client: httpx.AsyncClient) -> None:
    headers = {
        **BROWSER,
        "X-Original-Method": "GET",
        "X-Original-URI": "/dash",
        "X-Forwarded-Host": "app.example.com",
        "X-Forwarded-Proto": "https",
    }
    response = await client.get(f"{VERIFY}?login=302", headers=headers)
    assert response.headers["location"] == "/login?next=%2Fdash"


async def test_a_browser_with_an_expired_or_ended_cookie_is_sent_to_log_in(
    client: httpx.AsyncClient, user: User
) -> None:
    await client.delete("/api/sessions", headers=cookie_header(user.session))
    headers = {**BROWSER, **forwarded(), **cookie_header(user.session)}
    response = await client.get(f"{VERIFY}?login=302", headers=headers)
    assert response.status_code == 302


@pytest.mark.parametrize(
    "uri", ["//evil.example/x", "https://evil.example/", "\\\\evil.example", "/\\evil.example"]
)
async def test_next_never_names_another_host(client: httpx.AsyncClient, uri: str) -> None:
    response = await client.get(f"{VERIFY}?login=302", headers={**BROWSER, **forwarded(uri=uri)})
    assert response.status_code == 302
    assert response.headers["location"] == "/login?next=%2F"


NOT_REDIRECTED = {
    "no ?login": (VERIFY, {**BROWSER, **forwarded()}),
    "an API client": (f"{VERIFY}?login=302", forwarded()),
    "a host not allowed": (
        f"{VERIFY}?login=302",
        {**BROWSER, **forwarded(), "X-Forwarded-Host": "evil.example"},
    ),
    "another scheme": (
        f"{VERIFY}?login=302",
        {**BROWSER, **forwarded(), "X-Forwarded-Proto": "http"},
    ),
    "a form post": (f"{VERIFY}?login=302", {**BROWSER, **forwarded("POST")}),
    "wrong Basic credentials": (
        f"{VERIFY}?login=302",
        {**BROWSER, **forwarded(), **basic("ann@example.com", "wrong password!")},
    ),
}


@pytest.mark.parametrize("name", list(NOT_REDIRECTED))
async def test_other_refusals_stay_403(client: httpx.AsyncClient, user: User, name: str) -> None:
    path, headers = NOT_REDIRECTED[name]
    response = await client.get(path, headers=headers)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert "location" not in response.headers


@pytest.mark.parametrize("login", ["303", "", "redirect"])
async def test_an_unknown_login_answer_is_a_400_whatever_the_credentials(
    client: httpx.AsyncClient, user: User, login: str
) -> None:
    for headers in ({**BROWSER, **forwarded()}, token_auth(user.token)):
        response = await client.get(f"{VERIFY}?login={login}", headers=headers)
        assert response.status_code == 400
        assert response.json() == "Invalid login: use 302 or 401"


async def test_an_untrusted_caller_gets_no_redirect(stranger: httpx.AsyncClient) -> None:
    response = await stranger.get(f"{VERIFY}?login=302", headers={**BROWSER, **forwarded()})
    assert response.status_code == 403


# -- the client's address, throttling and the audit trail --------------------------------------


@pytest.fixture
def strict_env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "2/minute",
        "PUNCHCLOCK_API_RATE_LIMIT": "3/minute",
    }


@pytest.fixture
async def strict(strict_env: dict[str, str], clock: FixedClock) -> AsyncIterator[App]:
    from punchclock.web.app import create_app

    application = create_app(Settings.from_env(strict_env), clock=clock)
    async with application.running():
        yield application


async def _client(app: App, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 1))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_wrong_passwords_are_throttled_and_recorded_per_forwarded_client(
    strict: App, strict_env: dict[str, str]
) -> None:
    async with await _client(strict, PROXY) as proxy:
        signed_up = await proxy.post(
            "/api/signup", json={"email": "ann@example.com", "password": NEW_PASSWORD}
        )
        assert signed_up.status_code == 200
        wrong = {**basic("ann@example.com", "wrong password!"), "X-Forwarded-For": "192.0.2.1"}
        answers = [(await proxy.get(VERIFY, headers=wrong)).status_code for _ in range(3)]
        assert answers == [403, 403, 429]
        # another client behind the same proxy is not held back by the first one's limit
        right = {**basic("ann@example.com", NEW_PASSWORD), "X-Forwarded-For": "192.0.2.2"}
        assert (await proxy.get(VERIFY, headers=right)).status_code == 200
    await strict.drain()
    store = SQLiteStore(Settings.from_env(strict_env).database_path)
    try:
        events = await store.events(None, 0, 100)
    finally:
        await store.close()
    failed = [(e.event, e.ip, e.detail) for e in events if e.event != "sign_up"]
    assert sorted(failed) == [
        ("log_in_failed", "192.0.2.1", "basic"),
        ("log_in_failed", "192.0.2.1", "basic"),
        ("throttled", "192.0.2.1", "password"),
    ]


async def test_the_api_rate_limit_counts_verify_as_it_counts_me(strict: App) -> None:
    async with await _client(strict, PROXY) as proxy:
        signed_up = await proxy.post(
            "/api/signup", json={"email": "ann@example.com", "password": NEW_PASSWORD}
        )
        token = token_auth(signed_up.json()["api_token"])
        assert (await proxy.get("/api/v9/me", headers=token)).status_code == 200
        answers = [(await proxy.get(VERIFY, headers=token)).status_code for _ in range(3)]
        assert answers == [200, 200, 429]


# -- the signed identity token ----------------------------------------------------------------


@pytest.fixture
def token_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PUNCHCLOCK_FORWARD_AUTH_TOKEN": "on"}


@pytest.fixture
async def signing(token_env: dict[str, str], clock: FixedClock) -> AsyncIterator[App]:
    from punchclock.web.app import create_app

    application = create_app(Settings.from_env(token_env), clock=clock)
    async with application.running():
        yield application


async def test_the_identity_token_is_verifiable_with_the_jwks_for_60_seconds(
    signing: App, clock: FixedClock
) -> None:
    async with await _client(signing, PROXY) as proxy:
        signed_up = await proxy.post(
            "/api/signup", json={"email": "ann@example.com", "password": NEW_PASSWORD}
        )
        me = signed_up.json()
        cookie = signed_up.headers["set-cookie"].partition(";")[0].partition("=")[2]
        response = await proxy.get(VERIFY, headers=cookie_header(cookie))
        jwks = (await proxy.get("/.well-known/jwks.json")).json()
    token = response.headers["x-punchclock-identity"]
    kid = jwt.get_unverified_header(token)["kid"]
    (key,) = [jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid]
    claims = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        audience="punchclock-forward-auth",
        issuer="http://testserver",
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    assert claims["sub"] == me["toggl_accounts_id"]
    assert claims["uid"] == me["id"]
    assert claims["email"] == "ann@example.com"
    assert claims["wid"] == me["default_workspace_id"]
    assert claims["auth"] == "session"
    assert claims["sid"] == response.headers["x-punchclock-session-id"]
    assert claims["iat"] == clock.now() // 1_000_000
    assert claims["exp"] - claims["iat"] == 60


async def test_the_identity_token_is_no_session_cookie(signing: App) -> None:
    async with await _client(signing, PROXY) as proxy:
        signed_up = await proxy.post(
            "/api/signup", json={"email": "ann@example.com", "password": NEW_PASSWORD}
        )
        token = token_auth(signed_up.json()["api_token"])
        identity = (await proxy.get(VERIFY, headers=token)).headers["x-punchclock-identity"]
        assert identity.count(".") == 2
        for path in ("/api/v9/me", VERIFY):
            response = await proxy.get(path, headers=cookie_header(identity))
            assert response.status_code == 403


def test_the_identity_token_setting_is_off_by_default_and_checked(
    base_env: dict[str, str],
) -> None:
    assert Settings.from_env(base_env).forward_auth_token is False
    assert Settings.from_env({**base_env, "PUNCHCLOCK_FORWARD_AUTH_TOKEN": "on"}).forward_auth_token
    with pytest.raises(ConfigError, match="PUNCHCLOCK_FORWARD_AUTH_TOKEN"):
        Settings.from_env({**base_env, "PUNCHCLOCK_FORWARD_AUTH_TOKEN": "yes"})
