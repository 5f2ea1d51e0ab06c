"""The pages through the ASGI app in process: tokens, headers, assets, errors by field."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import markupsafe
import pytest

from punchclock.config import Settings
from punchclock.errors import StoreUnavailable
from punchclock.web.app import Parts, create_app
from punchclock.web.asgi import App
from punchclock.web.auth import COOKIE
from punchclock.web.pages import STALE_FORM, UNVERIFIED_FORM
from punchclock.web.pages.forms import BROWSER_COOKIE
from tests.conftest import FixedClock, User, log_in, sign_up
from tests.support import FORBIDDEN, PASSWORD, basic, outbox, reset_code_in

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Visitor:
    """A browser as far as the pages can tell: it keeps its cookies and sends forms back.

    (httpx keeps no Secure cookie over http://, so the jar is kept here.)
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.page = ""

    def _remember(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.partition(";")[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        if response.headers.get("content-type", "").startswith("text/html"):
            self.page = response.text
        return response

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**({"Cookie": cookie} if cookie else {}), **(extra or {})}

    @property
    def csrf(self) -> str:
        match = _CSRF.search(self.page)
        assert match, self.page
        return html.unescape(match.group(1))

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self._remember(await self.client.get(path, headers=self._headers(headers)))

    async def post(
        self,
        path: str,
        form: dict[str, str],
        headers: dict[str, str] | None = None,
        csrf: str | None = None,
    ) -> httpx.Response:
        data = {"csrf": self.csrf if csrf is None else csrf, **form}
        same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
        response = await self.client.post(
            path, data=data, headers=self._headers({**same_origin, **(headers or {})})
        )
        return self._remember(response)


@pytest.fixture
def visitor(client: httpx.AsyncClient) -> Visitor:
    return Visitor(client)


async def _logged_in(visitor: Visitor, user: User) -> None:
    await visitor.get("/login")
    response = await visitor.post("/login", {"email": user.email, "password": user.password})
    assert response.status_code == 303
    assert COOKIE in visitor.cookies


async def test_pages_carry_their_own_strict_headers(visitor: Visitor, user: User) -> None:
    login = await visitor.get("/login")
    assert login.headers["content-type"] == "text/html; charset=utf-8"
    assert login.headers["content-security-policy"] == PAGE_CSP  # no script on this page
    assert login.headers["referrer-policy"] == "same-origin"
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["x-content-type-options"] == "nosniff"
    assert login.headers["cache-control"] == "no-store"
    assert login.headers.get_list("content-security-policy") == [PAGE_CSP]
    await _logged_in(visitor, user)
    account = await visitor.get("/account")
    assert account.headers["content-security-policy"] == PAGE_CSP + "; script-src 'self'"
    assert "<script" in account.text
    assert 'src="/static/copy.' in account.text
    assert "onclick" not in account.text  # no inline script of any kind
    reset = await visitor.get("/reset/" + "A" * 43)
    assert reset.headers["referrer-policy"] == "no-referrer"


async def test_api_answers_keep_their_headers(client: httpx.AsyncClient, user: User) -> None:
    me = await client.get("/api/v9/me", headers=basic(user.email, user.password))
    assert me.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert me.headers["referrer-policy"] == "no-referrer"


async def test_assets_are_served_by_hash_with_a_long_cache_lifetime(visitor: Visitor) -> None:
    page = await visitor.get("/login")
    paths = re.findall(r'href="(/static/[^"]+)"', page.text)
    assert len(paths) == 2  # the style sheet and the icon
    for path in paths:
        asset = await visitor.get(path)
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        digest = path.rsplit(".", 2)[1]
        assert hashlib.sha256(asset.content).hexdigest()[:12] == digest
    css = await visitor.get(paths[0])
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    for missing in ("/static/style.css", "/static/style.000000000000.css", "/static/../x"):
        assert (await visitor.get(missing)).status_code == 404
    assert "http" not in css.text  # nothing fetched from elsewhere: no CDN, no web font


async def test_root_sends_people_to_log_in_or_to_their_account(
    visitor: Visitor, user: User
) -> None:
    response = await visitor.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    await _logged_in(visitor, user)
    response = await visitor.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/account")


async def test_account_pages_need_a_session(visitor: Visitor) -> None:
    for path in ("/account", "/account/token"):
        response = await visitor.get(path)
        assert (response.status_code, response.headers["location"]) == (
            303,
            "/login?next=/account",
        )
    await visitor.get("/login")
    response = await visitor.post("/account/token", {})
    assert response.headers["location"] == "/login?next=/account"


async def test_log_out_is_a_post(visitor: Visitor, user: User) -> None:
    await _logged_in(visitor, user)
    assert (await visitor.get("/logout")).status_code == 405
    await visitor.get("/account")
    page_session = visitor.cookies[COOKIE]
    response = await visitor.post("/logout", {})
    assert (response.status_code, response.headers["location"]) == (303, "/login?bye=1")
    assert COOKIE not in visitor.cookies

    async def me(session: str) -> int:
        headers = {"Cookie": f"{COOKIE}={session}"}
        return (await visitor.client.get("/api/v9/me", headers=headers)).status_code

    assert await me(page_session) == 403  # the session is gone, not just the cookie
    assert await me(user.session) == 200  # another session of the user's is untouched


async def test_a_form_without_its_token_comes_back_and_changes_nothing(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await visitor.get("/signup")
    form = {"email": "eve@example.com", "password": PASSWORD, "tos": "yes", "timezone": "UTC"}
    for token in ("", "garbage", "1.AAAA", f"1700000000.{'A' * 43}"):
        response = await visitor.post("/signup", form, csrf=token)
        assert response.status_code == 403
        assert html.escape(UNVERIFIED_FORM) in response.text
        assert 'value="eve@example.com"' in response.text  # what was typed stays
        assert PASSWORD not in response.text  # but never a password
    login = await client.post(
        "/api/sessions", json={"email": "eve@example.com", "password": PASSWORD}
    )
    assert login.status_code == 403  # no account was made


async def test_a_token_served_to_another_browser_is_refused(
    client: httpx.AsyncClient, user: User
) -> None:
    attacker, victim = Visitor(client), Visitor(client)
    await attacker.get("/login")
    await victim.get("/login")
    stolen = attacker.csrf  # the attacker's own, valid for the attacker's browser only
    response = await victim.post(
        "/login", {"email": user.email, "password": user.password}, csrf=stolen
    )
    assert response.status_code == 403
    assert COOKIE not in victim.cookies


async def test_a_stale_form_comes_back_with_a_clear_message(
    visitor: Visitor, user: User, clock: FixedClock
) -> None:
    await visitor.get("/login")
    clock.advance(25 * 3600)  # a tab left open for a day
    response = await visitor.post("/login", {"email": user.email, "password": user.password})
    assert response.status_code == 403
    assert html.escape(STALE_FORM) in response.text
    assert f'value="{user.email}"' in response.text
    assert COOKIE not in visitor.cookies
    again = await visitor.post("/login", {"email": user.email, "password": user.password})
    assert again.status_code == 303  # the form it came back with works


async def test_without_the_browser_cookie_the_form_is_refused(visitor: Visitor, user: User) -> None:
    await visitor.get("/login")
    del visitor.cookies[BROWSER_COOKIE]  # cookies cleared, or blocked
    response = await visitor.post("/login", {"email": user.email, "password": user.password})
    assert response.status_code == 403
    assert BROWSER_COOKIE in visitor.cookies  # a new one, and a form that goes with it
    assert (
        await visitor.post("/login", {"email": user.email, "password": user.password})
    ).status_code == 303


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, 303),  # the reset page's own
        ({"Origin": "http://testserver"}, 303),
        ({"Origin": "", "Sec-Fetch-Site": ""}, 303),  # not a browser: the token decides
        ({"Origin": "null", "Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "null", "Sec-Fetch-Site": ""}, 403),
        ({"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403),
        ({"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"}, 403),
    ],
)
async def test_the_origin_rule_on_page_forms(
    visitor: Visitor, user: User, headers: dict[str, str], status: int
) -> None:
    await visitor.get("/login")
    response = await visitor.client.post(
        "/login",
        data={"csrf": visitor.csrf, "email": user.email, "password": user.password},
        headers={**visitor._headers(None), **{k: v for k, v in headers.items() if v}},
    )
    assert response.status_code == status
    if status == 403:
        assert "request refused" in response.text.lower()
        assert COOKIE not in response.headers.get("set-cookie", "")


async def test_a_wrong_password_and_an_unknown_email_read_the_same(
    visitor: Visitor, user: User
) -> None:
    await visitor.get("/login")
    wrong = await visitor.post("/login", {"email": user.email, "password": "not it at all"})
    unknown = await visitor.post(
        "/login", {"email": "nobody@example.com", "password": "not it at all"}
    )
    assert wrong.status_code == unknown.status_code == 403
    assert FORBIDDEN in wrong.text

    def without_details(text: str) -> str:
        return _CSRF.sub("", text).replace(user.email, "").replace("nobody@example.com", "")

    assert without_details(wrong.text) == without_details(unknown.text)


async def test_errors_stand_next_to_their_field(visitor: Visitor, user: User) -> None:
    await visitor.get("/signup")
    taken = await visitor.post(
        "/signup", {"email": user.email, "password": PASSWORD, "tos": "yes", "timezone": "UTC"}
    )
    assert taken.status_code == 400
    assert '<p class="error" id="signup-email-error">' in taken.text
    assert "user with this email already exists" in taken.text
    field = re.search(r'<input id="signup-email"[^>]*>', taken.text)
    assert field is not None
    assert 'aria-describedby="signup-email-error"' in field.group(0)
    assert 'aria-invalid="true"' in field.group(0)
    assert "autofocus" in field.group(0)
    no_tos = await visitor.post("/signup", {"email": "new@example.com", "password": PASSWORD})
    assert 'id="signup-tos-error"' in no_tos.text
    assert "Accept the terms of service" in no_tos.text
    short = await visitor.post(
        "/signup", {"email": "new@example.com", "password": "short", "tos": "yes"}
    )
    assert 'id="signup-password-error"' in short.text
    assert "Password must be at least 8" in short.text


async def test_a_name_with_html_is_shown_as_text(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    name = '<script>alert(1)</script><b>"bold"</b>'
    user = await sign_up(client, "mal@example.com", display_name=name)
    await _logged_in(visitor, user)
    page = (await visitor.get("/account")).text
    assert name not in page
    assert str(markupsafe.escape(name)) in page


async def test_bad_form_bodies_are_4xx(visitor: Visitor) -> None:
    await visitor.get("/login")
    headers = {**visitor._headers(None), "Content-Type": "application/x-www-form-urlencoded"}
    for body in (b"\xff\xfe", b"a=%ff", b"&".join(b"f%d=1" % i for i in range(50))):
        response = await visitor.client.post("/login", content=body, headers=headers)
        assert response.status_code == 400, body
    large = await visitor.client.post("/login", content=b"a=" + b"x" * 70_000, headers=headers)
    assert large.status_code == 413


async def test_closing_the_account_needs_its_password(
    visitor: Visitor, user: User, client: httpx.AsyncClient, app: App, parts: Parts
) -> None:
    await _logged_in(visitor, user)
    await visitor.get("/account")
    wrong = await visitor.post("/account/close", {"current_password": "not my password"})
    assert wrong.status_code == 400
    assert 'id="close-current_password-error"' in wrong.text
    assert (await client.get("/api/v9/me", headers=basic(user.email, PASSWORD))).status_code == 200
    closed = await visitor.post("/account/close", {"current_password": PASSWORD})
    assert closed.headers["location"] == "/closed"
    assert COOKIE not in visitor.cookies
    assert (await client.get("/api/v9/me", headers=basic(user.email, PASSWORD))).status_code == 403
    await app.drain()
    events = [e.event for e in await parts.store.events(None, 0, 50)]
    assert "log_in_failed" in events  # the wrong password counted as a failed log-in
    assert "account_closed" in events


async def test_the_reset_page_does_not_use_the_code(
    visitor: Visitor, user: User, client: httpx.AsyncClient, app: App, data_dir: Path
) -> None:
    await client.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[-1])
    for _ in range(3):
        page = await visitor.get(f"/reset/{code}")
        assert page.status_code == 200
        assert 'autocomplete="new-password"' in page.text
    response = await visitor.post(f"/reset/{code}", {"password": "a new passphrase here"})
    assert (response.status_code, response.headers["location"]) == (303, "/account")
    assert COOKIE in visitor.cookies
    used = await visitor.get(f"/reset/{code}")
    assert used.status_code == 404
    assert 'href="/forgot"' in used.text


@pytest.fixture
async def strict_client(env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env({**env, "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "2/minute"})
    app = create_app(settings)
    async with (
        app.running(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c,
    ):
        yield c


async def test_a_throttled_log_in_says_how_long_to_wait(
    strict_client: httpx.AsyncClient,
) -> None:
    user = await sign_up(strict_client)
    visitor = Visitor(strict_client)
    await visitor.get("/login")
    for _ in range(2):
        await visitor.post("/login", {"email": user.email, "password": "wrong password"})
    throttled = await visitor.post("/login", {"email": user.email, "password": PASSWORD})
    assert throttled.status_code == 429
    assert re.search(r"Too many attempts, please retry later: wait \d+ seconds\.", throttled.text)


async def test_a_blank_form_is_the_same_for_everyone_but_its_token(
    client: httpx.AsyncClient, user: User
) -> None:
    first, second = Visitor(client), Visitor(client)
    await first.get("/login")
    await first.post("/login", {"email": user.email, "password": "wrong password"})
    page = (await second.get("/login")).text
    assert user.email not in page  # nobody else's values or errors
    assert FORBIDDEN not in page
    await first.get("/login")
    assert first.csrf != second.csrf
    assert _CSRF.sub("", first.page) == _CSRF.sub("", page)
    assert (
        await second.post("/login", {"email": user.email, "password": user.password})
    ).status_code == 303


async def _me(client: httpx.AsyncClient, session: str) -> int:
    response = await client.get("/api/v9/me", headers={"Cookie": f"{COOKIE}={session}"})
    return response.status_code


async def test_changing_the_password_on_the_page_ends_the_other_sessions_only(
    visitor: Visitor, user: User, client: httpx.AsyncClient
) -> None:
    await _logged_in(visitor, user)
    await visitor.get("/account")
    new = "a page-made passphrase 3"
    response = await visitor.post(
        "/account/password", {"current_password": PASSWORD, "password": new}
    )
    assert response.headers["location"] == "/account?done=password"
    assert "Every other session has ended" in (await visitor.get(response.headers["location"])).text
    assert await _me(client, visitor.cookies[COOKIE]) == 200
    assert await _me(client, user.session) == 403
    assert (await client.get("/api/v9/me", headers=basic(user.email, new))).status_code == 200


async def test_resetting_the_token_on_the_page_shows_the_new_one(
    visitor: Visitor, user: User, client: httpx.AsyncClient
) -> None:
    await _logged_in(visitor, user)
    confirm = await visitor.get("/account/token")
    assert "stops working at once" in confirm.text
    response = await visitor.post("/account/token", {})
    assert response.headers["location"] == "/account?done=token#token"
    page = (await visitor.get("/account?done=token")).text
    token = re.search(r'<code id="api-token">([0-9a-f]{32})</code>', page)
    assert token is not None
    assert token.group(1) != user.token
    assert "<details open>" in page
    assert (await client.get("/api/v9/me", auth=(user.token, "api_token"))).status_code == 403
    assert (await client.get("/api/v9/me", auth=(token.group(1), "api_token"))).status_code == 200


async def test_ending_sessions_from_the_page(
    visitor: Visitor, user: User, client: httpx.AsyncClient
) -> None:
    third = await log_in(client, user, agent="curl/8.5.0")
    await _logged_in(visitor, user)
    page = (await visitor.get("/account")).text
    assert page.count('name="session_id"') == 2  # every session but this one
    assert "This device" in page
    assert "curl" in page
    ids = re.findall(r'name="session_id" value="([0-9a-f]{32})"', page)
    missing = await visitor.post("/account/sessions/end", {"session_id": "f" * 32})
    assert missing.status_code == 404
    assert "Session not found" in missing.text
    ended = await visitor.post("/account/sessions/end", {"session_id": ids[0]})
    assert ended.headers["location"] == "/account?done=session#sessions"
    assert [await _me(client, s) for s in (user.session, third)].count(403) == 1
    others = await visitor.post("/account/sessions/others", {})
    assert others.headers["location"] == "/account?done=others#sessions"
    assert await _me(client, user.session) == 403
    assert await _me(client, third) == 403
    assert await _me(client, visitor.cookies[COOKIE]) == 200


async def test_the_profile_form_keeps_what_was_typed_when_it_fails(
    visitor: Visitor, user: User
) -> None:
    await _logged_in(visitor, user)
    await visitor.get("/account")
    response = await visitor.post(
        "/account/profile",
        {"fullname": "Ann Other", "timezone": "Mars/Base", "beginning_of_week": "3"},
    )
    assert response.status_code == 400
    assert '<p class="error" id="profile-timezone-error">' in response.text
    assert 'value="Ann Other"' in response.text
    saved = await visitor.post(
        "/account/profile",
        {"fullname": "Ann Other", "timezone": "Asia/Tokyo", "beginning_of_week": "3"},
    )
    assert saved.headers["location"] == "/account?done=profile"
    page = (await visitor.get("/account")).text
    assert '<option value="Asia/Tokyo" selected>' in page
    assert '<option value="3" selected>Wednesday</option>' in page


async def test_forgot_answers_the_same_for_known_and_unknown_emails(
    visitor: Visitor, user: User
) -> None:
    await visitor.get("/forgot")
    known = await visitor.post("/forgot", {"email": user.email})
    await visitor.get("/forgot")
    unknown = await visitor.post("/forgot", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert "a message with a link" in known.text

    def without_details(text: str) -> str:
        return _CSRF.sub("", text).replace(user.email, "").replace("nobody@example.com", "")

    assert without_details(known.text) == without_details(unknown.text)


async def test_changing_the_email_on_the_page_waits_for_the_new_address(
    visitor: Visitor, user: User, client: httpx.AsyncClient, app: App, data_dir: Path
) -> None:
    await _logged_in(visitor, user)
    await visitor.get("/account")
    missing = await visitor.post("/account/email", {"email": "ann.new@example.com"})
    assert missing.status_code == 400
    assert '<p class="error" id="email-current_password-error">' in missing.text
    assert 'value="ann.new@example.com"' in missing.text  # what was typed stays
    response = await visitor.post(
        "/account/email", {"email": "ann.new@example.com", "current_password": PASSWORD}
    )
    assert response.headers["location"] == "/account?done=email-pending"
    page = (await visitor.get(response.headers["location"])).text
    assert "Check your new address" in page
    assert f'value="{user.email}"' in page  # unchanged until the new address confirms
    await app.drain()
    assert any(m["To"] and "ann.new@example.com" in m["To"] for m in outbox(data_dir))
    me = await client.get("/api/v9/me", headers=basic(user.email, PASSWORD))
    assert me.json()["email"] == user.email


NASTY = ["", " ", "\x00", "a\r\nSet-Cookie: x=y", "é" * 300, "<script>", "9" * 40, "-1", "%ff"]
FORMS = [
    ("/login", ("email", "password", "remember_me")),
    ("/signup", ("email", "password", "fullname", "timezone", "tos")),
    ("/forgot", ("email",)),
    (f"/reset/{'A' * 43}", ("password",)),
    ("/account/profile", ("fullname", "timezone", "beginning_of_week")),
    ("/account/email", ("email", "current_password")),
    ("/account/password", ("current_password", "password")),
    ("/account/sessions/end", ("session_id",)),
    ("/account/close", ("current_password",)),
]


@pytest.mark.parametrize(("path", "names"), FORMS)
async def test_no_form_input_is_a_server_error(
    visitor: Visitor, user: User, path: str, names: tuple[str, ...]
) -> None:
    await _logged_in(visitor, user)
    for value in NASTY:
        await visitor.get("/account")
        response = await visitor.post(path, dict.fromkeys(names, value))
        assert response.status_code < 500, (value, response.text[-300:])
        assert "x=y" not in response.headers.get("set-cookie", "")
    # and the account is still whole: nothing nasty was taken as a password or an email
    me = await visitor.client.get("/api/v9/me", headers=basic(user.email, PASSWORD))
    assert me.status_code == 200


async def test_a_database_outage_is_a_page_that_says_to_try_again(
    visitor: Visitor, user: User, parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _logged_in(visitor, user)

    async def unavailable(*args: object) -> None:
        raise StoreUnavailable()

    monkeypatch.setattr(parts.services.sessions, "list_sessions", unavailable)
    response = await visitor.get("/account")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert StoreUnavailable.message in response.text
    assert 'href="/account"' in response.text
