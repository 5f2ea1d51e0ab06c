"""What every Store must do, whatever the database behind it."""

from __future__ import annotations

import asyncio

import pytest

from punchclock.errors import EmailTaken, InvalidInput
from punchclock.models import Account, NewAccount, OutgoingMail, ProfileChanges, Session
from punchclock.store import Store

T0 = 1_800_000_000_000_000  # microseconds
HOUR = 3600 * 1_000_000
DAY = 24 * HOUR


def new_account(email: str = "ann@example.com", n: int = 1) -> NewAccount:
    return NewAccount(
        accounts_id=f"{n:022d}",
        email=email,
        fullname="Ann",
        password_hash="hash-1",
        api_token_lookup=f"lookup-{n}".encode(),
        api_token_sealed=b"sealed",
        timezone="UTC",
        workspace_name="Ann's workspace",
        organization_name="Ann's organization",
        now=T0,
    )


def outgoing(n: int = 1, created_at: int = T0, recipient: str = "ann@example.com") -> OutgoingMail:
    return OutgoingMail(
        id=f"{n:032x}",
        recipient=recipient,
        subject=f"message {n}",
        sealed=f"sealed-{n}".encode(),
        created_at=created_at,
    )


def session(
    account: Account,
    jti: str = "j" * 32,
    expires_at: int = T0 + HOUR,
    kid: str = "2026-11-28",
    last_used_at: int = T0,
    created_at: int = T0,
) -> Session:
    return Session(
        jti=jti,
        id=f"id-{jti}",
        account_id=account.id,
        kid=kid,
        created_at=created_at,
        last_used_at=last_used_at,
        expires_at=expires_at,
        remember_me=False,
        user_agent="test",
        ip="203.0.113.1",
    )


async def test_create_account_makes_its_default_workspace(store: Store) -> None:
    account = await store.create_account(new_account())
    [workspace] = await store.workspaces_of(account.id)
    assert account.default_workspace_id == workspace.id
    assert workspace.owner_id == account.id
    assert workspace.name == "Ann's workspace"
    assert (account.created_at, account.updated_at) == (T0, T0)


async def test_emails_are_unique_whatever_their_case(store: Store) -> None:
    await store.create_account(new_account("ann@example.com", 1))
    with pytest.raises(EmailTaken):
        await store.create_account(new_account("ANN@example.com", 2))
    assert await store.account_by_email("bob@example.com") is None
    found = await store.account_by_email("Ann@Example.com")
    assert found is not None
    assert found.email == "ann@example.com"


async def test_account_is_found_by_token_lookup(store: Store) -> None:
    account = await store.create_account(new_account())
    assert await store.account_by_token(b"lookup-1") == account
    assert await store.account_by_token(b"lookup-2") is None


async def test_session_finds_its_account_until_it_expires(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account))
    assert await store.account_by_session("j" * 32, account.accounts_id, T0) == account
    assert await store.account_by_session("j" * 32, account.accounts_id, T0 + HOUR) is None
    assert await store.account_by_session("j" * 32, "someone-else", T0) is None
    assert await store.account_by_session("k" * 32, account.accounts_id, T0) is None


async def test_delete_session_touches_only_the_owners_session(store: Store) -> None:
    ann = await store.create_account(new_account("ann@example.com", 1))
    bob = await store.create_account(new_account("bob@example.com", 2))
    await store.add_session(session(ann))
    await store.delete_session(bob.id, "j" * 32)
    assert await store.account_by_session("j" * 32, ann.accounts_id, T0) is not None
    await store.delete_session(ann.id, "j" * 32)
    assert await store.account_by_session("j" * 32, ann.accounts_id, T0) is None


async def test_a_password_change_ends_all_sessions_but_the_one_kept(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account, "a" * 32))
    await store.add_session(session(account, "b" * 32))
    await store.add_reset_code(account.id, b"code-1", T0 + HOUR, T0, outgoing(1))
    changed = await store.update_profile(
        account.id, ProfileChanges(), T0 + 1, password_hash="hash-2", keep_jti="a" * 32
    )
    assert changed.password_hash == "hash-2"
    assert changed.authorization_updated_at == T0 + 1
    assert await store.account_by_session("a" * 32, account.accounts_id, T0) is not None
    assert await store.account_by_session("b" * 32, account.accounts_id, T0) is None
    assert await store.reset_code_account(b"code-1", T0) is None
    await store.update_profile(account.id, ProfileChanges(), T0 + 2, password_hash="hash-3")
    assert await store.account_by_session("a" * 32, account.accounts_id, T0) is None


async def test_a_profile_change_alone_keeps_password_and_sessions(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account))
    changed = await store.update_profile(account.id, ProfileChanges(fullname="Ann B"), T0 + 1)
    assert (changed.fullname, changed.password_hash) == ("Ann B", "hash-1")
    assert changed.authorization_updated_at == T0
    assert await store.account_by_session("j" * 32, account.accounts_id, T0) is not None


async def test_a_rehash_does_not_overwrite_a_password_changed_meanwhile(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.update_profile(account.id, ProfileChanges(), T0, password_hash="hash-2")
    await store.replace_password_hash(account.id, "hash-1", "rehash-of-1")
    current = await store.account_by_email(account.email)
    assert current is not None
    assert current.password_hash == "hash-2"
    await store.replace_password_hash(account.id, "hash-2", "rehash-of-2")
    current = await store.account_by_email(account.email)
    assert current is not None
    assert current.password_hash == "rehash-of-2"


async def test_a_new_api_token_replaces_the_old_lookup(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.set_api_token(account.id, b"lookup-new", b"sealed-new", T0 + 5)
    assert await store.account_by_token(b"lookup-1") is None
    found = await store.account_by_token(b"lookup-new")
    assert found is not None
    assert found.api_token_sealed == b"sealed-new"


async def test_several_reset_codes_live_at_once_and_all_end_when_one_is_used(
    store: Store,
) -> None:
    account = await store.create_account(new_account())
    for n in (1, 2, 3):
        await store.add_reset_code(account.id, b"code-%d" % n, T0 + HOUR, T0 + n, outgoing(n))
    for n in (1, 2, 3):
        assert await store.reset_code_account(b"code-%d" % n, T0) == account
    await store.add_session(session(account))
    used = await store.use_reset_code(b"code-2", "hash-new", T0 + 10)
    assert used is not None
    assert used.password_hash == "hash-new"
    assert await store.account_by_session("j" * 32, account.accounts_id, T0) is None
    for n in (1, 2, 3):  # used once, and the others die with it
        assert await store.use_reset_code(b"code-%d" % n, "hash-again", T0 + 11) is None


async def test_only_the_newest_reset_codes_are_kept(store: Store) -> None:
    account = await store.create_account(new_account())
    for n in (1, 2, 3, 4):
        await store.add_reset_code(
            account.id, b"code-%d" % n, T0 + HOUR, T0 + n, outgoing(n), keep=3
        )
    assert await store.reset_code_account(b"code-1", T0) is None
    for n in (2, 3, 4):
        assert await store.reset_code_account(b"code-%d" % n, T0) == account


async def test_a_confirmed_email_change_ends_reset_codes_and_can_be_undone(store: Store) -> None:
    ann = await store.create_account(new_account("ann@example.com", 1))
    await store.add_session(session(ann))
    await store.add_reset_code(ann.id, b"code-1", T0 + HOUR, T0, outgoing(1))
    await store.request_email_change(ann.id, "new@example.com", b"c-1", T0 + HOUR, T0, outgoing(2))
    pending = await store.email_change(b"c-1", "confirm", T0)
    assert pending is not None
    assert pending[1] == "new@example.com"
    assert await store.email_change(b"c-1", "undo", T0) is None
    assert await store.email_change(b"c-1", "confirm", T0 + HOUR) is None  # expired
    changed = await store.confirm_email_change(b"c-1", T0 + 1, b"u-1", T0 + DAY, outgoing(3))
    assert changed is not None
    assert changed.email == "new@example.com"
    assert await store.account_by_email("ann@example.com") is None
    assert await store.reset_code_account(b"code-1", T0 + 2) is None
    assert await store.confirm_email_change(b"c-1", T0 + 2, b"u-2", T0 + DAY, outgoing(4)) is None
    undo = await store.email_change(b"u-1", "undo", T0 + 2)
    assert undo is not None
    assert undo[1] == "ann@example.com"
    restored = await store.undo_email_change(
        b"u-1", T0 + 3, b"lookup-2", b"sealed-2", b"code-2", T0 + HOUR, outgoing(5)
    )
    assert restored is not None
    assert restored.email == "ann@example.com"
    assert restored.api_token_sealed == b"sealed-2"
    assert await store.account_by_token(b"lookup-1") is None
    assert await store.account_by_session("j" * 32, ann.accounts_id, T0) is None
    assert await store.reset_code_account(b"code-2", T0 + 4) == restored
    assert (
        await store.undo_email_change(
            b"u-1", T0 + 4, b"lookup-3", b"sealed-3", b"code-3", T0 + HOUR, outgoing(6)
        )
        is None
    )


async def test_an_email_change_to_an_address_taken_meanwhile_is_email_taken(
    store: Store,
) -> None:
    ann = await store.create_account(new_account("ann@example.com", 1))
    await store.request_email_change(ann.id, "bob@example.com", b"c-1", T0 + HOUR, T0, outgoing(1))
    await store.create_account(new_account("bob@example.com", 2))
    with pytest.raises(EmailTaken):
        await store.confirm_email_change(b"c-1", T0 + 1, b"u-1", T0 + DAY, outgoing(2))
    assert (await store.account_by_email("ann@example.com")) is not None


async def test_a_new_password_ends_a_pending_email_change(store: Store) -> None:
    ann = await store.create_account(new_account("ann@example.com", 1))
    await store.request_email_change(ann.id, "new@example.com", b"c-1", T0 + HOUR, T0, outgoing(1))
    await store.update_profile(ann.id, ProfileChanges(), T0 + 1, password_hash="hash-2")
    assert await store.email_change(b"c-1", "confirm", T0 + 2) is None


async def test_an_expired_reset_code_cannot_be_used(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_reset_code(account.id, b"code-1", T0 + HOUR, T0, outgoing(1))
    assert await store.reset_code_account(b"code-1", T0 + HOUR) is None
    assert await store.use_reset_code(b"code-1", "hash-new", T0 + HOUR) is None


async def test_update_profile_refuses_a_workspace_of_someone_else(store: Store) -> None:
    ann = await store.create_account(new_account("ann@example.com", 1))
    bob = await store.create_account(new_account("bob@example.com", 2))
    with pytest.raises(InvalidInput):
        await store.update_profile(
            ann.id, ProfileChanges(default_workspace_id=bob.default_workspace_id), T0
        )
    with pytest.raises(EmailTaken):
        await store.update_profile(ann.id, ProfileChanges(email="BOB@example.com"), T0)
    unchanged = await store.account_by_email("ann@example.com")
    assert unchanged == ann


async def test_closing_leaves_only_an_anonymous_tombstone(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account))
    await store.add_reset_code(account.id, b"code-1", T0 + HOUR, T0, outgoing(1))
    await store.close_account(account.id, T0 + 1)
    assert await store.account_by_email(account.email) is None
    assert await store.account_by_token(b"lookup-1") is None
    assert await store.account_by_session("j" * 32, account.accounts_id, T0) is None
    assert await store.reset_code_account(b"code-1", T0) is None
    assert await store.workspaces_of(account.id) == []
    again = await store.create_account(new_account(account.email, 2))
    assert again.id != account.id


async def test_sessions_are_listed_newest_first_without_dead_ones(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account, "a" * 32, created_at=T0 - 10))
    await store.add_session(session(account, "b" * 32, expires_at=T0 + 1))
    await store.add_session(session(account, "c" * 32, last_used_at=T0 - HOUR, created_at=T0 - 5))
    assert [s.jti for s in await store.sessions_of(account.id, T0)] == [c * 32 for c in "bca"]
    assert [s.jti for s in await store.sessions_of(account.id, T0 + 2)] == ["c" * 32, "a" * 32]
    live = await store.sessions_of(account.id, T0 + 2, idle_since=T0 - 60)
    assert [s.jti for s in live] == ["a" * 32]
    assert live[0].id == "id-" + "a" * 32
    assert live[0].kid == "2026-11-28"


async def test_idle_sessions_do_not_authenticate_until_touched(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account, last_used_at=T0 - HOUR))
    assert await store.account_by_session("j" * 32, account.accounts_id, T0, T0 - 60) is None
    await store.touch_session("j" * 32, T0)
    assert await store.account_by_session("j" * 32, account.accounts_id, T0, T0 - 60) == account


async def test_a_session_is_ended_by_its_public_id_only_by_its_owner(store: Store) -> None:
    ann = await store.create_account(new_account("ann@example.com", 1))
    bob = await store.create_account(new_account("bob@example.com", 2))
    await store.add_session(session(ann))
    assert not await store.delete_session_by_id(bob.id, "id-" + "j" * 32)
    assert not await store.delete_session_by_id(ann.id, "j" * 32)  # the jti is not the id
    assert await store.delete_session_by_id(ann.id, "id-" + "j" * 32)
    assert await store.account_by_session("j" * 32, ann.accounts_id, T0) is None


async def test_ending_the_other_sessions_keeps_the_current_one(store: Store) -> None:
    account = await store.create_account(new_account())
    for jti in ("a" * 32, "b" * 32, "c" * 32):
        await store.add_session(session(account, jti))
    await store.delete_sessions(account.id, keep_jti="b" * 32)
    assert [s.jti for s in await store.sessions_of(account.id, T0)] == ["b" * 32]


async def test_dead_sessions_are_purged(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account, "a" * 32))
    await store.add_session(session(account, "b" * 32, expires_at=T0 + 1))
    await store.add_session(session(account, "c" * 32, last_used_at=T0 - HOUR))
    assert await store.delete_dead_sessions(T0 + 2, idle_since=T0 - 60) == 2
    assert [s.jti for s in await store.sessions_of(account.id, T0)] == ["a" * 32]


async def test_sessions_signed_by_a_key_end_together(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account, "a" * 32, kid="old"))
    await store.add_session(session(account, "b" * 32, kid="new"))
    assert await store.sessions_by_key() == {"old": 1, "new": 1}
    assert await store.delete_sessions_signed_by("old") == 1
    assert [s.jti for s in await store.sessions_of(account.id, T0)] == ["b" * 32]


# -- organizations, workspaces and settings (issue 13) -------------------------------------


async def test_create_account_makes_its_organization_with_the_workspace_in_it(
    store: Store,
) -> None:
    account = await store.create_account(new_account())
    [organization] = await store.organizations_of(account.id)
    [workspace] = await store.workspaces_of(account.id)
    assert workspace.organization_id == organization.id
    assert (organization.owner_id, organization.name) == (account.id, "Ann's organization")
    assert (organization.created_at, organization.updated_at) == (T0, T0)


async def test_settings_merge_the_keys_given_and_keep_the_others(store: Store) -> None:
    account = await store.create_account(new_account())
    assert await store.settings_of(account.id, "preferences") == {}
    first = await store.merge_settings(account.id, "preferences", {"a": 1, "b": "x"}, 10)
    assert first == {"a": 1, "b": "x"}
    second = await store.merge_settings(account.id, "preferences", {"b": [True, None]}, 10)
    assert second == {"a": 1, "b": [True, None]}
    assert await store.settings_of(account.id, "preferences") == second
    assert await store.settings_of(account.id, "flags") == {}  # kinds are apart


async def test_a_merge_past_the_key_limit_changes_nothing(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.merge_settings(account.id, "flags", {"a": 1, "b": 2}, 3)
    assert await store.merge_settings(account.id, "flags", {"c": 3, "d": 4}, 3) is None
    assert await store.settings_of(account.id, "flags") == {"a": 1, "b": 2}
    # replacing a key adds none
    assert await store.merge_settings(account.id, "flags", {"a": 9, "c": 3}, 3) is not None


async def test_settings_belong_to_one_account(store: Store) -> None:
    ann = await store.create_account(new_account("ann@example.com", 1))
    bob = await store.create_account(new_account("bob@example.com", 2))
    await store.merge_settings(ann.id, "preferences", {"date_format": "DD.MM.YYYY"}, 10)
    assert await store.settings_of(bob.id, "preferences") == {}


async def test_closing_removes_organizations_workspaces_and_settings(store: Store) -> None:
    account = await store.create_account(new_account())
    other = await store.create_account(new_account("bob@example.com", 2))
    await store.merge_settings(account.id, "preferences", {"a": 1}, 10)
    await store.merge_settings(account.id, "flags", {"a": 1}, 10)
    await store.merge_settings(other.id, "flags", {"b": 1}, 10)
    await store.close_account(account.id, T0 + 1)
    assert await store.organizations_of(account.id) == []
    assert await store.workspaces_of(account.id) == []
    assert await store.settings_of(account.id, "preferences") == {}
    assert await store.settings_of(account.id, "flags") == {}
    assert await store.settings_of(other.id, "flags") == {"b": 1}
    assert len(await store.organizations_of(other.id)) == 1


async def test_confirmations_racing_with_one_code_use_it_once(store: Store) -> None:
    """The code is taken (DELETE ... RETURNING) before the password is set: of confirmations
    running at once, each in its own transaction, exactly one finds it. A SELECT there
    would let each of them set its own password on PostgreSQL."""
    account = await store.create_account(new_account())
    for attempt in range(5):
        code = f"code-{attempt}".encode()
        await store.add_reset_code(account.id, code, T0 + HOUR, T0, outgoing(attempt + 1))
        used = await asyncio.gather(
            *(store.use_reset_code(code, f"hash-{attempt}-{n}", T0 + 1) for n in range(6))
        )
        assert sum(u is not None for u in used) == 1, attempt


async def test_a_late_touch_never_moves_a_sessions_use_back(store: Store) -> None:
    """Workers record uses in the background: one that lands late must not revive an
    idle-timeout clock that another worker already moved on (both backends alike)."""
    account = await store.create_account(new_account())
    await store.add_session(session(account, last_used_at=T0 + 10))
    await store.touch_session("j" * 32, T0 + 5)
    [found] = await store.sessions_of(account.id, T0)
    assert found.last_used_at == T0 + 10
    await store.touch_session("j" * 32, T0 + 20)
    [found] = await store.sessions_of(account.id, T0)
    assert found.last_used_at == T0 + 20
