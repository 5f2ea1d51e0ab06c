"""A mailer for the fuzz tests: what leaves the process is faked, and nothing else."""

from __future__ import annotations

from email.message import EmailMessage


class RecordingMailer:
    """Keep messages in memory.

    Writing a MIME message out may draw on the `random` module, after an answer is sent,
    on the app's event loop. Where that loop runs in another thread (Schemathesis' ASGI
    client), Hypothesis, drawing the next example meanwhile, would see its random state
    move under it and fail the test.
    """

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, email: EmailMessage) -> None:
        self.sent.append(email)
