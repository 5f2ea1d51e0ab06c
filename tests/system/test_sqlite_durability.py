"""SQLite under stress: killed with SIGKILL mid-write, and written by several workers at once."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import basic, cookie_header, session_from
from tests.system.conftest import running_server, start_server

pytestmark = pytest.mark.system
PASSWORD = "correct horse battery staple"


def _sign_up(client: httpx.Client, email: str) -> httpx.Response:
    return client.post(
        "/api/signup", json={"email": email, "password": PASSWORD, "timezone": "UTC"}
    )


def test_a_server_killed_mid_write_loses_no_acknowledged_account_and_leaves_no_partial_one(
    tmp_path: Path,
) -> None:
    server, running = start_server(tmp_path, log_name="killed.log")
    base_url, data_dir = running.base_url, running.data_dir
    acknowledged: list[str] = []
    killed = threading.Event()

    def keep_signing_up(worker: int) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for n in range(10_000):
                email = f"w{worker}-{n}@example.com"
                try:
                    if _sign_up(client, email).status_code == 200:
                        acknowledged.append(email)
                except httpx.TransportError:
                    assert killed.is_set(), "the server failed before it was killed"
                    return

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            writers = [pool.submit(keep_signing_up, w) for w in range(8)]
            deadline = time.monotonic() + 20
            while len(acknowledged) < 40 and time.monotonic() < deadline:
                time.sleep(0.01)
            killed.set()
            server.send_signal(signal.SIGKILL)  # in the middle of the next writes
            server.wait(timeout=10)
            for writer in writers:
                writer.result()
    finally:
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) >= 40

    db = sqlite3.connect(data_dir / "punchclock.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in db.execute("SELECT email FROM accounts")}
        partial = db.execute(
            "SELECT count(*) FROM accounts a LEFT JOIN workspaces w "
            "ON w.id = a.default_workspace_id AND w.owner_id = a.id WHERE w.id IS NULL"
        ).fetchone()[0]
    finally:
        db.close()
    assert set(acknowledged) <= stored  # every 200 survived
    assert partial == 0  # no account without its workspace

    with running_server(tmp_path) as restarted:  # and it starts again on the same file
        me = httpx.get(f"{restarted.base_url}/api/v9/me", headers=basic(acknowledged[-1], PASSWORD))
        assert me.status_code == 200


def test_several_workers_writing_one_sqlite_file_never_fail(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "3") as server:

        def account_life(n: int) -> list[int]:
            """Sign up, log in, log out, change the name: writes, on fresh connections."""
            email = f"busy-{n}@example.com"
            statuses = []
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                statuses.append(_sign_up(client, email).status_code)
                for _ in range(3):
                    session = client.post(
                        "/api/sessions", json={"email": email, "password": PASSWORD}
                    )
                    statuses.append(session.status_code)
                    if session.status_code == 200:
                        ended = client.delete(
                            "/api/sessions", headers=cookie_header(session_from(session))
                        )
                        statuses.append(ended.status_code)
                    renamed = client.put(
                        "/api/v9/me", headers=basic(email, PASSWORD), json={"fullname": f"N{n}"}
                    )
                    statuses.append(renamed.status_code)
            return statuses

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = [s for result in pool.map(account_life, range(120)) for s in result]
        log = server.log.read_text(errors="replace")
    assert set(statuses) == {200}
    assert len(statuses) == 120 * 10
    assert "database is locked" not in log
