from __future__ import annotations

import datetime as dt
import email
import email.policy
import warnings
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from punchclock.mail import DeliveryFailed, FileMailer, SmtpMailer, render
from punchclock.models import Message
from tests.smtp_server import Inbox, SmtpServer, free_port

MESSAGE = Message(
    to="ann@example.com",
    to_name="Ann Smith",
    subject="Reset your password",
    text="code: abc123\n",
    html="<p>code: <code>abc123</code></p>\n",
)
SENDER = "punchclock <no-reply@example.com>"
WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def rendered(message: Message = MESSAGE, message_id: str = "0" * 32) -> email.message.EmailMessage:
    return render(message, sender=SENDER, message_id=message_id, date=WHEN)


def parsed(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_a_message_has_a_text_part_and_an_html_alternative() -> None:
    message = parsed(bytes(rendered()))
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == SENDER
    assert message["To"] == "Ann Smith <ann@example.com>"
    assert message["Subject"] == "Reset your password"
    assert message["Date"].datetime == WHEN
    assert message["Message-ID"] == f"<{'0' * 32}@example.com>"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content() == "code: abc123\n"
    assert html.get_content() == "<p>code: <code>abc123</code></p>\n"
    assert text["Content-Transfer-Encoding"] == html["Content-Transfer-Encoding"] == "7bit"


def test_the_same_id_renders_the_same_message_id_and_boundary() -> None:
    assert bytes(rendered()) == bytes(rendered())


def test_a_message_without_html_is_plain_text() -> None:
    message = parsed(bytes(rendered(Message(to="ann@example.com", subject="s", text="t\n"))))
    assert message.get_content_type() == "text/plain"
    assert message["To"] == "ann@example.com"


@pytest.mark.parametrize(
    ("to", "to_name"),
    [
        ("ann@example.com\r\nBcc: eve@example.com", "Ann"),
        ("ann@example.com\nBcc: eve@example.com", "Ann"),
        ("ann@example.com", "Ann\r\nBcc: eve@example.com"),
        ("ann@example.com", "Ann\rBcc: eve@example.com"),
    ],
)
def test_a_name_or_address_with_cr_or_lf_cannot_add_a_header(to: str, to_name: str) -> None:
    with pytest.raises(ValueError, match=r"CR or LF|linefeed|carriage return|newline"):
        bytes(rendered(Message(to=to, to_name=to_name, subject="s", text="t\n")))


def test_a_display_name_with_address_syntax_stays_one_quoted_name() -> None:
    sneaky = Message(
        to="ann@example.com", to_name='Eve <eve@example.com>, "x', subject="s", text="t"
    )
    message = parsed(bytes(rendered(sneaky)))
    [address] = message["To"].addresses
    assert (address.addr_spec, address.display_name) == ("ann@example.com", sneaky.to_name)
    assert message["Bcc"] is None


async def test_file_mailer_writes_an_rfc_5322_message_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    await FileMailer(tmp_path / "outbox").send(rendered())
    [path] = (tmp_path / "outbox").glob("*.eml")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "outbox").stat().st_mode & 0o777) == "0o700"
    assert path.read_bytes() == bytes(rendered())


async def test_file_mailer_logs_one_line_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="punchclock.mail")
    await FileMailer(tmp_path / "outbox").send(rendered())
    [record] = caplog.records
    assert str(tmp_path / "outbox") in record.getMessage()
    assert "abc123" not in record.getMessage()


async def test_a_long_line_stays_whole_in_the_file(tmp_path: Path) -> None:
    url = "http://127.0.0.1:8080/api/me/password_reset/confirm/" + "A" * 43
    await FileMailer(tmp_path / "outbox").send(
        rendered(Message(to="ann@example.com", subject="s", text=f"    {url}\n", html=url))
    )
    [path] = (tmp_path / "outbox").glob("*.eml")
    assert path.read_bytes().count(url.encode()) == 2


async def test_smtp_mailer_delivers_to_a_real_smtp_server(smtp_server: SmtpServer) -> None:
    await SmtpMailer(smtp_server.url).send(rendered())
    [received] = smtp_server.inbox.received
    assert received["To"] == "Ann Smith <ann@example.com>"
    assert received["Message-ID"] == f"<{'0' * 32}@example.com>"
    body = received.get_body(("plain",))
    assert body is not None
    assert body.get_content().splitlines() == ["code: abc123"]  # CRLF on the wire


async def test_smtp_mailer_failing_to_connect_is_temporary() -> None:
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(DeliveryFailed) as failed:
        await mailer.send(rendered())
    assert not failed.value.permanent


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("550 5.1.1 no such user", True), ("450 4.2.1 mailbox busy, try later", False)],
)
async def test_a_refused_recipient_is_permanent_for_5xx_and_temporary_for_4xx(
    smtp_server: SmtpServer, reply: str, permanent: bool
) -> None:
    smtp_server.inbox.refuse["ann@example.com"] = reply
    with pytest.raises(DeliveryFailed, match=reply[:3]) as failed:
        await SmtpMailer(smtp_server.url).send(rendered())
    assert failed.value.permanent is permanent


async def test_smtp_mailer_logs_in_with_the_percent_decoded_user_and_password() -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: object, session: object, envelope: object, mechanism: str,
                     data: LoginPassword) -> AuthResult:  # fmt: skip
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"p@ss:w/rd")

    inbox, port = Inbox(), free_port()
    with warnings.catch_warnings():  # AUTH without TLS: aiosmtpd warns, rightly; it's a test
        warnings.simplefilter("ignore")
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
            auth_require_tls=False,
        )  # fmt: skip
        controller.start()
    try:
        await SmtpMailer(f"smtp://a%40b:p%40ss%3Aw%2Frd@127.0.0.1:{port}").send(rendered())
    finally:
        controller.stop()
    assert logins == [(b"a@b", b"p@ss:w/rd")]
    assert len(inbox.received) == 1


async def test_the_file_mailer_names_each_file_by_its_outbox_id(tmp_path: Path) -> None:
    await FileMailer(tmp_path / "outbox").send(rendered(message_id="ab" * 16))
    [path] = (tmp_path / "outbox").glob("*.eml")
    assert path.stem.endswith("-" + "ab" * 16)
    assert FileMailer(tmp_path / "outbox").copies() == {"ab" * 16: path}
