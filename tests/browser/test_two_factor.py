"""Two-factor authentication in a real browser: set it up from the account page with codes
computed from the secret the page shows, log in with a code and with a recovery code, make
new recovery codes, turn it off; another site's page; axe-core on every new page."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect
from tests.browser.conftest import (
    log_in,
    problems_of,
    run_axe,
    screenshot,
    sign_up,
    watched,
)
from tests.browser.test_attacks import EvilSite
from tests.support import PASSWORD
from tests.system.conftest import Server


class Phone:
    """The person's authenticator app. The server takes a code once, so a second code
    waits for the next 30-second step, as a person would."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    def code(self) -> str:
        while (step := int(time.time()) // 30) <= self.last_step:
            time.sleep(0.5)
        self.last_step = step
        return self.totp.at(step * 30)


@pytest.fixture(scope="module")
def evil() -> Iterator[EvilSite]:
    site = EvilSite()
    yield site
    site.server.shutdown()
    site.server.server_close()


def _set_up(page: Page) -> tuple[Phone, list[str]]:
    """From the account page: scan (read) the secret, confirm a code, keep the codes."""
    page.goto("/account")
    section = page.locator("#two-factor")
    section.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    phone = Phone(page.locator("#totp-secret").inner_text())
    page.get_by_label("Authentication code").fill(phone.code())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have stored them").click()
    page.wait_for_url("**/account#two-factor")
    return phone, [c.strip() for c in codes]


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login?bye=1")


def test_set_up_log_in_with_a_code_and_a_recovery_code_then_regenerate_and_turn_off(
    browser: Browser, server: Server, email: str
) -> None:
    context = browser.new_context(base_url=server.base_url)
    page = watched(context.new_page())
    sign_up(page, email)
    phone, codes = _set_up(page)
    expect(page.locator("#two-factor")).to_contain_text("On")

    # log in: the password, then a code from the app
    _log_out(page)
    log_in(page, email, next_path="?next=/account/token")
    page.wait_for_url("**/login/code?next=*")
    page.get_by_label("Authentication code").fill(phone.code())
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account/token")

    # a recovery code, through the link that asks for one
    _log_out(page)
    log_in(page, email)
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")

    # the same recovery code again: refused, and the step lets the person try again
    _log_out(page)
    log_in(page, email)
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#code-otp-error")).to_be_visible()
    expect(page.get_by_label("Recovery code")).to_be_focused()
    page.get_by_label("Recovery code").fill(codes[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")

    # new recovery codes: the old ones die
    section = page.locator("#two-factor")
    section.get_by_label("Authentication code").fill(phone.code())
    section.get_by_role("button", name="Make new recovery codes").click()
    expect(page.get_by_role("status")).to_contain_text("The old ones no longer work")
    fresh = [c.strip() for c in page.locator("#recovery-codes li").all_inner_texts()]
    assert len(fresh) == 10
    assert not set(fresh) & set(codes)
    page.get_by_role("link", name="I have stored them").click()

    # turn it off: a recovery code and the password
    section = page.locator("#two-factor")
    section.get_by_label("Code from your app, or a recovery code").fill(codes[2])  # dead now
    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_role("button", name="Turn off two-factor authentication").click()
    expect(page.locator("#disable-otp-error")).to_be_visible()
    section = page.locator("#two-factor")
    section.get_by_label("Code from your app, or a recovery code").fill(fresh[0])
    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_role("button", name="Turn off two-factor authentication").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor authentication is off")

    # the password alone logs in again
    _log_out(page)
    log_in(page, email)
    page.wait_for_url("**/account")
    assert problems_of(page) == []
    context.close()


def test_without_javascript_set_up_and_log_in_with_a_recovery_code(
    browser: Browser, server: Server, email: str
) -> None:
    context = browser.new_context(base_url=server.base_url, java_script_enabled=False)
    page = watched(context.new_page())
    sign_up(page, email)
    _, codes = _set_up(page)
    _log_out(page)
    log_in(page, email)
    page.wait_for_url("**/login/code")
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[5])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    context.close()


def test_the_code_step_belongs_to_the_browser_that_typed_the_password(
    browser: Browser, server: Server, email: str
) -> None:
    mine = browser.new_context(base_url=server.base_url)
    page = watched(mine.new_page())
    sign_up(page, email)
    phone, _ = _set_up(page)
    _log_out(page)
    log_in(page, email)
    page.wait_for_url("**/login/code")
    cookie = next(c for c in mine.cookies() if c["name"] == "__Host-punchclock-2fa")
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
    assert cookie["path"] == "/"
    assert 0 < cookie["expires"] - time.time() <= 300

    # another browser at the code page: sent back to log in, told why
    other = browser.new_context(base_url=server.base_url)
    theirs = watched(other.new_page())
    theirs.goto("/login/code")
    theirs.wait_for_url("**/login?again=1")
    expect(theirs.get_by_role("status")).to_contain_text("Log in again")
    other.close()

    page.get_by_label("Authentication code").fill(phone.code())
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    assert not any(c["name"] == "__Host-punchclock-2fa" for c in mine.cookies())
    mine.close()


def test_another_sites_page_cannot_post_the_code_form(
    browser: Browser, server: Server, evil: EvilSite, email: str
) -> None:
    context = browser.new_context(base_url=server.base_url)
    page = watched(context.new_page())
    sign_up(page, email)
    _, codes = _set_up(page)
    _log_out(page)
    log_in(page, email)
    page.wait_for_url("**/login/code")
    token = page.locator('input[name="csrf"]').first.get_attribute("value")
    # even with a token of this very browser's, and a right recovery code
    evil.html = (
        "<!DOCTYPE html><html><head><title>Win a prize</title></head><body>"
        f'<form method="post" action="{server.base_url}/login/code">'
        f'<input type="hidden" name="csrf" value="{token}">'
        f'<input type="hidden" name="otp" value="{codes[0]}">'
        "<button>Claim</button></form></body></html>"
    )
    attacker = watched(context.new_page())
    sent: list[Request] = []
    attacker.on("request", lambda r: sent.append(r) if r.method == "POST" else None)
    attacker.goto(f"http://localhost:{evil.port}/")
    attacker.get_by_role("button", name="Claim").click()
    expect(attacker.locator("body")).to_contain_text("Cross-site request refused")
    assert "__Host-punchclock-2fa" not in (sent[0].header_value("cookie") or "")  # Strict
    assert not any(c["name"] == "__Secure-accounts-session" for c in context.cookies())
    # the person's own step still works, with that very code
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    context.close()


def _axe_failures(page: Page, name: str) -> list[str]:
    screenshot(page, f"two-factor-{name}")
    return [
        f"{name}: {v['id']} ({v['impact']}): {v['help']} at "
        f"{[node['target'] for node in v['nodes']]}"
        for v in run_axe(page)
    ]


def test_the_two_factor_pages_are_accessible_empty_and_with_errors(
    context: BrowserContext, page: Page, email: str
) -> None:
    failures: list[str] = []
    sign_up(page, email)
    failures += _axe_failures(page, "account-off")
    page.locator("#two-factor").get_by_role("button", name="Set up").click()
    failures += _axe_failures(page, "setup")
    phone = Phone(page.locator("#totp-secret").inner_text())
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("#enrol-otp-error")).to_be_visible()
    failures += _axe_failures(page, "setup-errors")
    page.get_by_label("Authentication code").fill(phone.code())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    failures += _axe_failures(page, "recovery-codes")
    page.goto("/account")
    section = page.locator("#two-factor")
    section.get_by_label("Code from your app, or a recovery code").fill("000000")
    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_role("button", name="Turn off two-factor authentication").click()
    expect(page.locator("#disable-otp-error")).to_be_visible()
    failures += _axe_failures(page, "account-on-errors")
    _log_out(page)
    log_in(page, email)
    page.wait_for_url("**/login/code")
    failures += _axe_failures(page, "code")
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#code-otp-error")).to_be_visible()
    failures += _axe_failures(page, "code-errors")
    page.get_by_role("link", name="Use a recovery code").click()
    failures += _axe_failures(page, "code-recovery")
    page.emulate_media(color_scheme="dark")
    failures += [f for f in _axe_failures(page, "code-recovery-dark") if "color-contrast" in f]
    assert failures == []
    assert problems_of(page) == []
