"""A changed password or email address is told to the account's address (ASVS 4.0.3 V2.2.3,
ASVS 5 V6.3.7): its owner learns of a change they did not make."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import httpx

from punchclock.web.asgi import App
from tests.conftest import User, sign_up
from tests.support import outbox, reset_code_in, token_auth


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def notices(app: App, data_dir: Path) -> list[tuple[str, str, str]]:
    await app.drain()  # queued with the change, sent by the outbox sender
    return [(m["To"].addresses[0].addr_spec, m["Subject"], text_of(m)) for m in outbox(data_dir)]


async def test_a_password_change_is_told_to_the_account_with_when_and_from_where(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    changed = await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"current_password": user.password, "password": "a fresh passphrase"},
    )
    assert changed.status_code == 200
    [(to, subject, text)] = await notices(app, data_dir)
    assert (to, subject) == (user.email, "Your punchclock password was changed")
    assert "from the address 203.0.113.7" in text
    assert "password_reset/request" in text
    assert "a fresh passphrase" not in text
    assert user.password not in text


async def test_a_new_email_address_is_told_to_the_old_one_and_nothing_else_is(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    headers = token_auth(user.token)
    assert (await client.put("/api/v9/me", headers=headers, json={"fullname": "Ann B"})).is_success
    same = {"email": user.email.upper()}  # the same address in other letters: no change
    assert (await client.put("/api/v9/me", headers=headers, json=same)).is_success
    assert await notices(app, data_dir) == []
    moved = {"email": "ann.b@example.com", "current_password": user.password}
    assert (await client.put("/api/v9/me", headers=headers, json=moved)).is_success
    # the new address is asked to confirm; the old one is told once it has
    [(to, subject, text)] = await notices(app, data_dir)
    assert (to, subject) == ("ann.b@example.com", "Confirm your new punchclock address")
    code = text.split("/email/confirm/")[1].split()[0]
    assert (await client.post(f"/api/me/email_change/confirm/{code}")).is_success
    [_, (to, subject, text)] = await notices(app, data_dir)
    assert (to, subject) == (user.email.upper(), "Your punchclock email address was changed")
    assert "ann.b@example.com" in text


async def test_a_change_that_fails_tells_nothing(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    other = await sign_up(client, email="bob@example.com")
    taken = await client.put(
        "/api/v9/me", headers=token_auth(user.token), json={"email": other.email}
    )
    assert taken.status_code == 400  # no current_password
    wrong = await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"current_password": "not my password", "password": "a fresh passphrase"},
    )
    assert wrong.status_code == 400
    assert await notices(app, data_dir) == []


async def test_a_password_reset_is_told_to_the_account_after_the_code(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    assert len(await notices(app, data_dir)) == 1  # the code
    code = reset_code_in(outbox(data_dir)[0])
    confirmed = await client.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": "reset to this one"}
    )
    assert confirmed.status_code == 200
    sent = await notices(app, data_dir)
    assert [(to, subject) for to, subject, _ in sent] == [
        (user.email, "Reset your punchclock password"),
        (user.email, "Your punchclock password was reset"),
    ]
    assert code not in sent[1][2]
