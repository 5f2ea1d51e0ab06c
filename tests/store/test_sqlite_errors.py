"""SQLite's "database is locked" is an outage (503) on a read as on a write, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from punchclock.errors import StoreUnavailable
from punchclock.store.sqlite import SQLiteStore


class Locked:
    """A connection whose every statement meets another process's write lock."""

    def execute(self, *args: object) -> None:
        raise sqlite3.OperationalError("database is locked")


async def test_a_read_that_meets_a_lock_is_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "locked.sqlite3")
    real = store._db
    store._db = Locked()  # type: ignore[assignment]
    try:
        with pytest.raises(StoreUnavailable):
            await store.account_by_email("ann@example.com")
        with pytest.raises(StoreUnavailable):
            await store.sessions_of(1, 0)
    finally:
        store._db = real
        await store.close()


async def test_a_write_that_meets_a_lock_is_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "locked.sqlite3")
    real = store._writer
    store._writer = Locked()  # type: ignore[assignment]
    try:
        with pytest.raises(StoreUnavailable):
            await store.touch_session("j" * 32, 1)
    finally:
        store._writer = real
        await store.close()
