"""Password resets: the answer tells nothing; a code works once, before it expires, and
ends every session."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from punchclock.errors import InvalidCredentials, PasswordRejected, ResetCodeInvalid
from punchclock.models import Account, Message
from punchclock.services.accounts import ProfileUpdate
from tests.services.conftest import CLIENT, RESET_CODE_TTL, Built, events
from tests.support import PASSWORD

NEW_PASSWORD = "a brand new password 7"


async def reset_code(built: Built, email: str = "ann@example.com") -> str:
    """Ask for a code and read it from the sealed message in the outbox."""
    await built.resets.request_password_reset(email, CLIENT)
    await built.settle()
    now = built.clock.now()
    [claimed] = await built.store.claim_mail("lease", now, now + 60_000_000, 1)
    message = msgspec.msgpack.decode(
        built.secrets.open_mail(claimed.sealed, claimed.id), type=Message
    )
    return message.text.split("or with this code:\n\n    ")[1].split("\n")[0]


async def test_a_request_for_an_unknown_email_queues_nothing_and_records_no_account(
    built: Built,
) -> None:
    await built.resets.request_password_reset("nobody@example.com", CLIENT)
    await built.settle()
    assert await built.store.list_mail() == []
    assert (await events(built))[-1] == ("reset_requested", None, None)


async def test_a_code_sets_the_password_ends_every_session_and_works_once(built: Built) -> None:
    ann, session = await built.sign_up()
    code = await reset_code(built)
    account, _ = await built.resets.confirm_password_reset(code, NEW_PASSWORD, CLIENT)
    assert account.id == ann.id
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(session.token)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_password("ann@example.com", PASSWORD, CLIENT)
    with pytest.raises(ResetCodeInvalid):
        await built.resets.confirm_password_reset(code, "yet another password 8", CLIENT)
    assert await built.credentials.authenticate_password("ann@example.com", NEW_PASSWORD)


async def test_two_confirmations_racing_with_one_code_set_one_password(built: Built) -> None:
    await built.sign_up()
    code = await reset_code(built)
    tries = [f"racing password number {n}" for n in range(4)]
    results = await asyncio.gather(
        *(built.resets.confirm_password_reset(code, p, CLIENT) for p in tries),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ResetCodeInvalid | tuple) for r in results)


async def test_an_expired_code_is_refused(built: Built) -> None:
    await built.sign_up()
    code = await reset_code(built)
    built.clock.advance(RESET_CODE_TTL + 1)
    with pytest.raises(ResetCodeInvalid):
        await built.resets.confirm_password_reset(code, NEW_PASSWORD, CLIENT)


async def test_a_refused_password_keeps_the_code_for_a_retry(built: Built) -> None:
    await built.sign_up()
    code = await reset_code(built)
    with pytest.raises(PasswordRejected):
        await built.resets.confirm_password_reset(code, "short", CLIENT)
    with pytest.raises(PasswordRejected):  # the user's own words, known only with the code
        await built.resets.confirm_password_reset(code, "ann@example.com is me", CLIENT)
    assert await built.resets.confirm_password_reset(code, NEW_PASSWORD, CLIENT)


async def test_a_password_change_made_meanwhile_kills_the_code(built: Built) -> None:
    """A code asked for before a change must not undo it."""
    _, session = await built.sign_up()
    code = await reset_code(built)
    caller = await built.sessions.authenticate(session.token)
    await built.accounts.update_profile(
        caller, ProfileUpdate(current_password=PASSWORD, password=NEW_PASSWORD), CLIENT
    )
    with pytest.raises(ResetCodeInvalid):
        await built.resets.confirm_password_reset(code, "the attackers password 9", CLIENT)


async def test_a_code_not_shaped_like_one_is_refused_without_a_lookup(built: Built) -> None:
    with pytest.raises(ResetCodeInvalid):
        await built.resets.confirm_password_reset("short", NEW_PASSWORD, CLIENT)
    assert (await events(built))[-1] == ("reset_failed", None, None)


async def test_a_request_looks_nothing_up_before_it_answers(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the timing tests measure, kept in the gate without a clock: the answer is
    ready before the email is looked up, known or not (OWASP Forgot Password CS)."""
    await built.sign_up()
    looked: list[str] = []
    lookup = built.store.account_by_email

    async def spied(email: str) -> Account | None:
        looked.append(email)
        return await lookup(email)

    monkeypatch.setattr(built.store, "account_by_email", spied)
    for email in ("ann@example.com", "nobody@example.com"):
        await built.resets.request_password_reset(email, CLIENT)
        assert looked == []
    await built.settle()
    assert sorted(looked) == ["ann@example.com", "nobody@example.com"]
