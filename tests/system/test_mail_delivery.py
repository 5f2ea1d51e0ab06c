"""Mail from real `punchclock serve` processes to a real SMTP server: killed, two workers."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.smtp_server import SmtpServer
from tests.support import PASSWORD, reset_code_in
from tests.system.conftest import running_server, start_server

pytestmark = pytest.mark.system


def outbox_rows(data_dir: Path) -> list[tuple[str, str, int, bool]]:
    """Return (recipient, state, attempts, body kept) of each message, read from the file."""
    with contextlib.closing(sqlite3.connect(data_dir / "punchclock.sqlite3")) as db:
        rows = db.execute(
            "SELECT recipient, state, attempts, sealed IS NOT NULL FROM outbox "
            "ORDER BY created_at, recipient"
        ).fetchall()
    return [(r, s, a, bool(kept)) for r, s, a, kept in rows]


def attempted_and_unclaimed(data_dir: Path) -> bool:
    with contextlib.closing(sqlite3.connect(data_dir / "punchclock.sqlite3")) as db:
        row = db.execute("SELECT attempts, claim_token FROM outbox").fetchone()
    return row is not None and row[0] >= 1 and row[1] is None


def sign_up_and_request_reset(base_url: str, email: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        signed_up = client.post(
            "/api/signup", json={"email": email, "password": PASSWORD, "display_name": "Ann"}
        )
        assert signed_up.status_code == 200, signed_up.text
        requested = client.post("/api/me/password_reset/request", json={"email": email})
        assert (requested.status_code, requested.json()) == (200, "OK")


def test_a_reset_committed_before_the_server_was_killed_is_delivered_after_restart(
    tmp_path: Path,
) -> None:
    smtp = SmtpServer()  # not started yet: nothing can be sent before the kill
    mail = {"PUNCHCLOCK_SMTP_URL": smtp.url}
    process, server = start_server(tmp_path, env=mail, log_name="killed.log")
    data_dir = server.data_dir
    try:
        sign_up_and_request_reset(server.base_url, "ann@example.com")
        # The reset is committed just after the answer, and the first attempt fails at
        # once. Kill the server once that is recorded, when it holds no lease on the
        # message (the next attempt is seconds away): a kill *during* an attempt leaves a
        # lease that delays the message by up to 70 s, which tests/unit/test_outbox.py
        # covers with a clock it can move.
        deadline = time.monotonic() + 10
        while not attempted_and_unclaimed(data_dir) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        process.kill()  # SIGKILL: no shutdown, no drain, no last send
        process.wait(timeout=10)
    assert outbox_rows(data_dir) == [("ann@example.com", "queued", 1, True)]

    smtp.start()
    try:
        with running_server(tmp_path, env=mail) as server:
            [message] = smtp.inbox.wait_for(1, timeout=30)  # after the first retry's backoff
            code = reset_code_in(message)
            confirmed = httpx.post(
                f"{server.base_url}/api/me/password_reset/confirm/{code}",
                json={"password": "a whole new password"},
                timeout=10,
            )
            assert confirmed.status_code == 200
    finally:
        smtp.stop()
    # the reset's mail (attempted once before the kill), then the notice of the reset
    [(recipient, state, _, kept), _notice] = outbox_rows(data_dir)
    assert (recipient, state, kept) == ("ann@example.com", "sent", False)
    resets = [m for m in smtp.inbox.received if m["Subject"] == "Reset your punchclock password"]
    assert len(resets) == 1


def test_two_workers_deliver_each_of_50_messages_exactly_once(tmp_path: Path) -> None:
    smtp = SmtpServer()
    smtp.inbox.data_delay = 0.01  # so that both workers' senders are at it together
    smtp.start()
    emails = [f"user-{n:02d}@example.com" for n in range(50)]
    try:
        with running_server(
            tmp_path, "--workers", "2", env={"PUNCHCLOCK_SMTP_URL": smtp.url}
        ) as server:
            for email in emails:
                sign_up_and_request_reset(server.base_url, email)
            smtp.inbox.wait_for(50, timeout=60)
            time.sleep(2)  # time enough for a second copy of anything to arrive
    finally:
        smtp.stop()
    counts = smtp.inbox.message_id_counts()
    assert len(counts) == 50
    assert set(counts.values()) == {1}
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp.inbox.received) == emails
    assert {(state, kept) for _, state, _, kept in outbox_rows(tmp_path / "data")} == {
        ("sent", False)
    }
