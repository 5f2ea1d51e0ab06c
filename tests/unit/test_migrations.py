"""A schema version means the same on SQLite and PostgreSQL: the migrations are numbered
and named alike in both folders (issue 12), so a branch that adds one to a dialect only,
or under another number, fails here."""

from __future__ import annotations

from importlib import resources


def names(dialect: str) -> list[str]:
    folder = resources.files("punchclock.store.migrations").joinpath(dialect)
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))


def test_both_dialects_have_the_same_migrations_under_the_same_numbers() -> None:
    assert names("sqlite") == names("postgres")
    assert "0006_email_changes.sql" in names("postgres")  # issue 11's, after the audit trail
