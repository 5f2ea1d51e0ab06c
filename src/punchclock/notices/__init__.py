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

# two-factor (issue 19): each change to the second factor is told to the account's address
TWO_FACTOR_ENABLED = Change(
    "Two-factor authentication is on for your punchclock account",
    "Two-factor authentication was turned on for your punchclock account, and every "
    "other session was ended",
)
TWO_FACTOR_DISABLED = Change(
    "Two-factor authentication is off for your punchclock account",
    "Two-factor authentication was turned off for your punchclock account",
)
TWO_FACTOR_REMOVED = Change(
    "Two-factor authentication was removed from your punchclock account",
    "An operator of this punchclock server removed two-factor authentication from your account",
)
RECOVERY_CODES_REPLACED = Change(
    "New punchclock recovery codes",
    "New recovery codes were made for your punchclock account; the earlier ones no longer work",
)
RECOVERY_CODE_USED = Change(
    "A punchclock recovery code was used",
    "One of the recovery codes of your punchclock account was used to pass two-factor "
    "authentication",
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

    def confirm_address(
        self, account: Account, email: str, code: str, expires_at: int, now: int
    ) -> OutgoingMail:
        """Ask a new address to confirm it is the account's, by a link."""
        link = f"{self._public_url}/email/confirm/{code}"
        text = _template("confirm_address.txt").substitute(
            link=link,
            until=_minute(expires_at),
            api=f"{self._public_url}/api/me/email_change/confirm/{code}",
        )
        page = _template("confirm_address.html").substitute(
            name=html.escape(account.fullname), link=html.escape(link), until=_minute(expires_at)
        )
        message = Message(
            to=email,
            to_name=account.fullname,
            subject="Confirm your new punchclock address",
            text=text,
            html=page,
        )
        return self._sealed(message, now)

    def address_taken(self, email: str, now: int) -> OutgoingMail:
        """Tell an address that someone asked to move an account to it, though it has one."""
        message = Message(
            to=email,
            subject="Your punchclock address",
            text=_template("address_taken.txt").substitute(),
            html=_template("address_taken.html").substitute(),
        )
        return self._sealed(message, now)

    def email_changed(
        self,
        account: Account,
        new_email: str,
        undo: str,
        expires_at: int,
        now: int,
        client: ClientInfo | None,
    ) -> OutgoingMail:
        """Tell the old address its account moved, with a link that undoes the move."""
        origin = f" from the address {client.ip}" if client is not None and client.ip else ""
        link = f"{self._public_url}/email/undo/{undo}"
        values = {"when": _minute(now), "until": _minute(expires_at)}
        text = _template("email_changed.txt").substitute(
            values,
            new_email=new_email,
            origin=origin,
            link=link,
            api=f"{self._public_url}/api/me/email_change/undo/{undo}",
        )
        page = _template("email_changed.html").substitute(
            values,
            name=html.escape(account.fullname),
            new_email=html.escape(new_email),
            origin=html.escape(origin),
            link=html.escape(link),
        )
        return self._sealed(_message(account, EMAIL_CHANGED.subject, text, page), now)

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
