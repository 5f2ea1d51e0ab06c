"""punchclock on PostgreSQL, as run in production: several hosts (two real servers with
nothing shared but the database, one of them with two workers), and a database that
goes away and comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from punchclock.store.postgres import DEADLINE
from tests.conftest import SECRET_KEY
from tests.support import basic, cookie_header, session_from, token_auth
from tests.system.conftest import Server, running_server
from tests.system.tcp_proxy import TcpProxy

pytestmark = pytest.mark.system
PASSWORD = "correct horse battery staple"


def _env(url: str) -> dict[str, str]:
    # What every host behind one load balancer shares: the database, the server key and
    # the public URL (the JWT's issuer).
    return {
        "PUNCHCLOCK_DATABASE_URL": url,
        "PUNCHCLOCK_SECRET_KEY": SECRET_KEY,
        "PUNCHCLOCK_PUBLIC_URL": "https://id.example.com",
    }


@pytest.fixture
def hosts(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with (
        running_server(tmp_path / "host-a", "--workers", "2", env=_env(postgres_url)) as a,
        running_server(tmp_path / "host-b", env=_env(postgres_url)) as b,
    ):
        yield a, b


def _sign_up(server: Server, email: str) -> tuple[str, str]:
    """Return the new account's session JWT and API token."""
    answer = httpx.post(
        f"{server.base_url}/api/signup",
        json={"email": email, "password": PASSWORD, "timezone": "UTC"},
    )
    assert answer.status_code == 200, answer.text
    return session_from(answer), answer.json()["api_token"]


def _me(server: Server, headers: dict[str, str]) -> int:
    # a new connection each time, so that both of host A's workers answer some requests
    return httpx.get(f"{server.base_url}/api/v9/me", headers=headers, timeout=15).status_code


def _everywhere(hosts: tuple[Server, Server], headers: dict[str, str]) -> set[int]:
    return {_me(host, headers) for host in hosts for _ in range(8)}


def test_what_one_host_revokes_every_host_refuses_on_the_next_request(
    hosts: tuple[Server, Server],
) -> None:
    a, b = hosts
    session, token = _sign_up(a, "ann@example.com")
    for headers in (cookie_header(session), token_auth(token), basic("ann@example.com", PASSWORD)):
        assert _everywhere(hosts, headers) == {200}  # B verifies what A signed

    assert httpx.delete(f"{b.base_url}/api/sessions", headers=cookie_header(session)).is_success
    assert _everywhere(hosts, cookie_header(session)) == {403}

    new_token = httpx.post(f"{a.base_url}/api/v9/me/reset_token", headers=token_auth(token)).json()
    assert _everywhere(hosts, token_auth(token)) == {403}
    assert _everywhere(hosts, token_auth(new_token)) == {200}

    changed = httpx.put(
        f"{b.base_url}/api/v9/me",
        headers=token_auth(new_token),
        json={"current_password": PASSWORD, "password": "a different passphrase"},
    )
    assert changed.status_code == 200, changed.text
    assert _everywhere(hosts, basic("ann@example.com", PASSWORD)) == {403}
    assert _everywhere(hosts, basic("ann@example.com", "a different passphrase")) == {200}

    closed = httpx.post(f"{a.base_url}/api/me/close_account/track", headers=token_auth(new_token))
    assert closed.is_success
    assert _everywhere(hosts, token_auth(new_token)) == {403}
    assert _everywhere(hosts, basic("ann@example.com", "a different passphrase")) == {403}


def _through(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or ''}@127.0.0.1:{proxy.port}" if parts.username else ""
    return urlunsplit(parts._replace(netloc=netloc or f"127.0.0.1:{proxy.port}"))


@pytest.mark.parametrize("outage", ["refused", "partitioned"])
def test_an_outage_is_a_quick_503_and_punchclock_recovers_by_itself(
    postgres_url: str, tmp_path: Path, outage: str
) -> None:
    parts = urlsplit(postgres_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    try:
        with running_server(tmp_path, env=_env(_through(proxy, postgres_url))) as server:
            session, token = _sign_up(server, "bo@example.com")
            assert _me(server, token_auth(token)) == 200

            # refused: the server is down; partitioned: packets vanish, nothing answers
            proxy.stop() if outage == "refused" else proxy.freeze()
            log_in = {"email": "bo@example.com", "password": PASSWORD}
            new_user = {"email": "cy@example.com", "password": PASSWORD, "timezone": "UTC"}
            requests: list[tuple[str, str, dict[str, str], object]] = [
                ("GET", "/api/v9/me", token_auth(token), None),
                ("GET", "/api/v9/me", cookie_header(session), None),
                ("POST", "/api/sessions", {}, log_in),
                ("POST", "/api/signup", {}, new_user),
            ]
            for method, path, headers, body in requests:
                started = time.monotonic()
                answer = httpx.request(
                    method, f"{server.base_url}{path}", headers=headers, json=body, timeout=30
                )
                # within the store's deadline, never a hang
                assert time.monotonic() - started < DEADLINE + 1.0
                assert answer.status_code == 503
                assert isinstance(answer.json(), str)
                assert answer.headers["Retry-After"].isdigit()

            proxy.start() if outage == "refused" else proxy.thaw()
            deadline = time.monotonic() + 10
            while _me(server, token_auth(token)) != 200:
                assert time.monotonic() < deadline, "punchclock did not recover"
                time.sleep(0.2)
            assert _me(server, cookie_header(session)) == 200
    finally:
        proxy.stop()
