"""Password resets by a code sent to the account's address."""

from __future__ import annotations

import re

from punchclock import passwords
from punchclock.errors import ResetCodeInvalid
from punchclock.models import Account, ClientInfo
from punchclock.notices import PASSWORD_RESET, Notices
from punchclock.services import fields
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.background import Background
from punchclock.services.clock import Clock
from punchclock.services.credentials import Credentials
from punchclock.services.sessions import IssuedSession
from punchclock.store import Store
from punchclock.tokens import new_reset_code

_RESET_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")
RESET_CODES_KEPT = 3  # live reset codes an account may have at once


class Resets:
    """Send a reset code to an account's address; use a code once to set a new password."""

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

    async def request_password_reset(self, email: str, client: ClientInfo | None = None) -> None:
        """Queue a reset code for the email if it has an account; answer the same either way.

        All the work, the lookup included, happens after the answer is sent, and nothing
        is sent during the request (the outbox sender mails it later), so the answer can
        tell nothing about the email, nor about the mail server, through its content or
        its timing (OWASP Forgot Password Cheat Sheet). Requests are limited per address
        (429), never per email, so that someone who knows only the email cannot keep its
        owner from asking; an inbox gets a few codes an hour at most, and beyond that a
        request, answered the same, sends nothing.
        """
        email = fields.email(email)
        await self._attempts.reset_request(client)
        self._background.run(self._queue_reset_code(email, client))

    async def confirm_password_reset(
        self, code: str, password: str, client: ClientInfo, otp: str | None = None
    ) -> tuple[Account, IssuedSession]:
        """Use a reset code once: set the password, end every session, start a new one.

        With two-factor on, the password is set and the code used either way, but the new
        session needs a right `otp` (Credentials.start_session): the inbox alone must not
        pass the second factor (ASVS 5 V6.4.3).
        """
        # the policy is checked before the code is used, so that a retry can use it
        self._credentials.check_policy(password)
        await self._attempts.reset_confirm(client)
        if not _RESET_CODE.fullmatch(code):
            self._audit.record("reset_failed", None, client)
            raise ResetCodeInvalid()
        lookup = self._credentials.reset_code_lookup(code)
        owner = await self._store.reset_code_account(lookup, self._clock.now())
        if owner is None:
            self._audit.record("reset_failed", None, client)
            raise ResetCodeInvalid()
        self._credentials.check_policy(
            password, passwords.context_words(owner.email, owner.fullname)
        )
        password_hash = await self._credentials.hash_password(password)
        now = self._clock.now()
        # the code is used in the same transaction that sets the password (and queues the
        # notice of it), so two confirms racing with one code cannot both succeed
        account = await self._store.use_reset_code(
            lookup, password_hash, now, self._notices.change(owner, PASSWORD_RESET, now, client)
        )
        if account is None:
            self._audit.record("reset_failed", owner.id, client, "used_meanwhile")
            raise ResetCodeInvalid()
        self._notices.queued()
        # the owner proved themselves through their inbox: the failures others piled up
        # on the account no longer hold them back
        await self._attempts.forget_failures(account.email, client)
        self._audit.record("reset_completed", account.id, client)
        return account, await self._credentials.start_session(account, otp, False, client)

    async def reset_code_is_live(self, code: str) -> bool:
        """Tell whether a reset code would be accepted now, without using it up.

        The page of the link in the mail asks this on a GET, which mail scanners and link
        previews make too: only the POST with a new password uses the code.
        """
        if not _RESET_CODE.fullmatch(code):
            return False
        lookup = self._credentials.reset_code_lookup(code)
        return await self._store.reset_code_account(lookup, self._clock.now()) is not None

    async def _queue_reset_code(self, email: str, client: ClientInfo | None) -> None:
        account = await self._store.account_by_email(email)
        # recorded here, after the answer, where the account is known: the request itself
        # must not take longer for a known email than for an unknown one
        self._audit.record("reset_requested", account.id if account is not None else None, client)
        if account is None:
            return
        if not await self._attempts.reset_mail(email):
            return  # the inbox already holds the last few codes, all of them live
        await self.send_reset_code(account)

    async def send_reset_code(self, account: Account) -> None:
        """Queue a new reset code to the account's address (earlier ones stay live)."""
        code = new_reset_code()
        now = self._clock.now()
        expires_at = now + self._notices.reset_code_ttl * 1_000_000
        # The code and the message that tells it are written in one transaction: there is
        # never a code nobody was told of, nor a message whose code was not stored. Codes
        # sent earlier stay live, so that someone else's request does not void the code
        # its owner just received; using one, or a new password or address, ends them all.
        await self._store.add_reset_code(
            account.id,
            self._credentials.reset_code_lookup(code),
            expires_at,
            now,
            self._notices.reset_code(account, code, expires_at, now),
            keep=RESET_CODES_KEPT,
        )
        self._notices.queued()
