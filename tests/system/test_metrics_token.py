"""GET /metrics on the main port behind PUNCHCLOCK_METRICS_TOKEN, on a real `serve --workers 2`:
refused without the token, promtool accepts what the token gets, a killed worker's live
gauges are dropped; and with PUNCHCLOCK_LOG_FORMAT=json, the lines of the answers given
right before a stop are on disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from punchclock.web.metered import FLUSH_INTERVAL
from tests.system.conftest import Server, running_server, start_server, stop

pytestmark = pytest.mark.system

TOKEN = "d2f0c5a1e9b84b7c9e3f6a1d0c8b7e2f4a9c1d3e5f7b9a0c"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("metrics-token")
    with running_server(root, "--workers", "2", env={"PUNCHCLOCK_METRICS_TOKEN": TOKEN}) as s:
        yield s


def metrics(server: Server, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.get(f"{server.base_url}/metrics", headers=headers, timeout=5)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token",
        f"Bearer {TOKEN[:-1]}",  # all but its last character
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",  # the right secret under another scheme
        TOKEN,  # no scheme at all
    ],
)
def test_without_the_token_metrics_are_refused(server: Server, authorization: str | None) -> None:
    answer = metrics(server, authorization)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "punchclock_" not in answer.text
    assert answer.headers["x-request-id"]


def test_with_the_token_every_workers_series_are_served_and_promtool_accepts_them(
    server: Server,
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:  # .ci/run and ./scripts/test install it (Debian package prometheus)
        pytest.fail("promtool is not installed: apt-get install prometheus")
    for _ in range(20):  # a connection each: both workers answer some
        httpx.get(f"{server.base_url}/health/live")
    time.sleep(FLUSH_INTERVAL + 0.5)  # every worker has handed its counts over
    for _ in range(4):  # whichever worker answers, it serves the sum of both
        answer = metrics(server, f"bearer {TOKEN}")  # the scheme is case-insensitive
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        line = next(
            line
            for line in answer.text.splitlines()
            if line.startswith("punchclock_http_requests_total") and 'route="/health/live"' in line
        )
        assert float(line.rsplit(" ", 1)[1]) >= 20
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=answer.text, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_metrics_are_not_in_the_openapi_document(server: Server) -> None:
    document = httpx.get(f"{server.base_url}/api/openapi.json").json()
    assert "/metrics" not in document["paths"]


def live_gauge_pids(folder: Path) -> set[int]:
    """The workers that wrote live gauges (each samples them as it starts)."""
    return {int(path.stem.rpartition("_")[2]) for path in folder.glob("gauge_livesum_*.db")}


def test_a_killed_workers_live_gauges_are_dropped(tmp_path: Path) -> None:
    """granian replaces a killed worker; the gauge files it left (hash queue) would be
    summed forever: the next collection removes them (mark_process_dead)."""
    process, server = start_server(
        tmp_path, "--workers", "2", env={"PUNCHCLOCK_METRICS_TOKEN": TOKEN}
    )
    try:
        folder = server.data_dir / "metrics"
        deadline = time.monotonic() + 20
        while len(live_gauge_pids(folder)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        victim, survivor = sorted(live_gauge_pids(folder))
        counted = sorted(folder.glob("counter_*.db")) + sorted(folder.glob("histogram_*.db"))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(live_gauge_pids(folder) - {victim, survivor}) < 1:  # its replacement's
            assert time.monotonic() < deadline, "granian did not replace the killed worker"
            time.sleep(0.2)
        assert (folder / f"gauge_livesum_{victim}.db").exists()  # left behind...
        assert metrics(server, f"Bearer {TOKEN}").status_code == 200
        assert not (folder / f"gauge_livesum_{victim}.db").exists()  # ...until collected
        assert (folder / f"gauge_livesum_{survivor}.db").exists()
        assert all(path.exists() for path in counted)  # what it counted still counts
    finally:
        stop(process)
    assert not list(folder.glob("gauge_livesum_*.db"))  # stopped workers remove their own


def test_json_lines_of_the_answers_right_before_a_stop_are_on_disk(tmp_path: Path) -> None:
    process, server = start_server(tmp_path, env={"PUNCHCLOCK_LOG_FORMAT": "json"})
    try:
        with httpx.Client(base_url=server.base_url) as client:
            ids = [client.get("/api/v9/me").headers["x-request-id"] for _ in range(5)]
    finally:
        stop(process)  # at once: the lines are still in their batch
    lines = server.log.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    logged = [e for e in entries if e.get("logger") == "punchclock.access"]
    assert [e["request_id"] for e in logged[-5:]] == ids
    assert {(e["route"], e["status"], e["auth"]) for e in logged[-5:]} == {
        ("/api/v9/me", 403, "none")
    }
    assert any(e["logger"] == "_granian" for e in entries)  # the server's own lines too
