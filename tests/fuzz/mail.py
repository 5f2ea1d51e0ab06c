"""A mailer for the fuzz tests: what leaves the process is faked, and nothing else."""

from __future__ import annotations

from punchclock.models import Message


class RecordingMailer:
    """Keep messages in memory.

    The file mailer's MIME code draws on the `random` module after an answer is sent, on
    the app's event loop. Where that loop runs in another thread (Schemathesis' ASGI
    client), Hypothesis, drawing the next example meanwhile, would see its random state
    move under it and fail the test.
    """

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)
