"""Sessions: only their owner ends them; a dead session authenticates nobody."""

from __future__ import annotations

import pytest

from punchclock.errors import InvalidCredentials, SessionNotFound
from punchclock.services.accounts import SignUp
from punchclock.services.sessions import Authenticated, Sessions
from punchclock.tokens import SessionTokens
from tests.services.conftest import CLIENT, PUBLIC_URL, RING, Built, events
from tests.support import PASSWORD


async def test_log_out_with_another_accounts_cookie_ends_nothing_and_records_nothing(
    built: Built,
) -> None:
    """Bob, authenticated by Basic, sends Ann's cookie along: Ann's session goes on
    (ASVS 4.0.3 V3.3.1), and no session_ended is recorded for a session that did not end."""
    ann, ann_session = await built.sign_up("ann@example.com")
    bob, _ = await built.sign_up("bob@example.com")
    before = await events(built)

    await built.sessions.log_out(Authenticated(bob), ann_session.token, CLIENT)

    assert (await built.sessions.authenticate(ann_session.token)).account.id == ann.id
    assert await events(built) == before


async def test_log_out_by_basic_with_the_own_cookie_ends_that_session(built: Built) -> None:
    ann, session = await built.sign_up()
    await built.sessions.log_out(Authenticated(ann), session.token, CLIENT)
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(session.token)
    assert (await events(built))[-1] == ("session_ended", ann.id, "log_out")


async def test_log_out_with_a_forged_cookie_ends_nothing(built: Built) -> None:
    ann, session = await built.sign_up()
    await built.sessions.log_out(Authenticated(ann), session.token[:-4] + "AAAA", CLIENT)
    assert (await built.sessions.authenticate(session.token)).account.id == ann.id


async def test_another_accounts_session_id_is_not_found_and_lives_on(built: Built) -> None:
    ann, ann_session = await built.sign_up("ann@example.com")
    bob, _ = await built.sign_up("bob@example.com")
    [listed] = await built.sessions.list_sessions(Authenticated(ann))
    with pytest.raises(SessionNotFound):
        await built.sessions.end_session(Authenticated(bob), listed.id, CLIENT)
    assert (await built.sessions.authenticate(ann_session.token)).account.id == ann.id


async def test_ending_the_other_sessions_keeps_the_callers(built: Built) -> None:
    ann, first = await built.sign_up()
    _, second = await built.credentials.log_in(ann.email, PASSWORD, False, CLIENT)
    caller = await built.sessions.authenticate(first.token)
    await built.sessions.end_other_sessions(caller, CLIENT)
    assert (await built.sessions.authenticate(first.token)).jti == caller.jti
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(second.token)


async def test_an_idle_session_authenticates_nobody_and_is_purged(built: Built) -> None:
    sessions = Sessions(
        built.store,
        SessionTokens(RING, PUBLIC_URL, 28 * 24 * 3600),
        built.audit,
        built.background,
        built.clock,
        idle_timeout=600,
    )
    _, session = await built.sign_up()
    built.clock.advance(599)
    await sessions.authenticate(session.token)  # used: the idle time starts again
    await built.settle()
    built.clock.advance(599)
    await sessions.authenticate(session.token)
    await built.settle()
    built.clock.advance(601)
    with pytest.raises(InvalidCredentials):
        await sessions.authenticate(session.token)
    assert await sessions.purge_sessions() == 1


async def test_a_session_past_its_lifetime_authenticates_nobody(built: Built) -> None:
    _, session = await built.sign_up()
    built.clock.advance(28 * 24 * 3600 + 60)
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(session.token)
    assert await built.sessions.purge_sessions() == 1


async def test_a_sessions_use_is_recorded_at_most_once_a_minute(built: Built) -> None:
    ann, session = await built.sign_up()
    auth = Authenticated(ann)
    start = built.clock.now()
    built.clock.advance(30)
    await built.sessions.authenticate(session.token)
    await built.settle()
    built.clock.advance(20)
    await built.sessions.authenticate(session.token)
    await built.settle()
    [listed] = await built.sessions.list_sessions(auth)
    assert listed.last_used_at == start + 30 * 1_000_000


async def test_a_session_records_the_key_that_signed_it_and_its_remember_me(built: Built) -> None:
    """Retiring a key ends the sessions it signed: they must say which key that was."""
    ann, session = await built.accounts.sign_up(
        SignUp("ann@example.com", PASSWORD, remember_me=True), CLIENT
    )
    assert session.remember_me
    [listed] = await built.sessions.list_sessions(Authenticated(ann))
    assert listed.kid == RING.current.kid
    assert listed.remember_me
    assert await built.store.delete_sessions_signed_by(RING.current.kid) == 1
