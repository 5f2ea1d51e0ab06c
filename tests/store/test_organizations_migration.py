"""Accounts made before organizations existed get one by migration, on either database:
every open account then owns one organization, its workspaces belong to it, and its
default_workspace_id names one of them; closed accounts (tombstones) get none."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from punchclock.store.migrations import load
from punchclock.store.postgres import PostgresStore
from punchclock.store.sqlite import SQLiteStore
from tests.store.test_store_contract import T0

# Before the migration: three accounts as the old code left them.
_ACCOUNTS = (
    "INSERT INTO accounts (accounts_id, email, email_key, fullname, created_at, updated_at, "
    "authorization_updated_at, default_workspace_id, closed_at) VALUES "
    "('{0:022d}', 'ann@example.com', 'ann@example.com', 'Ann', {t}, {t}, {t}, NULL, NULL), "
    "('{1:022d}', 'bob@example.com', 'bob@example.com', '', {t}, {t}, {t}, NULL, NULL), "
    "('{2:022d}', NULL, NULL, '', {t}, {t}, {t}, NULL, {t})"
)
_ANN_WORKSPACE = (
    "INSERT INTO workspaces (owner_id, name, created_at, updated_at) "
    "VALUES (1, 'Ann''s workspace', {t}, {t})"
)
# bob's workspace was never made (or lost): the migration gives him one


def _before(dialect: str) -> int:
    """Return how many migrations come before the one that adds organizations."""
    known = load(dialect)
    return next(i for i, (_, sql) in enumerate(known) if "CREATE TABLE organizations" in sql)


def _seed_sql() -> list[str]:
    return [
        _ACCOUNTS.format(1, 2, 3, t=T0),
        _ANN_WORKSPACE.format(t=T0),
        "UPDATE accounts SET default_workspace_id = 1 WHERE id = 1",
    ]


async def _check(store: SQLiteStore | PostgresStore) -> None:
    ann = await store.account_by_email("ann@example.com")
    bob = await store.account_by_email("bob@example.com")
    assert ann is not None
    assert bob is not None
    for account, name in ((ann, "Ann's organization"), (bob, "My organization")):
        [organization] = await store.organizations_of(account.id)
        workspaces = await store.workspaces_of(account.id)
        assert organization.name == name
        assert organization.created_at == T0
        assert workspaces
        assert {w.organization_id for w in workspaces} == {organization.id}
        assert account.default_workspace_id in {w.id for w in workspaces}
    assert [w.name for w in await store.workspaces_of(bob.id)] == ["My workspace"]
    assert await store.organizations_of(3) == []  # the tombstone
    assert await store.workspaces_of(3) == []


async def test_sqlite_gives_existing_accounts_an_organization(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    known = load("sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for number, sql in known[: _before("sqlite")]:
            db.executescript(sql)
            db.execute(f"PRAGMA user_version = {number}")
        for statement in _seed_sql():
            db.execute(statement)
    finally:
        db.close()
    store = SQLiteStore(path)  # migrates the rest
    try:
        await _check(store)
    finally:
        await store.close()


async def test_postgres_gives_existing_accounts_an_organization(postgres_url: str) -> None:
    known = load("postgres")
    db = await asyncpg.connect(postgres_url)
    try:
        await db.execute(
            "CREATE TABLE punchclock_schema "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for number, sql in known[: _before("postgres")]:
            await db.execute(sql)
            await db.execute("INSERT INTO punchclock_schema (version) VALUES ($1)", number)
        for statement in _seed_sql():
            await db.execute(statement)
    finally:
        await db.close()
    store = PostgresStore(postgres_url)
    try:
        assert await store.migrate() == len(known)
        await _check(store)
    finally:
        await store.close()
