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
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from punchclock.errors import EmailTaken, InvalidInput, StoreError, StoreUnavailable
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
from punchclock.store.queries import SQLITE, SQLITE_EMAIL_TAKEN, profile_update
from punchclock.store.rows import account_from, settings_from

Q = SQLITE  # every statement, with SQLite's placeholders (store/queries.py)
READ_CACHE_KIB = 16 * 1024  # the reading connection's page cache, per worker

T = TypeVar("T")


class SQLiteStore(SQLStore):
    """The Store on one SQLite file; one connection per process."""

    Q = SQLITE

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self._writer = _connect(path, busy_timeout_ms)
        migrate(self._writer)
        self._db = _connect(path, busy_timeout_ms)
        self._db.execute("PRAGMA query_only = ON")  # this one reads; the writer writes
        # SQLite's default page cache is 2 MB: with a million accounts, a thousand callers'
        # token lookups touch ~9 MB of index and table pages, and every miss is a pread.
        # The cache grows only as pages are read, so a small database costs nothing more.
        self._db.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    # Reads run on the hot path: a try costs nothing until it catches, a `with` does.
    async def _row(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        try:
            row: tuple[Any, ...] | None = self._db.execute(sql, args).fetchone()
        except sqlite3.OperationalError as e:
            if _locked(e):
                raise StoreUnavailable() from e
            raise
        return row

    async def _rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            if _locked(e):
                raise StoreUnavailable() from e
            raise

    async def _transact(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(connection) as one write transaction on the writer thread."""
        with _available():
            return await asyncio.get_running_loop().run_in_executor(
                self._writes, _transaction, self._writer, fn
            )

    async def _count(self, sql: str, *args: object) -> int:
        """Run one write statement; return how many rows it changed."""
        return await self._transact(lambda db: db.execute(sql, args).rowcount)

    async def _returned(self, sql: str, *args: object) -> bool:
        """Run one write statement with RETURNING; tell whether it returned a row."""
        return await self._transact(lambda db: bool(db.execute(sql, args).fetchall()))

    async def create_account(self, new: NewAccount) -> Account:
        def tx(db: sqlite3.Connection) -> Account:
            account_id = db.execute(
                Q.insert_account,
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
                ),
            ).fetchone()[0]
            organization_id = db.execute(
                Q.insert_organization, (account_id, new.organization_name, new.now)
            ).fetchone()[0]
            workspace_id = db.execute(
                Q.insert_workspace, (account_id, organization_id, new.workspace_name, new.now)
            ).fetchone()[0]
            db.execute(Q.set_default_workspace, (account_id, workspace_id))
            return _account_by_id(db, account_id)

        return await self._transact(_unique_email(tx))

    async def merge_settings(
        self, account_id: int, kind: str, changes: Mapping[str, Any], max_keys: int
    ) -> dict[str, Any] | None:
        def tx(db: sqlite3.Connection) -> dict[str, Any] | None:
            db.execute(Q.create_settings, (account_id, kind))
            row = db.execute(Q.settings_of, (account_id, kind)).fetchone()
            merged = {**settings_from(row[0]), **changes}
            if len(merged) > max_keys:
                return None
            encoded = msgspec.json.encode(merged).decode()
            db.execute(Q.set_settings, (account_id, kind, encoded))
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
        update, values = profile_update(account_id, changes, now, sqlite=True)

        def tx(db: sqlite3.Connection) -> Account:
            if (
                changes.default_workspace_id is not None
                and not db.execute(
                    Q.workspace_of, (changes.default_workspace_id, account_id)
                ).fetchone()
            ):
                raise InvalidInput("Invalid default_workspace_id")
            db.execute(update, values)
            if password_hash is not None:
                _set_password(db, account_id, password_hash, now)
                db.execute(Q.delete_sessions_but, (account_id, keep_jti))
            for notice in notices:
                _enqueue(db, notice, account_id)
            return _account_by_id(db, account_id)

        return await self._transact(_unique_email(tx))

    async def close_account(self, account_id: int, now: int) -> None:
        def tx(db: sqlite3.Connection) -> None:
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
                db.execute(statement, (account_id,))
            db.execute(Q.close_tombstone, (account_id, now))

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
        def tx(db: sqlite3.Connection) -> None:
            db.execute(Q.add_reset_code, (code_lookup, account_id, expires_at, now))
            db.execute(Q.trim_reset_codes, (account_id, now, keep))
            _enqueue(db, message, account_id)

        await self._transact(tx)

    async def use_reset_code(
        self, code_lookup: bytes, password_hash: str, now: int, notice: OutgoingMail | None = None
    ) -> Account | None:
        def tx(db: sqlite3.Connection) -> Account | None:
            row = db.execute(Q.use_reset_code, (code_lookup, now)).fetchone()
            if row is None:
                return None
            _set_password(db, row[0], password_hash, now)
            db.execute(Q.delete_sessions_of, (row[0],))
            if notice is not None:
                _enqueue(db, notice, row[0])
            return _account_by_id(db, row[0])

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
        def tx(db: sqlite3.Connection) -> Account | None:
            args = (account_id, pending_sealed, step, now)
            if db.execute(Q.enable_two_factor, args).fetchone() is None:
                return None
            _replace_recovery_codes(db, account_id, recovery_lookups, now)
            db.execute(Q.delete_sessions_but, (account_id, keep_jti))
            _enqueue(db, notice, account_id)
            return _account_by_id(db, account_id)

        return await self._transact(tx)

    async def disable_two_factor(
        self, account_id: int, now: int, notice: OutgoingMail
    ) -> Account | None:
        def tx(db: sqlite3.Connection) -> Account | None:
            if db.execute(Q.disable_two_factor, (account_id, now)).fetchone() is None:
                return None
            db.execute(Q.delete_recovery_codes_of, (account_id,))
            db.execute(Q.delete_tickets_of, (account_id,))
            _enqueue(db, notice, account_id)
            return _account_by_id(db, account_id)

        return await self._transact(tx)

    async def use_recovery_code(self, account_id: int, lookup: bytes, notice: OutgoingMail) -> bool:
        def tx(db: sqlite3.Connection) -> bool:
            if db.execute(Q.use_recovery_code, (lookup, account_id)).fetchone() is None:
                return False
            _enqueue(db, notice, account_id)
            return True

        return await self._transact(tx)

    async def replace_recovery_codes(
        self, account_id: int, lookups: Sequence[bytes], now: int, notice: OutgoingMail
    ) -> None:
        def tx(db: sqlite3.Connection) -> None:
            _replace_recovery_codes(db, account_id, lookups, now)
            _enqueue(db, notice, account_id)

        await self._transact(tx)

    async def add_two_factor_ticket(
        self, lookup: bytes, account_id: int, remember_me: bool, expires_at: int, now: int
    ) -> None:
        def tx(db: sqlite3.Connection) -> None:
            db.execute(Q.delete_dead_tickets, (now,))
            db.execute(Q.add_ticket, (lookup, account_id, remember_me, expires_at, now))

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
        def tx(db: sqlite3.Connection) -> None:
            db.execute(Q.delete_email_confirms_of, (account_id,))
            db.execute(
                Q.add_email_change, (code_lookup, account_id, "confirm", email, expires_at, now)
            )
            _enqueue(db, message, account_id)

        await self._transact(tx)

    async def confirm_email_change(
        self,
        code_lookup: bytes,
        now: int,
        undo_lookup: bytes,
        undo_expires_at: int,
        notice: OutgoingMail,
    ) -> Account | None:
        def tx(db: sqlite3.Connection) -> Account | None:
            row = db.execute(Q.use_email_change, (code_lookup, "confirm", now)).fetchone()
            if row is None:
                return None
            account_id, email = row
            old = _account_by_id(db, account_id).email
            _set_email(db, account_id, email, now)
            db.execute(
                Q.add_email_change, (undo_lookup, account_id, "undo", old, undo_expires_at, now)
            )
            _enqueue(db, notice, account_id)
            return _account_by_id(db, account_id)

        return await self._transact(_unique_email(tx))

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
        def tx(db: sqlite3.Connection) -> Account | None:
            row = db.execute(Q.use_email_change, (code_lookup, "undo", now)).fetchone()
            if row is None:
                return None
            account_id, email = row
            _set_email(db, account_id, email, now)
            db.execute(Q.delete_email_changes_of, (account_id,))
            db.execute(Q.delete_sessions_of, (account_id,))
            db.execute(Q.replace_api_token, (account_id, token_lookup, token_sealed))
            db.execute(Q.add_reset_code, (reset_lookup, account_id, reset_expires_at, now))
            _enqueue(db, reset_message, account_id)
            return _account_by_id(db, account_id)

        return await self._transact(_unique_email(tx))

    # -- the outbox ------------------------------------------------------------------------

    async def enqueue_mail(self, message: OutgoingMail) -> None:
        await self._transact(lambda db: _enqueue(db, message))

    async def claim_mail(
        self, claim_token: str, now: int, lease_until: int, limit: int
    ) -> list[ClaimedMail]:
        # Senders poll every second: a read on the loop's connection answers "nothing due"
        # without queueing for the write lock.
        if await self._row(Q.mail_due, now) is None:
            return []

        def tx(db: sqlite3.Connection) -> list[ClaimedMail]:
            rows = db.execute(Q.claim_mail, (claim_token, lease_until, now, limit)).fetchall()
            return [ClaimedMail(*row) for row in rows]

        return await self._transact(tx)

    async def existing_mail(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._rows(Q.existing_mail, json.dumps(list(ids)))}

    # -- administration and health ---------------------------------------------------------

    async def set_disabled(self, account_id: int, disabled: bool, now: int) -> None:
        def tx(db: sqlite3.Connection) -> None:
            if not disabled:
                db.execute(Q.enable_account, (account_id, now))
                return
            db.execute(Q.disable_account, (account_id, now))
            db.execute(Q.delete_sessions_of, (account_id,))
            db.execute(Q.delete_reset_codes_of, (account_id,))

        await self._transact(tx)

    async def ping(self) -> None:
        try:
            await self._row(Q.ping)
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
    if sqlite3.sqlite_version_info < (3, 39):  # IS DISTINCT FROM (queries.py)
        raise StoreError(f"punchclock needs SQLite 3.39 or newer, not {sqlite3.sqlite_version}")
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


def _locked(e: sqlite3.OperationalError) -> bool:
    """Tell whether another process held the write lock past busy_timeout: an outage
    (StoreUnavailable, 503), on a read as on a write, never a 500."""
    return "locked" in str(e) or "busy" in str(e)


@contextlib.contextmanager
def _available() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as e:
        if _locked(e):
            raise StoreUnavailable() from e
        raise


def _unique_email(fn: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """Turn the violation of the email's unique index into EmailTaken."""

    def run(db: sqlite3.Connection) -> T:
        try:
            return fn(db)
        except sqlite3.IntegrityError as e:
            if str(e) == SQLITE_EMAIL_TAKEN:
                raise EmailTaken() from None
            raise

    return run


def _account_by_id(db: sqlite3.Connection, account_id: int) -> Account:
    row = db.execute(Q.account_by_id, (account_id,)).fetchone()
    assert row is not None
    return account_from(row)


def _enqueue(db: sqlite3.Connection, message: OutgoingMail, account_id: int | None = None) -> None:
    db.execute(
        Q.enqueue_mail,
        (
            message.id,
            message.recipient,
            message.subject,
            message.sealed,
            message.created_at,
            account_id,
        ),
    )


def _replace_recovery_codes(
    db: sqlite3.Connection, account_id: int, lookups: Sequence[bytes], now: int
) -> None:
    db.execute(Q.delete_recovery_codes_of, (account_id,))
    db.executemany(Q.add_recovery_code, [(lookup, account_id, now) for lookup in lookups])


def _set_email(db: sqlite3.Connection, account_id: int, email: str, now: int) -> None:
    """Give the account an address; the codes sent to the one before stop working."""
    db.execute(Q.set_email, (account_id, email, email.lower(), now))
    db.execute(Q.delete_reset_codes_of, (account_id,))


def _set_password(db: sqlite3.Connection, account_id: int, password_hash: str, now: int) -> None:
    db.execute(Q.set_password, (account_id, password_hash, now))
    db.execute(Q.delete_reset_codes_of, (account_id,))
    db.execute(Q.delete_email_confirms_of, (account_id,))


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
        row = db.execute(Q.newest_sealed_token).fetchone()
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
