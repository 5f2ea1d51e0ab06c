"""Moving an account to another address: asked for with the password, taken only once the
new address confirms it, and undone from the old address if its owner did not ask.

A stolen token or cookie must not be enough to take an account: with a new address of
their own, a thief could reset the password there and keep the owner out for good
(issue 11). So a new address needs the current password (ASVS 5 V7.5.1), must prove it
reads its mail, and the old address is told with a link that puts everything back and
ends whatever the thief held (ASVS 4.0.3 V2.2.3, 5 V6.3.7).
"""

from __future__ import annotations

import re

import msgspec

from punchclock.errors import EmailChangeLinkInvalid
from punchclock.models import Account, ClientInfo
from punchclock.notices import Notices
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.background import Background
from punchclock.services.clock import Clock
from punchclock.services.credentials import Credentials
from punchclock.store import Store
from punchclock.tokens import new_link_code, new_reset_code

CONFIRM_TTL = 24 * 3600  # seconds a link to confirm a new address lasts
UNDO_TTL = 7 * 24 * 3600  # seconds the old address may undo a change
_LINK_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")


class EmailChanges:
    """Ask a new address to confirm a move; confirm it; undo it from the old address."""

    def __init__(
        self,
        store: Store,
        credentials: Credentials,
        notices: Notices,
        audit: Audit,
        attempts: Attempts,
        *,
        background: Background,
        clock: Clock,
    ) -> None:
        self._store = store
        self._credentials = credentials
        self._notices = notices
        self._audit = audit
        self._attempts = attempts
        self._background = background
        self._clock = clock

    async def count(self, account: Account, client: ClientInfo | None) -> None:
        """Refuse (Throttled) an account asking for new addresses too often: each request
        mails an address of the caller's choosing. Called before anything is written."""
        await self._attempts.email_change(account.id, client)

    def ask(self, account: Account, email: str, client: ClientInfo | None) -> None:
        """Mail the new address a link that confirms it; answer the same if it is taken.

        The caller has checked the current password and counted the request. Whether the
        address has an account is looked up after the answer, like a reset request's
        email, so that neither the answer nor its timing tells (ASVS 5 V6.3.8); a taken
        address is told that an account exists there, and nothing else happens.
        """
        self._background.run(self._ask_to_confirm(account, email, client))

    async def confirm(self, code: str, client: ClientInfo) -> Account:
        """Follow the link mailed to a new address once: the account takes the address.

        Reset codes sent to the old address die with it; the old address is told, with a
        link that undoes the change for 7 days.
        """
        lookup = await self._lookup(code, client)
        now = self._clock.now()
        found = await self._store.email_change(lookup, "confirm", now)
        if found is None:
            self._audit.record("email_change_failed", None, client, "confirm")
            raise EmailChangeLinkInvalid()
        owner, email = found
        undo = new_link_code()
        undo_until = now + UNDO_TTL * 1_000_000
        account = await self._store.confirm_email_change(
            lookup,
            now,
            self._credentials.email_change_lookup(undo),
            undo_until,
            self._notices.email_changed(owner, email, undo, undo_until, now, client),
        )
        if account is None:
            self._audit.record("email_change_failed", owner.id, client, "used_meanwhile")
            raise EmailChangeLinkInvalid()
        self._notices.queued()
        self._audit.record("email_changed", account.id, client)
        return account

    async def undo(self, code: str, client: ClientInfo) -> None:
        """Follow the link mailed to the old address once: restore it, secure the account.

        Whoever moved the account may hold its password, a session and the API token, so
        all of them end: every session, a new API token, every pending change and reset
        code, and a new reset code mailed to the restored address, from which the owner
        sets a new password.
        """
        lookup = await self._lookup(code, client)
        now = self._clock.now()
        found = await self._store.email_change(lookup, "undo", now)
        if found is None:
            self._audit.record("email_change_failed", None, client, "undo")
            raise EmailChangeLinkInvalid()
        owner, email = found
        restored = msgspec.structs.replace(owner, email=email)
        token = self._credentials.new_api_token(owner.accounts_id)
        reset_code = new_reset_code()
        reset_until = now + self._notices.reset_code_ttl * 1_000_000
        account = await self._store.undo_email_change(
            lookup,
            now,
            token.lookup,
            token.sealed,
            self._credentials.reset_code_lookup(reset_code),
            reset_until,
            self._notices.reset_code(restored, reset_code, reset_until, now),
        )
        if account is None:
            self._audit.record("email_change_failed", owner.id, client, "used_meanwhile")
            raise EmailChangeLinkInvalid()
        self._notices.queued()
        self._audit.record("email_change_undone", account.id, client)

    async def _ask_to_confirm(
        self, account: Account, email: str, client: ClientInfo | None
    ) -> None:
        now = self._clock.now()
        if await self._store.account_by_email(email) is not None:
            await self._store.enqueue_mail(self._notices.address_taken(email, now))
            self._notices.queued()
            self._audit.record("email_change_requested", account.id, client, "taken")
            return
        code = new_link_code()
        expires_at = now + CONFIRM_TTL * 1_000_000
        await self._store.request_email_change(
            account.id,
            email,
            self._credentials.email_change_lookup(code),
            expires_at,
            now,
            self._notices.confirm_address(account, email, code, expires_at, now),
        )
        self._notices.queued()
        self._audit.record("email_change_requested", account.id, client)

    async def _lookup(self, code: str, client: ClientInfo) -> bytes:
        await self._attempts.link_confirm(client)
        if not _LINK_CODE.fullmatch(code):
            self._audit.record("email_change_failed", None, client)
            raise EmailChangeLinkInvalid()
        return self._credentials.email_change_lookup(code)
