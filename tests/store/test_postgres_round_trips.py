"""PostgreSQL's hot path: a lookup is one round trip, nothing sent after it."""

from __future__ import annotations

import secrets

import asyncpg

from punchclock.store.postgres import PostgresStore
from punchclock.store.queries import POSTGRES


async def test_a_lookup_is_the_last_statement_its_connection_ran(postgres_url: str) -> None:
    # asyncpg's pool resets a connection it gets back with a query of its own (RESET ALL,
    # UNLISTEN *, ...): a second round trip per request, which /me on PostgreSQL paid.
    name = f"punchclock_{secrets.token_hex(4)}"
    store = PostgresStore(f"{postgres_url}&application_name={name}", max_connections=1)
    observer = await asyncpg.connect(postgres_url)
    try:
        await store.migrate()
        for _ in range(3):  # the connection goes back to the pool and is lent again
            assert await store.account_by_token(secrets.token_bytes(32)) is None
        last = await observer.fetchval(
            "SELECT query FROM pg_stat_activity WHERE application_name = $1", name
        )
    finally:
        await observer.close()
        await store.close()
    assert last == POSTGRES.account_by_token
