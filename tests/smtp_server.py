"""A real SMTP server for the tests (aiosmtpd on a thread of its own), and what it received."""

from __future__ import annotations

import asyncio
import collections
import email
import email.policy
import socket
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd's Controller cannot take port 0
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Inbox:
    """An aiosmtpd handler: keep every message; refuse or stall the recipients named."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}  # recipient -> the SMTP reply to RCPT TO
        self.stall: set[str] = set()  # recipients whose RCPT TO is never answered
        self.data_delay = 0.0  # seconds to wait before accepting each message

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        if address in self.stall:
            await asyncio.sleep(3600)  # cancelled when the server stops
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"].addresses[0].addr_spec == address]

    def message_id_counts(self) -> collections.Counter[str]:
        return collections.Counter(str(m["Message-ID"]) for m in self.received)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """Wait (blocking) until `count` messages have arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, f"{len(self.received)} of {count} messages came"
        return list(self.received)


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port, which may be started after the port is handed out."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
