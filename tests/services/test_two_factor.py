"""Two-factor authentication (issue 19), pinned where its rules live: TwoFactor, SecondFactor,
Credentials.log_in and Resets, on a real SQLite store with a fixed clock; codes by pyotp."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pyotp
import pytest

from punchclock.config import RateLimits
from punchclock.errors import (
    AccountNotFound,
    CurrentPasswordInvalid,
    InvalidCredentials,
    PasswordNeedsSecondFactor,
    SecondFactorInvalid,
    SecondFactorRequired,
    Throttled,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotStarted,
)
from punchclock.models import Account, ClientInfo
from punchclock.services.sessions import Authenticated, IssuedSession
from punchclock.services.two_factor import TwoFactor
from punchclock.throttle import Throttle
from tests.conftest import FixedClock
from tests.services.conftest import CLIENT, Built, events, mail
from tests.services.test_resets import reset_code
from tests.support import PASSWORD

NEW_PASSWORD = "a brand new password 7"
RECOVERY_FORMAT = re.compile(r"[A-Z2-7]{6}(-[A-Z2-7]{6}){3}")


def code(secret: str, clock: FixedClock, steps: int = 0) -> str:
    """Return the TOTP code of `steps` time steps from the clock's now (pyotp, RFC 6238)."""
    return pyotp.TOTP(secret).at(clock.now() // 1_000_000 + 30 * steps)


@dataclass
class Enrolled:
    account: Account
    session: IssuedSession
    secret: str
    recovery: list[str]

    def auth(self) -> Authenticated:
        return Authenticated(self.account)


async def enrol(built: Built, email: str = "ann@example.com") -> Enrolled:
    """Sign up and turn two-factor on; the clock then moves to the next step, so that a
    fresh code is usable."""
    _, session = await built.sign_up(email)
    auth = await built.sessions.authenticate(session.token)
    enrolment = await built.two_factor.begin_enrolment(auth, CLIENT)
    recovery = await built.two_factor.enable(auth, code(enrolment.secret, built.clock), CLIENT)
    built.clock.advance(30)
    account = await built.store.account_by_email(email)
    assert account is not None
    return Enrolled(account, session, enrolment.secret, recovery)


# -- enrolment ---------------------------------------------------------------------------


async def test_enrolment_gives_a_160_bit_secret_a_uri_and_a_qr_code(built: Built) -> None:
    ann, session = await built.sign_up()
    auth = await built.sessions.authenticate(session.token)
    enrolment = await built.two_factor.begin_enrolment(auth, CLIENT)
    assert re.fullmatch(r"[A-Z2-7]{32}", enrolment.secret)  # 32 x 5 = 160 bits
    assert enrolment.otpauth_uri.startswith("otpauth://totp/punchclock:ann%40example.com?")
    assert f"secret={enrolment.secret}" in enrolment.otpauth_uri
    assert "issuer=punchclock" in enrolment.otpauth_uri
    assert enrolment.qr_svg.startswith("<svg")
    assert "<script" not in enrolment.qr_svg
    stored = await built.store.account_by_email(ann.email)
    assert stored is not None
    assert not stored.two_factor


async def test_a_code_from_the_new_secret_turns_it_on_with_10_recovery_codes(built: Built) -> None:
    enrolled = await enrol(built)
    assert enrolled.account.two_factor
    assert len(enrolled.recovery) == 10
    assert len(set(enrolled.recovery)) == 10
    assert all(RECOVERY_FORMAT.fullmatch(c) for c in enrolled.recovery)  # 24 x 5 = 120 bits


async def test_a_wrong_code_does_not_turn_it_on(built: Built) -> None:
    ann, session = await built.sign_up()
    auth = await built.sessions.authenticate(session.token)
    enrolment = await built.two_factor.begin_enrolment(auth, CLIENT)
    wrong = f"{(int(code(enrolment.secret, built.clock)) + 1) % 1_000_000:06d}"
    with pytest.raises(SecondFactorInvalid):
        await built.two_factor.enable(auth, wrong, CLIENT)
    stored = await built.store.account_by_email(ann.email)
    assert stored is not None
    assert not stored.two_factor


async def test_the_begun_enrolment_is_shown_again_until_it_is_confirmed(built: Built) -> None:
    _, session = await built.sign_up()
    auth = await built.sessions.authenticate(session.token)
    assert await built.two_factor.pending_enrolment(auth) is None  # nothing begun

    begun = await built.two_factor.begin_enrolment(auth, CLIENT)
    again = await built.two_factor.pending_enrolment(auth)

    assert again == begun  # the same key and QR code, read back from the sealed secret
    await built.two_factor.enable(auth, code(begun.secret, built.clock), CLIENT)
    on = await built.sessions.authenticate(session.token)
    assert await built.two_factor.pending_enrolment(on) is None  # confirmed: never shown again


async def test_enable_needs_a_begun_enrolment(built: Built) -> None:
    _, session = await built.sign_up()
    auth = await built.sessions.authenticate(session.token)
    with pytest.raises(TwoFactorNotStarted):
        await built.two_factor.enable(auth, "123456", CLIENT)


async def test_a_stolen_session_cannot_enrol_a_new_secret_once_it_is_on(built: Built) -> None:
    enrolled = await enrol(built)
    with pytest.raises(TwoFactorAlreadyEnabled):
        await built.two_factor.begin_enrolment(enrolled.auth(), CLIENT)
    # the secret is still the owner's
    await built.credentials.log_in(
        enrolled.account.email, PASSWORD, False, CLIENT, otp=code(enrolled.secret, built.clock)
    )


async def test_enrolling_ends_every_other_session_and_keeps_its_own(built: Built) -> None:
    _, enrolling = await built.sign_up()
    _, other = await built.credentials.log_in("ann@example.com", PASSWORD, False, CLIENT)
    auth = await built.sessions.authenticate(enrolling.token)
    enrolment = await built.two_factor.begin_enrolment(auth, CLIENT)
    await built.two_factor.enable(auth, code(enrolment.secret, built.clock), CLIENT)
    await built.sessions.authenticate(enrolling.token)
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(other.token)


# -- log-in --------------------------------------------------------------------------------


async def test_log_in_without_a_code_asks_for_one_with_a_ticket(built: Built) -> None:
    enrolled = await enrol(built)
    with pytest.raises(SecondFactorRequired) as required:
        await built.credentials.log_in(enrolled.account.email, PASSWORD, True, CLIENT)
    assert len(required.value.pending) >= 22  # >= 128 bits
    account, session = await built.two_factor.complete_log_in(
        required.value.pending, code(enrolled.secret, built.clock), CLIENT
    )
    assert account.id == enrolled.account.id
    assert session.remember_me


async def test_log_in_with_the_right_code_starts_a_session(built: Built) -> None:
    enrolled = await enrol(built)
    otp = code(enrolled.secret, built.clock)
    account, session = await built.credentials.log_in(
        enrolled.account.email, PASSWORD, False, CLIENT, otp=otp
    )
    assert (await built.sessions.authenticate(session.token)).account.id == account.id


async def test_a_wrong_code_is_refused_with_a_ticket_for_another_try(built: Built) -> None:
    enrolled = await enrol(built)
    with pytest.raises(SecondFactorInvalid) as refused:
        await built.credentials.log_in(
            enrolled.account.email, PASSWORD, False, CLIENT, otp="000000"
        )
    assert refused.value.pending
    await built.two_factor.complete_log_in(
        refused.value.pending, code(enrolled.secret, built.clock), CLIENT
    )


async def test_nothing_about_two_factor_is_told_before_the_password_is_right(
    built: Built,
) -> None:
    enrolled = await enrol(built)
    await built.sign_up("bob@example.com")
    answers = []
    for email in (enrolled.account.email, "bob@example.com", "nobody@example.com"):
        with pytest.raises(InvalidCredentials) as refused:
            await built.credentials.log_in(email, "wrong password", False, CLIENT, otp="123456")
        answers.append((type(refused.value), refused.value.message))
    assert len(set(answers)) == 1


async def test_a_code_is_accepted_once(built: Built) -> None:
    enrolled = await enrol(built)
    otp = code(enrolled.secret, built.clock)
    await built.credentials.log_in(enrolled.account.email, PASSWORD, False, CLIENT, otp=otp)
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in(enrolled.account.email, PASSWORD, False, CLIENT, otp=otp)


async def test_the_enrolment_code_cannot_log_in_again(built: Built) -> None:
    _, session = await built.sign_up()
    auth = await built.sessions.authenticate(session.token)
    enrolment = await built.two_factor.begin_enrolment(auth, CLIENT)
    otp = code(enrolment.secret, built.clock)
    await built.two_factor.enable(auth, otp, CLIENT)
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in("ann@example.com", PASSWORD, False, CLIENT, otp=otp)


async def test_the_window_is_the_current_step_and_the_one_before(built: Built) -> None:
    enrolled = await enrol(built)
    built.clock.advance(60)  # the step before is not the enrolment's (used already)
    email = enrolled.account.email
    for steps in (-2, 1):  # two steps ago, and the next one: never
        otp = code(enrolled.secret, built.clock, steps)
        with pytest.raises(SecondFactorInvalid):
            await built.credentials.log_in(email, PASSWORD, False, CLIENT, otp=otp)
    otp = code(enrolled.secret, built.clock, -1)  # a clock a step behind: yes
    await built.credentials.log_in(email, PASSWORD, False, CLIENT, otp=otp)


async def test_no_older_code_works_after_a_newer_one(built: Built) -> None:
    enrolled = await enrol(built)
    built.clock.advance(60)
    email = enrolled.account.email
    older = code(enrolled.secret, built.clock, -1)
    await built.credentials.log_in(
        email, PASSWORD, False, CLIENT, otp=code(enrolled.secret, built.clock)
    )
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in(email, PASSWORD, False, CLIENT, otp=older)


async def test_twenty_log_ins_racing_with_one_code_let_one_through(built: Built) -> None:
    enrolled = await enrol(built)
    otp = code(enrolled.secret, built.clock)
    tickets = []
    for _ in range(20):
        with pytest.raises(SecondFactorRequired) as required:
            await built.credentials.log_in(enrolled.account.email, PASSWORD, False, CLIENT)
        tickets.append(required.value.pending)
    results = await asyncio.gather(
        *(built.two_factor.complete_log_in(t, otp, CLIENT) for t in tickets),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, SecondFactorInvalid) for r in results if isinstance(r, Exception))


# -- the ticket between password and code ------------------------------------------------


async def test_a_ticket_is_used_once(built: Built) -> None:
    enrolled = await enrol(built)
    with pytest.raises(SecondFactorRequired) as required:
        await built.credentials.log_in(enrolled.account.email, PASSWORD, False, CLIENT)
    ticket = required.value.pending
    await built.two_factor.complete_log_in(ticket, code(enrolled.secret, built.clock), CLIENT)
    built.clock.advance(30)
    with pytest.raises(SecondFactorInvalid) as refused:
        await built.two_factor.complete_log_in(ticket, code(enrolled.secret, built.clock), CLIENT)
    assert refused.value.pending is None


async def test_a_ticket_expires_after_five_minutes(built: Built) -> None:
    enrolled = await enrol(built)
    with pytest.raises(SecondFactorRequired) as required:
        await built.credentials.log_in(enrolled.account.email, PASSWORD, False, CLIENT)
    built.clock.advance(301)
    with pytest.raises(SecondFactorInvalid):
        await built.two_factor.complete_log_in(
            required.value.pending, code(enrolled.secret, built.clock), CLIENT
        )


async def test_an_unknown_ticket_is_refused(built: Built) -> None:
    await enrol(built)
    for ticket in ("", "x" * 43, "y" * 5000):
        with pytest.raises(SecondFactorInvalid):
            await built.two_factor.complete_log_in(ticket, "123456", CLIENT)


# -- secrets at rest ---------------------------------------------------------------------


def raw(built: Built, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(built.store._db.execute("PRAGMA database_list").fetchone()[2])
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


async def test_the_secret_is_sealed_and_bound_to_its_account(built: Built) -> None:
    enrolled = await enrol(built)
    [(sealed,)] = raw(built, "SELECT totp_sealed FROM accounts")
    assert isinstance(sealed, bytes)
    assert enrolled.secret.encode() not in sealed
    assert built.secrets.open_totp(sealed, enrolled.account.accounts_id) == enrolled.secret
    with pytest.raises(ValueError, match="cannot be decrypted"):
        built.secrets.open_totp(sealed, "someone-else-0000000000")


async def test_recovery_codes_are_kept_only_as_hmacs(built: Built) -> None:
    enrolled = await enrol(built)
    stored = [row[0] for row in raw(built, "SELECT code_lookup FROM recovery_codes")]
    assert len(stored) == 10
    for spare in enrolled.recovery:
        plain = spare.replace("-", "").encode()
        assert all(plain not in s and spare.encode() not in s for s in stored)  # type: ignore[operator]


# -- recovery codes ----------------------------------------------------------------------


async def test_a_recovery_code_logs_in_once_whatever_its_case_and_dashes(built: Built) -> None:
    enrolled = await enrol(built)
    spare = enrolled.recovery[3]
    typed = spare.lower().replace("-", " ")
    await built.credentials.log_in(enrolled.account.email, PASSWORD, False, CLIENT, otp=typed)
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in(enrolled.account.email, PASSWORD, False, CLIENT, otp=spare)
    assert await built.store.recovery_codes_left(enrolled.account.id) == 9
    assert ("recovery_code_used", enrolled.account.id, None) in await events(built)


async def test_another_accounts_recovery_code_does_not_work(built: Built) -> None:
    ann = await enrol(built)
    bob = await enrol(built, "bob@example.com")
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in(
            bob.account.email, PASSWORD, False, CLIENT, otp=ann.recovery[0]
        )


# -- HTTP Basic email:password -------------------------------------------------------------


async def test_basic_email_password_is_refused_once_two_factor_is_on(built: Built) -> None:
    _, session = await built.sign_up()
    # a cached verification from before must not let it through either
    await built.credentials.authenticate_basic("ann@example.com", PASSWORD, CLIENT)
    auth = await built.sessions.authenticate(session.token)
    enrolment = await built.two_factor.begin_enrolment(auth, CLIENT)
    await built.two_factor.enable(auth, code(enrolment.secret, built.clock), CLIENT)
    with pytest.raises(PasswordNeedsSecondFactor):
        await built.credentials.authenticate_basic("ann@example.com", PASSWORD, CLIENT)
    # a wrong password says nothing of two-factor
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_basic("ann@example.com", "wrong password", CLIENT)
    token = built.credentials.api_token(auth.account)
    assert (await built.credentials.authenticate_basic(token, "api_token", CLIENT)).account


# -- password reset --------------------------------------------------------------------------


async def test_a_reset_sets_the_password_but_the_session_needs_the_code(built: Built) -> None:
    enrolled = await enrol(built)
    await mail(built)  # what enrolling sent
    reset = await reset_code(built)
    with pytest.raises(SecondFactorRequired) as required:
        await built.resets.confirm_password_reset(reset, NEW_PASSWORD, CLIENT)
    # the password is set and the code used, whatever happens next
    with pytest.raises(SecondFactorRequired):
        await built.credentials.log_in(enrolled.account.email, NEW_PASSWORD, False, CLIENT)
    assert not await built.resets.reset_code_is_live(reset)
    _, session = await built.two_factor.complete_log_in(
        required.value.pending, code(enrolled.secret, built.clock), CLIENT
    )
    assert await built.sessions.authenticate(session.token)


async def test_a_reset_with_a_wrong_code_issues_no_session(built: Built) -> None:
    await enrol(built)
    await mail(built)  # what enrolling sent
    reset = await reset_code(built)
    with pytest.raises(SecondFactorInvalid):
        await built.resets.confirm_password_reset(reset, NEW_PASSWORD, CLIENT, otp="000000")


async def test_a_reset_with_a_right_code_issues_the_session(built: Built) -> None:
    enrolled = await enrol(built)
    await mail(built)  # what enrolling sent
    reset = await reset_code(built)
    otp = code(enrolled.secret, built.clock)
    account, session = await built.resets.confirm_password_reset(reset, NEW_PASSWORD, CLIENT, otp)
    assert (await built.sessions.authenticate(session.token)).account.id == account.id


# -- turning it off, new recovery codes, the operator ---------------------------------------


async def test_disable_needs_the_password_and_a_code(built: Built) -> None:
    enrolled = await enrol(built)
    otp = code(enrolled.secret, built.clock)
    with pytest.raises(CurrentPasswordInvalid):
        await built.two_factor.disable(enrolled.auth(), otp, "wrong password", CLIENT)
    with pytest.raises(SecondFactorInvalid):
        await built.two_factor.disable(enrolled.auth(), "", PASSWORD, CLIENT)
    with pytest.raises(SecondFactorInvalid):
        await built.two_factor.disable(enrolled.auth(), "000000", PASSWORD, CLIENT)
    stored = await built.store.account_by_email(enrolled.account.email)
    assert stored is not None
    assert stored.two_factor
    account = await built.two_factor.disable(enrolled.auth(), otp, PASSWORD, CLIENT)
    assert not account.two_factor
    await built.credentials.log_in(account.email, PASSWORD, False, CLIENT)  # no code asked
    assert await built.store.recovery_codes_left(account.id) == 0


async def test_disable_takes_a_recovery_code_too(built: Built) -> None:
    enrolled = await enrol(built)
    account = await built.two_factor.disable(
        enrolled.auth(), enrolled.recovery[0], PASSWORD, CLIENT
    )
    assert not account.two_factor


async def test_disable_and_regenerate_refuse_when_it_is_off(built: Built) -> None:
    ann, _ = await built.sign_up()
    with pytest.raises(TwoFactorNotEnabled):
        await built.two_factor.disable(Authenticated(ann), "123456", PASSWORD, CLIENT)
    with pytest.raises(TwoFactorNotEnabled):
        await built.two_factor.regenerate_recovery_codes(Authenticated(ann), "123456", CLIENT)


async def test_new_recovery_codes_need_a_current_code_and_end_the_old_ones(
    built: Built,
) -> None:
    enrolled = await enrol(built)
    with pytest.raises(SecondFactorInvalid):  # a recovery code is not a current code
        await built.two_factor.regenerate_recovery_codes(
            enrolled.auth(), enrolled.recovery[0], CLIENT
        )
    fresh = await built.two_factor.regenerate_recovery_codes(
        enrolled.auth(), code(enrolled.secret, built.clock), CLIENT
    )
    assert len(fresh) == 10
    assert not set(fresh) & set(enrolled.recovery)
    email = enrolled.account.email
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in(email, PASSWORD, False, CLIENT, otp=enrolled.recovery[1])
    await built.credentials.log_in(email, PASSWORD, False, CLIENT, otp=fresh[0])


async def test_an_operator_removes_two_factor_and_the_owner_is_told(built: Built) -> None:
    enrolled = await enrol(built)
    await mail(built)  # what enrolling sent
    account = await built.two_factor.remove(enrolled.account.email)
    assert not account.two_factor
    await built.credentials.log_in(account.email, PASSWORD, False, CLIENT)
    [told] = await mail(built)
    assert told.to == account.email
    assert "operator" in told.text
    assert ("two_factor_removed", account.id, "operator") in await events(built)
    with pytest.raises(TwoFactorNotEnabled):
        await built.two_factor.remove(account.email)
    with pytest.raises(AccountNotFound):
        await built.two_factor.remove("nobody@example.com")


# -- the trail and the mail ------------------------------------------------------------------


async def test_each_change_is_in_the_trail_and_mailed(built: Built) -> None:
    enrolled = await enrol(built)
    email = enrolled.account.email
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in(email, PASSWORD, False, CLIENT, otp="000000")
    await built.credentials.log_in(email, PASSWORD, False, CLIENT, otp=enrolled.recovery[0])
    built.clock.advance(30)
    await built.two_factor.regenerate_recovery_codes(
        enrolled.auth(), code(enrolled.secret, built.clock), CLIENT
    )
    built.clock.advance(30)
    await built.two_factor.disable(
        enrolled.auth(), code(enrolled.secret, built.clock), PASSWORD, CLIENT
    )
    trail = [(event, detail) for event, _, detail in await events(built)]
    for seen in (
        ("two_factor_enabled", None),
        ("two_factor_failed", None),
        ("recovery_code_used", None),
        ("recovery_codes_replaced", None),
        ("two_factor_disabled", None),
    ):
        assert seen in trail
    subjects = {m.subject for m in await mail(built)}
    assert subjects == {
        "Two-factor authentication is on for your punchclock account",
        "A punchclock recovery code was used",
        "New punchclock recovery codes",
        "Two-factor authentication is off for your punchclock account",
    }


async def test_an_other_client_is_recorded_with_the_refusal(built: Built) -> None:
    enrolled = await enrol(built)
    stranger = ClientInfo(ip="198.51.100.9", user_agent="stranger")
    with pytest.raises(SecondFactorInvalid):
        await built.credentials.log_in(
            enrolled.account.email, PASSWORD, False, stranger, otp="000000"
        )
    await built.settle()
    refusals = await built.store.events(enrolled.account.id, 0, 100)
    assert any(e.event == "two_factor_failed" and e.ip == stranger.ip for e in refusals)


# -- the limits on codes: a real throttle with the default limits -------------------------


@pytest.fixture
async def limited(built: Built) -> AsyncIterator[Built]:
    throttle = Throttle.in_memory(RateLimits(), b"k" * 32)
    again = built.with_limits(throttle)
    yield again
    await again.background.drain()
    await throttle.close()


def address(n: int) -> ClientInfo:
    return ClientInfo(ip=f"198.51.100.{n}", user_agent="stranger")


async def wrong_codes(built: Built, email: str, client: ClientInfo, times: int) -> None:
    for _ in range(times):
        with pytest.raises(SecondFactorInvalid):
            await built.credentials.log_in(email, PASSWORD, False, client, otp="000000")


async def test_a_few_typos_do_not_block_the_owner(limited: Built) -> None:
    enrolled = await enrol(limited)
    email = enrolled.account.email
    await wrong_codes(limited, email, CLIENT, 4)
    otp = code(enrolled.secret, limited.clock)
    await limited.credentials.log_in(email, PASSWORD, False, CLIENT, otp=otp)


async def test_wrong_codes_are_throttled_per_account_and_address(limited: Built) -> None:
    enrolled = await enrol(limited)
    email = enrolled.account.email
    await wrong_codes(limited, email, address(1), 5)
    otp = code(enrolled.secret, limited.clock)
    with pytest.raises(Throttled):  # even the right code, from there
        await limited.credentials.log_in(email, PASSWORD, False, address(1), otp=otp)
    with pytest.raises(SecondFactorRequired) as required:  # the password is not held back
        await limited.credentials.log_in(email, PASSWORD, False, address(1))
    with pytest.raises(Throttled):  # the code is, through a ticket too
        await limited.two_factor.complete_log_in(required.value.pending, otp, address(1))
    await limited.credentials.log_in(email, PASSWORD, False, CLIENT, otp=otp)  # elsewhere: yes
    assert ("throttled", enrolled.account.id, "code") in await events(limited)


async def test_a_flood_of_wrong_codes_does_not_keep_the_owner_out(limited: Built) -> None:
    """Strangers from many addresses fill the account-wide count; the owner, from an address
    that passed a code before, is judged by that address's failures only."""
    enrolled = await enrol(limited)
    email = enrolled.account.email
    limited.clock.advance(30)
    otp = code(enrolled.secret, limited.clock)
    await limited.credentials.log_in(email, PASSWORD, False, CLIENT, otp=otp)  # CLIENT is known
    for n in range(1, 4):
        await wrong_codes(limited, email, address(n), 4 if n < 3 else 2)
    with pytest.raises(Throttled):  # 10 a minute on the account, for strangers
        await limited.credentials.log_in(email, PASSWORD, False, address(9), otp="000000")
    limited.clock.advance(30)
    otp = code(enrolled.secret, limited.clock)
    await limited.credentials.log_in(email, PASSWORD, False, CLIENT, otp=otp)


async def test_wrong_codes_and_wrong_passwords_are_counted_apart(limited: Built) -> None:
    enrolled = await enrol(limited)
    email = enrolled.account.email
    await wrong_codes(limited, email, address(1), 5)
    # the password still works from there: it is the code that is held back
    with pytest.raises(SecondFactorRequired):
        await limited.credentials.log_in(email, PASSWORD, False, address(1))
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await limited.credentials.log_in(email, "wrong password", False, address(2))
    otp = code(enrolled.secret, limited.clock)
    await limited.credentials.log_in(email, PASSWORD, False, address(2), otp=otp)


async def test_the_issuer_is_the_one_configured(built: Built) -> None:
    two_factor = TwoFactor(
        built.store,
        built.secrets,
        built.credentials,
        built.second_factor,
        built.sessions,
        built.notices,
        built.audit,
        built.attempts,
        built.clock,
        issuer="Acme Time",
    )
    _, session = await built.sign_up()
    enrolment = await two_factor.begin_enrolment(
        await built.sessions.authenticate(session.token), CLIENT
    )
    assert enrolment.otpauth_uri.startswith("otpauth://totp/Acme%20Time:ann%40example.com?")
    assert "issuer=Acme%20Time" in enrolment.otpauth_uri
