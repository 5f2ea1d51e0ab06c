from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from punchclock.mail import FileMailer, SmtpMailer
from punchclock.models import Message

MESSAGE = Message(to="ann@example.com", subject="Reset your password", text="code: abc123\n")


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__(email.message.EmailMessage)
        self.received: list[email.message.Message] = []

    def handle_message(self, message: email.message.Message) -> None:
        self.received.append(message)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's Controller cannot take port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def test_file_mailer_writes_an_rfc_5322_message_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    await FileMailer(tmp_path / "outbox", "punchclock <no-reply@example.com>").send(MESSAGE)
    [path] = (tmp_path / "outbox").glob("*.eml")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "ann@example.com"
    assert parsed["From"] == "punchclock <no-reply@example.com>"
    assert parsed["Subject"] == "Reset your password"
    assert parsed["Date"] is not None
    assert parsed["Message-ID"] is not None
    assert parsed.get_content() == "code: abc123\n"


async def test_file_mailer_logs_one_line_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="punchclock.mail")
    await FileMailer(tmp_path / "outbox", "no-reply@example.com").send(MESSAGE)
    [record] = caplog.records
    assert str(tmp_path / "outbox") in record.getMessage()
    assert "abc123" not in record.getMessage()


async def test_a_header_injection_through_the_recipient_is_refused(tmp_path: Path) -> None:
    bad = Message(to="ann@example.com\r\nBcc: eve@example.com", subject="s", text="t")
    with pytest.raises(ValueError, match=r"linefeed|carriage return|newline"):
        await FileMailer(tmp_path / "outbox", "no-reply@example.com").send(bad)


async def test_smtp_mailer_delivers_to_a_real_smtp_server(
    smtp_server: tuple[Controller, Inbox],
) -> None:
    controller, inbox = smtp_server
    mailer = SmtpMailer(f"smtp://127.0.0.1:{controller.port}", "no-reply@example.com")
    await mailer.send(MESSAGE)
    [received] = inbox.received
    assert received["To"] == "ann@example.com"
    assert received["Subject"] == "Reset your password"
    assert "code: abc123" in received.get_payload()


async def test_smtp_mailer_raises_when_the_server_is_down() -> None:
    mailer = SmtpMailer("smtp://127.0.0.1:9", "no-reply@example.com", timeout=2)
    with pytest.raises(OSError, match=r"."):
        await mailer.send(MESSAGE)


async def test_a_long_line_stays_whole_in_the_file(tmp_path: Path) -> None:
    url = "http://127.0.0.1:8080/api/me/password_reset/confirm/" + "A" * 43
    await FileMailer(tmp_path / "outbox", "no-reply@example.com").send(
        Message(to="ann@example.com", subject="s", text=f"    {url}\n")
    )
    [path] = (tmp_path / "outbox").glob("*.eml")
    assert url.encode() in path.read_bytes()
