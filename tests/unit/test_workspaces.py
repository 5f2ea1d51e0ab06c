"""The Workspaces service, built directly on a real SQLite store: only the account's own
rows are ever found, and a refused change changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from punchclock.errors import InvalidInput, NotFound
from punchclock.models import Account
from punchclock.services.workspaces import MAX_FLAGS, Workspaces
from punchclock.store.sqlite import SQLiteStore
from tests.store.test_store_contract import T0, new_account


class FixedTime:
    def now(self) -> int:
        return T0 + 1


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    yield store
    await store.close()


@pytest.fixture
def workspaces(store: SQLiteStore) -> Workspaces:
    return Workspaces(store, FixedTime())


async def two_accounts(store: SQLiteStore) -> tuple[Account, Account]:
    ann = await store.create_account(new_account("ann@example.com", 1))
    bob = await store.create_account(new_account("bob@example.com", 2))
    return ann, bob


async def test_only_the_account_s_own_workspace_and_organization_are_found(
    store: SQLiteStore, workspaces: Workspaces
) -> None:
    ann, bob = await two_accounts(store)
    [bobs_organization] = await workspaces.organizations(bob)
    assert (await workspaces.workspace(ann, str(ann.default_workspace_id))).owner_id == ann.id
    for workspace_id in (str(bob.default_workspace_id), "999999", "x", ""):
        with pytest.raises(NotFound, match="Workspace not found"):
            await workspaces.workspace(ann, workspace_id)
    for organization_id in (str(bobs_organization.id), "999999"):
        with pytest.raises(NotFound, match="User not part of organization"):
            await workspaces.organization(ann, organization_id)
    with pytest.raises(NotFound, match="Invalid organization ID"):
        await workspaces.organization(ann, "1e3")


async def test_a_refused_preference_change_changes_neither_settings_nor_profile(
    store: SQLiteStore, workspaces: Workspaces
) -> None:
    ann, _ = await two_accounts(store)
    body = {"BeginningOfWeek": 0, "date_format": "YYYY-MM-DD", "duration_format": "weeks"}
    with pytest.raises(InvalidInput, match="Value in duration_format is invalid"):
        await workspaces.update_preferences(ann, body)
    assert await store.settings_of(ann.id, "preferences") == {}
    unchanged = await store.account_by_email("ann@example.com")
    assert unchanged == ann


async def test_a_preference_change_reaches_the_profile(
    store: SQLiteStore, workspaces: Workspaces
) -> None:
    ann, _ = await two_accounts(store)
    await workspaces.update_preferences(
        ann, {"BeginningOfWeek": 0, "pg_time_zone_name": "Asia/Tokyo"}
    )
    changed = await store.account_by_email("ann@example.com")
    assert changed is not None
    assert (changed.beginning_of_week, changed.timezone, changed.updated_at) == (
        0,
        "Asia/Tokyo",
        T0 + 1,
    )
    preferences = await workspaces.preferences(changed)
    assert (preferences["BeginningOfWeek"], preferences["pg_time_zone_name"]) == (0, "Asia/Tokyo")


async def test_flags_stop_at_toggl_s_limit(store: SQLiteStore, workspaces: Workspaces) -> None:
    ann, _ = await two_accounts(store)
    for n in range(MAX_FLAGS // 4):
        await workspaces.add_flags(ann, {f"{n}-{i}": i for i in range(4)})
    with pytest.raises(InvalidInput):
        await workspaces.add_flags(ann, {"one-more": 1})
    assert len(await workspaces.flags(ann)) == MAX_FLAGS
