"""Sending email: the Mailer port, a file adapter (the default) and an SMTP adapter."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from punchclock.models import Message

log = logging.getLogger("punchclock.mail")


class Mailer(Protocol):
    async def send(self, message: Message) -> None:
        """Deliver one message, or raise."""
        ...


def to_email(message: Message, sender: str) -> EmailMessage:
    """Return the RFC 5322 message; the email policy refuses CR/LF in any header value."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    # 7bit/8bit rather than quoted-printable, so a code in a long line stays whole in the file
    email.set_content(message.text, cte="7bit" if message.text.isascii() else "8bit")
    return email


class FileMailer:
    """Write each message as an .eml file in a folder: for development and for tests."""

    def __init__(self, outbox: Path, sender: str) -> None:
        self._outbox = outbox
        self._sender = sender

    async def send(self, message: Message) -> None:
        data = bytes(to_email(message, self._sender))
        self._outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self._outbox / f"{stamp}-{secrets.token_hex(4)}.eml"
        # 0600: the message holds a reset code, a secret until it is used
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        log.info("no PUNCHCLOCK_SMTP_URL set: wrote the message to %s", path)


class SmtpMailer:
    """Send through an SMTP server: smtp://, smtp+starttls:// or smtps://, user:pass@ optional."""

    def __init__(self, url: str, sender: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self._scheme = parts.scheme
        self._host = parts.hostname or "localhost"
        self._port = parts.port or {"smtps": 465, "smtp+starttls": 587}.get(parts.scheme, 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender
        self._timeout = timeout

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._send, to_email(message, self._sender))

    def _send(self, email: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            if self._scheme == "smtp+starttls":
                smtp.starttls(context=context)
            if self._user is not None:
                smtp.login(self._user, self._password or "")
            smtp.send_message(email)
