"""Versioned schema migrations, one folder per database: NNNN_name.sql, applied in order."""

from __future__ import annotations

from importlib import resources

from punchclock.errors import StoreError


def load(dialect: str) -> list[tuple[int, str]]:
    """Return the migrations for `dialect` ("sqlite" or "postgres") in order, as (version, SQL)."""
    folder = resources.files(__name__).joinpath(dialect)
    found = sorted(
        (int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    if [version for version, _ in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"{dialect} migrations must be numbered 0001, 0002, ... with no gaps")
    return found


def too_new(version: int, known: int) -> StoreError:
    """Return the error for a database whose schema is newer than this code knows."""
    return StoreError(
        f"the database is at schema version {version}, newer than this punchclock "
        f"knows ({known}): upgrade punchclock"
    )
