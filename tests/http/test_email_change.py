"""Changing the email: a stolen token or cookie must not be enough to take the account
(issue 11, point 1).

A change needs the current password, and waits until a link mailed to the new address
is followed; the old address is then told, with a link that undoes the change and
secures the account. Asking for a taken address answers as asking for a free one.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, sign_up
from tests.http.test_audit_trail import recorded
from tests.support import (
    FORBIDDEN,
    PASSWORD,
    basic,
    cookie_header,
    outbox,
    reset_code_in,
    session_from,
    token_auth,
)

NEW = "ann.new@example.com"
HOUR = 3600
DAY = 24 * HOUR
LINK = re.compile(r"http://testserver/email/(confirm|undo)/([A-Za-z0-9_-]{40,})")
INVALID_LINK = "Email change link is invalid or has expired"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PUNCHCLOCK_EMAIL_CHANGE_LIMIT_PER_ACCOUNT": "3/hour"}


def to(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec)


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(message: EmailMessage, kind: str) -> str:
    found = [code for k, code in LINK.findall(text(message)) if k == kind]
    assert len(found) == 1, text(message)
    return str(found[0])


async def mail_to(app: App, data_dir: Path, address: str) -> list[EmailMessage]:
    await app.drain()
    return [m for m in outbox(data_dir) if to(m).lower() == address.lower()]


async def ask(
    client: httpx.AsyncClient, user: User, email: str, password: str | None = PASSWORD, **auth: Any
) -> httpx.Response:
    body: dict[str, object] = {"email": email}
    if password is not None:
        body["current_password"] = password
    headers = auth.get("headers", token_auth(user.token))
    return await client.put("/api/v9/me", json=body, headers=headers)


async def me(client: httpx.AsyncClient, user: User) -> dict[str, Any]:
    response = await client.get("/api/v9/me", headers=token_auth(user.token))
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def changed_to_new(client: httpx.AsyncClient, app: App, user: User, data_dir: Path) -> None:
    assert (await ask(client, user, NEW)).status_code == 200
    [confirmation] = await mail_to(app, data_dir, NEW)
    code = link_in(confirmation, "confirm")
    confirmed = await client.post(f"/api/me/email_change/confirm/{code}")
    assert (confirmed.status_code, confirmed.json()) == (200, "OK")


# -- a stolen token or cookie is not enough ---------------------------------------------------


@pytest.mark.parametrize("credential", ["token", "cookie"])
async def test_a_stolen_token_or_cookie_alone_cannot_change_the_email(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, credential: str
) -> None:
    headers = token_auth(user.token) if credential == "token" else cookie_header(user.session)
    response = await ask(client, user, "mallory@example.com", None, headers=headers)
    assert response.status_code == 400
    assert response.json() == "Current password must be present to change email"
    assert (await me(client, user))["email"] == user.email
    assert await mail_to(app, data_dir, "mallory@example.com") == []


async def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_log_in(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    response = await ask(client, user, "mallory@example.com", "not the password")
    assert (response.status_code, response.json()) == (400, "Current password is not valid")
    assert (await me(client, user))["email"] == user.email
    assert await mail_to(app, data_dir, "mallory@example.com") == []


async def test_the_new_email_waits_for_its_link_and_me_shows_the_old_one(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    response = await ask(client, user, NEW)
    assert response.status_code == 200
    assert response.json()["email"] == user.email
    assert (await me(client, user))["email"] == user.email
    # the old email still logs in, the new one not yet
    assert (await client.get("/api/v9/me", headers=basic(user.email, PASSWORD))).is_success
    assert (await client.get("/api/v9/me", headers=basic(NEW, PASSWORD))).status_code == 403
    [confirmation] = await mail_to(app, data_dir, NEW)
    code = link_in(confirmation, "confirm")
    confirmed = await client.post(f"/api/me/email_change/confirm/{code}")
    assert (confirmed.status_code, confirmed.json()) == (200, "OK")
    assert (await me(client, user))["email"] == NEW
    assert (await client.get("/api/v9/me", headers=basic(NEW, PASSWORD))).is_success
    assert (await client.get("/api/v9/me", headers=basic(user.email, PASSWORD))).status_code == 403
    again = await client.post(f"/api/me/email_change/confirm/{code}")  # single use
    assert (again.status_code, again.json()) == (400, INVALID_LINK)


async def test_a_confirmation_link_lasts_24_hours(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, clock: FixedClock
) -> None:
    await ask(client, user, NEW)
    [confirmation] = await mail_to(app, data_dir, NEW)
    clock.advance(DAY)
    late = await client.post(f"/api/me/email_change/confirm/{link_in(confirmation, 'confirm')}")
    assert (late.status_code, late.json()) == (400, INVALID_LINK)
    assert (await me(client, user))["email"] == user.email


async def test_opening_a_link_never_uses_it_mail_scanners_do_that(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await ask(client, user, NEW)
    [confirmation] = await mail_to(app, data_dir, NEW)
    code = link_in(confirmation, "confirm")
    for _ in range(2):
        page = await client.get(f"/email/confirm/{code}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert f'action="http://testserver/api/me/email_change/confirm/{code}"' in page.text
        assert 'method="post"' in page.text
        assert page.headers["cache-control"] == "no-store"
    assert (await me(client, user))["email"] == user.email
    assert (await client.post(f"/api/me/email_change/confirm/{code}")).status_code == 200


# -- the old address can undo it ------------------------------------------------------------


async def test_the_old_address_is_told_with_a_link_that_undoes_the_change(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await changed_to_new(client, app, user, data_dir)
    [notice] = [m for m in await mail_to(app, data_dir, user.email) if "email" in str(m["Subject"])]
    assert notice["Subject"] == "Your punchclock email address was changed"
    assert NEW in text(notice)
    assert "7 days" in text(notice)
    link_in(notice, "undo")


async def test_the_undo_link_restores_the_email_ends_every_session_and_token_and_sends_a_reset(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    # the attacker, with the password, moves the account to their address...
    attackers_session = session_from(
        await client.post("/api/sessions", json={"email": user.email, "password": PASSWORD})
    )
    await changed_to_new(client, app, user, data_dir)
    [notice] = [m for m in await mail_to(app, data_dir, user.email) if "email" in str(m["Subject"])]
    # ...and the owner follows the link in the notice at the old address
    undone = await client.post(f"/api/me/email_change/undo/{link_in(notice, 'undo')}")
    assert (undone.status_code, undone.json()) == (200, "OK")
    for credential in (
        token_auth(user.token),
        cookie_header(user.session),
        cookie_header(attackers_session),
        basic(NEW, PASSWORD),
    ):
        refused = await client.get("/api/v9/me", headers=credential)
        assert (refused.status_code, refused.json()) == (403, FORBIDDEN)
    # a reset code went to the restored address: the owner sets a new password with it
    resets = [m for m in await mail_to(app, data_dir, user.email) if "Reset" in str(m["Subject"])]
    code = reset_code_in(resets[-1])
    reset = await client.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": "the owner's new one"}
    )
    assert reset.status_code == 200
    assert reset.json()["email"] == user.email
    assert reset.json()["api_token"] != user.token
    used = await client.post(f"/api/me/email_change/undo/{link_in(notice, 'undo')}")
    assert (used.status_code, used.json()) == (400, INVALID_LINK)


async def test_an_undo_link_lasts_7_days(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, clock: FixedClock
) -> None:
    await changed_to_new(client, app, user, data_dir)
    [notice] = [m for m in await mail_to(app, data_dir, user.email) if "email" in str(m["Subject"])]
    clock.advance(7 * DAY)
    late = await client.post(f"/api/me/email_change/undo/{link_in(notice, 'undo')}")
    assert (late.status_code, late.json()) == (400, INVALID_LINK)
    assert (await me(client, user))["email"] == NEW


async def test_a_reset_code_sent_to_the_old_address_dies_when_the_email_changes(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    [old_mail] = await mail_to(app, data_dir, user.email)
    await changed_to_new(client, app, user, data_dir)
    late = await client.post(
        f"/api/me/password_reset/confirm/{reset_code_in(old_mail)}",
        json={"password": "a password for later"},
    )
    assert late.status_code == 400


# -- no enumeration, no mail cannon -----------------------------------------------------------


async def test_a_taken_email_answers_exactly_like_a_free_one(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, hashes: list[str]
) -> None:
    bob = await sign_up(client, email="bob@example.com")
    before = len(hashes)
    taken = await ask(client, user, bob.email.upper())
    cost_taken = len(hashes) - before
    before = len(hashes)
    free = await ask(client, user, "free@example.com")
    cost_free = len(hashes) - before
    assert (taken.status_code, taken.headers.get("content-type")) == (
        free.status_code,
        free.headers.get("content-type"),
    )
    assert taken.status_code == 200
    assert set(taken.json()) == set(free.json())
    assert taken.json()["email"] == free.json()["email"] == user.email
    assert cost_taken == cost_free
    # the taken address is told that an account already exists, with no link to follow
    [told] = await mail_to(app, data_dir, bob.email)
    assert "already" in text(told)
    assert not LINK.search(text(told))
    assert (await me(client, user))["email"] == user.email
    assert (await client.get("/api/v9/me", headers=token_auth(bob.token))).json()[
        "email"
    ] == bob.email


async def test_email_changes_are_limited_per_account(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    answers = [(await ask(client, user, f"probe{n}@example.com")).status_code for n in range(4)]
    assert answers == [200, 200, 200, 429]
    await app.drain()
    assert len([m for m in outbox(data_dir) if to(m).startswith("probe")]) == 3


async def test_the_same_email_in_other_letters_needs_no_password_nor_link(
    client: httpx.AsyncClient, user: User
) -> None:
    # Toggl's clients send the whole profile back, email included
    response = await client.put(
        "/api/v9/me",
        json={"email": user.email.upper(), "fullname": "Ann B"},
        headers=token_auth(user.token),
    )
    assert response.status_code == 200
    assert response.json()["email"] == user.email.upper()


async def test_a_new_password_ends_a_pending_change(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await ask(client, user, NEW)
    [confirmation] = await mail_to(app, data_dir, NEW)
    changed = await client.put(
        "/api/v9/me",
        json={"current_password": PASSWORD, "password": "the owner's new one"},
        headers=token_auth(user.token),
    )
    assert changed.status_code == 200
    late = await client.post(f"/api/me/email_change/confirm/{link_in(confirmation, 'confirm')}")
    assert (late.status_code, late.json()) == (400, INVALID_LINK)


async def test_link_codes_are_stored_only_as_hashes(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await changed_to_new(client, app, user, data_dir)
    await app.drain()
    codes = [code for message in outbox(data_dir) for _, code in LINK.findall(text(message))]
    assert len(codes) == 2  # the confirmation and the undo
    database = (data_dir / "punchclock.sqlite3").read_bytes()
    wal = data_dir / "punchclock.sqlite3-wal"
    everything = database + (wal.read_bytes() if wal.exists() else b"")
    for code in codes:
        assert code.encode() not in everything


@pytest.mark.parametrize("kind", ["confirm", "undo"])
async def test_a_made_up_link_is_400(client: httpx.AsyncClient, kind: str) -> None:
    for code in ("A" * 43, "x", "%00" * 10):
        response = await client.post(f"/api/me/email_change/{kind}/{code}")
        assert (response.status_code, response.json()) == (400, INVALID_LINK)


async def test_every_step_is_recorded_in_the_audit_trail(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, settings: Settings
) -> None:
    await sign_up(client, email="bob@example.com")
    await ask(client, user, "bob@example.com")  # taken
    await changed_to_new(client, app, user, data_dir)
    [notice] = [m for m in await mail_to(app, data_dir, user.email) if "email" in str(m["Subject"])]
    await client.post(f"/api/me/email_change/undo/{link_in(notice, 'undo')}")
    await client.post(f"/api/me/email_change/undo/{link_in(notice, 'undo')}")  # used
    ann = user.me["id"]
    events = [(e.event, e.account_id, e.detail) for e in await recorded(app, settings)]
    assert ("email_change_requested", ann, "taken") in events
    assert ("email_change_requested", ann, None) in events
    assert ("email_changed", ann, None) in events
    assert ("email_change_undone", ann, None) in events
    assert ("email_change_failed", None, "undo") in events
