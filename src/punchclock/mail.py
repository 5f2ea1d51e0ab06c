"""Sending email: the Mailer port, MIME rendering, and the file and SMTP adapters.

The service never sends mail itself: it queues messages in the store's outbox, in the
transaction of the change that causes them, and punchclock/outbox.py hands them to a
Mailer from here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import secrets
from collections.abc import Iterable
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import aiosmtplib

from punchclock.config import Settings
from punchclock.models import Message

log = logging.getLogger("punchclock.mail")

SEND_TIMEOUT = 30.0  # seconds for one message, from connecting to the end of DATA


class DeliveryFailed(Exception):
    """A message was not delivered; `permanent` if trying again cannot help (SMTP 5xx)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, email: EmailMessage) -> None:
        """Deliver one message, or raise DeliveryFailed (or any error: taken as temporary)."""
        ...


def render(message: Message, *, sender: str, message_id: str, date: dt.datetime) -> EmailMessage:
    """Return the RFC 5322 message: text, plus HTML as multipart/alternative when given.

    Headers are built from parts (Address), and the email package refuses CR or LF in
    any of them, so no value that came from a request can add a header. `message_id` is
    the outbox id: the same on every attempt, so a receiver can drop a duplicate.
    """
    email = EmailMessage()
    email["From"] = sender
    to = Address(display_name=message.to_name, addr_spec=message.to)
    if "=?" in message.to_name:
        # A name such as "=?utf-8?q?Your_Bank?=" is an RFC 2047 encoded word: written as it
        # is, mail clients would show it decoded, as a name the user never typed. The email
        # package writes any ASCII name as it is, so such a name is encoded here, whole
        # (its "=" and "?" escaped), and the client shows exactly what was typed.
        name = Header(message.to_name, "utf-8", header_name="To").encode(linesep="\n")
        email.set_raw("To", f"{name} <{to.addr_spec}>")
    else:
        email["To"] = to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(date)
    domain = email["From"].addresses[0].domain or "localhost"
    email["Message-ID"] = f"<{message_id}@{domain}>"
    # 7bit/8bit rather than quoted-printable, so that a code in a long line stays whole
    email.set_content(message.text, cte=_cte(message.text))
    if message.html:
        email.add_alternative(message.html, subtype="html", cte=_cte(message.html))
        # made from the id rather than by the email package, which draws on `random`
        email.set_boundary(f"=_{message_id}")
    return email


def _cte(text: str) -> str:
    return "7bit" if text.isascii() else "8bit"


@runtime_checkable
class KeepsCopies(Protocol):
    """A mailer that keeps a copy of what it sent (the file mailer): the copies must go
    when the outbox forgets their messages, after its retention or with their account."""

    def copies(self) -> dict[str, Path]:
        """Return the copies kept, by the outbox id of their message."""
        ...

    def erase(self, paths: Iterable[Path]) -> int:
        """Delete these copies; return how many were deleted."""
        ...


class FileMailer:
    """Write each message as an .eml file in a folder: for development and for tests.

    The files hold names, addresses and live reset codes in clear, so each is named by its
    message's outbox id and deleted when the outbox forgets the message (OutboxSender).
    """

    def __init__(self, outbox: Path) -> None:
        self._outbox = outbox

    def announce(self) -> None:
        """Say, once as a server starts, that mail goes to files and reaches nobody."""
        log.warning(
            "PUNCHCLOCK_SMTP_URL is not set: mail (reset codes, notices) is written to %s "
            "as .eml files and is NOT sent to anyone",
            self._outbox,
        )

    async def send(self, email: EmailMessage) -> None:
        data = bytes(email)
        self._outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self._outbox / f"{stamp}-{_outbox_id(email) or secrets.token_hex(4)}.eml"
        # 0600: the message holds a reset code, a secret until it is used
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        log.info("no PUNCHCLOCK_SMTP_URL set: wrote the message to %s", path)

    def copies(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        if not self._outbox.is_dir():
            return found
        for path in self._outbox.glob("*.eml"):
            mail_id = path.stem.rpartition("-")[2]
            if _OUTBOX_ID.fullmatch(mail_id):
                found[mail_id] = path
        return found

    def erase(self, paths: Iterable[Path]) -> int:
        erased = 0
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                erased += 1
        return erased


_OUTBOX_ID = re.compile(r"[0-9a-f]{32}")


def _outbox_id(email: EmailMessage) -> str | None:
    """Return the outbox id a rendered message carries in its Message-ID, if any."""
    local = str(email.get("Message-ID", "")).strip("<>").partition("@")[0]
    return local if _OUTBOX_ID.fullmatch(local) else None


class SmtpMailer:
    """Send through an SMTP server: smtp://, smtp+starttls:// or smtps://, user:pass@ optional.

    smtp:// never uses TLS, smtp+starttls:// requires STARTTLS, smtps:// is TLS from the
    first byte; certificates are checked against the system's CAs. The user and password
    are percent-decoded from the URL.
    """

    def __init__(self, url: str, timeout: float = SEND_TIMEOUT) -> None:
        parts = urlsplit(url)
        self._scheme = parts.scheme
        self._host = parts.hostname or "localhost"
        self._port = parts.port or {"smtps": 465, "smtp+starttls": 587}.get(parts.scheme, 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout

    async def send(self, email: EmailMessage) -> None:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._user,
            password=self._password,
            use_tls=self._scheme == "smtps",
            start_tls=self._scheme == "smtp+starttls",
            timeout=self._timeout,
        )
        try:
            await client.connect()
            await client.send_message(email)
        except aiosmtplib.SMTPRecipientsRefused as e:
            # one recipient per message: refused for good (5xx) or for now (4xx)
            codes = [r.code for r in e.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in e.recipients)
            raise DeliveryFailed(
                f"recipient refused: {reason}", permanent=all(c >= 500 for c in codes)
            ) from e
        except aiosmtplib.SMTPResponseException as e:
            # A 5xx to the message itself (DATA) is permanent for that message. A 5xx to
            # AUTH, HELO or MAIL FROM says the server or punchclock's settings are wrong:
            # every message would fail alike, so they wait for the operator instead.
            permanent = e.code >= 500 and isinstance(e, aiosmtplib.SMTPDataError)
            raise DeliveryFailed(f"{e.code} {e.message}", permanent=permanent) from e
        except (aiosmtplib.SMTPException, OSError) as e:
            raise DeliveryFailed(str(e) or type(e).__name__, permanent=False) from e
        finally:
            # Closed without QUIT: once the server has the message, nothing may wait on
            # it any longer (a QUIT that hangs would make a sent message look failed and
            # be sent again), and a send cut short by its timeout must end at once.
            client.close()


def mailer_for(settings: Settings) -> Mailer:
    """Return the SMTP mailer if PUNCHCLOCK_SMTP_URL is set, the file mailer otherwise."""
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url)
    return FileMailer(settings.data_dir / "outbox")
