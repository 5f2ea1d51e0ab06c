"""PostgreSQL for the tests: a fresh schema per test on the server PUNCHCLOCK_TEST_POSTGRES_URL
names, dropped afterwards. Without the variable the tests that need it are skipped (a
user's machine); with it, an unreachable server fails them (CI must not skip silently)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import pytest

VARIABLE = "PUNCHCLOCK_TEST_POSTGRES_URL"
SKIP_REASON = f"PostgreSQL tests skipped: {VARIABLE} is not set"
T = TypeVar("T")


def server_url() -> str | None:
    return os.environ.get(VARIABLE) or None


def run(work: Coroutine[Any, Any, T]) -> T:
    # a thread of its own: the caller may be inside a running event loop
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


async def execute(url: str, sql: str) -> None:
    db = await asyncpg.connect(url, timeout=5)
    try:
        await db.execute(sql)
    finally:
        await db.close()


def with_schema(url: str, schema: str) -> str:
    """Return the URL with `schema` as the connection's search_path (asyncpg passes
    unknown query parameters to the server as settings)."""
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}search_path={schema}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """Yield a URL whose connections work in a new, empty schema; drop it afterwards."""
    url = server_url()
    if url is None:
        pytest.skip(SKIP_REASON)
    schema = f"punchclock_test_{secrets.token_hex(6)}"
    try:
        run(execute(url, f"CREATE SCHEMA {schema}"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        pytest.fail(f"{VARIABLE} is set but PostgreSQL cannot be used: {e!r}")
    try:
        yield with_schema(url, schema)
    finally:
        run(execute(url, f"DROP SCHEMA {schema} CASCADE"))
