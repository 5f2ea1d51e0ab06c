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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec

from punchclock.errors import EmailTaken, InvalidInput, StoreUnavailable
from punchclock.models import (
    Account,
    ClaimedMail,
    NewAccount,
    OutgoingMail,
    ProfileChanges,
)
from punchclock.store.base import SQLStore
from punchclock.store.migrations import load as load_migrations
from punchclock.store.migrations import too_new
from punchclock.store.queries import EMAIL_INDEX, POSTGRES, profile_update
from punchclock.store.rows import account_from, settings_from

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

Q = POSTGRES  # every statement (store/queries.py)

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


async def _keep_session(db: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is: no reset query, no second round trip.

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release, a round trip per request as long as the query itself.
    punchclock leaves nothing on a connection for it to undo: no session-level SET, LISTEN,
    cursor or session advisory lock (the migration's lock is pg_advisory_xact_lock, gone
    at its commit). A transaction left open is still rolled back: asyncpg does that
    before it calls this.
    """


class PostgresStore(SQLStore):
    """The Store on a PostgreSQL database; one connection pool per process."""

    Q = POSTGRES

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
                        reset=_keep_session,
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

    async def _row(self, sql: str, *args: object) -> asyncpg.Record | None:
        return await self._run(lambda db: db.fetchrow(sql, *args))

    async def _rows(self, sql: str, *args: object) -> list[asyncpg.Record]:
        return await self._run(lambda db: db.fetch(sql, *args))

    async def _count(self, sql: str, *args: object) -> int:
        """Run one write statement; return how many rows it changed."""
        return _changed(await self._run(lambda db: db.execute(sql, *args)))

    async def _returned(self, sql: str, *args: object) -> bool:
        """Run one write statement with RETURNING; tell whether it returned a row."""
        return await self._row(sql, *args) is not None

    async def _transact(self, fn: Callable[[Connection], Awaitable[T]]) -> T:
        """Run fn(connection) as one transaction."""

        async def transaction(db: Connection) -> T:
            async with db.transaction():
                return await fn(db)

        try:
            return await self._run(transaction)
        except asyncpg.UniqueViolationError as e:
            if e.constraint_name == EMAIL_INDEX:
                raise EmailTaken() from None
            raise

    async def create_account(self, new: NewAccount) -> Account:
        async def tx(db: Connection) -> Account:
            account_id = await db.fetchval(
                Q.insert_account,
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
            organization_id = await db.fetchval(
                Q.insert_organization, account_id, new.organization_name, new.now
            )
            workspace_id = await db.fetchval(
                Q.insert_workspace, account_id, organization_id, new.workspace_name, new.now
            )
            await db.execute(Q.set_default_workspace, account_id, workspace_id)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    async def merge_settings(
        self, account_id: int, kind: str, changes: Mapping[str, Any], max_keys: int
    ) -> dict[str, Any] | None:
        async def tx(db: Connection) -> dict[str, Any] | None:
            await db.execute(Q.create_settings, account_id, kind)
            # the row lock: concurrent merges take turns, so none loses keys or passes the limit
            data = await db.fetchval(f"{Q.settings_of} FOR UPDATE", account_id, kind)
            merged = {**settings_from(data), **changes}
            if len(merged) > max_keys:
                return None
            await db.execute(Q.set_settings, account_id, kind, msgspec.json.encode(merged).decode())
            return merged

        return await self._transact(tx)

    async def update_profile(
        self,
        account_id: int,
        changes: ProfileChanges,
        now: int,
        password_hash: str | None = None,
        keep_jti: str | None = None,
        notices: Sequence[OutgoingMail] = (),
    ) -> Account:
        update, values = profile_update(account_id, changes, now, sqlite=False)

        async def tx(db: Connection) -> Account:
            if changes.default_workspace_id is not None and not await db.fetchval(
                Q.workspace_of, changes.default_workspace_id, account_id
            ):
                raise InvalidInput("Invalid default_workspace_id")
            await db.execute(update, *values)
            if password_hash is not None:
                await _set_password(db, account_id, password_hash, now)
                await db.execute(Q.delete_sessions_but, account_id, keep_jti)
            for notice in notices:
                await _enqueue(db, notice, account_id)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    async def close_account(self, account_id: int, now: int) -> None:
        async def tx(db: Connection) -> None:
            for statement in (
                Q.close_mail,
                Q.delete_sessions_of,
                Q.delete_reset_codes_of,
                Q.delete_email_changes_of,
                Q.delete_recovery_codes_of,
                Q.delete_tickets_of,
                Q.close_default_workspace,
                Q.close_workspaces,
                Q.close_organizations,
                Q.close_settings,
            ):
                await db.execute(statement, account_id)
            await db.execute(Q.close_tombstone, account_id, now)

        await self._transact(tx)

    async def add_reset_code(
        self,
        account_id: int,
        code_lookup: bytes,
        expires_at: int,
        now: int,
        message: OutgoingMail,
        keep: int = 3,
    ) -> None:
        async def tx(db: Connection) -> None:
            await db.execute(Q.add_reset_code, code_lookup, account_id, expires_at, now)
            await db.execute(Q.trim_reset_codes, account_id, now, keep)
            await _enqueue(db, message, account_id)

        await self._transact(tx)

    async def use_reset_code(
        self, code_lookup: bytes, password_hash: str, now: int, notice: OutgoingMail | None = None
    ) -> Account | None:
        async def tx(db: Connection) -> Account | None:
            account_id = await db.fetchval(Q.use_reset_code, code_lookup, now)
            if account_id is None:
                return None
            await _set_password(db, account_id, password_hash, now)
            await db.execute(Q.delete_sessions_of, account_id)
            if notice is not None:
                await _enqueue(db, notice, account_id)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    # -- two-factor ------------------------------------------------------------------------

    async def enable_two_factor(
        self,
        account_id: int,
        pending_sealed: bytes,
        step: int,
        recovery_lookups: Sequence[bytes],
        now: int,
        keep_jti: str | None,
        notice: OutgoingMail,
    ) -> Account | None:
        async def tx(db: Connection) -> Account | None:
            args = (account_id, pending_sealed, step, now)
            if await db.fetchrow(Q.enable_two_factor, *args) is None:
                return None
            await _replace_recovery_codes(db, account_id, recovery_lookups, now)
            await db.execute(Q.delete_sessions_but, account_id, keep_jti)
            await _enqueue(db, notice, account_id)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    async def disable_two_factor(
        self, account_id: int, now: int, notice: OutgoingMail
    ) -> Account | None:
        async def tx(db: Connection) -> Account | None:
            if await db.fetchrow(Q.disable_two_factor, account_id, now) is None:
                return None
            await db.execute(Q.delete_recovery_codes_of, account_id)
            await db.execute(Q.delete_tickets_of, account_id)
            await _enqueue(db, notice, account_id)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    async def use_recovery_code(self, account_id: int, lookup: bytes, notice: OutgoingMail) -> bool:
        async def tx(db: Connection) -> bool:
            if await db.fetchrow(Q.use_recovery_code, lookup, account_id) is None:
                return False
            await _enqueue(db, notice, account_id)
            return True

        return await self._transact(tx)

    async def replace_recovery_codes(
        self, account_id: int, lookups: Sequence[bytes], now: int, notice: OutgoingMail
    ) -> None:
        async def tx(db: Connection) -> None:
            await _replace_recovery_codes(db, account_id, lookups, now)
            await _enqueue(db, notice, account_id)

        await self._transact(tx)

    async def add_two_factor_ticket(
        self, lookup: bytes, account_id: int, remember_me: bool, expires_at: int, now: int
    ) -> None:
        async def tx(db: Connection) -> None:
            await db.execute(Q.delete_dead_tickets, now)
            await db.execute(Q.add_ticket, lookup, account_id, remember_me, expires_at, now)

        await self._transact(tx)

    # -- email changes ---------------------------------------------------------------------

    async def request_email_change(
        self,
        account_id: int,
        email: str,
        code_lookup: bytes,
        expires_at: int,
        now: int,
        message: OutgoingMail,
    ) -> None:
        async def tx(db: Connection) -> None:
            await db.execute(Q.delete_email_confirms_of, account_id)
            await db.execute(
                Q.add_email_change, code_lookup, account_id, "confirm", email, expires_at, now
            )
            await _enqueue(db, message, account_id)

        await self._transact(tx)

    async def confirm_email_change(
        self,
        code_lookup: bytes,
        now: int,
        undo_lookup: bytes,
        undo_expires_at: int,
        notice: OutgoingMail,
    ) -> Account | None:
        async def tx(db: Connection) -> Account | None:
            row = await db.fetchrow(Q.use_email_change, code_lookup, "confirm", now)
            if row is None:
                return None
            account_id, email = row
            old = (await _account_by_id(db, account_id)).email
            await _set_email(db, account_id, email, now)
            await db.execute(
                Q.add_email_change, undo_lookup, account_id, "undo", old, undo_expires_at, now
            )
            await _enqueue(db, notice, account_id)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    async def undo_email_change(
        self,
        code_lookup: bytes,
        now: int,
        token_lookup: bytes,
        token_sealed: bytes,
        reset_lookup: bytes,
        reset_expires_at: int,
        reset_message: OutgoingMail,
    ) -> Account | None:
        async def tx(db: Connection) -> Account | None:
            row = await db.fetchrow(Q.use_email_change, code_lookup, "undo", now)
            if row is None:
                return None
            account_id, email = row
            await _set_email(db, account_id, email, now)
            await db.execute(Q.delete_email_changes_of, account_id)
            await db.execute(Q.delete_sessions_of, account_id)
            await db.execute(Q.replace_api_token, account_id, token_lookup, token_sealed)
            await db.execute(Q.add_reset_code, reset_lookup, account_id, reset_expires_at, now)
            await _enqueue(db, reset_message, account_id)
            return await _account_by_id(db, account_id)

        return await self._transact(tx)

    # -- the outbox (see the Store port for what each step means) -------------------------

    async def enqueue_mail(self, message: OutgoingMail) -> None:
        await self._run(lambda db: _enqueue(db, message))

    async def claim_mail(
        self, claim_token: str, now: int, lease_until: int, limit: int
    ) -> list[ClaimedMail]:
        rows = await self._rows(Q.claim_mail, claim_token, lease_until, now, limit)
        return [ClaimedMail(*row) for row in rows]

    async def existing_mail(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._rows(Q.existing_mail, list(ids))}

    # -- signing keys: shared by every host (sealed under the server key by the caller) --

    async def signing_keys(self) -> list[tuple[str, bytes, int]]:
        """Return every stored signing key as (kid, sealed key, signs_from), oldest first."""
        rows = await self._rows("SELECT kid, sealed_key, signs_from FROM signing_keys ORDER BY kid")
        return [(kid, sealed, signs_from) for kid, sealed, signs_from in rows]

    async def add_signing_key(self, kid: str, sealed: bytes, now: int, signs_from: int) -> bool:
        """Store a key unless one with that kid exists; True if this one was stored."""
        row = await self._row(
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
            ended = _changed(await db.execute(Q.delete_sessions_signed_by, kid))
            await db.execute("DELETE FROM signing_keys WHERE kid = $1", kid)
            return ended

        return await self._transact(tx)

    async def migrate(self) -> int:
        """Bring the schema up to date; return the version it is now at."""
        return await self._run(migrate, deadline=None)  # a big table's index takes its time

    # -- administration and health ---------------------------------------------------------

    async def set_disabled(self, account_id: int, disabled: bool, now: int) -> None:
        async def tx(db: Connection) -> None:
            if not disabled:
                await db.execute(Q.enable_account, account_id, now)
                return
            await db.execute(Q.disable_account, account_id, now)
            await db.execute(Q.delete_sessions_of, account_id)
            await db.execute(Q.delete_reset_codes_of, account_id)

        await self._transact(tx)

    async def ping(self) -> None:
        await self._run(lambda db: db.fetchval(Q.ping), deadline=PING_DEADLINE)

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
        version = await _renumbered(db, version)
        if version > len(known):
            raise too_new(version, len(known))
        for number, sql in known[version:]:
            await db.execute(sql, timeout=MIGRATION_TIMEOUT)
            await db.execute("INSERT INTO punchclock_schema (version) VALUES ($1)", number)
    return len(known)


async def _renumbered(db: Connection, version: int) -> int:
    """Bring a database made before the numbering matched SQLite's up to the new numbers.

    PostgreSQL had no 0002 then: its outbox was 2 and its audit trail 3, where SQLite's
    (and now PostgreSQL's) are 3 and 4. Such a database is told by the table its version
    made, which the same version under the new numbering does not have.
    """
    made = {2: "outbox", 3: "audit_events"}.get(version)
    if made is not None and await db.fetchval("SELECT to_regclass($1) IS NOT NULL", made):
        await db.execute("INSERT INTO punchclock_schema (version) VALUES ($1)", version + 1)
        return version + 1
    return version


async def _enqueue(db: Connection, message: OutgoingMail, account_id: int | None = None) -> None:
    await db.execute(
        Q.enqueue_mail,
        message.id,
        message.recipient,
        message.subject,
        message.sealed,
        message.created_at,
        account_id,
    )


async def _replace_recovery_codes(
    db: Connection, account_id: int, lookups: Sequence[bytes], now: int
) -> None:
    await db.execute(Q.delete_recovery_codes_of, account_id)
    await db.executemany(Q.add_recovery_code, [(lookup, account_id, now) for lookup in lookups])


async def _set_email(db: Connection, account_id: int, email: str, now: int) -> None:
    """Give the account an address; the codes sent to the one before stop working."""
    await db.execute(Q.set_email, account_id, email, email.lower(), now)
    await db.execute(Q.delete_reset_codes_of, account_id)


async def _account_by_id(db: Connection, account_id: int) -> Account:
    row = await db.fetchrow(Q.account_by_id, account_id)
    assert row is not None
    return account_from(row)


async def _set_password(db: Connection, account_id: int, password_hash: str, now: int) -> None:
    await db.execute(Q.set_password, account_id, password_hash, now)
    await db.execute(Q.delete_reset_codes_of, account_id)
    await db.execute(Q.delete_email_confirms_of, account_id)


def _changed(status: str) -> int:
    """Return the row count of a command status such as "DELETE 3"."""
    return int(status.rpartition(" ")[2] or 0)
