"""`punchclock mail list|retry|send` on a real data directory and a real SMTP server."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import msgspec
import pytest

from punchclock.cli import main
from punchclock.models import Message, OutgoingMail
from punchclock.store.keyfiles import load_secret_key
from punchclock.store.sqlite import SQLiteStore
from punchclock.tokens import SecretBox, new_mail_id
from tests.smtp_server import SmtpServer


@pytest.fixture
def data_dir(tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PUNCHCLOCK_SECRET_KEY", "PUNCHCLOCK_DATABASE_URL", "PUNCHCLOCK_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUNCHCLOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PUNCHCLOCK_SMTP_URL", smtp_server.url)
    assert main(["migrate"]) == 0
    return tmp_path / "data"


def queue(data_dir: Path, *recipients: str) -> list[str]:
    """Queue one message to each recipient, as the server would; return their ids."""
    box = SecretBox(load_secret_key(data_dir))
    now = time.time_ns() // 1000

    async def enqueue() -> list[str]:
        store = SQLiteStore(data_dir / "punchclock.sqlite3")
        ids = []
        try:
            for n, to in enumerate(recipients):
                message = Message(to=to, subject=f"message {n}", text="hello\n")
                mail_id = new_mail_id()
                sealed = box.seal_mail(msgspec.msgpack.encode(message), mail_id)
                await store.enqueue_mail(
                    OutgoingMail(mail_id, to, message.subject, sealed, now + n)
                )
                ids.append(mail_id)
        finally:
            await store.close()
        return ids

    return asyncio.run(enqueue())


def test_send_list_and_retry_a_dead_letter(
    data_dir: Path, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    smtp_server.inbox.refuse["gone@example.com"] = "550 5.1.1 no such user"
    gone, _ = queue(data_dir, "gone@example.com", "ann@example.com")
    capsys.readouterr()

    assert main(["mail", "send"]) == 1  # something failed: a script should notice
    assert capsys.readouterr().out == "sent 1, to be retried 0, dead 1\n"
    assert len(smtp_server.inbox.received) == 1

    assert main(["mail", "list", "--failed"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        f"{gone}  dead    attempts 1  created 20..-..-..T..:..:..Z  dead  to gone@example.com  "
        "'message 0'  last error: recipient refused: 550 5.1.1 no such user",
        line,
    )
    assert main(["mail", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in listed] == ["sent", "dead"]  # newest first

    del smtp_server.inbox.refuse["gone@example.com"]
    assert main(["mail", "retry", gone]) == 0
    assert "queued again" in capsys.readouterr().out
    assert main(["mail", "send"]) == 0
    assert capsys.readouterr().out == "sent 1, to be retried 0, dead 0\n"
    assert len(smtp_server.inbox.received) == 2


def test_retry_of_a_message_that_is_not_dead_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [queued] = queue(data_dir, "ann@example.com")
    capsys.readouterr()
    assert main(["mail", "retry", queued]) == 2
    assert "no dead message" in capsys.readouterr().err
