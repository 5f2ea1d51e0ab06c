from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from punchclock.store import Store
from punchclock.store.postgres import PostgresStore
from punchclock.store.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Every store backend; the contract tests run once on each."""
    backend: SQLiteStore | PostgresStore
    if request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "store.sqlite3")
    else:
        backend = PostgresStore(request.getfixturevalue("postgres_url"))
        await backend.migrate()
    try:
        yield backend
    finally:
        await backend.close()
