"""What each verb records in the audit trail, and the limits each attempt counts towards,
pinned where they are applied (ASVS 4.0.3 V7.1.3 and V2.2.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from punchclock.config import RateLimits
from punchclock.errors import (
    CurrentPasswordInvalid,
    InvalidCredentials,
    ResetCodeInvalid,
    Throttled,
)
from punchclock.models import AuditEvent, ClientInfo
from punchclock.services.accounts import ProfileUpdate
from punchclock.services.sessions import Authenticated
from punchclock.throttle import Throttle
from tests.services.conftest import CLIENT, RESET_CODE_TTL, Built
from tests.services.test_resets import reset_code
from tests.support import PASSWORD

OTHER = ClientInfo(ip="198.51.100.9", user_agent="elsewhere")


async def trail(built: Built) -> list[AuditEvent]:
    await built.settle()
    return list(reversed(await built.store.events(None, 0, 1000)))


def seen(event: AuditEvent) -> tuple[str, int | None, str, str, str | None]:
    return (event.event, event.account_id, event.ip, event.user_agent, event.detail)


async def test_ending_sessions_records_who_which_and_from_where(built: Built) -> None:
    ann, first = await built.sign_up()
    _, second = await built.credentials.log_in(ann.email, PASSWORD, False, CLIENT)
    caller = await built.sessions.authenticate(first.token)
    listed = await built.sessions.list_sessions(caller)
    other = next(s for s in listed if s.jti != caller.jti)
    await built.sessions.end_session(caller, other.id, OTHER)
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(second.token)
    await built.sessions.end_other_sessions(caller, CLIENT)
    await built.sessions.log_out(Authenticated(ann), first.token, OTHER)
    assert [seen(e) for e in (await trail(built))[-3:]] == [
        ("session_ended", ann.id, OTHER.ip, OTHER.user_agent, "by_id"),
        ("session_ended", ann.id, CLIENT.ip, CLIENT.user_agent, "others"),
        ("session_ended", ann.id, OTHER.ip, OTHER.user_agent, "log_out"),
    ]


async def test_log_out_by_basic_without_a_cookie_ends_nothing(built: Built) -> None:
    ann, session = await built.sign_up()
    await built.sessions.log_out(Authenticated(ann), None, CLIENT)
    assert (await built.sessions.authenticate(session.token)).account.id == ann.id


async def test_an_expired_session_is_not_listed(built: Built) -> None:
    ann, _ = await built.sign_up()
    built.clock.advance(28 * 24 * 3600 + 1)
    assert await built.sessions.list_sessions(Authenticated(ann)) == []


async def test_the_reset_records_who_and_from_where_and_tells_the_address(built: Built) -> None:
    ann, _ = await built.sign_up()
    code = await reset_code(built)
    with pytest.raises(ResetCodeInvalid):
        await built.resets.confirm_password_reset("a" * 43, "a brand new password 7", OTHER)
    _, session = await built.resets.confirm_password_reset(code, "a brand new password 7", OTHER)
    assert not session.remember_me  # a reset's session ends with the browser's
    events = [seen(e) for e in await trail(built)]
    assert ("reset_requested", ann.id, CLIENT.ip, CLIENT.user_agent, None) in events
    assert events[-2:] == [
        ("reset_failed", None, OTHER.ip, OTHER.user_agent, None),
        ("reset_completed", ann.id, OTHER.ip, OTHER.user_agent, None),
    ]
    subjects = [m.subject for m in await built.store.list_mail()]
    assert "Your punchclock password was reset" in subjects


async def test_a_code_expires_at_its_time_to_the_microsecond(built: Built) -> None:
    await built.sign_up()
    code = await reset_code(built)  # asked at the clock's now
    built.clock.advance(RESET_CODE_TTL)
    with pytest.raises(ResetCodeInvalid):
        await built.resets.confirm_password_reset(code, "a brand new password 7", CLIENT)


# -- the limits: a real throttle, counting in this process -------------------------------


@pytest.fixture
async def limited(built: Built) -> AsyncIterator[Built]:
    """The services again, with limits of 2 for everything but sign-ups."""
    throttle = Throttle.in_memory(
        RateLimits(
            log_in_per_account="3/hour",
            log_in_per_account_and_ip="2/hour",
            reset_request_per_email="2/hour",
            reset_request_per_ip="100/hour",
            reset_confirm_per_ip="2/hour",
        ),
        b"k" * 32,
    )
    again = built.with_limits(throttle)
    yield again
    await again.background.drain()
    await throttle.close()


async def test_failed_log_ins_are_limited_per_account_and_address(limited: Built) -> None:
    ann, _ = await limited.sign_up()
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await limited.credentials.log_in(ann.email, "wrong", False, CLIENT)
    with pytest.raises(Throttled):  # this address has had its two
        await limited.credentials.log_in(ann.email, PASSWORD, False, CLIENT)
    # elsewhere, the owner still gets in: the per-account limit (3) is laxer
    assert await limited.credentials.log_in(ann.email, PASSWORD, False, OTHER)
    assert ("throttled", ann.id, CLIENT.ip, CLIENT.user_agent, "password") in [
        seen(e) for e in await trail(limited)
    ]


async def test_a_wrong_current_password_counts_as_a_failed_log_in(limited: Built) -> None:
    ann, _ = await limited.sign_up()
    change = ProfileUpdate(current_password="wrong", password="a brand new password 7")
    for _ in range(2):
        with pytest.raises(CurrentPasswordInvalid):
            await limited.accounts.update_profile(Authenticated(ann), change, CLIENT)
    with pytest.raises(Throttled):
        await limited.credentials.authenticate_password(ann.email, PASSWORD, CLIENT)
    assert [seen(e) for e in await trail(limited)][1] == (
        "log_in_failed",
        ann.id,
        CLIENT.ip,
        CLIENT.user_agent,
        "current_password",
    )


async def test_reset_mail_is_limited_per_email_yet_no_request_is_refused(limited: Built) -> None:
    """Issue 11: beyond the email's limit a request is answered like any other and mails
    nothing, so that someone who knows only the email can neither flood its inbox nor
    keep its owner from asking (a 429 per email would do the latter)."""
    await limited.sign_up("ann@example.com")
    await limited.sign_up("bob@example.com")
    for client in (CLIENT, OTHER, CLIENT):  # the third, from either address, is not refused
        await limited.resets.request_password_reset("ann@example.com", client)
    await limited.resets.request_password_reset("bob@example.com", CLIENT)
    await limited.settle()
    sent = [m.recipient for m in await limited.store.list_mail()]
    assert sorted(sent) == ["ann@example.com", "ann@example.com", "bob@example.com"]


async def test_reset_confirmations_are_limited_per_address(limited: Built) -> None:
    for _ in range(2):
        with pytest.raises(ResetCodeInvalid):
            await limited.resets.confirm_password_reset("a" * 43, "a new password 77", CLIENT)
    with pytest.raises(Throttled):
        await limited.resets.confirm_password_reset("a" * 43, "a new password 77", CLIENT)
    with pytest.raises(ResetCodeInvalid):  # another address is not held up
        await limited.resets.confirm_password_reset("a" * 43, "a new password 77", OTHER)
