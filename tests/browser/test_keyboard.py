"""Usable by keyboard alone, with the focus always visible."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from tests.browser.conftest import sign_up
from tests.support import PASSWORD


def _tab_to(page: Page, selector: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{selector} has focus but shows no outline"
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_log_in_and_show_the_token_by_keyboard_alone(page: Page, email: str) -> None:
    sign_up(page, email)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login?bye=1")
    _tab_to(page, "#login-email")
    page.keyboard.type(email)
    _tab_to(page, "#login-password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/account")
    _tab_to(page, "#token summary")
    page.keyboard.press("Enter")
    expect(page.locator("#api-token")).to_be_visible()


def test_the_first_field_with_an_error_has_the_focus(page: Page, email: str) -> None:
    sign_up(page, email)
    page.locator("#password-current_password").fill("wrong password")
    page.locator("#password-password").fill("another fine passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-current_password")).to_be_focused()
    described = page.locator("#password-current_password").get_attribute("aria-describedby")
    assert described == "password-current_password-error"
