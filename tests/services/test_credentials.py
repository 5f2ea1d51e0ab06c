"""Credentials: every wrong answer costs one hash and looks alike; the cache of verified
passwords never outlives the password it verified."""

from __future__ import annotations

import asyncio

import pytest

from punchclock.errors import InvalidCredentials
from punchclock.passwords import PasswordHasher
from punchclock.services.accounts import ProfileUpdate, SignUp
from punchclock.services.credentials import Credentials, is_token_credential
from punchclock.services.sessions import Authenticated
from tests.services.conftest import CLIENT, Built, CountedVerify, events, link, mail
from tests.support import PASSWORD

NEW_PASSWORD = "a brand new password 7"


@pytest.mark.parametrize("email", ["ann@example.com", "nobody@example.com", "not an email"])
async def test_a_failed_log_in_costs_one_hash_and_the_same_error_whatever_failed(
    built: Built, monkeypatch: pytest.MonkeyPatch, email: str
) -> None:
    await built.sign_up("ann@example.com")
    counted = CountedVerify(built.hasher, monkeypatch)
    with pytest.raises(InvalidCredentials) as refused:
        await built.credentials.log_in(email, "not the password", False, CLIENT)
    assert counted.calls == 1
    assert refused.value.message == InvalidCredentials().message


async def test_a_closed_account_costs_one_hash_and_the_same_error(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, _ = await built.sign_up()
    await built.accounts.close_account(Authenticated(ann), CLIENT)
    counted = CountedVerify(built.hasher, monkeypatch)
    with pytest.raises(InvalidCredentials):
        await built.credentials.log_in("ann@example.com", PASSWORD, False, CLIENT)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    assert counted.calls == 2


async def test_a_failed_log_in_on_an_unknown_email_records_no_account(built: Built) -> None:
    with pytest.raises(InvalidCredentials):
        await built.credentials.log_in("nobody@example.com", PASSWORD, False, CLIENT)
    assert (await events(built))[-1] == ("log_in_failed", None, "log_in")


async def test_every_log_in_costs_a_full_hash(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    await built.sign_up()
    counted = CountedVerify(built.hasher, monkeypatch)
    for _ in range(3):
        await built.credentials.log_in("ann@example.com", PASSWORD, False, CLIENT)
    assert counted.calls == 3


async def test_a_repeat_basic_caller_is_hashed_once_and_a_wrong_password_never_cached(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    await built.sign_up()
    counted = CountedVerify(built.hasher, monkeypatch)
    for _ in range(3):
        await built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    assert counted.calls == 1
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await built.credentials.authenticate_password("ann@example.com", "wrong", CLIENT)
    assert counted.calls == 3


async def test_callers_sending_one_pair_at_once_share_one_hash(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    await built.sign_up()
    counted = CountedVerify(built.hasher, monkeypatch)
    found = await asyncio.gather(
        *(
            built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
            for _ in range(6)
        )
    )
    assert {a.email for a in found} == {"ann@example.com"}
    assert counted.calls == 1


async def test_a_cached_password_is_refused_at_once_after_a_password_change(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache holds an entry only while the stored hash is the one it verified: this,
    not forgetting entries, is what refuses an old password in every process at once."""
    _, session = await built.sign_up()
    await built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    caller = await built.sessions.authenticate(session.token)
    await built.accounts.update_profile(
        caller, ProfileUpdate(current_password=PASSWORD, password=NEW_PASSWORD), CLIENT
    )
    counted = CountedVerify(built.hasher, monkeypatch)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    assert counted.calls == 1  # checked against the new hash, not served from the cache
    assert (await built.credentials.authenticate_password("ann@example.com", NEW_PASSWORD)).id


async def test_a_cached_pair_is_refused_once_its_email_changes_or_closes(built: Built) -> None:
    ann, _ = await built.sign_up()
    await built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    await built.accounts.update_profile(
        Authenticated(ann), ProfileUpdate(email="ann2@example.com", current_password=PASSWORD)
    )
    [asked] = await mail(built)
    await built.email_changes.confirm(link(asked, "confirm"), CLIENT)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    moved = await built.credentials.authenticate_password("ann2@example.com", PASSWORD, CLIENT)
    await built.accounts.close_account(Authenticated(moved), CLIENT)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_password("ann2@example.com", PASSWORD, CLIENT)


async def test_the_cache_of_one_process_does_not_outlive_a_change_made_by_another(
    built: Built,
) -> None:
    """Another worker (its own Credentials, its own cache) sees the change at once."""
    other = Credentials(
        built.store,
        built.hasher,
        built.secrets,
        built.sessions,
        built.attempts,
        built.audit,
        built.clock,
        password_min_length=8,
        second_factor=built.second_factor,
    )
    _, session = await built.sign_up()
    await other.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    caller = await built.sessions.authenticate(session.token)
    await built.accounts.update_profile(
        caller, ProfileUpdate(current_password=PASSWORD, password=NEW_PASSWORD), CLIENT
    )
    with pytest.raises(InvalidCredentials):
        await other.authenticate_password("ann@example.com", PASSWORD, CLIENT)


async def test_an_old_api_token_is_refused_at_once(built: Built) -> None:
    ann, _ = await built.sign_up()
    old = built.credentials.api_token(ann)
    new = await built.accounts.reset_api_token(Authenticated(ann), CLIENT)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_token(old)
    assert (await built.credentials.authenticate_token(new)).account.id == ann.id


def test_a_password_that_is_api_token_still_goes_with_its_email() -> None:
    assert is_token_credential("0123456789abcdef0123456789abcdef", "api_token")
    assert not is_token_credential("ann@example.com", "api_token")
    assert not is_token_credential("0123456789abcdef0123456789abcdef", "other")


async def test_basic_with_an_email_and_the_password_api_token_checks_the_password(
    built: Built,
) -> None:
    await built.accounts.sign_up(SignUp("ann@example.com", "api_token"), CLIENT)
    auth = await built.credentials.authenticate_basic("ann@example.com", "api_token", CLIENT)
    assert auth.account.email == "ann@example.com"


async def test_a_hash_made_with_weaker_parameters_is_replaced_on_log_in(built: Built) -> None:
    ann, _ = await built.sign_up()
    stronger = PasswordHasher(
        time_cost=2, memory_cost=1024, parallelism=1, processes=False, workers=1
    )
    try:
        credentials = Credentials(
            built.store,
            stronger,
            built.secrets,
            built.sessions,
            built.attempts,
            built.audit,
            built.clock,
            password_min_length=8,
            second_factor=built.second_factor,
        )
        account, _ = await credentials.log_in("ann@example.com", PASSWORD, False, CLIENT)
    finally:
        await stronger.close()
    assert account.password_hash != ann.password_hash
    assert not stronger.needs_rehash(account.password_hash)
    stored = await built.store.account_by_email("ann@example.com")
    assert stored is not None
    assert stored.password_hash == account.password_hash


async def test_basic_with_a_token_and_the_word_api_token_is_the_tokens_account(
    built: Built,
) -> None:
    ann, _ = await built.sign_up()
    token = built.credentials.api_token(ann)
    assert (await built.credentials.authenticate_basic(token, "api_token")).account.id == ann.id
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_basic(token[::-1], "api_token")


async def test_a_failed_basic_log_in_is_recorded_with_the_callers_address(built: Built) -> None:
    """The audit trail and the per-address limits both need the address (ASVS V7.1.3)."""
    ann, _ = await built.sign_up()
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_basic(ann.email, "wrong", CLIENT)
    await built.settle()
    [failed] = await built.store.events(ann.id, 0, 1)
    assert (failed.event, failed.detail, failed.ip) == ("log_in_failed", "basic", CLIENT.ip)
