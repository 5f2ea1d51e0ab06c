"""The two-factor pages through the ASGI app in process: the code step of the log-in and of
a reset, its ticket cookie, setting up, turning off, new recovery codes; and what a thief
of a cookie, another site's page or a guesser can do with them. The rules themselves are
services/two_factor.py's (tests/services/test_two_factor.py); these pin the pages' part."""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyotp
import pytest

from punchclock.config import Settings
from punchclock.web.app import Parts, create_app
from punchclock.web.asgi import App
from punchclock.web.auth import COOKIE
from punchclock.web.pages import EVENTS
from punchclock.web.pages.forms import BROWSER_COOKIE
from punchclock.web.pages.two_factor import AFTER_RESET, PENDING_COOKIE, START_AGAIN
from tests.conftest import FixedClock, User, sign_up
from tests.http.test_pages import _CSRF, NASTY, Visitor
from tests.support import FORBIDDEN, PASSWORD, outbox, reset_code_in, token_auth

_SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
_CODE = re.compile(r"<li><code>([^<]+)</code></li>")


class Authenticator:
    """The person's phone: codes for the secret the set-up page showed, at the fixed clock's
    time. A code is taken once, so each one is from a time step of its own (30 s later)."""

    def __init__(self, secret: str, clock: FixedClock) -> None:
        self.totp = pyotp.TOTP(secret)
        self.clock = clock

    def code(self) -> str:
        self.clock.advance(30)
        return self.totp.at(self.clock.microseconds // 1_000_000)


@pytest.fixture
def visitor(client: httpx.AsyncClient) -> Visitor:
    return Visitor(client)


async def _log_in(visitor: Visitor, user: User, query: str = "") -> httpx.Response:
    await visitor.get(f"/login{query}")
    return await visitor.post(f"/login{query}", {"email": user.email, "password": user.password})


async def _enrol(
    visitor: Visitor, user: User, clock: FixedClock
) -> tuple[Authenticator, list[str]]:
    """Log in, set up two-factor from the account page; return the phone and the codes."""
    assert (await _log_in(visitor, user)).status_code == 303
    await visitor.get("/account")
    setup = await visitor.post("/account/2fa/setup", {})
    assert setup.status_code == 200, setup.text[-500:]
    secret = _SECRET.search(setup.text)
    assert secret is not None
    phone = Authenticator(secret.group(1), clock)
    enabled = await visitor.post(
        "/account/2fa/enable", {"otp": phone.code(), "secret": secret.group(1)}
    )
    assert enabled.status_code == 200, enabled.text[-500:]
    return phone, _CODE.findall(enabled.text)


@pytest.fixture
async def enrolled(
    client: httpx.AsyncClient, user: User, clock: FixedClock
) -> tuple[User, Authenticator, list[str]]:
    """A user with two-factor on (set up in a browser of its own, then logged out)."""
    phone, codes = await _enrol(Visitor(client), user, clock)
    return user, phone, codes


async def _two_factor_on(client: httpx.AsyncClient, user: User) -> bool:
    me = await client.get("/api/v9/me", headers=token_auth(user.token))
    on: bool = me.json()["2fa_enabled"]
    return on


def _set_cookie(response: httpx.Response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    return None


# -- setting it up ------------------------------------------------------------------------


async def test_setting_up_shows_a_named_qr_code_and_the_secret_and_changes_nothing_yet(
    visitor: Visitor, user: User, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    await _log_in(visitor, user)
    account = (await visitor.get("/account")).text
    assert 'id="two-factor"' in account
    assert "Set up two-factor authentication" in account
    setup = await visitor.post("/account/2fa/setup", {})
    assert setup.status_code == 200
    qr = re.search(r'<div class="qr"><svg [^>]*><title>([^<]+)</title>', setup.text)
    assert qr is not None  # inlined, and named for assistive technology by its title
    assert qr.group(1) == "QR code"
    secret = _SECRET.search(setup.text)
    assert secret is not None
    assert len(secret.group(1)) == 32  # 160 bits
    field = re.search(r'<input id="enrol-otp"[^>]*>', setup.text)
    assert field is not None
    assert 'autocomplete="one-time-code"' in field.group(0)
    assert 'inputmode="numeric"' in field.group(0)
    assert '<label for="enrol-otp">Authentication code</label>' in setup.text
    assert setup.headers["cache-control"] == "no-store"
    assert not await _two_factor_on(client, user)  # nothing is on until a code is right

    phone = Authenticator(secret.group(1), clock)
    wrong = await visitor.post("/account/2fa/enable", {"otp": "000000", "secret": secret.group(1)})
    assert wrong.status_code == 403
    assert 'id="enrol-otp-error"' in wrong.text
    assert f'<code id="totp-secret">{secret.group(1)}</code>' in wrong.text  # the one scanned
    assert '<div class="qr"><svg ' in wrong.text  # its QR code drawn again, not a new key
    assert "start over with a new QR code" in wrong.text
    assert not await _two_factor_on(client, user)
    # the page shows the key kept by the server, never one posted to it
    forged = await visitor.post("/account/2fa/enable", {"otp": "000000", "secret": "A" * 32})
    assert f'<code id="totp-secret">{secret.group(1)}</code>' in forged.text
    assert "A" * 32 not in forged.text

    enabled = await visitor.post(
        "/account/2fa/enable", {"otp": phone.code(), "secret": secret.group(1)}
    )
    assert enabled.status_code == 200
    codes = _CODE.findall(enabled.text)
    assert len(codes) == len(set(codes)) == 10
    assert "shown only this once" in enabled.text
    assert enabled.headers["cache-control"] == "no-store"
    assert await _two_factor_on(client, user)
    account = (await visitor.get("/account")).text
    assert "Turn off two-factor authentication" in account
    assert not any(code in account for code in codes)  # shown once, on that page only
    assert visitor.cookies.get(COOKIE)  # the session that enrolled goes on


async def test_setting_up_again_while_on_says_so(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor
) -> None:
    user, phone, _ = enrolled
    await _log_in(visitor, user)
    await visitor.post("/login/code", {"otp": phone.code()})
    await visitor.get("/account")
    again = await visitor.post("/account/2fa/setup", {})
    assert again.status_code == 400
    assert 'id="two-factor-alert"' in again.text
    assert (await visitor.get("/account/2fa/setup")).headers["location"] == "/account#two-factor"


async def test_the_set_up_forms_need_a_session(visitor: Visitor) -> None:
    await visitor.get("/login")
    for path in ("/account/2fa/setup", "/account/2fa/enable", "/account/2fa/disable"):
        response = await visitor.post(path, {"otp": "123456"})
        assert response.headers["location"] == "/login?next=/account", path


# -- the code step of a log-in ------------------------------------------------------------


async def test_a_right_password_leads_to_the_code_page_with_the_ticket_in_a_strict_cookie(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor, client: httpx.AsyncClient
) -> None:
    user, phone, _ = enrolled
    response = await _log_in(visitor, user)
    assert (response.status_code, response.headers["location"]) == (303, "/login/code")
    assert _set_cookie(response, COOKIE) is None  # no session before the code
    ticket = visitor.cookies[PENDING_COOKIE]
    assert _set_cookie(response, PENDING_COOKIE) == (
        f"{PENDING_COOKIE}={ticket}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=300"
    )

    page = await visitor.get("/login/code")
    assert page.status_code == 200
    assert '<label for="code-otp">Authentication code</label>' in page.text
    field = re.search(r'<input id="code-otp"[^>]*>', page.text)
    assert field is not None
    assert 'autocomplete="one-time-code"' in field.group(0)
    assert 'inputmode="numeric"' in field.group(0)
    assert "pattern" not in field.group(0)  # a recovery code must not be refused by it
    assert "maxlength" not in field.group(0)
    assert '<a href="/login/code?recovery=1">Use a recovery code</a>' in page.text
    assert user.email not in page.text

    done = await visitor.post("/login/code", {"otp": phone.code()})
    assert (done.status_code, done.headers["location"]) == (303, "/account")
    assert _set_cookie(done, PENDING_COOKIE) == (
        f"{PENDING_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
    )
    session = _set_cookie(done, COOKIE)
    assert session is not None
    assert session.endswith("; Path=/; HttpOnly; Secure; SameSite=Lax")  # as a log-in sets it
    assert PENDING_COOKIE not in visitor.cookies
    me = await client.get("/api/v9/me", headers={"Cookie": f"{COOKIE}={visitor.cookies[COOKIE]}"})
    assert me.status_code == 200


async def test_keep_me_logged_in_is_kept_through_the_code_step(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor
) -> None:
    user, phone, _ = enrolled
    await visitor.get("/login")
    await visitor.post(
        "/login", {"email": user.email, "password": user.password, "remember_me": "yes"}
    )
    await visitor.get("/login/code")
    done = await visitor.post("/login/code", {"otp": phone.code()})
    session = _set_cookie(done, COOKIE)
    assert session is not None
    assert "Max-Age=" in session


async def test_a_wrong_code_shows_an_error_and_the_next_try_works(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor
) -> None:
    user, phone, _ = enrolled
    await _log_in(visitor, user)
    await visitor.get("/login/code")
    for wrong in ("000000", "12345", "not a code", ""):
        response = await visitor.post("/login/code", {"otp": wrong})
        assert response.status_code in (400, 403), wrong
        assert 'id="code-otp-error"' in response.text
        field = re.search(r'<input id="code-otp"[^>]*>', response.text)
        assert field is not None
        assert 'aria-invalid="true"' in field.group(0)
        assert "value=" not in field.group(0)  # a code is never put back
        assert COOKIE not in visitor.cookies
    done = await visitor.post("/login/code", {"otp": phone.code()})
    assert (done.status_code, done.headers["location"]) == (303, "/account")


async def test_a_recovery_code_logs_in_once(
    enrolled: tuple[User, Authenticator, list[str]], client: httpx.AsyncClient
) -> None:
    user, _, codes = enrolled
    first = Visitor(client)
    await _log_in(first, user)
    page = await first.get("/login/code?recovery=1")
    assert '<label for="code-otp">Recovery code</label>' in page.text
    assert 'inputmode="numeric"' not in page.text
    assert 'href="/login/code">Use your authenticator app</a>' in page.text
    typed = codes[0].lower().replace("-", " ")  # as a person may type it
    done = await first.post("/login/code?recovery=1", {"otp": typed})
    assert (done.status_code, done.headers["location"]) == (303, "/account")

    second = Visitor(client)
    await _log_in(second, user)
    await second.get("/login/code")
    again = await second.post("/login/code", {"otp": codes[0]})  # the plain field takes it too
    assert again.status_code == 403
    assert 'id="code-otp-error"' in again.text
    other = await second.post("/login/code", {"otp": codes[1]})
    assert other.status_code == 303


@pytest.mark.parametrize(
    ("asked", "landing"),
    [
        ("/account/token", "/account/token"),
        ("/account?done=profile", "/account?done=profile"),
        ("//evil.example", "/account"),
        ("https://evil.example/x", "/account"),
    ],
)
async def test_next_survives_the_code_step_and_stays_on_punchclock(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor, asked: str, landing: str
) -> None:
    user, phone, _ = enrolled
    query = "?" + urllib.parse.urlencode({"next": asked})
    response = await _log_in(visitor, user, query)
    step = response.headers["location"]
    assert step.startswith("/login/code?next=")
    assert "evil" not in step
    page = await visitor.get(step)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    done = await visitor.post(html.unescape(action.group(1)), {"otp": phone.code()})
    assert (done.status_code, done.headers["location"]) == (303, landing)


async def test_the_code_page_without_a_ticket_sends_back_to_log_in_with_a_message(
    visitor: Visitor, user: User
) -> None:
    for path in ("/login/code", "/login/code?recovery=1&next=/account/token"):
        response = await visitor.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?again=1")
    login = await visitor.get("/login?again=1&next=/account/token")
    assert html.escape(START_AGAIN) in login.text
    assert 'action="/login?next=/account/token"' in login.text
    # posted without a ticket (another browser, cookies cleared): nothing happens
    response = await visitor.post("/login/code", {"otp": "123456"})
    assert response.headers["location"] == "/login?again=1"
    assert COOKIE not in visitor.cookies


async def test_the_ticket_is_useless_in_another_browser_without_it(
    enrolled: tuple[User, Authenticator, list[str]], client: httpx.AsyncClient
) -> None:
    user, phone, _ = enrolled
    mine, theirs = Visitor(client), Visitor(client)
    await _log_in(mine, user)
    await theirs.get("/login")  # a browser with a form token of its own, but no ticket
    response = await theirs.post("/login/code", {"otp": phone.code()})
    assert response.headers["location"] == "/login?again=1"
    assert COOKIE not in theirs.cookies
    await mine.get("/login/code")
    assert (await mine.post("/login/code", {"otp": phone.code()})).status_code == 303


async def test_the_ticket_works_once(
    enrolled: tuple[User, Authenticator, list[str]], client: httpx.AsyncClient
) -> None:
    user, phone, _ = enrolled
    mine = Visitor(client)
    await _log_in(mine, user)
    ticket = mine.cookies[PENDING_COOKIE]
    await mine.get("/login/code")
    assert (await mine.post("/login/code", {"otp": phone.code()})).status_code == 303
    # a copy of the ticket, used again with another right code
    thief = Visitor(client)
    await thief.get("/login")
    thief.cookies[PENDING_COOKIE] = ticket
    await thief.get("/login/code")
    replay = await thief.post("/login/code", {"otp": phone.code()})
    assert replay.headers["location"] == "/login?again=1"
    assert _set_cookie(replay, COOKIE) is None
    assert PENDING_COOKIE not in thief.cookies  # the dead ticket is dropped


async def test_the_ticket_expires_after_five_minutes(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor, clock: FixedClock
) -> None:
    user, phone, _ = enrolled
    await _log_in(visitor, user)
    await visitor.get("/login/code")
    clock.advance(271)  # and 30 more for the next code: 301 seconds after the password
    late = await visitor.post("/login/code", {"otp": phone.code()})
    assert late.headers["location"] == "/login?again=1"
    assert _set_cookie(late, COOKIE) is None


async def test_the_ticket_still_works_just_before_five_minutes(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor, clock: FixedClock
) -> None:
    user, phone, _ = enrolled
    await _log_in(visitor, user)
    await visitor.get("/login/code")
    clock.advance(269)  # 299 seconds with the next code's 30
    done = await visitor.post("/login/code", {"otp": phone.code()})
    assert (done.status_code, done.headers["location"]) == (303, "/account")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"},
    ],
)
async def test_another_sites_page_cannot_post_the_code_form(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor, headers: dict[str, str]
) -> None:
    user, phone, _ = enrolled
    await _log_in(visitor, user)
    await visitor.get("/login/code")
    refused = await visitor.post("/login/code", {"otp": phone.code()}, headers=headers)
    assert refused.status_code == 403
    assert "request refused" in refused.text.lower()
    assert COOKIE not in visitor.cookies
    forged = await visitor.post("/login/code", {"otp": phone.code()}, csrf=f"1.{'A' * 43}")
    assert forged.status_code == 403
    assert COOKIE not in visitor.cookies
    # the person's own form still works: the refused posts used nothing up
    done = await visitor.post("/login/code", {"otp": phone.code()})
    assert done.status_code == 303


async def test_the_code_step_reveals_nothing_before_the_password_was_right(
    enrolled: tuple[User, Authenticator, list[str]], client: httpx.AsyncClient
) -> None:
    user, _, _ = enrolled
    plain = await sign_up(client, "plain@example.com")
    answers = []
    for email in (user.email, plain.email, "nobody@example.com"):
        visitor = Visitor(client)
        await visitor.get("/login")
        wrong = await visitor.post("/login", {"email": email, "password": "not the password"})
        assert wrong.status_code == 403
        assert FORBIDDEN in wrong.text
        assert _set_cookie(wrong, PENDING_COOKIE) is None
        answers.append(_CSRF.sub("", wrong.text).replace(email, ""))
    assert answers[0] == answers[1] == answers[2]
    # the code page is the same for a live ticket and a made-up one
    real, forger = Visitor(client), Visitor(client)
    await _log_in(real, user)
    await forger.get("/login")
    forger.cookies[PENDING_COOKIE] = "A" * 43
    pages = [(await v.get("/login/code")).text for v in (real, forger)]
    assert _CSRF.sub("", pages[0]) == _CSRF.sub("", pages[1])
    assert user.email not in pages[0]


# -- a password reset ---------------------------------------------------------------------


async def test_a_reset_sets_the_password_but_the_session_waits_for_the_code(
    enrolled: tuple[User, Authenticator, list[str]],
    visitor: Visitor,
    client: httpx.AsyncClient,
    app: App,
    data_dir: Path,
) -> None:
    user, phone, _ = enrolled
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[-1])
    await visitor.get(f"/reset/{code}")
    new = "a brand new passphrase 7"
    response = await visitor.post(f"/reset/{code}", {"password": new})
    assert (response.status_code, response.headers["location"]) == (303, "/login/code?reset=1")
    assert _set_cookie(response, COOKIE) is None
    assert PENDING_COOKIE in visitor.cookies
    page = await visitor.get(response.headers["location"])
    assert html.escape(AFTER_RESET) in page.text
    wrong = await visitor.post("/login/code?reset=1", {"otp": "000000"})
    assert wrong.status_code == 403
    assert html.escape(AFTER_RESET) not in wrong.text  # the error speaks now
    done = await visitor.post("/login/code?reset=1", {"otp": phone.code()})
    assert (done.status_code, done.headers["location"]) == (303, "/account")
    assert COOKIE in visitor.cookies
    # the new password is the password now; logging in with it still asks for a code
    again = Visitor(client)
    assert (await _log_in(again, User(user.email, new, user.me, ""))).headers[
        "location"
    ] == "/login/code"


# -- turning it off, new recovery codes ---------------------------------------------------


async def _logged_in_with_code(visitor: Visitor, user: User, phone: Authenticator) -> None:
    await _log_in(visitor, user)
    await visitor.get("/login/code")
    assert (await visitor.post("/login/code", {"otp": phone.code()})).status_code == 303
    await visitor.get("/account")


async def test_a_stolen_session_cannot_turn_two_factor_off_without_a_code_and_the_password(
    enrolled: tuple[User, Authenticator, list[str]],
    visitor: Visitor,
    client: httpx.AsyncClient,
) -> None:
    user, phone, codes = enrolled
    await _logged_in_with_code(visitor, user, phone)
    # the thief's browser: the session cookie alone, and form tokens of its own
    thief = Visitor(client)
    await thief.get("/login")
    thief.cookies[COOKIE] = visitor.cookies[COOKIE]
    await thief.get("/account")
    for form, field in (
        ({"current_password": PASSWORD}, "otp"),
        ({"otp": "000000", "current_password": PASSWORD}, "otp"),
        ({"otp": phone.code()}, "current_password"),
        ({"otp": codes[0], "current_password": "a guessed password"}, "current_password"),
    ):
        response = await thief.post("/account/2fa/disable", form)
        assert response.status_code in (400, 403), form
        assert f'id="disable-{field}-error"' in response.text, form
        assert await _two_factor_on(client, user)
    # the owner, with both
    off = await visitor.post(
        "/account/2fa/disable", {"otp": codes[1], "current_password": PASSWORD}
    )
    assert off.headers["location"] == "/account?done=two-factor-off#two-factor"
    page = (await visitor.get("/account?done=two-factor-off")).text
    assert "Two-factor authentication is off" in page
    assert "Set up two-factor authentication" in page
    assert not await _two_factor_on(client, user)
    plain = Visitor(client)
    assert (await _log_in(plain, user)).headers["location"] == "/account"


async def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(
    enrolled: tuple[User, Authenticator, list[str]],
    visitor: Visitor,
    client: httpx.AsyncClient,
) -> None:
    user, phone, old = enrolled
    await _logged_in_with_code(visitor, user, phone)
    refused = await visitor.post("/account/2fa/recovery-codes", {"otp": "000000"})
    assert refused.status_code == 403
    assert 'id="recovery-otp-error"' in refused.text
    made = await visitor.post("/account/2fa/recovery-codes", {"otp": phone.code()})
    assert made.status_code == 200
    new = _CODE.findall(made.text)
    assert len(new) == 10
    assert not set(new) & set(old)
    assert "The old ones no longer work" in made.text
    stale, fresh = Visitor(client), Visitor(client)
    for person, code, status in ((stale, old[0], 403), (fresh, new[0], 303)):
        await _log_in(person, user)
        await person.get("/login/code")
        assert (await person.post("/login/code", {"otp": code})).status_code == status


async def test_the_account_page_lists_two_factor_events(
    enrolled: tuple[User, Authenticator, list[str]], visitor: Visitor, app: App, parts: Parts
) -> None:
    user, phone, _ = enrolled
    await _log_in(visitor, user)
    await visitor.get("/login/code")
    await visitor.post("/login/code", {"otp": "000000"})
    await visitor.post("/login/code", {"otp": phone.code()})
    await app.drain()
    page = (await visitor.get("/account")).text
    events = {e.event for e in await parts.store.events(None, 0, 50)}
    assert {"two_factor_enabled", "two_factor_failed"} <= events
    for event in events:
        if event.startswith(("two_factor", "recovery_code")):
            assert event in EVENTS, f"the account page has no words for {event!r}"
            assert EVENTS[event] in page


# -- bad input ----------------------------------------------------------------------------


TWO_FACTOR_FORMS = [
    ("/login/code", ("otp",)),
    ("/account/2fa/enable", ("otp", "secret")),
    ("/account/2fa/disable", ("otp", "current_password")),
    ("/account/2fa/recovery-codes", ("otp",)),
]


@pytest.mark.parametrize(("path", "names"), TWO_FACTOR_FORMS)
async def test_no_two_factor_form_input_is_a_server_error(
    enrolled: tuple[User, Authenticator, list[str]],
    visitor: Visitor,
    client: httpx.AsyncClient,
    path: str,
    names: tuple[str, ...],
) -> None:
    user, phone, _ = enrolled
    await _logged_in_with_code(visitor, user, phone)
    await _log_in(visitor, user)  # a ticket too, for the code page
    for value in NASTY:
        await visitor.get("/account")
        response = await visitor.post(path, dict.fromkeys(names, value))
        assert response.status_code < 500, (value, response.text[-300:])
        assert "x=y" not in response.headers.get("set-cookie", "")
    for ticket in NASTY:
        visitor.cookies[PENDING_COOKIE] = urllib.parse.quote(ticket)
        assert (await visitor.get("/login/code")).status_code < 500
    assert await _two_factor_on(client, user)
    assert BROWSER_COOKIE in visitor.cookies


@pytest.fixture
async def strict_client(env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose per-account-and-address limit (passwords, and codes apart) is 2 a minute."""
    settings = Settings.from_env({**env, "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "2/minute"})
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.running(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_a_throttled_code_says_how_long_to_wait_and_keeps_the_step(
    strict_client: httpx.AsyncClient,
) -> None:
    user = await sign_up(strict_client)
    visitor = Visitor(strict_client)
    await _log_in(visitor, user)
    await visitor.get("/account")
    setup = await visitor.post("/account/2fa/setup", {})
    secret = _SECRET.search(setup.text)
    assert secret is not None
    totp = pyotp.TOTP(secret.group(1))
    await visitor.post("/account/2fa/enable", {"otp": totp.now(), "secret": secret.group(1)})
    person = Visitor(strict_client)  # another browser, logging in
    await _log_in(person, user)
    await person.get("/login/code")
    for _ in range(2):
        await person.post("/login/code", {"otp": "000000"})
    throttled = await person.post("/login/code", {"otp": "111111"})
    assert throttled.status_code == 429
    assert re.search(r"Too many attempts, please retry later: wait \d+ seconds\.", throttled.text)
    assert 'id="code-alert"' in throttled.text
    assert PENDING_COOKIE in person.cookies  # the step stays for when the wait is over
    assert COOKIE not in person.cookies
