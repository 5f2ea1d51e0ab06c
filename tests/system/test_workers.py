"""`punchclock serve --workers 2`: whatever one worker revokes, no worker accepts after."""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import basic, cookie_header, session_from, token_auth
from tests.system.conftest import Server, running_server

pytestmark = pytest.mark.system
TRIES = 24  # fresh connections after a revocation: both workers answer some of them


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("workers"), "--workers", "2") as running:
        deadline = time.monotonic() + 15
        while _started_workers(running) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield running


def _statuses(server: Server, headers: dict[str, str]) -> set[int]:
    """GET /api/v9/me on a new connection each time, so the kernel spreads them over workers."""
    host, port = server.base_url.removeprefix("http://").split(":")
    statuses = set()
    for _ in range(TRIES):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/api/v9/me", headers=headers)
            statuses.add(connection.getresponse().status)
        finally:
            connection.close()
    return statuses


def _sign_up(server: Server, email: str) -> tuple[str, str, str]:
    password = "two workers password"
    response = httpx.post(
        f"{server.base_url}/api/signup", json={"email": email, "password": password}
    )
    assert response.status_code == 200
    return password, response.json()["api_token"], session_from(response)


def _started_workers(server: Server) -> int:
    log = server.log.read_text(errors="replace")
    # granian's line once a worker's lifespan start-up is done (not its runtime's)
    return len(set(re.findall(r"Started worker-(\d+)\n", log)))


def test_two_workers_start(workers: Server) -> None:
    assert _started_workers(workers) == 2


def test_log_out_is_refused_by_every_worker_at_once(workers: Server, email: str) -> None:
    _, _, session = _sign_up(workers, email)
    assert _statuses(workers, cookie_header(session)) == {200}
    httpx.delete(f"{workers.base_url}/api/sessions", headers=cookie_header(session))
    assert _statuses(workers, cookie_header(session)) == {403}


def test_token_reset_is_refused_by_every_worker_at_once(workers: Server, email: str) -> None:
    _, token, _ = _sign_up(workers, email)
    assert _statuses(workers, token_auth(token)) == {200}
    httpx.post(f"{workers.base_url}/api/v9/me/reset_token", headers=token_auth(token))
    assert _statuses(workers, token_auth(token)) == {403}


def test_password_change_is_refused_by_every_worker_at_once(workers: Server, email: str) -> None:
    password, token, _ = _sign_up(workers, email)
    assert _statuses(workers, basic(email, password)) == {200}
    changed = httpx.put(
        f"{workers.base_url}/api/v9/me",
        headers=token_auth(token),
        json={"current_password": password, "password": "a changed password"},
    )
    assert changed.status_code == 200
    assert _statuses(workers, basic(email, password)) == {403}
    assert _statuses(workers, basic(email, "a changed password")) == {200}


def test_closed_account_is_refused_by_every_worker_at_once(workers: Server, email: str) -> None:
    password, token, session = _sign_up(workers, email)
    for headers in (basic(email, password), token_auth(token), cookie_header(session)):
        assert _statuses(workers, headers) == {200}
    httpx.post(f"{workers.base_url}/api/me/close_account/track", headers=token_auth(token))
    for headers in (basic(email, password), token_auth(token), cookie_header(session)):
        assert _statuses(workers, headers) == {403}
