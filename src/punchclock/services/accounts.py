"""The account itself: sign up, change the profile, reset the API token, close it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import msgspec

from punchclock import passwords
from punchclock.errors import CurrentPasswordMissing, EmailChangeNeedsPassword, InvalidInput
from punchclock.models import Account, ClientInfo, NewAccount, Workspace
from punchclock.notices import PASSWORD_CHANGED, Notices
from punchclock.services import fields
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.background import Background
from punchclock.services.clock import Clock
from punchclock.services.credentials import Credentials
from punchclock.services.email_changes import EmailChanges
from punchclock.services.fields import ProfileUpdate as ProfileUpdate
from punchclock.services.sessions import Authenticated, IssuedSession, Sessions
from punchclock.store import Store
from punchclock.tokens import new_accounts_id


@dataclass(frozen=True, slots=True)
class SignUp:
    email: str
    password: str
    display_name: str | None = None
    timezone: str | None = None
    tos_accepted_for: str | None = None
    remember_me: bool = False


class Accounts:
    """Sign up, change, and close accounts; give them new API tokens."""

    def __init__(
        self,
        store: Store,
        credentials: Credentials,
        sessions: Sessions,
        notices: Notices,
        audit: Audit,
        attempts: Attempts,
        email_changes: EmailChanges,
        *,
        background: Background,
        clock: Clock,
        mail_erased: Callable[[], Coroutine[Any, Any, object]] | None = None,
    ) -> None:
        self._store = store
        self._email_changes = email_changes
        self._background = background
        self._mail_erased = mail_erased
        self._credentials = credentials
        self._sessions = sessions
        self._notices = notices
        self._audit = audit
        self._attempts = attempts
        self._clock = clock

    async def sign_up(self, form: SignUp, client: ClientInfo) -> tuple[Account, IssuedSession]:
        """Create an account, its default workspace and API token; start a session."""
        email = fields.email(form.email)
        fullname = (
            fields.fullname(form.display_name)
            if form.display_name is not None
            else email.partition("@")[0]
        )
        timezone = fields.timezone(form.timezone) if form.timezone is not None else "UTC"
        if form.tos_accepted_for is not None and form.tos_accepted_for != "track":
            raise InvalidInput(
                'Accept the terms of service (tos_accepted_for must be "track")',
                field="tos_accepted_for",
            )
        self._credentials.check_policy(form.password, passwords.context_words(email, fullname))
        await self._attempts.sign_up(client)
        password_hash = await self._credentials.hash_password(form.password)
        account = await self.add_account(email, fullname, timezone, password_hash)
        self._audit.record("sign_up", account.id, client)
        return account, await self._sessions.start_session(account, form.remember_me, client)

    async def add_account(
        self, email: str, fullname: str, timezone: str, password_hash: str
    ) -> Account:
        """Store a new account with its workspace and API token (fields already checked);
        raise EmailTaken if the email is, by any account that is not closed."""
        accounts_id = new_accounts_id()
        token = self._credentials.new_api_token(accounts_id)
        return await self._store.create_account(
            NewAccount(
                accounts_id=accounts_id,
                email=email,
                fullname=fullname,
                password_hash=password_hash,
                api_token_lookup=token.lookup,
                api_token_sealed=token.sealed,
                timezone=timezone,
                workspace_name=f"{fullname}'s workspace"[:140],
                organization_name=f"{fullname}'s organization"[:140],
                now=self._clock.now(),
            )
        )

    async def close_account(
        self,
        auth: Authenticated,
        client: ClientInfo | None = None,
        current_password: str | None = None,
    ) -> None:
        """End every session, the API token and the password at once; erase personal data.

        Given `current_password` (the account page asks for it; Toggl's API does not), it
        is checked first, as a log-in is: throttled, and a wrong one is a failed log-in.
        A stolen session alone then cannot close the account (ASVS 4.0.3 V3.7.1).
        """
        if current_password is not None:
            await self._credentials.check_current_password(auth.account, current_password, client)
        await self.erase_account(auth.account.id, client)

    async def erase_account(
        self, account_id: int, client: ClientInfo | None = None, detail: str | None = None
    ) -> None:
        """Close the account: what closing it does, whoever asks (its owner, an operator)."""
        await self._store.close_account(account_id, self._clock.now())
        self._audit.record("account_closed", account_id, client, detail)
        if self._mail_erased is not None:
            # the outbox forgot every message to the account's addresses: so must any copy
            # the mailer kept (the file mailer's .eml files)
            self._background.run(self._mail_erased())

    async def workspaces(self, auth: Authenticated) -> list[Workspace]:
        return await self._store.workspaces_of(auth.account.id)

    async def reset_api_token(self, auth: Authenticated, client: ClientInfo | None = None) -> str:
        """Give the account a new API token; the old one stops working at once."""
        token = self._credentials.new_api_token(auth.account.accounts_id)
        await self._store.set_api_token(
            auth.account.id, token.lookup, token.sealed, self._clock.now()
        )
        self._audit.record("api_token_reset", auth.account.id, client)
        return token.token

    async def update_profile(
        self, auth: Authenticated, update: ProfileUpdate, client: ClientInfo | None = None
    ) -> Account:
        """Change profile fields; given the current password, the password or the address.

        Every field is checked before anything is written, so a bad request changes nothing.
        A password change ends every other session (ASVS 4.0.3 V3.3.3). A new address is
        only asked for here: it is taken once it confirms (EmailChanges). A wrong current
        password is a failed log-in: it counts towards the same limits.
        """
        profile = fields.profile_changes(update)
        current = update.current_password
        account = auth.account
        new_email = None
        if profile.email is not None and profile.email.lower() != account.email.lower():
            # A stolen token or cookie must not be enough to move the account to another
            # address (and reset its password there): a new address needs the current
            # password and waits for its own confirmation (services/email_changes.py).
            # Another case of the same address is no move: Toggl's clients send the whole
            # profile back, email included.
            new_email = profile.email
            profile = msgspec.structs.replace(profile, email=None)
            if not current:
                raise EmailChangeNeedsPassword()
        new_password = update.password
        if new_password is not None:
            if not current:
                raise CurrentPasswordMissing()
            self._credentials.check_policy(
                new_password,
                [
                    *passwords.context_words(account.email, account.fullname),
                    *passwords.context_words(new_email or "", profile.fullname or ""),
                ],
            )
        if current and (new_password is not None or new_email is not None):
            await self._credentials.check_current_password(account, current, client)
        if new_email is not None:
            await self._email_changes.count(account, client)
        new_hash = None
        if new_password is not None:
            new_hash = await self._credentials.hash_password(new_password)
        now = self._clock.now()
        # The account's address is told of a new password, so that its owner learns of a
        # change they did not make (ASVS 4.0.3 V2.2.3, 5 V6.3.7); of a new address once
        # that address confirms it, with a link that undoes it.
        notices = []
        if new_hash is not None:
            notices.append(self._notices.change(account, PASSWORD_CHANGED, now, client))
        account = await self._store.update_profile(
            account.id, profile, now, password_hash=new_hash, keep_jti=auth.jti, notices=notices
        )
        if notices:
            self._notices.queued()
        if new_hash is not None:
            self._audit.record("password_changed", account.id, client)
        if new_email is not None:
            self._email_changes.ask(account, new_email, client)
        return account
