"""Prometheus metrics of a real `serve --workers 2`: scraped under traffic, counts move by
exactly what was sent, the two workers add up, promtool accepts the output, and no label
carries an email, a token, a code or a path a client chose."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from punchclock.web.metered import FLUSH_INTERVAL
from tests.support import PASSWORD, basic, cookie_header, session_from, token_auth
from tests.system.conftest import Server, free_port, running_server

pytestmark = pytest.mark.system

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    port = free_port()
    settings = {
        "PUNCHCLOCK_METRICS_ADDR": f"127.0.0.1:{port}",
        # one a worker: a third confirmation is refused whichever worker takes it
        "PUNCHCLOCK_RESET_CONFIRM_LIMIT_PER_IP": "1/hour",
    }
    root = tmp_path_factory.mktemp("metered")
    with running_server(root, "--workers", "2", env=settings) as server:
        yield server, f"http://127.0.0.1:{port}/metrics"


def scrape(url: str) -> tuple[str, Samples]:
    text = httpx.get(url, timeout=5).text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def settled(url: str, name: str, expected: float, **labels: str) -> Samples:
    """Scrape once every worker has handed its counts over (each does so a second after
    its first answer since the last hand-over), and until the series reaches `expected`."""
    time.sleep(FLUSH_INTERVAL + 0.5)
    deadline = time.monotonic() + 5
    while True:
        _, samples = scrape(url)
        if value(samples, name, **labels) >= expected or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_the_counts_move_by_exactly_what_was_sent(metered: tuple[Server, str]) -> None:
    server, url = metered
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    _, before = scrape(url)
    signed_up = httpx.post(
        f"{server.base_url}/api/signup", json={"email": email, "password": PASSWORD}
    )
    assert signed_up.status_code == 200
    token = signed_up.json()["api_token"]
    session = session_from(signed_up)
    me = 30
    for _ in range(me):  # a connection each: the kernel spreads them over both workers
        assert httpx.get(f"{server.base_url}/api/v9/me", headers=token_auth(token)).is_success
    for _ in range(4):
        wrong = httpx.get(f"{server.base_url}/api/v9/me", headers=token_auth("0" * 32))
        assert wrong.status_code == 403
    for _ in range(2):
        by_password = httpx.get(f"{server.base_url}/api/v9/me", headers=basic(email, PASSWORD))
        assert by_password.status_code == 200
    assert httpx.get(f"{server.base_url}/api/v9/me", headers=cookie_header(session)).is_success
    logged_in = httpx.post(
        f"{server.base_url}/api/sessions", json={"email": email, "password": PASSWORD}
    )
    assert logged_in.status_code == 200
    assert httpx.get(f"{server.base_url}/no/such/{token}/{email}").status_code == 404

    requests = "punchclock_http_requests_total"
    me_ok = {"route": "/api/v9/me", "method": "GET", "status": "200"}
    after = settled(url, requests, value(before, requests, **me_ok) + me + 3, **me_ok)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(requests, **me_ok) == me + 3
    assert moved(requests, route="/api/v9/me", method="GET", status="403") == 4
    assert moved(requests, route="/api/signup", method="POST", status="200") == 1
    assert moved(requests, route="unmatched", method="GET", status="404") == 1
    auth = "punchclock_authentications_total"
    assert moved(auth, kind="token", result="ok") == me
    assert moved(auth, kind="token", result="refused") == 4
    assert moved(auth, kind="password", result="ok") == 2 + 1  # two Basic, one log-in
    assert moved(auth, kind="session", result="ok") == 1
    events = "punchclock_account_events_total"
    assert moved(events, event="sign_up") == 1
    assert moved(events, event="log_in") == 1
    latency = "punchclock_http_request_duration_seconds_count"
    assert moved(latency, route="/api/v9/me", method="GET") == me + 3 + 4
    hashes = "punchclock_password_hash_seconds_count"
    assert moved(hashes, operation="hash") == 1  # the sign-up
    assert moved(hashes, operation="verify") >= 2  # a log-in, a first Basic (then cached)


def test_the_two_workers_add_up(metered: tuple[Server, str]) -> None:
    server, url = metered
    for _ in range(40):
        httpx.get(f"{server.base_url}/api/v9/me/logged")
    time.sleep(FLUSH_INTERVAL + 0.5)  # every worker has handed its counts over
    _, samples = scrape(url)
    total = sum(v for (name, _), v in samples.items() if name == "punchclock_http_requests_total")
    per_worker = []
    for path in sorted((server.data_dir / "metrics").glob("counter_*.db")):
        merged = MultiProcessCollector.merge([str(path)], accumulate=True)  # type: ignore[no-untyped-call]
        per_worker.append(
            sum(
                s.value
                for family in merged
                for s in family.samples
                if s.name == "punchclock_http_requests_total"
            )
        )
    served_by = [n for n in per_worker if n > 0]
    assert len(served_by) == 2, per_worker  # both workers answered, each in its own file
    assert sum(per_worker) == total  # what is scraped is their sum


def test_no_label_carries_a_credential_or_what_a_client_chose(metered: tuple[Server, str]) -> None:
    server, url = metered
    email = f"secret-{uuid.uuid4().hex[:8]}@example.com"
    signed_up = httpx.post(
        f"{server.base_url}/api/signup", json={"email": email, "password": PASSWORD}
    )
    token = signed_up.json()["api_token"]
    httpx.get(f"{server.base_url}/api/sessions/{token}", headers=basic(email, PASSWORD))
    httpx.post(f"{server.base_url}/api/me/password_reset/confirm/{token}", json={})
    httpx.request("FROBNICATE", f"{server.base_url}/api/v9/me")
    text, _ = scrape(url)
    for secret in (email, token, PASSWORD, "FROBNICATE", "secret-"):
        assert secret not in text
    labels = set(re.findall(r'(\w+)="', text))
    assert labels <= {
        "route",
        "method",
        "status",
        "kind",
        "result",
        "event",
        "cause",
        "operation",
        "outcome",
        "le",
    }, labels


def test_refusals_and_mail_are_counted(metered: tuple[Server, str]) -> None:
    server, url = metered
    email = f"r-{uuid.uuid4().hex[:8]}@example.com"
    signed_up = httpx.post(
        f"{server.base_url}/api/signup", json={"email": email, "password": PASSWORD}
    )
    assert signed_up.status_code == 200
    _, before = scrape(url)
    statuses = [
        httpx.post(
            f"{server.base_url}/api/me/password_reset/confirm/{'x' * 20}",
            json={"password": "whatever it is"},
        ).status_code
        for _ in range(3)
    ]
    assert 429 in statuses
    asked = httpx.post(f"{server.base_url}/api/me/password_reset/request", json={"email": email})
    assert asked.status_code == 200
    sent = "punchclock_mail_messages_total"
    after = settled(url, sent, value(before, sent, outcome="sent") + 1, outcome="sent")
    route = "/api/me/password_reset/confirm/{code}"
    throttled = value(after, "punchclock_throttled_requests_total", route=route)
    assert throttled - value(before, "punchclock_throttled_requests_total", route=route) == (
        statuses.count(429)
    )
    assert value(after, sent, outcome="sent") - value(before, sent, outcome="sent") == 1
    events = "punchclock_account_events_total"
    assert (
        value(after, events, event="reset_requested")
        - value(before, events, event="reset_requested")
        == 1
    )
    assert ("punchclock_mail_pending", frozenset()) in after
    assert ("punchclock_mail_oldest_pending_age_seconds", frozenset()) in after


def test_promtool_accepts_the_output(metered: tuple[Server, str], tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:  # .ci/run and ./scripts/test install it (Debian package prometheus)
        pytest.fail("promtool is not installed: apt-get install prometheus")
    _, url = metered
    text = httpx.get(url, timeout=5).text
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_metrics_are_not_on_the_public_port(metered: tuple[Server, str]) -> None:
    server, _ = metered
    assert httpx.get(f"{server.base_url}/metrics").status_code == 404
