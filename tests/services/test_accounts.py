"""The account: a password change needs the current password and ends the other sessions;
changes of credentials are told to the old address; closing ends everything at once."""

from __future__ import annotations

import pytest

from punchclock.errors import (
    CurrentPasswordInvalid,
    CurrentPasswordMissing,
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
)
from punchclock.services.accounts import ProfileUpdate, SignUp
from punchclock.services.sessions import Authenticated
from tests.services.conftest import CLIENT, Built, events, link, mail
from tests.support import PASSWORD

NEW_PASSWORD = "a brand new password 7"


async def test_a_password_change_needs_the_current_password(built: Built) -> None:
    ann, _ = await built.sign_up()
    auth = Authenticated(ann)
    with pytest.raises(CurrentPasswordMissing):
        await built.accounts.update_profile(auth, ProfileUpdate(password=NEW_PASSWORD))
    with pytest.raises(CurrentPasswordInvalid):
        await built.accounts.update_profile(
            auth, ProfileUpdate(password=NEW_PASSWORD, current_password="wrong"), CLIENT
        )
    assert (await events(built))[-1] == ("log_in_failed", ann.id, "current_password")
    assert await built.credentials.authenticate_password(ann.email, PASSWORD)


async def test_a_password_change_ends_every_other_session_and_tells_the_address(
    built: Built,
) -> None:
    ann, first = await built.sign_up()
    _, second = await built.credentials.log_in(ann.email, PASSWORD, False, CLIENT)
    caller = await built.sessions.authenticate(first.token)
    await built.accounts.update_profile(
        caller, ProfileUpdate(current_password=PASSWORD, password=NEW_PASSWORD), CLIENT
    )
    assert (await built.sessions.authenticate(first.token)).account.id == ann.id
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(second.token)
    [told] = await built.store.list_mail()
    assert (told.recipient, told.subject) == (ann.email, "Your punchclock password was changed")


async def test_a_new_email_waits_for_its_link_and_is_then_told_to_the_old_address(
    built: Built,
) -> None:
    """Issue 11: the address changes only once the link mailed to it is followed; then
    the old address is told, with a link that undoes it."""
    ann, _ = await built.sign_up()
    await built.accounts.update_profile(
        Authenticated(ann), ProfileUpdate(email="a2@example.com", current_password=PASSWORD)
    )
    [asked] = await mail(built)
    assert (asked.to, asked.subject) == ("a2@example.com", "Confirm your new punchclock address")
    assert (await built.store.account_by_email("ann@example.com")) == ann  # not yet moved
    await built.email_changes.confirm(link(asked, "confirm"), CLIENT)
    [told] = await mail(built)
    assert (told.to, told.subject) == (
        "ann@example.com",
        "Your punchclock email address was changed",
    )
    assert link(told, "undo")
    assert (await built.store.account_by_email("a2@example.com")) is not None


async def test_a_bad_field_changes_nothing(built: Built) -> None:
    ann, _ = await built.sign_up()
    with pytest.raises(InvalidInput):
        await built.accounts.update_profile(
            Authenticated(ann), ProfileUpdate(fullname="New", timezone="Not/AZone")
        )
    assert await built.store.account_by_email(ann.email) == ann


async def test_a_taken_email_is_refused_whatever_its_case(built: Built) -> None:
    await built.sign_up("ann@example.com")
    with pytest.raises(EmailTaken):
        await built.accounts.sign_up(SignUp("ANN@example.com", PASSWORD), CLIENT)


async def test_closing_ends_the_sessions_the_token_and_the_password_at_once(
    built: Built,
) -> None:
    ann, session = await built.sign_up()
    token = built.credentials.api_token(ann)
    await built.accounts.close_account(Authenticated(ann), CLIENT)
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(session.token)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_token(token)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_password("ann@example.com", PASSWORD)
    assert ("account_closed", ann.id, None) in await events(built)
