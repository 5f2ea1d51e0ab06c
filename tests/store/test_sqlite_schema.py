from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from punchclock.errors import StoreError, StoreUnavailable
from punchclock.store.sqlite import SQLiteStore, migrations, prepare_database
from tests.store.test_store_contract import T0, new_account, outgoing


def test_a_new_database_is_brought_to_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    assert prepare_database(path) == len(migrations())
    assert prepare_database(path) == len(migrations())  # again: nothing to do
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"accounts", "workspaces", "sessions", "reset_codes", "outbox"} <= tables
    finally:
        db.close()


def test_a_database_newer_than_the_code_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    prepare_database(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 999")
    db.close()
    with pytest.raises(StoreError, match="newer than this punchclock"):
        prepare_database(path)


async def test_a_write_lock_held_too_long_is_store_unavailable_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path, busy_timeout_ms=50)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing, for longer than 50 ms
        with pytest.raises(StoreUnavailable):
            await store.create_account(new_account())
        other.execute("ROLLBACK")
        assert (await store.create_account(new_account())).email == "ann@example.com"
    finally:
        other.close()
        await store.close()


def test_processes_starting_together_apply_each_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with ThreadPoolExecutor(max_workers=8) as starting:  # each with a connection of its own
        versions = list(starting.map(lambda _: prepare_database(path), range(8)))
    assert versions == [len(migrations())] * 8
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(migrations())
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


async def test_a_sent_message_keeps_no_body_in_the_file(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    try:
        await store.enqueue_mail(outgoing(1))
        await store.claim_mail("a" * 32, T0, T0 + 1_000_000, 10)
        await store.mark_mail_sent(outgoing(1).id, "a" * 32, T0)
    finally:
        await store.close()
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    try:
        assert db.execute("SELECT sealed, state FROM outbox").fetchall() == [(None, "sent")]
    finally:
        db.close()


async def test_the_reading_connection_keeps_a_page_cache_a_million_accounts_need(
    tmp_path: Path,
) -> None:
    """2 MB (SQLite's default) held too few of the index pages a thousand callers' token
    lookups touch in a million accounts: /me fell to 85 % of its small-database speed."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    try:
        assert store._db.execute("PRAGMA cache_size").fetchone()[0] == -16 * 1024  # KiB
    finally:
        await store.close()
