"""SQLiteStore: the embedded default, on the stdlib sqlite3 driver in WAL mode.

Reads are short indexed lookups that take microseconds, so they run on the event loop
thread: handing each to a thread would cost more than the query itself (aiosqlite halved
the hot path's throughput when measured on this project's machines).

Writes go to one writer thread with a connection of its own, because a commit waits for
the disk (fsync) and, with several worker processes on one file, for the others' write
lock: neither wait may stop the event loop. Each write takes SQLite's write lock up front
(BEGIN IMMEDIATE), so that writers queue for it instead of failing.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from punchclock.errors import EmailTaken, InvalidInput, StoreError, StoreUnavailable
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

# Built once: the hot path should not format the same SQL string on every request.
_BY_ID = f"{SELECT_ACCOUNT} WHERE a.id = ?"
_BY_EMAIL = f"{SELECT_ACCOUNT} WHERE a.email_key = ? AND {USABLE}"
_BY_TOKEN = f"{SELECT_ACCOUNT} WHERE a.api_token_lookup = ? AND {USABLE}"
_BY_SESSION = (
    f"{SELECT_ACCOUNT} JOIN sessions s ON s.account_id = a.id "
    "WHERE s.jti = ? AND s.expires_at > ? AND s.last_used_at >= ? AND a.accounts_id = ? "
    f"AND {USABLE}"
)
_BY_RESET_CODE = (
    f"{SELECT_ACCOUNT} JOIN reset_codes r ON r.account_id = a.id "
    f"WHERE r.code_lookup = ? AND r.expires_at > ? AND {USABLE}"
)

_OVERVIEW = OVERVIEW_COLUMNS.format(now="?1")

_DUE_MAIL = "state = 'queued' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
_HELD_MAIL = "id = ? AND claim_token = ? AND state = 'queued'"

T = TypeVar("T")


def _account(row: tuple[object, ...] | None) -> Account | None:
    return None if row is None else Account(*row)  # type: ignore[arg-type]


class SQLiteStore:
    """The Store on one SQLite file; one connection per process."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self._writer = _connect(path, busy_timeout_ms)
        migrate(self._writer)
        self._db = _connect(path, busy_timeout_ms)
        self._db.execute("PRAGMA query_only = ON")  # this one reads; the writer writes
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def _transact(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(connection) as one write transaction on the writer thread."""
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._writes, _transaction, self._writer, fn
            )
        except sqlite3.OperationalError as e:
            if "locked" in str(e):  # another process held the write lock past busy_timeout
                raise StoreUnavailable() from e
            raise

    async def create_account(self, new: NewAccount) -> Account:
        def tx(db: sqlite3.Connection) -> Account:
            account_id = db.execute(
                "INSERT INTO accounts (accounts_id, email, email_key, fullname, "
                "password_hash, api_token_lookup, api_token_sealed, timezone, "
                "created_at, updated_at, authorization_updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.accounts_id,
                    new.email,
                    new.email.lower(),
                    new.fullname,
                    new.password_hash,
                    new.api_token_lookup,
                    new.api_token_sealed,
                    new.timezone,
                    new.now,
                    new.now,
                    new.now,
                ),
            ).fetchone()[0]
            workspace_id = db.execute(
                "INSERT INTO workspaces (owner_id, name, created_at, updated_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (account_id, new.workspace_name, new.now, new.now),
            ).fetchone()[0]
            db.execute(
                "UPDATE accounts SET default_workspace_id = ? WHERE id = ?",
                (workspace_id, account_id),
            )
            return _account_by_id(db, account_id)

        return await self._transact(_unique_email(tx))

    async def account_by_email(self, email: str) -> Account | None:
        return _account(self._db.execute(_BY_EMAIL, (email.lower(),)).fetchone())

    async def account_by_token(self, token_lookup: bytes) -> Account | None:
        return _account(self._db.execute(_BY_TOKEN, (token_lookup,)).fetchone())

    async def account_by_session(
        self, jti: str, accounts_id: str, now: int, idle_since: int = 0
    ) -> Account | None:
        return _account(
            self._db.execute(_BY_SESSION, (jti, now, idle_since, accounts_id)).fetchone()
        )

    async def touch_session(self, jti: str, now: int) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute("UPDATE sessions SET last_used_at = ? WHERE jti = ?", (now, jti))

        await self._transact(tx)

    async def sessions_of(self, account_id: int, now: int, idle_since: int = 0) -> list[Session]:
        rows = self._db.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions "  # noqa: S608 - constant
            "WHERE account_id = ? AND expires_at > ? AND last_used_at >= ? "
            "ORDER BY created_at DESC",
            (account_id, now, idle_since),
        ).fetchall()
        return [session_from(row) for row in rows]

    async def delete_session_by_id(self, account_id: int, session_id: str) -> bool:
        def tx(db: sqlite3.Connection) -> bool:
            deleted = db.execute(
                "DELETE FROM sessions WHERE id = ? AND account_id = ?", (session_id, account_id)
            )
            return deleted.rowcount > 0

        return await self._transact(tx)

    async def delete_sessions(self, account_id: int, keep_jti: str | None) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM sessions WHERE account_id = ? AND jti IS NOT ?", (account_id, keep_jti)
            )

        await self._transact(tx)

    async def delete_dead_sessions(self, now: int, idle_since: int = 0) -> int:
        def tx(db: sqlite3.Connection) -> int:
            deleted = db.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR last_used_at < ?", (now, idle_since)
            )
            return deleted.rowcount

        return await self._transact(tx)

    async def delete_sessions_signed_by(self, kid: str) -> int:
        def tx(db: sqlite3.Connection) -> int:
            return db.execute("DELETE FROM sessions WHERE kid = ?", (kid,)).rowcount

        return await self._transact(tx)

    async def sessions_by_key(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT kid, count(*) FROM sessions WHERE kid IS NOT NULL GROUP BY kid"
        ).fetchall()
        return {kid: count for kid, count in rows}

    async def workspaces_of(self, account_id: int) -> list[Workspace]:
        rows = self._db.execute(
            "SELECT id, owner_id, name, created_at, updated_at FROM workspaces "
            "WHERE owner_id = ? ORDER BY id",
            (account_id,),
        ).fetchall()
        return [Workspace(*row) for row in rows]

    async def add_session(self, session: Session) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) "  # noqa: S608 - constant
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.jti,
                    session.id,
                    session.account_id,
                    session.kid,
                    session.created_at,
                    session.last_used_at,
                    session.expires_at,
                    int(session.remember_me),
                    session.user_agent,
                    session.ip,
                ),
            )

        await self._transact(tx)

    async def delete_session(self, account_id: int, jti: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM sessions WHERE jti = ? AND account_id = ?", (jti, account_id))

        await self._transact(tx)

    async def update_profile(
        self,
        account_id: int,
        changes: ProfileChanges,
        now: int,
        password_hash: str | None = None,
        keep_jti: str | None = None,
        notices: Sequence[OutgoingMail] = (),
    ) -> Account:
        sets: list[str] = []
        args: list[object] = []
        if changes.fullname is not None:
            sets.append("fullname = ?")
            args.append(changes.fullname)
        if changes.email is not None:
            sets += ["email = ?", "email_key = ?"]
            args += [changes.email, changes.email.lower()]
        if changes.timezone is not None:
            sets.append("timezone = ?")
            args.append(changes.timezone)
        if changes.beginning_of_week is not None:
            sets.append("beginning_of_week = ?")
            args.append(changes.beginning_of_week)
        if changes.country_id is not None or changes.clear_country:
            sets.append("country_id = ?")
            args.append(changes.country_id)
        if changes.default_workspace_id is not None:
            sets.append("default_workspace_id = ?")
            args.append(changes.default_workspace_id)
        sets.append("updated_at = ?")
        args.append(now)

        def tx(db: sqlite3.Connection) -> Account:
            if (
                changes.default_workspace_id is not None
                and not db.execute(
                    "SELECT 1 FROM workspaces WHERE id = ? AND owner_id = ?",
                    (changes.default_workspace_id, account_id),
                ).fetchone()
            ):
                raise InvalidInput("Invalid default_workspace_id")
            db.execute(
                f"UPDATE accounts SET {', '.join(sets)} WHERE id = ?",  # noqa: S608
                (*args, account_id),
            )
            if password_hash is not None:
                _set_password(db, account_id, password_hash, now)
                db.execute(
                    "DELETE FROM sessions WHERE account_id = ? AND jti IS NOT ?",
                    (account_id, keep_jti),
                )
            for notice in notices:
                _enqueue(db, notice)
            return _account_by_id(db, account_id)

        return await self._transact(_unique_email(tx))

    async def replace_password_hash(self, account_id: int, old: str, new: str) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?",
                (new, account_id, old),
            )

        await self._transact(tx)

    async def set_api_token(
        self, account_id: int, token_lookup: bytes, token_sealed: bytes, now: int
    ) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE accounts SET api_token_lookup = ?, api_token_sealed = ?, "
                "updated_at = ?, authorization_updated_at = ? WHERE id = ?",
                (token_lookup, token_sealed, now, now, account_id),
            )

        await self._transact(tx)

    async def close_account(self, account_id: int, now: int) -> None:
        def tx(db: sqlite3.Connection) -> None:
            # before the email is erased: its mail, queued (a reset code) or kept for
            # `mail list`, names the person too
            db.execute(
                "DELETE FROM outbox WHERE recipient IN "
                "(SELECT email FROM accounts WHERE id = ? AND email IS NOT NULL)",
                (account_id,),
            )
            db.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))
            db.execute("DELETE FROM reset_codes WHERE account_id = ?", (account_id,))
            db.execute(
                "UPDATE accounts SET default_workspace_id = NULL WHERE id = ?", (account_id,)
            )
            db.execute("DELETE FROM workspaces WHERE owner_id = ?", (account_id,))
            # The row stays as an anonymous tombstone: ids are never reused.
            db.execute(
                "UPDATE accounts SET email = NULL, email_key = NULL, fullname = '', "
                "password_hash = NULL, api_token_lookup = NULL, api_token_sealed = NULL, "
                "timezone = 'UTC', country_id = NULL, updated_at = ?, "
                "authorization_updated_at = ?, closed_at = ? WHERE id = ?",
                (now, now, now, account_id),
            )

        await self._transact(tx)

    async def account_overview(self, email: str, now: int) -> AccountOverview | None:
        row = self._db.execute(
            f"SELECT {_OVERVIEW} FROM accounts a "  # noqa: S608 - constants
            "WHERE a.email_key = ?2 AND a.closed_at IS NULL",
            (now, email.lower()),
        ).fetchone()
        return None if row is None else AccountOverview(*row)

    async def list_accounts(
        self, search: str | None, limit: int, now: int
    ) -> list[AccountOverview]:
        rows = self._db.execute(
            f"SELECT {_OVERVIEW} FROM accounts a WHERE a.closed_at IS NULL "  # noqa: S608
            "AND (a.email_key LIKE ?2 ESCAPE '\\' OR lower(a.fullname) LIKE ?2 ESCAPE '\\') "
            "ORDER BY a.id LIMIT ?3",
            (now, search_pattern(search or ""), limit),
        ).fetchall()
        return [AccountOverview(*row) for row in rows]

    async def set_disabled(self, account_id: int, disabled: bool, now: int) -> None:
        def tx(db: sqlite3.Connection) -> None:
            if not disabled:
                db.execute(
                    "UPDATE accounts SET disabled_at = NULL, updated_at = ? WHERE id = ?",
                    (now, account_id),
                )
                return
            db.execute(
                "UPDATE accounts SET disabled_at = coalesce(disabled_at, ?), updated_at = ?, "
                "authorization_updated_at = ? WHERE id = ? AND closed_at IS NULL",
                (now, now, now, account_id),
            )
            db.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))
            db.execute("DELETE FROM reset_codes WHERE account_id = ?", (account_id,))

        await self._transact(tx)

    async def replace_reset_code(
        self, account_id: int, code_lookup: bytes, expires_at: int, now: int, message: OutgoingMail
    ) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO reset_codes (code_lookup, account_id, expires_at, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
                "code_lookup = excluded.code_lookup, expires_at = excluded.expires_at, "
                "created_at = excluded.created_at",
                (code_lookup, account_id, expires_at, now),
            )
            _enqueue(db, message)

        await self._transact(tx)

    async def reset_code_account(self, code_lookup: bytes, now: int) -> Account | None:
        return _account(self._db.execute(_BY_RESET_CODE, (code_lookup, now)).fetchone())

    async def use_reset_code(
        self, code_lookup: bytes, password_hash: str, now: int, notice: OutgoingMail | None = None
    ) -> Account | None:
        def tx(db: sqlite3.Connection) -> Account | None:
            row = db.execute(
                "DELETE FROM reset_codes WHERE code_lookup = ? AND expires_at > ? "
                "RETURNING account_id",
                (code_lookup, now),
            ).fetchone()
            if row is None:
                return None
            _set_password(db, row[0], password_hash, now)
            db.execute("DELETE FROM sessions WHERE account_id = ?", (row[0],))
            if notice is not None:
                _enqueue(db, notice)
            return _account_by_id(db, row[0])

        return await self._transact(tx)

    # -- the outbox ------------------------------------------------------------------------

    async def enqueue_mail(self, message: OutgoingMail) -> None:
        await self._transact(lambda db: _enqueue(db, message))

    async def claim_mail(
        self, claim_token: str, now: int, lease_until: int, limit: int
    ) -> list[ClaimedMail]:
        # Senders poll every second: a read on the loop's connection answers "nothing due"
        # without queueing for the write lock.
        due = f"SELECT 1 FROM outbox WHERE {_DUE_MAIL} LIMIT 1"  # noqa: S608 - constant
        if self._db.execute(due, (now, now)).fetchone() is None:
            return []

        def tx(db: sqlite3.Connection) -> list[ClaimedMail]:
            rows = db.execute(
                "UPDATE outbox SET claim_token = ?, lease_until = ? WHERE id IN ("  # noqa: S608
                f"SELECT id FROM outbox WHERE {_DUE_MAIL} ORDER BY next_attempt_at, id LIMIT ?"
                ") RETURNING id, sealed, attempts, queued_at",
                (claim_token, lease_until, now, now, limit),
            ).fetchall()
            return [ClaimedMail(*row) for row in rows]

        return await self._transact(tx)

    async def mark_mail_sent(self, mail_id: str, claim_token: str, now: int) -> bool:
        return await self._settled(
            "state = 'sent', sent_at = ?, sealed = NULL, attempts = attempts + 1",
            (now,),
            mail_id,
            claim_token,
        )

    async def mark_mail_retry(
        self, mail_id: str, claim_token: str, next_attempt_at: int, error: str
    ) -> bool:
        return await self._settled(
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
            (error, next_attempt_at),
            mail_id,
            claim_token,
        )

    async def mark_mail_dead(
        self, mail_id: str, claim_token: str, error: str, *, attempted: bool = True
    ) -> bool:
        return await self._settled(
            "state = 'dead', attempts = attempts + ?, last_error = ?",
            (int(attempted), error),
            mail_id,
            claim_token,
        )

    async def _settled(
        self, changes: str, values: tuple[object, ...], mail_id: str, claim_token: str
    ) -> bool:
        """Apply `changes` (with `values`) and release the lease, if the token holds it."""

        def tx(db: sqlite3.Connection) -> bool:
            settled = db.execute(
                f"UPDATE outbox SET {changes}, claim_token = NULL, lease_until = NULL "  # noqa: S608
                f"WHERE {_HELD_MAIL}",
                (*values, mail_id, claim_token),
            )
            return settled.rowcount > 0

        return await self._transact(tx)

    async def list_mail(self, *, failed_only: bool = False, limit: int = 100) -> list[MailRecord]:
        where = (
            "WHERE state = 'dead' OR (state = 'queued' AND attempts > 0) " if failed_only else ""
        )
        rows = self._db.execute(
            f"SELECT {MAIL_RECORD_COLUMNS} FROM outbox {where}"  # noqa: S608 - constants
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [MailRecord(*row) for row in rows]

    async def outbox_backlog(self) -> tuple[int, int | None]:
        count, oldest = self._db.execute(
            "SELECT count(*), min(queued_at) FROM outbox WHERE state = 'queued'"
        ).fetchone()
        return count, oldest

    async def retry_mail(self, mail_id: str, now: int) -> bool:
        def tx(db: sqlite3.Connection) -> bool:
            return (
                db.execute(
                    "UPDATE outbox SET state = 'queued', attempts = 0, queued_at = ?, "
                    "next_attempt_at = ?, claim_token = NULL, lease_until = NULL "
                    "WHERE id = ? AND state = 'dead'",
                    (now, now, mail_id),
                ).rowcount
                > 0
            )

        return await self._transact(tx)

    async def delete_old_mail(self, before: int) -> int:
        def tx(db: sqlite3.Connection) -> int:
            return db.execute(
                "DELETE FROM outbox WHERE state IN ('sent', 'dead') AND created_at < ?", (before,)
            ).rowcount

        return await self._transact(tx)

    async def record_event(
        self,
        at: int,
        event: str,
        account_id: int | None,
        ip: str,
        user_agent: str,
        detail: str | None = None,
    ) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO audit_events (at, event, account_id, ip, user_agent, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (at, event, account_id, ip, user_agent, detail),
            )

        await self._transact(tx)

    async def events(self, account_id: int | None, since: int, limit: int) -> list[AuditEvent]:
        rows = self._db.execute(
            "SELECT id, at, event, account_id, ip, user_agent, detail FROM audit_events "
            "WHERE at >= ?1 AND (?2 IS NULL OR account_id = ?2) "
            "ORDER BY at DESC, id DESC LIMIT ?3",
            (since, account_id, limit),
        ).fetchall()
        return [AuditEvent(*row) for row in rows]

    async def delete_events_before(self, at: int) -> int:
        def tx(db: sqlite3.Connection) -> int:
            return db.execute("DELETE FROM audit_events WHERE at < ?", (at,)).rowcount

        return await self._transact(tx)

    async def ping(self) -> None:
        try:
            self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as e:
            raise StoreUnavailable() from e

    async def schema_is_current(self) -> bool:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version == len(migrations())

    async def close(self) -> None:
        self._writes.shutdown(wait=True)
        self._writer.close()
        self._db.close()


def _connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():  # the accounts table is private to the service's user
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    _use_wal(db, busy_timeout_ms / 1000)
    # FULL: a commit is on disk before it is acknowledged, so an account that was
    # answered 200 survives a crash or power loss, not only a killed process.
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def _use_wal(db: sqlite3.Connection, patience: float) -> None:
    """Put the file in WAL mode (it stays so), waiting up to `patience` seconds for others.

    The switch needs the file to itself, and SQLite answers "database is locked" at once
    rather than calling the busy handler when processes open a new file together; once
    the file is in WAL mode, there is nothing to switch.
    """
    deadline = time.monotonic() + patience
    while db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _transaction(db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = fn(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def _unique_email(fn: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """Turn the email's unique-constraint error into EmailTaken."""

    def run(db: sqlite3.Connection) -> T:
        try:
            return fn(db)
        except sqlite3.IntegrityError as e:
            if "email_key" in str(e):
                raise EmailTaken() from None
            raise

    return run


def _account_by_id(db: sqlite3.Connection, account_id: int) -> Account:
    row = db.execute(_BY_ID, (account_id,)).fetchone()
    assert row is not None
    return Account(*row)


def _enqueue(db: sqlite3.Connection, message: OutgoingMail) -> None:
    db.execute(
        "INSERT INTO outbox (id, recipient, subject, sealed, state, attempts, created_at, "
        "queued_at, next_attempt_at) VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
        (
            message.id,
            message.recipient,
            message.subject,
            message.sealed,
            message.created_at,
            message.created_at,
            message.created_at,
        ),
    )


def _set_password(db: sqlite3.Connection, account_id: int, password_hash: str, now: int) -> None:
    db.execute(
        "UPDATE accounts SET password_hash = ?, updated_at = ?, authorization_updated_at = ? "
        "WHERE id = ?",
        (password_hash, now, now, account_id),
    )
    # A code asked for before the change must not undo it.
    db.execute("DELETE FROM reset_codes WHERE account_id = ?", (account_id,))


def prepare_database(path: Path) -> int:
    """Create or upgrade the schema of the database file; return its version."""
    db = _connect(path, 5000)
    try:
        return migrate(db)
    finally:
        db.close()


def newest_sealed_token(path: Path) -> tuple[bytes, str] | None:
    """Return the newest live account's sealed API token and its accounts id, if any: what
    start-up opens to find out whether the server key is the one the database was made with."""
    db = _connect(path, 5000)
    try:
        row = db.execute(
            "SELECT api_token_sealed, accounts_id FROM accounts "
            "WHERE api_token_sealed IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    return None if row is None else (bytes(row[0]), str(row[1]))


def migrations() -> list[tuple[int, str]]:
    """Return the SQLite schema migrations in order, as (version, SQL)."""
    return load_migrations("sqlite")


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema up to date in one transaction; return the version it is now at.

    The write lock is taken before the version is read, so processes starting together
    apply each migration once.
    """
    known = migrations()
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(known):
            raise too_new(version, len(known))
        for number, sql in known[version:]:
            for statement in _statements(sql):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return len(known)


def _statements(sql: str) -> Iterator[str]:
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise StoreError(f"incomplete SQL statement in a migration: {buffer[:60]!r}")
