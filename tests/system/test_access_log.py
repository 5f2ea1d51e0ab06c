"""The access log of a real `punchclock serve`: every answer's line, whole, none lost at a stop."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.system.conftest import start_server, stop

pytestmark = pytest.mark.system

ANY_LINE = re.compile(
    r'INFO:     127\.0\.0\.1:\d+ - "[A-Z]+ \S+ HTTP/1\.1" \d{3} [A-Za-z ]+ request_id=[0-9a-f]+'
)
LINE = re.compile(
    r'INFO:     127\.0\.0\.1:\d+ - "GET /api/v9/me/logged\?n=(\d+) HTTP/1\.1" 403 Forbidden'
)


def test_every_answer_of_two_workers_is_logged_whole_up_to_the_stop(tmp_path: Path) -> None:
    process, server = start_server(tmp_path, "--workers", "2")
    answered: list[int] = []
    try:

        def ask(first: int) -> None:
            with httpx.Client(base_url=server.base_url, timeout=10) as client:
                for n in range(first, first + 100):
                    if client.get("/api/v9/me/logged", params={"n": n}).status_code == 403:
                        answered.append(n)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(ask, range(0, 800, 100)))
        code = "s3cr3t-c0de-value"
        httpx.post(f"{server.base_url}/api/me/password_reset/confirm/{code}", json={})
    finally:
        stop(process)  # SIGTERM straight after the last answer
    log = server.log.read_text()
    logged = [int(m.group(1)) for m in LINE.finditer(log)]
    assert sorted(logged) == sorted(answered) == list(range(800))
    for line in log.splitlines():  # no line of one worker cut into another's
        assert line.count("INFO:") <= 1, line
        if " HTTP/1.1" in line:
            assert ANY_LINE.fullmatch(line), line
    assert "/api/me/password_reset/confirm/*** HTTP/1.1" in log
    assert code not in log
