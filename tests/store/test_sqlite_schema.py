from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from punchclock.errors import StoreError
from punchclock.store.sqlite import migrations, prepare_database


def test_a_new_database_is_brought_to_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    assert prepare_database(path) == len(migrations())
    assert prepare_database(path) == len(migrations())  # again: nothing to do
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"accounts", "workspaces", "sessions", "reset_codes"} <= tables
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
