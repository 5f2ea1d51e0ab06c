"""Fill a migrated punchclock database with accounts, fast, straight into the SQLite file.

Rows are written as `SQLiteStore.create_account` would write them (an account, its
workspace, a sealed API token found by its HMAC), but in one transaction with
`synchronous=OFF` and no journal: safe only while no server has the file open.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from punchclock.store.keyfiles import load_secret_key
from punchclock.tokens import SecretBox

PASSWORD = "bench-password-1"  # noqa: S105 - every seeded account's password
KNOWN_TOKENS = 1000  # tokens the benchmark sends in turn, spread across the id range
_BATCH = 50_000  # rows per executemany


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the benchmark needs to know about the accounts it made."""

    count: int
    seconds: float
    known_tokens: list[str]  # KNOWN_TOKENS valid API tokens, from first id to last


def email_of(index: int) -> str:
    return f"user{index:08d}@bench.example.com"


def token_of(index: int) -> str:
    """Return the API token of seeded account `index`: 32 hex characters, fixed per index."""
    return hashlib.blake2b(b"punchclock-bench-%d" % index, digest_size=16).hexdigest()


def known_indexes(count: int) -> list[int]:
    """Return KNOWN_TOKENS account ids spread evenly from 1 to count."""
    if count <= KNOWN_TOKENS:
        return list(range(1, count + 1))
    return [1 + k * (count - 1) // (KNOWN_TOKENS - 1) for k in range(KNOWN_TOKENS)]


def seed_accounts(database: Path, data_dir: Path, count: int, password_hash: str) -> Seeded:
    """Add accounts 1..count with their workspaces to an empty, migrated database."""
    started = time.perf_counter()
    box = SecretBox(load_secret_key(data_dir))
    now = time.time_ns() // 1000
    db = sqlite3.connect(database, isolation_level=None)
    try:
        if db.execute("SELECT count(*) FROM accounts").fetchone()[0]:
            raise ValueError(f"{database} already holds accounts")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -524288")  # KiB: 512 MiB keeps the indexes in memory
        db.execute("BEGIN")
        for start in range(1, count + 1, _BATCH):
            indexes = range(start, min(start + _BATCH, count + 1))
            db.executemany(
                "INSERT INTO accounts (id, accounts_id, email, email_key, fullname, "
                "password_hash, api_token_lookup, api_token_sealed, timezone, "
                "default_workspace_id, created_at, updated_at, authorization_updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'UTC', ?, ?, ?, ?)",
                _accounts(box, indexes, password_hash, now),
            )
            db.executemany(
                "INSERT INTO workspaces (id, owner_id, name, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                ((i, i, f"User {i}'s workspace", now, now) for i in indexes),
            )
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode = WAL")  # as SQLiteStore keeps it
    finally:
        db.close()
    return Seeded(
        count=count,
        seconds=time.perf_counter() - started,
        known_tokens=[token_of(i) for i in known_indexes(count)],
    )


def _accounts(
    box: SecretBox, indexes: range, password_hash: str, now: int
) -> Iterator[tuple[object, ...]]:
    for i in indexes:
        accounts_id = f"bench{i:017d}"  # 22 characters, like Toggl's
        email = email_of(i)
        token = token_of(i)
        yield (
            i,
            accounts_id,
            email,
            email,
            f"User {i}",
            password_hash,
            box.token_lookup(token),
            box.seal_token(token, accounts_id),
            i,
            now,
            now,
            now,
        )
