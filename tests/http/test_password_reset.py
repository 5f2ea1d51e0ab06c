from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from punchclock.errors import ResetCodeInvalid
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User
from tests.support import basic, cookie_header, outbox, reset_code_in, session_from

NEW_PASSWORD = "a whole new password"


async def request_code(client: httpx.AsyncClient, app: App, email: str) -> httpx.Response:
    response = await client.post("/api/me/password_reset/request", json={"email": email})
    await app.drain()  # the code is made, queued and sent after the answer
    return response


async def confirm(client: httpx.AsyncClient, code: str, password: str) -> httpx.Response:
    return await client.post(f"/api/me/password_reset/confirm/{code}", json={"password": password})


async def test_reset_request_answers_the_same_for_known_and_unknown_emails(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    known = await request_code(client, app, user.email)
    unknown = await request_code(client, app, "nobody@example.com")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 200
    assert [m["To"].addresses[0].addr_spec for m in outbox(data_dir)] == [user.email]


async def test_reset_message_gives_the_code_and_the_confirm_url(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await request_code(client, app, user.email)
    [message] = outbox(data_dir)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    code = reset_code_in(message)
    assert len(code) >= 22  # at least 128 bits, URL-safe base64
    assert f"http://testserver/api/me/password_reset/confirm/{code}" in text
    assert f"\n    {code}\n" in text
    assert oct((data_dir / "outbox").stat().st_mode & 0o777) == "0o700"


async def test_reset_code_is_stored_only_as_a_hash(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await request_code(client, app, user.email)
    code = reset_code_in(outbox(data_dir)[0])
    database = (data_dir / "punchclock.sqlite3").read_bytes()
    wal = data_dir / "punchclock.sqlite3-wal"
    everything = database + (wal.read_bytes() if wal.exists() else b"")
    assert code.encode() not in everything


async def test_confirm_sets_the_password_ends_sessions_and_starts_a_new_one(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await request_code(client, app, user.email)
    response = await confirm(client, reset_code_in(outbox(data_dir)[0]), NEW_PASSWORD)
    assert response.status_code == 200
    new_session = session_from(response)
    assert (await client.get("/api/v9/me", headers=cookie_header(new_session))).status_code == 200
    assert (await client.get("/api/v9/me", headers=cookie_header(user.session))).status_code == 403
    assert (
        await client.get("/api/v9/me", headers=basic(user.email, user.password))
    ).status_code == 403
    assert (
        await client.get("/api/v9/me", headers=basic(user.email, NEW_PASSWORD))
    ).status_code == 200


async def test_reset_code_works_only_once(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await request_code(client, app, user.email)
    code = reset_code_in(outbox(data_dir)[0])
    assert (await confirm(client, code, NEW_PASSWORD)).status_code == 200
    again = await confirm(client, code, "yet another password")
    assert again.status_code == 400
    assert isinstance(again.json(), str)
    assert (
        await client.get("/api/v9/me", headers=basic(user.email, NEW_PASSWORD))
    ).status_code == 200


async def test_a_new_code_leaves_the_earlier_one_working_and_using_one_ends_both(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    # someone else asking for a code must not void the one the owner just received
    await request_code(client, app, user.email)
    await request_code(client, app, user.email)
    first, second = (reset_code_in(m) for m in outbox(data_dir))
    assert first != second
    assert (await confirm(client, first, NEW_PASSWORD)).status_code == 200
    assert (await confirm(client, second, "another new password")).status_code == 400


async def test_reset_code_expires_after_an_hour(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, clock: FixedClock
) -> None:
    await request_code(client, app, user.email)
    code = reset_code_in(outbox(data_dir)[0])
    clock.advance(3600)
    response = await confirm(client, code, NEW_PASSWORD)
    assert response.status_code == 400
    assert response.json() == "Password reset code is invalid or has expired"


async def test_reset_code_still_works_just_before_it_expires(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path, clock: FixedClock
) -> None:
    await request_code(client, app, user.email)
    clock.advance(3599)
    assert (await confirm(client, reset_code_in(outbox(data_dir)[0]), NEW_PASSWORD)).is_success


async def test_a_password_change_makes_an_outstanding_code_stop_working(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await request_code(client, app, user.email)
    await client.put(
        "/api/v9/me",
        headers=basic(user.email, user.password),
        json={"current_password": user.password, "password": "changed by the owner"},
    )
    assert (
        await confirm(client, reset_code_in(outbox(data_dir)[0]), NEW_PASSWORD)
    ).status_code == 400


async def test_confirm_with_a_weak_password_is_400_and_keeps_the_code_usable(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await request_code(client, app, user.email)
    code = reset_code_in(outbox(data_dir)[0])
    weak = await confirm(client, code, "short")
    assert weak.status_code == 400
    assert "at least 8" in weak.json()
    assert (await confirm(client, code, NEW_PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    "code", ["unknown-code-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", "a" * 500, "%00", "..%2E.."]
)
async def test_confirm_with_an_unknown_code_is_400(
    client: httpx.AsyncClient, user: User, code: str
) -> None:
    response = await confirm(client, code, NEW_PASSWORD)
    assert (response.status_code, response.json()) == (400, ResetCodeInvalid.message)


async def test_confirm_with_a_slash_in_the_code_is_no_route_404(
    client: httpx.AsyncClient, user: User
) -> None:
    """An encoded slash makes the path longer than the route's: no handler is reached."""
    response = await confirm(client, "..%2F..", NEW_PASSWORD)
    assert (response.status_code, response.json()) == (404, "Not found")


async def test_reset_request_with_a_malformed_email_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/me/password_reset/request", json={"email": "nope"})
    assert response.status_code == 400
    assert response.json() == "Invalid email"


async def test_reset_request_for_a_closed_account_sends_nothing(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await client.post("/api/me/close_account/track", headers=cookie_header(user.session))
    response = await request_code(client, app, user.email)
    assert response.status_code == 200
    assert outbox(data_dir) == []


async def test_confirm_refuses_a_password_made_of_the_users_words_and_keeps_the_code(
    client: httpx.AsyncClient, app: App, user: User, data_dir: Path
) -> None:
    await request_code(client, app, user.email)
    code = reset_code_in(outbox(data_dir)[0])
    refused = await confirm(client, code, "ann@example.com again")
    assert refused.status_code == 400
    assert "must not contain your email address" in refused.json()
    assert (await confirm(client, code, NEW_PASSWORD)).status_code == 200
