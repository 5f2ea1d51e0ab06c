"""What an operator does to accounts (`punchclock accounts ...`): create, find, disable,
enable, delete, end sessions, send a reset code.

The operator is trusted: unlike the HTTP API, these verbs say when an email has no
account. Each change is recorded in the audit trail with the detail "operator".
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from punchclock import passwords
from punchclock.errors import AccountDisabled, AccountNotFound
from punchclock.models import AccountOverview, Session
from punchclock.services import fields
from punchclock.services.accounts import Accounts
from punchclock.services.audit import Audit
from punchclock.services.clock import Clock
from punchclock.services.credentials import Credentials
from punchclock.services.resets import Resets
from punchclock.store import Store

OPERATOR = "operator"  # the audit detail of every change made here


@dataclass(frozen=True, slots=True)
class AccountDetails:
    """An account as `punchclock accounts show` tells it."""

    overview: AccountOverview
    sessions: list[Session]


class Administration:
    """Account administration for the operator, on the same services the API uses."""

    def __init__(
        self,
        store: Store,
        accounts: Accounts,
        credentials: Credentials,
        resets: Resets,
        audit: Audit,
        clock: Clock,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._credentials = credentials
        self._resets = resets
        self._audit = audit
        self._clock = clock

    async def create_account(
        self, email: str, name: str | None = None, password: str | None = None
    ) -> AccountOverview:
        """Create an account; without a password, queue a reset code for its owner to set one.

        The password policy applies as it does to a sign-up. Without a password the
        account gets one nobody knows (32 random bytes), so it cannot be logged into until
        its owner sets theirs through the reset mail.
        """
        email = fields.email(email)
        fullname = fields.fullname(name) if name is not None else email.partition("@")[0]
        if password is not None:
            self._credentials.check_policy(password, passwords.context_words(email, fullname))
        chosen = password if password is not None else secrets.token_urlsafe(32)
        password_hash = await self._credentials.hash_password(chosen)
        account = await self._accounts.add_account(email, fullname, "UTC", password_hash)
        self._audit.record("account_created", account.id, None, OPERATOR)
        if password is None:
            await self._resets.send_reset_code(account)
        return await self._overview(email)

    async def list_accounts(self, search: str | None, limit: int) -> list[AccountOverview]:
        """Return up to `limit` accounts, oldest first, optionally those matching `search`."""
        return await self._store.list_accounts(search, limit, self._clock.now())

    async def show_account(self, email: str) -> AccountDetails:
        """Return the account with its live sessions; AccountNotFound if there is none."""
        overview = await self._overview(email)
        sessions = await self._store.sessions_of(overview.id, self._clock.now())
        return AccountDetails(overview, sessions)

    async def disable_account(self, email: str) -> AccountOverview:
        """Refuse every credential of the account from its next request on, in every
        worker and host (each reads the account's row on every request); end its sessions
        and its reset code. Its email stays taken, so nobody can sign up with it."""
        overview = await self._overview(email)
        await self._store.set_disabled(overview.id, True, self._clock.now())
        self._audit.record("account_disabled", overview.id, None, OPERATOR)
        return await self._overview(email)

    async def enable_account(self, email: str) -> AccountOverview:
        """Let the account's password and API token work again (ended sessions stay ended)."""
        overview = await self._overview(email)
        await self._store.set_disabled(overview.id, False, self._clock.now())
        self._audit.record("account_enabled", overview.id, None, OPERATOR)
        return await self._overview(email)

    async def delete_account(self, email: str) -> None:
        """Close the account exactly as its owner closing it does: erase its data."""
        overview = await self._overview(email)
        await self._accounts.erase_account(overview.id, None, OPERATOR)

    async def end_sessions(self, email: str) -> int:
        """End every session of the account; return how many were live."""
        overview = await self._overview(email)
        await self._store.delete_sessions(overview.id, keep_jti=None)
        self._audit.record("session_ended", overview.id, None, OPERATOR)
        return overview.sessions

    async def send_password_reset(self, email: str) -> None:
        """Queue a reset code to the account's address, as if its owner had asked."""
        overview = await self._overview(email)
        if overview.disabled_at is not None:
            raise AccountDisabled()
        account = await self._store.account_by_email(email)
        if account is None:  # closed or disabled meanwhile
            raise AccountNotFound()
        self._audit.record("reset_requested", account.id, None, OPERATOR)
        await self._resets.send_reset_code(account)

    async def _overview(self, email: str) -> AccountOverview:
        overview = await self._store.account_overview(email, self._clock.now())
        if overview is None:
            raise AccountNotFound()
        return overview
