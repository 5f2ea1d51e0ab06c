"""SQLStore: the Store's one-statement methods, written once for SQLite and PostgreSQL.

Each of them runs one statement of store/queries.py through four primitives that a store
implements on its own executor (sqlite.py, postgres.py): `_row` and `_rows` read,
`_count` writes and tells how many rows changed, `_returned` writes with RETURNING and
tells whether a row came back. Each primitive maps the executor's errors once (an outage
is StoreUnavailable, 503). What takes several statements in one transaction, and the real
differences between the dialects, stay in each store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from punchclock.models import (
    Account,
    AccountOverview,
    AuditEvent,
    MailRecord,
    Organization,
    Session,
    TwoFactorState,
    Workspace,
)
from punchclock.store.queries import Statements
from punchclock.store.rows import (
    account_from,
    overview_from,
    search_pattern,
    session_from,
    settings_from,
)

# A sqlite3 tuple or an asyncpg Record (which its stubs do not call a Sequence): both
# unpack into a record.
Row = Any


def _account(row: Row | None) -> Account | None:
    return None if row is None else account_from(row)


class SQLStore(ABC):
    """The Store's methods that are one statement each, over the primitives below."""

    Q: ClassVar[Statements]  # every statement, in the store's dialect

    @abstractmethod
    async def _row(self, sql: str, *args: object) -> Row | None:
        """Run a read; return its first row, if any."""

    @abstractmethod
    async def _rows(self, sql: str, *args: object) -> list[Row]:
        """Run a read; return its rows."""

    @abstractmethod
    async def _count(self, sql: str, *args: object) -> int:
        """Run one write statement; return how many rows it changed."""

    @abstractmethod
    async def _returned(self, sql: str, *args: object) -> bool:
        """Run one write statement with RETURNING; tell whether it returned a row."""

    # -- accounts and sessions ---------------------------------------------------------------

    async def account_by_email(self, email: str) -> Account | None:
        return _account(await self._row(self.Q.account_by_email, email.lower()))

    async def open_account_by_email(self, email: str) -> Account | None:
        return _account(await self._row(self.Q.open_account_by_email, email.lower()))

    async def account_by_token(self, token_lookup: bytes) -> Account | None:
        return _account(await self._row(self.Q.account_by_token, token_lookup))

    async def account_by_session(
        self, jti: str, accounts_id: str, now: int, idle_since: int = 0
    ) -> Account | None:
        row = await self._row(self.Q.account_by_session, jti, now, idle_since, accounts_id)
        return _account(row)

    async def touch_session(self, jti: str, now: int) -> None:
        await self._count(self.Q.touch_session, jti, now)

    async def sessions_of(self, account_id: int, now: int, idle_since: int = 0) -> list[Session]:
        rows = await self._rows(self.Q.sessions_of, account_id, now, idle_since)
        return [session_from(row) for row in rows]

    async def delete_session_by_id(self, account_id: int, session_id: str) -> bool:
        return await self._returned(self.Q.delete_session_by_id, session_id, account_id)

    async def delete_sessions(self, account_id: int, keep_jti: str | None) -> None:
        await self._count(self.Q.delete_sessions_but, account_id, keep_jti)

    async def delete_dead_sessions(self, now: int, idle_since: int = 0) -> int:
        return await self._count(self.Q.delete_dead_sessions, now, idle_since)

    async def delete_sessions_signed_by(self, kid: str) -> int:
        return await self._count(self.Q.delete_sessions_signed_by, kid)

    async def sessions_by_key(self) -> dict[str, int]:
        return {kid: count for kid, count in await self._rows(self.Q.sessions_by_key)}

    async def add_session(self, session: Session) -> None:
        await self._count(
            self.Q.add_session,
            session.jti,
            session.id,
            session.account_id,
            session.kid,
            session.created_at,
            session.last_used_at,
            session.expires_at,
            session.remember_me,
            session.user_agent,
            session.ip,
        )

    async def delete_session(self, account_id: int, jti: str) -> None:
        await self._count(self.Q.delete_session, jti, account_id)

    async def replace_password_hash(self, account_id: int, old: str, new: str) -> None:
        await self._count(self.Q.replace_password_hash, account_id, old, new)

    async def set_api_token(
        self, account_id: int, token_lookup: bytes, token_sealed: bytes, now: int
    ) -> None:
        await self._count(self.Q.set_api_token, account_id, token_lookup, token_sealed, now)

    async def reset_code_account(self, code_lookup: bytes, now: int) -> Account | None:
        return _account(await self._row(self.Q.account_by_reset_code, code_lookup, now))

    async def email_change(
        self, code_lookup: bytes, kind: str, now: int
    ) -> tuple[Account, str] | None:
        row = await self._row(self.Q.account_by_email_change, code_lookup, kind, now)
        return None if row is None else (account_from(row[:-1]), row[-1])

    # -- two-factor (the transactions are in each store) -----------------------------------

    async def two_factor_state(self, account_id: int) -> TwoFactorState | None:
        row = await self._row(self.Q.two_factor_state, account_id)
        return None if row is None else TwoFactorState(*row)

    async def begin_two_factor(self, account_id: int, pending_sealed: bytes) -> bool:
        return await self._returned(self.Q.begin_two_factor, account_id, pending_sealed)

    async def use_totp_step(self, account_id: int, step: int) -> bool:
        return await self._returned(self.Q.use_totp_step, account_id, step)

    async def recovery_codes_left(self, account_id: int) -> int:
        row = await self._row(self.Q.recovery_codes_left, account_id)
        return int(row[0]) if row else 0

    async def two_factor_ticket(self, lookup: bytes, now: int) -> tuple[Account, bool] | None:
        row = await self._row(self.Q.account_by_ticket, lookup, now)
        return None if row is None else (account_from(row[:-1]), bool(row[-1]))

    async def use_two_factor_ticket(self, lookup: bytes, now: int) -> bool:
        return await self._returned(self.Q.use_ticket, lookup, now)

    # -- workspaces, organizations, settings -------------------------------------------------

    async def workspaces_of(self, account_id: int) -> list[Workspace]:
        return [Workspace(*row) for row in await self._rows(self.Q.workspaces_of, account_id)]

    async def organizations_of(self, account_id: int) -> list[Organization]:
        rows = await self._rows(self.Q.organizations_of, account_id)
        return [Organization(*row) for row in rows]

    async def settings_of(self, account_id: int, kind: str) -> dict[str, Any]:
        row = await self._row(self.Q.settings_of, account_id, kind)
        return settings_from(row[0] if row else None)

    # -- the outbox (see the Store port for what each step means) ----------------------------

    async def mark_mail_sent(self, mail_id: str, claim_token: str, now: int) -> bool:
        return await self._returned(self.Q.mail_sent, mail_id, claim_token, now)

    async def mark_mail_retry(
        self, mail_id: str, claim_token: str, next_attempt_at: int, error: str
    ) -> bool:
        return await self._returned(self.Q.mail_retry, mail_id, claim_token, error, next_attempt_at)

    async def mark_mail_dead(
        self, mail_id: str, claim_token: str, error: str, *, attempted: bool = True
    ) -> bool:
        return await self._returned(self.Q.mail_dead, mail_id, claim_token, int(attempted), error)

    async def list_mail(self, *, failed_only: bool = False, limit: int = 100) -> list[MailRecord]:
        rows = await self._rows(self.Q.list_failed_mail if failed_only else self.Q.list_mail, limit)
        return [MailRecord(*row) for row in rows]

    async def retry_mail(self, mail_id: str, now: int) -> bool:
        return await self._returned(self.Q.retry_mail, mail_id, now)

    async def delete_old_mail(self, before: int) -> int:
        return await self._count(self.Q.delete_old_mail, before)

    async def outbox_backlog(self) -> tuple[int, int | None]:
        row = await self._row(self.Q.outbox_backlog)
        assert row is not None
        return row[0], row[1]

    # -- the audit trail ---------------------------------------------------------------------

    async def record_event(
        self,
        at: int,
        event: str,
        account_id: int | None,
        ip: str,
        user_agent: str,
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        await self._count(
            self.Q.record_event, at, event, account_id, ip, user_agent, detail, request_id
        )

    async def events(self, account_id: int | None, since: int, limit: int) -> list[AuditEvent]:
        rows = await self._rows(self.Q.events, since, account_id, limit)
        return [AuditEvent(*row) for row in rows]

    async def delete_events_before(self, at: int) -> int:
        return await self._count(self.Q.delete_events_before, at)

    # -- administration ----------------------------------------------------------------------

    async def account_overview(self, email: str, now: int) -> AccountOverview | None:
        row = await self._row(self.Q.account_overview, now, email.lower())
        return None if row is None else overview_from(row)

    async def list_accounts(
        self, search: str | None, limit: int, now: int
    ) -> list[AccountOverview]:
        rows = await self._rows(self.Q.list_accounts, now, search_pattern(search or ""), limit)
        return [overview_from(row) for row in rows]
