"""Email changes (issue 11), pinned in the services: a stolen token or cookie is not enough
to move an account; a new address waits for its own link; the old address can undo the
move and secure the account; reset codes do not void each other."""

from __future__ import annotations

import pytest

from punchclock.errors import (
    CurrentPasswordInvalid,
    EmailChangeLinkInvalid,
    EmailChangeNeedsPassword,
    InvalidCredentials,
)
from punchclock.services.accounts import ProfileUpdate
from punchclock.services.sessions import Authenticated
from tests.services.conftest import CLIENT, Built, events, link, mail
from tests.services.test_resets import reset_code
from tests.support import PASSWORD

NEW = "ann.new@example.com"
NEW_PASSWORD = "a brand new password 7"


async def ask(built: Built, auth: Authenticated, email: str = NEW) -> None:
    await built.accounts.update_profile(
        auth, ProfileUpdate(email=email, current_password=PASSWORD), CLIENT
    )


async def test_a_stolen_session_alone_cannot_move_the_account(built: Built) -> None:
    ann, session = await built.sign_up()
    thief = await built.sessions.authenticate(session.token)
    with pytest.raises(EmailChangeNeedsPassword):
        await built.accounts.update_profile(thief, ProfileUpdate(email=NEW), CLIENT)
    with pytest.raises(CurrentPasswordInvalid):
        await built.accounts.update_profile(
            thief, ProfileUpdate(email=NEW, current_password="a guess"), CLIENT
        )
    assert await mail(built) == []
    assert (await events(built))[-1] == ("log_in_failed", ann.id, "current_password")
    assert await built.store.account_by_email(ann.email) == ann


async def test_the_same_address_in_another_case_is_no_move(built: Built) -> None:
    """Toggl's clients send the whole profile back, email included: no password needed."""
    ann, _ = await built.sign_up()
    await built.accounts.update_profile(
        Authenticated(ann), ProfileUpdate(email="ANN@example.com", fullname="Ann B")
    )
    assert await mail(built) == []
    assert (await built.store.account_by_email(ann.email)) is not None


async def test_a_taken_address_is_answered_alike_and_only_told(built: Built) -> None:
    ann, _ = await built.sign_up()
    await built.sign_up("bob@example.com")
    await ask(built, Authenticated(ann), "bob@example.com")  # no EmailTaken: tells nothing
    [told] = await mail(built)
    assert (told.to, told.subject) == ("bob@example.com", "Your punchclock address")
    assert "/email/confirm/" not in told.text
    assert ("email_change_requested", ann.id, "taken") in await events(built)


async def test_a_confirmation_link_works_once(built: Built) -> None:
    ann, _ = await built.sign_up()
    await ask(built, Authenticated(ann))
    [asked] = await mail(built)
    code = link(asked, "confirm")
    moved = await built.email_changes.confirm(code, CLIENT)
    assert moved.email == NEW
    with pytest.raises(EmailChangeLinkInvalid):
        await built.email_changes.confirm(code, CLIENT)


async def test_a_new_password_ends_a_pending_change(built: Built) -> None:
    """Whoever asked with the old password must not finish the move after the owner
    changed it."""
    ann, session = await built.sign_up()
    await ask(built, Authenticated(ann))
    [asked] = await mail(built)
    caller = await built.sessions.authenticate(session.token)
    await built.accounts.update_profile(
        caller, ProfileUpdate(current_password=PASSWORD, password=NEW_PASSWORD), CLIENT
    )
    with pytest.raises(EmailChangeLinkInvalid):
        await built.email_changes.confirm(link(asked, "confirm"), CLIENT)
    assert (await built.store.account_by_email(ann.email)) is not None


async def test_undo_restores_the_address_and_locks_the_mover_out(built: Built) -> None:
    ann, session = await built.sign_up()
    old_token = built.credentials.api_token(ann)
    await ask(built, Authenticated(ann))
    [asked] = await mail(built)
    await built.email_changes.confirm(link(asked, "confirm"), CLIENT)
    [told] = await mail(built)
    await built.email_changes.undo(link(told, "undo"), CLIENT)
    restored = await built.store.account_by_email(ann.email)
    assert restored is not None
    assert restored.email == ann.email
    assert await built.store.account_by_email(NEW) is None
    with pytest.raises(InvalidCredentials):
        await built.sessions.authenticate(session.token)
    with pytest.raises(InvalidCredentials):
        await built.credentials.authenticate_token(old_token)
    [reset] = await mail(built)  # the owner sets a new password from the old address
    assert reset.to == ann.email
    assert "or with this code:" in reset.text
    with pytest.raises(EmailChangeLinkInvalid):
        await built.email_changes.undo(link(told, "undo"), CLIENT)


async def test_a_later_reset_request_does_not_void_the_code_its_owner_holds(
    built: Built,
) -> None:
    await built.sign_up()
    first = await reset_code(built)
    await reset_code(built)  # someone else, knowing only the email, asks again
    _, issued = await built.resets.confirm_password_reset(first, NEW_PASSWORD, CLIENT)
    assert issued.token


async def test_closing_erases_the_mail_to_a_pending_address(built: Built) -> None:
    ann, _ = await built.sign_up()
    await ask(built, Authenticated(ann))
    await built.settle()
    assert [m.recipient for m in await built.store.list_mail()] == [NEW]
    await built.accounts.close_account(Authenticated(ann), CLIENT)
    await built.settle()
    assert await built.store.list_mail() == []
