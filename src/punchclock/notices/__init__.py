"""The mail punchclock sends: reset codes and notices of changes to an account.

The text and HTML of each message are templates in templates/, beside this code; the
values put into an HTML template are escaped here. Messages are sealed for the outbox:
a reset code must not lie in the database in clear.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from collections.abc import Callable
from importlib import resources
from string import Template

import msgspec

from punchclock.models import Account, ClientInfo, Message, OutgoingMail
from punchclock.tokens import SecretBox, new_mail_id


class Change(msgspec.Struct, frozen=True):
    """A change to an account its address is told of: the subject, and what happened."""

    subject: str
    what: str  # the text's first words


PASSWORD_CHANGED = Change(
    "Your punchclock password was changed",
    "The password of your punchclock account was changed",
)
PASSWORD_RESET = Change(
    "Your punchclock password was reset",
    "The password of your punchclock account was reset with a code sent to this address",
)
EMAIL_CHANGED = Change(
    "Your punchclock email address was changed",
    "The email address of your punchclock account was changed from this one to another",
)


class Notices:
    """Write the messages; `queued()` wakes the mail sender once they are in the outbox."""

    def __init__(
        self,
        secrets: SecretBox,
        public_url: str,
        *,
        reset_code_ttl: int,
        queued: Callable[[], None] | None = None,
    ) -> None:
        self._secrets = secrets
        self._public_url = public_url
        self.reset_code_ttl = reset_code_ttl  # seconds
        self.queued = queued or (lambda: None)  # wakes this process's mail sender

    def change(
        self, account: Account, change: Change, now: int, client: ClientInfo | None
    ) -> OutgoingMail:
        """Tell the account's address what happened to it, when and from where."""
        origin = f" from the address {client.ip}" if client is not None and client.ip else ""
        text = _template("change.txt").substitute(
            what=change.what, when=_minute(now), origin=origin, public_url=self._public_url
        )
        body = html.escape(text).replace("\n\n", "</p>\n<p>")
        page = _template("change.html").substitute(name=html.escape(account.fullname), body=body)
        return self._sealed(_message(account, change.subject, text, page), now)

    def reset_code(self, account: Account, code: str, expires_at: int, now: int) -> OutgoingMail:
        """Give the account's address a reset code and the link that uses it."""
        link = f"{self._public_url}/reset/{code}"
        values = {"minutes": str(self.reset_code_ttl // 60), "until": _minute(expires_at)}
        text = _template("reset_code.txt").substitute(
            values,
            link=link,
            code=code,
            api=f"{self._public_url}/api/me/password_reset/confirm/{code}",
        )
        page = _template("reset_code.html").substitute(
            values,
            name=html.escape(account.fullname),
            link=html.escape(link),
            code=html.escape(code),
        )
        return self._sealed(_message(account, "Reset your punchclock password", text, page), now)

    def _sealed(self, message: Message, now: int) -> OutgoingMail:
        """Seal a message for the outbox: it may hold a live code, and must not be kept in clear."""
        mail_id = new_mail_id()
        return OutgoingMail(
            id=mail_id,
            recipient=message.to,
            subject=message.subject,
            sealed=self._secrets.seal_mail(msgspec.msgpack.encode(message), mail_id),
            created_at=now,
        )


def _message(account: Account, subject: str, text: str, page: str) -> Message:
    return Message(
        to=account.email, to_name=account.fullname, subject=subject, text=text, html=page
    )


def _minute(moment: int) -> str:
    """Return a time in microseconds as the messages show it: 2026-01-31 12:00 UTC."""
    return f"{dt.datetime.fromtimestamp(moment / 1_000_000, dt.UTC):%Y-%m-%d %H:%M} UTC"


@functools.cache
def _template(name: str) -> Template:
    source = resources.files("punchclock.notices").joinpath("templates", name)
    return Template(source.read_text(encoding="utf-8"))
