"""What another site, a crafted link or a hostile name can do to a person using the pages."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect
from tests.browser.conftest import log_in, problems_of, reset_link, sign_up, watched
from tests.support import PASSWORD, basic
from tests.system.conftest import Server, free_port


class EvilSite:
    """Another site: serves one page holding the HTML a test gives it."""

    def __init__(self) -> None:
        self.html = ""
        self.port = free_port()
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def evil() -> Iterator[EvilSite]:
    site = EvilSite()
    yield site
    site.server.shutdown()
    site.server.server_close()


def _token(server: Server, email: str) -> str:
    me = httpx.get(f"{server.base_url}/api/v9/me", headers=basic(email, PASSWORD))
    token: str = me.json()["api_token"]
    return token


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["cross-site", "same-site"])
@pytest.mark.parametrize("referrer", ["", "no-referrer"], ids=["origin", "origin-null"])
def test_a_form_posted_from_another_origin_is_refused(
    context: BrowserContext,
    page: Page,
    server: Server,
    evil: EvilSite,
    email: str,
    host: str,
    referrer: str,
) -> None:
    sign_up(page, email)
    before = _token(server, email)
    meta = f'<meta name="referrer" content="{referrer}">' if referrer else ""
    evil.html = (
        f"<!DOCTYPE html><html><head>{meta}<title>Win a prize</title></head><body>"
        f'<form method="post" action="{server.base_url}/account/token">'
        f'<input type="hidden" name="csrf" value="1700000000.{"A" * 43}">'
        "<button>Claim</button></form></body></html>"
    )
    attacker = watched(context.new_page())
    sent: list[Request] = []
    attacker.on("request", lambda r: sent.append(r) if r.method == "POST" else None)
    attacker.goto(f"http://{host}:{evil.port}/")
    attacker.get_by_role("button", name="Claim").click()
    expect(attacker.locator("body")).to_contain_text("Cross-site request refused")
    assert attacker.url == f"{server.base_url}/account/token"
    assert _token(server, email) == before  # nothing changed
    origin = sent[0].header_value("origin")
    assert origin == ("null" if referrer else f"http://{host}:{evil.port}")


def test_own_forms_post_with_their_origin_and_the_reset_page_with_origin_null(
    browser: Browser, server: Server, email: str
) -> None:
    """The trap: under no-referrer Chromium sends Origin: null on a same-origin POST."""
    context = browser.new_context(base_url=server.base_url)
    page = watched(context.new_page())
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    sign_up(page, email)
    assert posts[-1].header_value("origin") == server.base_url  # Referrer-Policy: same-origin
    page.get_by_role("button", name="Log out").click()
    httpx.post(f"{server.base_url}/api/me/password_reset/request", json={"email": email})
    page.goto(reset_link(server, email))
    page.get_by_label("New password").fill("yet another passphrase 7")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url("**/account")
    reset_post = posts[-1]
    assert "/reset/" in reset_post.url
    assert reset_post.header_value("origin") == "null"
    assert reset_post.header_value("sec-fetch-site") == "same-origin"
    context.close()


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "http:evil.example",
        "/%0a/evil.example",
        " //evil.example",
    ],
)
def test_next_never_leaves_punchclock(page: Page, server: Server, email: str, target: str) -> None:
    sign_up(page, email)
    page.get_by_role("button", name="Log out").click()
    log_in(page, email, next_path=f"?next={target}")
    page.wait_for_url("**/account")
    assert page.url == f"{server.base_url}/account"


def test_next_returns_to_a_page_of_punchclock(page: Page, server: Server, email: str) -> None:
    sign_up(page, email)
    page.get_by_role("button", name="Log out").click()
    page.goto("/account/token")  # not logged in: to the log-in page, and back after it
    page.wait_for_url("**/login?next=/account")
    log_in(page, email, next_path="?next=/account/token")
    page.wait_for_url("**/account/token")


def test_html_in_a_name_is_shown_as_text(page: Page, email: str) -> None:
    name = '<img src=x onerror="alert(1)"><b id="bold">Mallory</b><script>alert(2)</script>'
    sign_up(page, email, name=name)
    expect(page.locator(".lead strong")).to_have_text(name)
    expect(page.get_by_label("Name")).to_have_value(name)
    assert page.locator("#bold").count() == 0
    assert page.locator("main img").count() == 0
    assert problems_of(page) == []  # no dialog opened, no script ran


def test_the_reset_page_leaks_no_code_in_a_referer(page: Page, server: Server, email: str) -> None:
    sign_up(page, email)
    page.get_by_role("button", name="Log out").click()
    httpx.post(f"{server.base_url}/api/me/password_reset/request", json={"email": email})
    link = reset_link(server, email)
    code = link.rpartition("/")[2]
    referers: list[str] = []
    page.on("request", lambda r: referers.append(r.header_value("referer") or ""))
    response = page.goto(link)
    assert response is not None
    assert response.headers["referrer-policy"] == "no-referrer"
    page.get_by_label("New password").fill("short")  # an error: the form comes back
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#reset-password-error")).to_contain_text("Password")
    page.get_by_label("New password").fill("the final passphrase 99")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url("**/account")
    page.goto(link)  # used now: the page says so and offers /forgot
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    page.get_by_role("link", name="Ask for a new link").click()
    page.wait_for_url("**/forgot")
    assert len(referers) > 6  # the pages, their style sheet and icon, the form posts
    assert all(code not in referer for referer in referers)


def test_opening_the_reset_link_leaves_the_code_usable(
    page: Page, server: Server, email: str
) -> None:
    sign_up(page, email)
    httpx.post(f"{server.base_url}/api/me/password_reset/request", json={"email": email})
    link = reset_link(server, email)
    for _ in range(3):  # a mail scanner, a link preview, the person
        page.goto(link)
        expect(page.get_by_label("New password")).to_be_visible()
    assert httpx.get(link).status_code == 200
    code = link.rpartition("/")[2]
    confirm = httpx.post(
        f"{server.base_url}/api/me/password_reset/confirm/{code}",
        json={"password": "reset through the api 5"},
    )
    assert confirm.status_code == 200


def test_an_unknown_reset_code_says_so_and_offers_forgot(page: Page) -> None:
    response = page.goto("/reset/" + "A" * 43)
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("invalid or has expired")
    expect(page.get_by_role("link", name="Ask for a new link")).to_have_attribute(
        "href", re.compile("/forgot$")
    )


def test_a_form_whose_token_no_longer_fits_comes_back_to_be_sent_again(
    context: BrowserContext, page: Page, email: str
) -> None:
    sign_up(page, email)
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(email)
    context.clear_cookies()  # the browser forgot its id meanwhile (a restart, a cleaner)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("could not be verified")
    expect(page.get_by_label("Email")).to_have_value(email)  # what was typed stays
    expect(page.get_by_label("Password")).to_have_value("")  # but not the password
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
