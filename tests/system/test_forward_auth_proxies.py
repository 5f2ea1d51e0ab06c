"""The shipped nginx and Caddy configurations, run for real in front of punchclock (two
workers) and an upstream that echoes the headers it got."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import FORBIDDEN, PASSWORD, basic, cookie_header, session_from, token_auth
from tests.system.conftest import Server, free_port, running_server
from tests.system.echo_upstream import EchoUpstream
from tests.system.proxies import STARTERS, Proxy

pytestmark = pytest.mark.system

IDENTITY = (
    "x-punchclock-user-id",
    "x-punchclock-account-id",
    "x-punchclock-email",
    "x-punchclock-workspace-id",
    "x-punchclock-auth",
    "x-punchclock-session-id",
    "x-punchclock-identity",
)


API_LIMIT = 20


class Stack:
    """punchclock, the upstream and both proxies, started once for the module."""

    def __init__(self, server: Server, upstream: EchoUpstream, proxies: dict[str, Proxy]) -> None:
        self.server = server
        self.upstream = upstream
        self.proxies = proxies


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("forward-auth")
    ports = {name: free_port() for name in STARTERS}
    origins = ",".join(f"http://127.0.0.1:{port}" for port in ports.values())
    settings = {
        "PUNCHCLOCK_TRUSTED_PROXIES": "127.0.0.1/32",
        "PUNCHCLOCK_ALLOWED_ORIGINS": origins,
        # per user, address and worker: no other test makes this many calls as one user
        "PUNCHCLOCK_API_RATE_LIMIT": f"{API_LIMIT}/minute",
    }
    with contextlib.ExitStack() as running:
        server = running.enter_context(
            running_server(root / "punchclock", "--workers", "2", env=settings)
        )
        upstream = running.enter_context(EchoUpstream())
        punchclock_port = int(server.base_url.rpartition(":")[2])
        proxies = {
            name: running.enter_context(
                start(root / name, ports[name], punchclock_port, upstream.port)
            )
            for name, start in STARTERS.items()
        }
        yield Stack(server, upstream, proxies)


@pytest.fixture(params=list(STARTERS))
def proxy(request: pytest.FixtureRequest, stack: Stack) -> Proxy:
    return stack.proxies[request.param]


@pytest.fixture
def upstream(stack: Stack) -> EchoUpstream:
    return stack.upstream


class Account:
    def __init__(self, email: str, me: dict[str, Any], session: str) -> None:
        self.email = email
        self.me = me
        self.session = session


@pytest.fixture
def account(proxy: Proxy, email: str) -> Account:
    """An account made through the proxy (punchclock's own paths pass straight through)."""
    response = httpx.post(
        f"{proxy.base_url}/api/signup", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return Account(email, response.json(), session_from(response))


def through(proxy: Proxy, method: str = "GET", path: str = "/reports", **kwargs: Any) -> Any:
    return httpx.request(method, f"{proxy.base_url}{path}", timeout=10.0, **kwargs)


def received(response: httpx.Response) -> dict[str, list[str]]:
    """Return the X-Punchclock-* headers the upstream got, each with all its values."""
    assert response.status_code == 200, response.text
    got: dict[str, list[str]] = {}
    for name, value in response.json()["headers"]:
        if name.lower().startswith("x-punchclock-"):
            got.setdefault(name.lower(), []).append(value)
    return got


def assert_identity(got: dict[str, list[str]], account: Account, auth: str) -> None:
    assert got["x-punchclock-user-id"] == [str(account.me["id"])]
    assert got["x-punchclock-account-id"] == [account.me["toggl_accounts_id"]]
    assert got["x-punchclock-email"] == [account.email]
    assert got["x-punchclock-workspace-id"] == [str(account.me["default_workspace_id"])]
    assert got["x-punchclock-auth"] == [auth]
    assert set(got) <= set(IDENTITY), got
    for values in got.values():  # Caddy 2.6 copies a missing header as "{http.reverse...}"
        assert not any("{" in value for value in values), got


@pytest.mark.parametrize(
    ("how", "auth"), [("token", "token"), ("password", "password"), ("cookie", "session")]
)
def test_every_credential_kind_reaches_the_upstream_with_its_identity(
    proxy: Proxy, account: Account, how: str, auth: str
) -> None:
    credentials = {
        "token": token_auth(account.me["api_token"]),
        "password": basic(account.email, PASSWORD),
        "cookie": cookie_header(account.session),
    }[how]
    got = received(through(proxy, "GET", "/reports?week=1", headers=credentials))
    assert_identity(got, account, auth)
    # empty when it does not apply: nginx drops an empty header, Caddy sends it empty
    session_id = got.get("x-punchclock-session-id", [""])
    if how == "cookie":
        listed = httpx.get(
            f"{proxy.base_url}/api/sessions", headers=cookie_header(account.session)
        ).json()
        assert session_id == [listed[0]["id"]]
    else:
        assert session_id == [""]
    assert got.get("x-punchclock-identity", [""]) == [""]  # off by default


def test_the_request_reaches_the_upstream_as_sent(proxy: Proxy, account: Account) -> None:
    response = through(
        proxy, "POST", "/time_entries?x=1", headers=token_auth(account.me["api_token"]), json={}
    )
    assert response.json()["method"] == "POST"
    assert response.json()["path"] == "/time_entries?x=1"


WRONG = {
    "nothing": {},
    "wrong password": basic("nobody@example.com", "wrong password!"),
    "wrong token": token_auth("0" * 32),
    "garbage cookie": cookie_header("not-a-jwt"),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_credentials_are_403_with_the_toggl_body_and_never_reach_the_upstream(
    proxy: Proxy, upstream: EchoUpstream, name: str
) -> None:
    before = len(upstream.seen)
    response = through(proxy, "GET", "/reports", headers=WRONG[name])
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert len(upstream.seen) == before


FORGED = [
    ("X-Punchclock-User-Id", "1"),
    ("x-punchclock-email", "boss@example.com"),
    ("X-PUNCHCLOCK-AUTH", "session"),
    ("X-Punchclock-Session-Id", "f" * 32),
    ("X-Punchclock-Identity", "forged.jwt.token"),
]


def test_forged_identity_headers_never_reach_the_upstream(
    proxy: Proxy, upstream: EchoUpstream, account: Account
) -> None:
    headers = httpx.Headers(FORGED)
    headers.update(token_auth(account.me["api_token"]))
    got = received(through(proxy, "GET", "/reports", headers=headers))
    assert_identity(got, account, "token")
    assert got.get("x-punchclock-session-id", [""]) == [""]
    assert got.get("x-punchclock-identity", [""]) == [""]
    before = len(upstream.seen)
    refused = through(proxy, "GET", "/reports", headers=httpx.Headers(FORGED))
    assert refused.status_code == 403
    assert len(upstream.seen) == before


def test_a_logged_out_session_is_refused_on_the_next_request_by_every_worker(
    proxy: Proxy, upstream: EchoUpstream, account: Account
) -> None:
    cookie = cookie_header(account.session)
    assert received(through(proxy, headers=cookie))["x-punchclock-auth"] == ["session"]
    logged_out = httpx.delete(f"{proxy.base_url}/api/sessions", headers=cookie)
    assert logged_out.status_code == 200
    before = len(upstream.seen)
    for _ in range(8):  # fresh connections: both workers answer some of them
        assert through(proxy, headers=cookie).status_code == 403
    assert len(upstream.seen) == before


def test_a_reset_token_is_refused_on_the_next_request(proxy: Proxy, account: Account) -> None:
    old = token_auth(account.me["api_token"])
    assert through(proxy, headers=old).status_code == 200
    reset = httpx.post(f"{proxy.base_url}/api/v9/me/reset_token", headers=old)
    assert reset.status_code == 200
    for _ in range(8):
        assert through(proxy, headers=old).status_code == 403
    assert through(proxy, headers=token_auth(reset.json())).status_code == 200


def test_punchclocks_own_paths_go_straight_through(
    proxy: Proxy, upstream: EchoUpstream, account: Account
) -> None:
    before = len(upstream.seen)
    me = httpx.get(f"{proxy.base_url}/api/v9/me", headers=token_auth(account.me["api_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == account.me["id"]
    jwks = httpx.get(f"{proxy.base_url}/.well-known/jwks.json")
    assert jwks.json()["keys"]
    login = httpx.get(f"{proxy.base_url}/login", headers={"Accept": "text/html"})
    assert login.status_code == 200
    assert login.headers["content-type"].startswith("text/html")
    assert len(upstream.seen) == before


def test_a_browser_without_credentials_is_sent_to_log_in_on_the_same_host(
    proxy: Proxy, upstream: EchoUpstream
) -> None:
    before = len(upstream.seen)
    response = through(
        proxy, "GET", "/reports/weekly?week=1", headers={"Accept": "text/html,*/*;q=0.8"}
    )
    assert response.status_code == 302
    assert response.headers["location"] == "/login?next=%2Freports%2Fweekly%3Fweek%3D1"
    # "//evil.example" as a path would be another host to a browser
    evil = through(proxy, "GET", "//evil.example/x", headers={"Accept": "text/html"})
    assert evil.status_code == 302
    assert evil.headers["location"] == "/login?next=%2F"
    assert len(upstream.seen) == before


def test_a_cookie_change_from_another_site_is_refused(
    proxy: Proxy, upstream: EchoUpstream, account: Account
) -> None:
    cookie = cookie_header(account.session)
    before = len(upstream.seen)
    evil = {**cookie, "Origin": "https://evil.example"}
    for method in ("POST", "PUT", "DELETE"):
        assert through(proxy, method, "/time_entries", headers=evil).status_code == 403
    assert len(upstream.seen) == before
    same_site = {**cookie, "Origin": proxy.origin}
    assert through(proxy, "POST", "/time_entries", headers=same_site).status_code == 200
    assert through(proxy, "GET", "/time_entries", headers=evil).status_code == 200


def test_caddy_also_strips_x_punchclock_headers_it_does_not_set(
    stack: Stack, account_on_caddy: Account
) -> None:
    headers = {"X-Punchclock-Role": "admin", **token_auth(account_on_caddy.me["api_token"])}
    got = received(through(stack.proxies["caddy"], headers=headers))
    assert "x-punchclock-role" not in got
    assert got["x-punchclock-auth"] == ["token"]


def test_nginx_refuses_x_punchclock_headers_it_cannot_strip(
    stack: Stack, upstream: EchoUpstream, email: str
) -> None:
    # nginx cannot remove headers by pattern: it overwrites the seven it sets, and the
    # check refuses a request carrying any other X-Punchclock-* (it sees the caller's
    # headers in the subrequest)
    proxy = stack.proxies["nginx"]
    response = httpx.post(
        f"{proxy.base_url}/api/signup", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    token = token_auth(response.json()["api_token"])
    before = len(upstream.seen)
    refused = through(proxy, headers={"X-Punchclock-Role": "admin", **token})
    assert refused.status_code == 403
    assert len(upstream.seen) == before
    assert received(through(proxy, headers=token))["x-punchclock-auth"] == ["token"]


@pytest.fixture
def account_on_caddy(stack: Stack, email: str) -> Account:
    proxy = stack.proxies["caddy"]
    response = httpx.post(
        f"{proxy.base_url}/api/signup", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return Account(email, response.json(), session_from(response))


def test_a_caller_over_the_api_rate_limit_gets_429_with_retry_after(
    proxy: Proxy, upstream: EchoUpstream, account: Account
) -> None:
    token = token_auth(account.me["api_token"])
    statuses = []
    for _ in range(4 * API_LIMIT):  # each of the two workers counts its own
        before = len(upstream.seen)
        response = through(proxy, headers=token)
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
    assert statuses[-1] == 429, statuses
    assert int(response.headers["retry-after"]) >= 1
    assert response.json() == "Too many attempts, please retry later"
    # the refused request never reached the upstream (the next one may reach a worker
    # whose own count is not full yet: without Redis each worker counts alone)
    assert len(upstream.seen) == before


@pytest.fixture(scope="module")
def dead_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Both proxies in front of an upstream, with punchclock down (nothing on its port)."""
    root = tmp_path_factory.mktemp("punchclock-down")
    with contextlib.ExitStack() as running:
        upstream = running.enter_context(EchoUpstream())
        down = free_port()
        proxies = {
            name: running.enter_context(start(root / name, free_port(), down, upstream.port))
            for name, start in STARTERS.items()
        }
        nobody = Server(base_url=f"http://127.0.0.1:{down}", data_dir=root, log=root)
        yield Stack(nobody, upstream, proxies)


@pytest.mark.parametrize("name", list(STARTERS))
@pytest.mark.parametrize("credentials", [token_auth("0" * 32), {}], ids=["token", "none"])
def test_punchclock_down_the_proxy_refuses(
    dead_stack: Stack, name: str, credentials: dict[str, str]
) -> None:
    started = time.monotonic()
    response = through(dead_stack.proxies[name], "GET", "/reports", headers=credentials)
    assert response.status_code in (502, 503)
    assert dead_stack.upstream.seen == []
    assert time.monotonic() - started < 10
