"""PostgreSQL's schema: migrated once however many processes start together."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from punchclock.errors import StoreError
from punchclock.store.migrations import load
from punchclock.store.postgres import PostgresStore
from tests import postgres


async def test_workers_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url) for _ in range(8)]
    try:
        versions = await asyncio.gather(*(store.migrate() for store in stores))
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert versions == [len(load("postgres"))] * 8
    db = await asyncpg.connect(postgres_url)
    try:
        applied = [r[0] for r in await db.fetch("SELECT version FROM punchclock_schema")]
        tables = {r[0] for r in await db.fetch("SELECT tablename FROM pg_tables")}
    finally:
        await db.close()
    assert sorted(applied) == list(range(1, len(load("postgres")) + 1))
    assert {"accounts", "workspaces", "sessions", "reset_codes", "signing_keys"} <= tables


async def test_a_database_newer_than_the_code_refuses_to_start(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        await store.migrate()
        db = await asyncpg.connect(postgres_url)
        await db.execute("INSERT INTO punchclock_schema (version) VALUES (999)")
        await db.close()
        with pytest.raises(StoreError, match="version 999, newer than this punchclock knows"):
            await store.migrate()
    finally:
        await store.close()


def _migrate(url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUNCHCLOCK_")}
    env |= {"PUNCHCLOCK_DATABASE_URL": url, "PUNCHCLOCK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "punchclock", "migrate"], env=env, capture_output=True, text=True
    )


def test_punchclock_migrate_upgrades_and_refuses_a_newer_database(
    postgres_url: str, tmp_path: Path
) -> None:
    first = _migrate(postgres_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"up to date at schema version {len(load('postgres'))}" in first.stdout
    postgres.run(postgres.execute(postgres_url, "INSERT INTO punchclock_schema VALUES (999)"))
    newer = _migrate(postgres_url, tmp_path)
    assert newer.returncode == 2
    assert "punchclock: the database is at schema version 999" in newer.stderr
    assert "Traceback" not in newer.stderr


def test_migrate_on_an_unreachable_database_says_so_and_keeps_the_password(
    tmp_path: Path,
) -> None:
    cli = _migrate("postgresql://nobody:s3cret@127.0.0.1:9/none", tmp_path)
    assert cli.returncode == 2
    assert "punchclock: cannot reach the database" in cli.stderr
    assert "s3cret" not in cli.stderr
    assert "Traceback" not in cli.stderr


@pytest.mark.parametrize("old_version", [1, 2, 3])
async def test_a_database_of_the_old_numbering_is_brought_to_the_new_one(
    postgres_url: str, old_version: int
) -> None:
    """PostgreSQL's outbox and audit trail were 2 and 3 before its numbering matched
    SQLite's (3 and 4): such a database migrates on, applying each change once."""
    initial, _, outbox, audit = load("postgres")[:4]
    old = [initial, outbox, audit][:old_version]  # what the old 1, 2 and 3 had made
    db = await asyncpg.connect(postgres_url)
    try:
        await db.execute(
            "CREATE TABLE punchclock_schema "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for number, (_, sql) in enumerate(old, start=1):
            await db.execute(sql)
            await db.execute("INSERT INTO punchclock_schema (version) VALUES ($1)", number)
    finally:
        await db.close()
    store = PostgresStore(postgres_url)
    try:
        assert await store.migrate() == len(load("postgres"))
        assert await store.migrate() == len(load("postgres"))  # and again: nothing to do
        await store.record_event(1, "sign_up", None, "", "")  # the audit trail is there
        assert await store.list_mail() == []  # and the outbox
    finally:
        await store.close()
