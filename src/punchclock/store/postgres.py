"""PostgresStore: the production store, on asyncpg, for many workers on many hosts.

Every punchclock process is stateless next to it: sessions, tokens, passwords, reset codes
and the signing keys are rows here, read on every request, so a change made through any
worker on any host holds for all of them on the very next request.

asyncpg prepares each statement once per connection and keeps it, so the hot path is one
round trip of a prepared query. Connections are made on demand and replaced when they
break: when PostgreSQL goes away, requests fail fast with StoreUnavailable (503) instead
of hanging, and the first requests after it comes back reconnect by themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg

from punchclock.errors import EmailTaken, InvalidInput, StoreUnavailable
from punchclock.models import (
    Account,
    AccountOverview,
    AuditEvent,
    ClaimedMail,
    MailRecord,
    NewAccount,
    OutgoingMail,
    ProfileChanges,
    Session,
    Workspace,
)
from punchclock.store.migrations import load as load_migrations
from punchclock.store.migrations import too_new
from punchclock.store.rows import (
    MAIL_RECORD_COLUMNS,
    OVERVIEW_COLUMNS,
    SELECT_ACCOUNT,
    SESSION_COLUMNS,
    USABLE,
    search_pattern,
    session_from,
)

T = TypeVar("T")
# a pooled connection (what the pool lends) or a plain one
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

CONNECT_TIMEOUT = 3.0  # seconds to open a connection
COMMAND_TIMEOUT = 5.0  # seconds a statement may run
# Seconds an operation may take in all (connect, query, return the connection) before the
# request answers 503. asyncpg's own timeouts leave gaps: after a statement times out on
# a dead network, cancelling it and returning the connection can take as long again.
DEADLINE = 5.0
PING_DEADLINE = 1.0  # seconds a readiness probe waits for the database
MIGRATION_TIMEOUT = 3600.0  # seconds a migration step may run

_BY_ID = f"{SELECT_ACCOUNT} WHERE a.id = $1"
_BY_EMAIL = f"{SELECT_ACCOUNT} WHERE a.email_key = $1 AND {USABLE}"
_BY_TOKEN = f"{SELECT_ACCOUNT} WHERE a.api_token_lookup = $1 AND {USABLE}"
_BY_SESSION = (
    f"{SELECT_ACCOUNT} JOIN sessions s ON s.account_id = a.id "
    "WHERE s.jti = $1 AND s.expires_at > $2 AND s.last_used_at >= $3 AND a.accounts_id = $4 "
    f"AND {USABLE}"
)
_BY_RESET_CODE = (
    f"{SELECT_ACCOUNT} JOIN reset_codes r ON r.account_id = a.id "
    f"WHERE r.code_lookup = $1 AND r.expires_at > $2 AND {USABLE}"
)
_OVERVIEW = OVERVIEW_COLUMNS.format(now="$1")
_DUE_MAIL = (
    "state = 'queued' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)"
)

# What a lost, refused or timed-out connection raises; the request answers 503 and the
# pool replaces the connection.
_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


_IN_DOUBT = (
    asyncio.CancelledError,
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
)


def _account(row: asyncpg.Record | None) -> Account | None:
    return None if row is None else Account(*row)


class PostgresStore:
    """The Store on a PostgreSQL database; one connection pool per process."""

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        self._url = url
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _connected(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    # min_size 0: starting needs no connection, so a worker that starts
                    # during an outage answers 503 until the database is back.
                    self._pool = await asyncpg.create_pool(
                        self._url,
                        min_size=0,
                        max_size=self._max,
                        timeout=CONNECT_TIMEOUT,
                        command_timeout=COMMAND_TIMEOUT,
                    )
        return self._pool

    async def _run(
        self, work: Callable[[Connection], Awaitable[T]], deadline: float | None = DEADLINE
    ) -> T:
        """Run work(connection) within the deadline (seconds), or raise StoreUnavailable."""
        pool = self._pool or await self._connected()
        try:
            async with asyncio.timeout(deadline):
                db = await pool.acquire()
                try:
                    return await work(db)
                except _IN_DOUBT:
                    # Cut off mid-statement (timeout, lost network): waiting for asyncpg
                    # to cancel the statement politely can take as long again, so the
                    # connection is dropped at once and the pool makes a new one.
                    db.terminate()
                    raise
                finally:
                    await pool.release(db)
        except _UNAVAILABLE as e:
            raise StoreUnavailable() from e

    async def _fetchrow(self, sql: str, *args: object) -> asyncpg.Record | None:
        return await self._run(lambda db: db.fetchrow(sql, *args))

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        return await self._run(lambda db: db.fetch(sql, *args))

    async def _transact(self, fn: Callable[[Connection], Awaitable[T]]) -> T:
        """Run fn(connection) as one transaction."""

        async def transaction(db: Connection) -> T:
            async with db.transaction():
                return await fn(db)

        try:
            return await self._run(transaction)
        except asyncpg.UniqueViolationError as e:
            if e.constraint_name == "accounts_email_key":
                raise EmailTaken() from None
            raise

    async def create_account(self, new: NewAccount) -> Account:
        async def tx(db: Connection) -> Account:
            account_id = await db.fetchval(
                "INSERT INTO accounts (accounts_id, email, email_key, fullname, "
                "password_hash, api_token_lookup, api_token_sealed, timezone, "
                "created_at, updated_at, authorization_updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) RETURNING id",
                new.accounts_id,
                new.email,
                new.email.lower(),
                new.fullname,
                new.password_hash,
                new.api_token_lookup,
                new.api_token_sealed,
                new.timezone,
                new.now,
            )
            await db.execute(
                "WITH w AS (INSERT INTO workspaces (owner_id, name, created_at, updated_at) "
                "VALUES ($1, $2, $3, $3) RETURNING id) "
                "UPDATE accounts SET default_workspace_id = (SELECT id FROM w) WHERE id = $1",
                account_id,
                new.workspace_name,
                new.now,
            )
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    async def account_by_email(self, email: str) -> Account | None:
        return _account(await self._fetchrow(_BY_EMAIL, email.lower()))

    async def account_by_token(self, token_lookup: bytes) -> Account | None:
        return _account(await self._fetchrow(_BY_TOKEN, token_lookup))

    async def account_by_session(
        self, jti: str, accounts_id: str, now: int, idle_since: int = 0
    ) -> Account | None:
        return _account(await self._fetchrow(_BY_SESSION, jti, now, idle_since, accounts_id))

    async def touch_session(self, jti: str, now: int) -> None:
        await self._fetchrow(
            "UPDATE sessions SET last_used_at = $2 WHERE jti = $1 AND last_used_at < $2", jti, now
        )

    async def sessions_of(self, account_id: int, now: int, idle_since: int = 0) -> list[Session]:
        rows = await self._fetch(
            f"SELECT {SESSION_COLUMNS} FROM sessions "  # noqa: S608 - constant
            "WHERE account_id = $1 AND expires_at > $2 AND last_used_at >= $3 "
            "ORDER BY created_at DESC",
            account_id,
            now,
            idle_since,
        )
        return [session_from(row) for row in rows]

    async def delete_session_by_id(self, account_id: int, session_id: str) -> bool:
        row = await self._fetchrow(
            "DELETE FROM sessions WHERE id = $1 AND account_id = $2 RETURNING 1",
            session_id,
            account_id,
        )
        return row is not None

    async def delete_sessions(self, account_id: int, keep_jti: str | None) -> None:
        await self._fetchrow(
            "DELETE FROM sessions WHERE account_id = $1 AND jti IS DISTINCT FROM $2",
            account_id,
            keep_jti,
        )

    async def delete_dead_sessions(self, now: int, idle_since: int = 0) -> int:
        row = await self._fetchrow(
            "WITH gone AS (DELETE FROM sessions WHERE expires_at <= $1 OR last_used_at < $2 "
            "RETURNING 1) SELECT count(*) FROM gone",
            now,
            idle_since,
        )
        return int(row[0]) if row else 0

    async def delete_sessions_signed_by(self, kid: str) -> int:
        row = await self._fetchrow(
            "WITH gone AS (DELETE FROM sessions WHERE kid = $1 RETURNING 1) "
            "SELECT count(*) FROM gone",
            kid,
        )
        return int(row[0]) if row else 0

    async def sessions_by_key(self) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT kid, count(*) FROM sessions WHERE kid IS NOT NULL GROUP BY kid"
        )
        return {kid: count for kid, count in rows}

    async def workspaces_of(self, account_id: int) -> list[Workspace]:
        rows = await self._fetch(
            "SELECT id, owner_id, name, created_at, updated_at FROM workspaces "
            "WHERE owner_id = $1 ORDER BY id",
            account_id,
        )
        return [Workspace(*row) for row in rows]

    async def add_session(self, session: Session) -> None:
        await self._fetchrow(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) "  # noqa: S608 - constant
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        await self._fetchrow(
            "DELETE FROM sessions WHERE jti = $1 AND account_id = $2", jti, account_id
        )

    async def update_profile(
        self,
        account_id: int,
        changes: ProfileChanges,
        now: int,
        password_hash: str | None = None,
        keep_jti: str | None = None,
        notices: Sequence[OutgoingMail] = (),
    ) -> Account:
        values: dict[str, object] = {}
        if changes.fullname is not None:
            values["fullname"] = changes.fullname
        if changes.email is not None:
            values["email"] = changes.email
            values["email_key"] = changes.email.lower()
        if changes.timezone is not None:
            values["timezone"] = changes.timezone
        if changes.beginning_of_week is not None:
            values["beginning_of_week"] = changes.beginning_of_week
        if changes.country_id is not None or changes.clear_country:
            values["country_id"] = changes.country_id
        if changes.default_workspace_id is not None:
            values["default_workspace_id"] = changes.default_workspace_id
        values["updated_at"] = now
        # column names come from the fixed set above, never from the request
        sets = ", ".join(f"{column} = ${n}" for n, column in enumerate(values, start=2))

        async def tx(db: Connection) -> Account:
            if changes.default_workspace_id is not None and not await db.fetchval(
                "SELECT 1 FROM workspaces WHERE id = $1 AND owner_id = $2",
                changes.default_workspace_id,
                account_id,
            ):
                raise InvalidInput("Invalid default_workspace_id")
            await db.execute(
                f"UPDATE accounts SET {sets} WHERE id = $1",  # noqa: S608
                account_id,
                *values.values(),
            )
            if password_hash is not None:
                await _set_password(db, account_id, password_hash, now)
                await db.execute(
                    "DELETE FROM sessions WHERE account_id = $1 AND jti IS DISTINCT FROM $2",
                    account_id,
                    keep_jti,
                )
            for notice in notices:
                await _enqueue(db, notice)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    async def replace_password_hash(self, account_id: int, old: str, new: str) -> None:
        await self._fetchrow(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
            new,
            account_id,
            old,
        )

    async def set_api_token(
        self, account_id: int, token_lookup: bytes, token_sealed: bytes, now: int
    ) -> None:
        await self._fetchrow(
            "UPDATE accounts SET api_token_lookup = $1, api_token_sealed = $2, "
            "updated_at = $3, authorization_updated_at = $3 WHERE id = $4",
            token_lookup,
            token_sealed,
            now,
            account_id,
        )

    async def close_account(self, account_id: int, now: int) -> None:
        async def tx(db: Connection) -> None:
            # before the email is erased: its mail, queued (a reset code) or kept for
            # `mail list`, names the person too
            await db.execute(
                "DELETE FROM outbox WHERE recipient IN "
                "(SELECT email FROM accounts WHERE id = $1 AND email IS NOT NULL)",
                account_id,
            )
            await db.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
            await db.execute("DELETE FROM reset_codes WHERE account_id = $1", account_id)
            await db.execute(
                "UPDATE accounts SET default_workspace_id = NULL WHERE id = $1", account_id
            )
            await db.execute("DELETE FROM workspaces WHERE owner_id = $1", account_id)
            # The row stays as an anonymous tombstone: ids are never reused.
            await db.execute(
                "UPDATE accounts SET email = NULL, email_key = NULL, fullname = '', "
                "password_hash = NULL, api_token_lookup = NULL, api_token_sealed = NULL, "
                "timezone = 'UTC', country_id = NULL, updated_at = $2, "
                "authorization_updated_at = $2, closed_at = $2 WHERE id = $1",
                account_id,
                now,
            )

        await self._transact(tx)

    async def account_overview(self, email: str, now: int) -> AccountOverview | None:
        row = await self._fetchrow(
            f"SELECT {_OVERVIEW} FROM accounts a "  # noqa: S608 - constants
            "WHERE a.email_key = $2 AND a.closed_at IS NULL",
            now,
            email.lower(),
        )
        return None if row is None else AccountOverview(*row)

    async def list_accounts(
        self, search: str | None, limit: int, now: int
    ) -> list[AccountOverview]:
        rows = await self._fetch(
            f"SELECT {_OVERVIEW} FROM accounts a WHERE a.closed_at IS NULL "  # noqa: S608
            "AND (a.email_key LIKE $2 ESCAPE '\\' OR lower(a.fullname) LIKE $2 ESCAPE '\\') "
            "ORDER BY a.id LIMIT $3",
            now,
            search_pattern(search or ""),
            limit,
        )
        return [AccountOverview(*row) for row in rows]

    async def set_disabled(self, account_id: int, disabled: bool, now: int) -> None:
        async def tx(db: Connection) -> None:
            if not disabled:
                await db.execute(
                    "UPDATE accounts SET disabled_at = NULL, updated_at = $1 WHERE id = $2",
                    now,
                    account_id,
                )
                return
            await db.execute(
                "UPDATE accounts SET disabled_at = coalesce(disabled_at, $1), updated_at = $1, "
                "authorization_updated_at = $1 WHERE id = $2 AND closed_at IS NULL",
                now,
                account_id,
            )
            await db.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
            await db.execute("DELETE FROM reset_codes WHERE account_id = $1", account_id)

        await self._transact(tx)

    async def replace_reset_code(
        self, account_id: int, code_lookup: bytes, expires_at: int, now: int, message: OutgoingMail
    ) -> None:
        async def tx(db: Connection) -> None:
            await db.execute(
                "INSERT INTO reset_codes (code_lookup, account_id, expires_at, created_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET "
                "code_lookup = excluded.code_lookup, expires_at = excluded.expires_at, "
                "created_at = excluded.created_at",
                code_lookup,
                account_id,
                expires_at,
                now,
            )
            await _enqueue(db, message)

        await self._transact(tx)

    async def reset_code_account(self, code_lookup: bytes, now: int) -> Account | None:
        return _account(await self._fetchrow(_BY_RESET_CODE, code_lookup, now))

    async def use_reset_code(
        self, code_lookup: bytes, password_hash: str, now: int, notice: OutgoingMail | None = None
    ) -> Account | None:
        async def tx(db: Connection) -> Account | None:
            # Of two confirmations of one code, the second waits for the first's row lock,
            # then finds the row gone: a code is used exactly once.
            account_id = await db.fetchval(
                "DELETE FROM reset_codes WHERE code_lookup = $1 AND expires_at > $2 "
                "RETURNING account_id",
                code_lookup,
                now,
            )
            if account_id is None:
                return None
            await _set_password(db, account_id, password_hash, now)
            await db.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
            if notice is not None:
                await _enqueue(db, notice)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    # -- the outbox (see the Store port for what each step means) -------------------------

    async def enqueue_mail(self, message: OutgoingMail) -> None:
        await self._run(lambda db: _enqueue(db, message))

    async def claim_mail(
        self, claim_token: str, now: int, lease_until: int, limit: int
    ) -> list[ClaimedMail]:
        # SKIP LOCKED: senders on other workers and hosts claim around each other's rows
        # instead of waiting for them, and never claim the same row.
        rows = await self._fetch(
            "UPDATE outbox SET claim_token = $1, lease_until = $2 WHERE id IN ("  # noqa: S608
            f"SELECT id FROM outbox WHERE {_DUE_MAIL} ORDER BY next_attempt_at, id "
            "LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id, sealed, attempts, queued_at",
            claim_token,
            lease_until,
            now,
            limit,
        )
        return [ClaimedMail(*row) for row in rows]

    async def mark_mail_sent(self, mail_id: str, claim_token: str, now: int) -> bool:
        return await self._settled(
            "state = 'sent', sent_at = $3, sealed = NULL, attempts = attempts + 1",
            mail_id,
            claim_token,
            now,
        )

    async def mark_mail_retry(
        self, mail_id: str, claim_token: str, next_attempt_at: int, error: str
    ) -> bool:
        return await self._settled(
            "attempts = attempts + 1, last_error = $3, next_attempt_at = $4",
            mail_id,
            claim_token,
            error,
            next_attempt_at,
        )

    async def mark_mail_dead(
        self, mail_id: str, claim_token: str, error: str, *, attempted: bool = True
    ) -> bool:
        return await self._settled(
            "state = 'dead', attempts = attempts + $3, last_error = $4",
            mail_id,
            claim_token,
            int(attempted),
            error,
        )

    async def _settled(self, changes: str, mail_id: str, claim_token: str, *args: object) -> bool:
        """Apply `changes` ($3... are `args`) and release the lease, if the token holds it."""
        row = await self._fetchrow(
            f"UPDATE outbox SET {changes}, claim_token = NULL, lease_until = NULL "  # noqa: S608
            "WHERE id = $1 AND claim_token = $2 AND state = 'queued' RETURNING 1",
            mail_id,
            claim_token,
            *args,
        )
        return row is not None

    async def list_mail(self, *, failed_only: bool = False, limit: int = 100) -> list[MailRecord]:
        where = (
            "WHERE state = 'dead' OR (state = 'queued' AND attempts > 0) " if failed_only else ""
        )
        rows = await self._fetch(
            f"SELECT {MAIL_RECORD_COLUMNS} FROM outbox {where}"  # noqa: S608 - constants
            "ORDER BY created_at DESC, id DESC LIMIT $1",
            limit,
        )
        return [MailRecord(*row) for row in rows]

    async def outbox_backlog(self) -> tuple[int, int | None]:
        row = await self._fetchrow(
            "SELECT count(*), min(queued_at) FROM outbox WHERE state = 'queued'"
        )
        assert row is not None
        return row[0], row[1]

    async def retry_mail(self, mail_id: str, now: int) -> bool:
        row = await self._fetchrow(
            "UPDATE outbox SET state = 'queued', attempts = 0, queued_at = $2, "
            "next_attempt_at = $2, claim_token = NULL, lease_until = NULL "
            "WHERE id = $1 AND state = 'dead' RETURNING 1",
            mail_id,
            now,
        )
        return row is not None

    async def delete_old_mail(self, before: int) -> int:
        row = await self._fetchrow(
            "WITH gone AS (DELETE FROM outbox WHERE state IN ('sent', 'dead') "
            "AND created_at < $1 RETURNING 1) SELECT count(*) FROM gone",
            before,
        )
        return int(row[0]) if row else 0

    # -- signing keys: shared by every host (sealed under the server key by the caller) --

    async def signing_keys(self) -> list[tuple[str, bytes, int]]:
        """Return every stored signing key as (kid, sealed key, signs_from), oldest first."""
        rows = await self._fetch(
            "SELECT kid, sealed_key, signs_from FROM signing_keys ORDER BY kid"
        )
        return [(kid, sealed, signs_from) for kid, sealed, signs_from in rows]

    async def add_signing_key(self, kid: str, sealed: bytes, now: int, signs_from: int) -> bool:
        """Store a key unless one with that kid exists; True if this one was stored."""
        row = await self._fetchrow(
            "INSERT INTO signing_keys (kid, sealed_key, created_at, signs_from) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING RETURNING 1",
            kid,
            sealed,
            now,
            signs_from,
        )
        return row is not None

    async def delete_signing_key(self, kid: str) -> int:
        """End every session the key signed, then forget the key; return the sessions ended."""

        async def tx(db: Connection) -> int:
            ended = await db.fetchval(
                "WITH gone AS (DELETE FROM sessions WHERE kid = $1 RETURNING 1) "
                "SELECT count(*) FROM gone",
                kid,
            )
            await db.execute("DELETE FROM signing_keys WHERE kid = $1", kid)
            return int(ended)

        return await self._transact(tx)

    async def migrate(self) -> int:
        """Bring the schema up to date; return the version it is now at."""
        return await self._run(migrate, deadline=None)  # a big table's index takes its time

    async def record_event(
        self,
        at: int,
        event: str,
        account_id: int | None,
        ip: str,
        user_agent: str,
        detail: str | None = None,
    ) -> None:
        await self._fetchrow(
            "INSERT INTO audit_events (at, event, account_id, ip, user_agent, detail) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            at,
            event,
            account_id,
            ip,
            user_agent,
            detail,
        )

    async def events(self, account_id: int | None, since: int, limit: int) -> list[AuditEvent]:
        # one statement for both cases: "$2 IS NULL" keeps it one prepared query
        rows = await self._fetch(
            "SELECT id, at, event, account_id, ip, user_agent, detail FROM audit_events "
            "WHERE at >= $1 AND ($2::bigint IS NULL OR account_id = $2) "
            "ORDER BY at DESC, id DESC LIMIT $3",
            since,
            account_id,
            limit,
        )
        return [AuditEvent(*row) for row in rows]

    async def delete_events_before(self, at: int) -> int:
        row = await self._fetchrow(
            "WITH gone AS (DELETE FROM audit_events WHERE at < $1 RETURNING 1) "
            "SELECT count(*) FROM gone",
            at,
        )
        return int(row[0]) if row else 0

    async def ping(self) -> None:
        await self._run(lambda db: db.fetchval("SELECT 1"), deadline=PING_DEADLINE)

    async def schema_is_current(self) -> bool:
        try:
            version = await self._run(
                lambda db: db.fetchval("SELECT coalesce(max(version), 0) FROM punchclock_schema")
            )
        except asyncpg.UndefinedTableError:  # never migrated
            return False
        return bool(version == len(load_migrations("postgres")))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


async def migrate(db: Connection) -> int:
    """Apply the missing migrations in one transaction; return the schema version.

    An advisory lock (per schema) makes processes starting together take turns: the
    first applies each migration, the others then find nothing to do.
    """
    known = load_migrations("postgres")
    async with db.transaction():
        await db.execute(
            "SELECT pg_advisory_xact_lock(hashtext('punchclock:' || current_schema()))"
        )
        await db.execute(
            "CREATE TABLE IF NOT EXISTS punchclock_schema "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = await db.fetchval("SELECT coalesce(max(version), 0) FROM punchclock_schema")
        if version > len(known):
            raise too_new(version, len(known))
        for number, sql in known[version:]:
            await db.execute(sql, timeout=MIGRATION_TIMEOUT)
            await db.execute("INSERT INTO punchclock_schema (version) VALUES ($1)", number)
    return len(known)


async def _enqueue(db: Connection, message: OutgoingMail) -> None:
    await db.execute(
        "INSERT INTO outbox (id, recipient, subject, sealed, state, attempts, created_at, "
        "queued_at, next_attempt_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $5, $5)",
        message.id,
        message.recipient,
        message.subject,
        message.sealed,
        message.created_at,
    )


async def _account_by_id(db: Connection, account_id: int) -> Account:
    row = await db.fetchrow(_BY_ID, account_id)
    assert row is not None
    return Account(*row)


async def _set_password(db: Connection, account_id: int, password_hash: str, now: int) -> None:
    await db.execute(
        "UPDATE accounts SET password_hash = $1, updated_at = $2, authorization_updated_at = $2 "
        "WHERE id = $3",
        password_hash,
        now,
        account_id,
    )
    # A code asked for before the change must not undo it.
    await db.execute("DELETE FROM reset_codes WHERE account_id = $1", account_id)
