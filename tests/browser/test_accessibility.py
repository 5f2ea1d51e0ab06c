"""Every page, empty and with errors: no serious or critical axe-core violation; and a
screenshot of each at 375x812 and 1280x800, light and dark (printed at the end of the run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from tests.browser.conftest import (
    log_in,
    problems_of,
    reset_link,
    run_axe,
    screenshot,
    sign_up,
    watched,
)
from tests.support import PASSWORD
from tests.system.conftest import Server

VIEWPORTS: dict[str, ViewportSize] = {
    "375": {"width": 375, "height": 812},
    "1280": {"width": 1280, "height": 800},
}


@pytest.fixture
def person(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=server.base_url)
    yield watched(context.new_page())
    context.close()


def _login_errors(page: Page, email: str) -> None:
    log_in(page, email, "not the password")
    expect(page.get_by_role("alert")).to_be_visible()


def _signup_errors(page: Page, email: str) -> None:
    page.goto("/signup")
    page.get_by_label("Email").fill(email)  # taken
    page.get_by_label("Password").fill("short")
    page.get_by_label("I accept the terms of service").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".error").first).to_be_visible()


def _forgot_errors(page: Page, email: str) -> None:
    page.goto("/forgot")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#forgot-email-error")).to_have_text("⚠ Invalid email")


def _forgot_sent(page: Page, email: str) -> None:
    page.goto("/forgot")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_be_visible()


def _reset(server: Server) -> Callable[[Page, str], object]:
    def reset(page: Page, email: str) -> None:
        httpx.post(f"{server.base_url}/api/me/password_reset/request", json={"email": email})
        page.goto(reset_link(server, email))

    return reset


def _reset_errors(server: Server) -> Callable[[Page, str], object]:
    def reset(page: Page, email: str) -> None:
        _reset(server)(page, email)
        page.get_by_label("New password").fill("short")
        page.get_by_role("button", name="Set the new password").click()
        expect(page.locator("#reset-password-error")).to_be_visible()

    return reset


def _account_errors(page: Page, email: str) -> None:
    page.locator("#password-current_password").fill("wrong password here")
    page.locator("#password-password").fill("a fine new passphrase 1")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-current_password-error")).to_be_visible()
    page.locator("#profile-fullname").fill(" ")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-fullname-error")).to_have_text("⚠ Invalid fullname")


def _closed(page: Page, email: str) -> None:
    page.locator("#close-current_password").fill(PASSWORD)
    page.get_by_role("button", name="Close my account").click()
    page.wait_for_url("**/closed")


def test_every_page_in_every_state_is_accessible_and_photographed(
    person: Page, server: Server
) -> None:
    # the pages of someone logged out, then those of someone logged in
    anonymous = {"login", "signup", "forgot", "reset", "closed"}
    states: list[tuple[str, Callable[[Page, str], object]]] = [
        ("login", lambda page, email: page.goto("/login")),
        ("login-errors", _login_errors),
        ("signup", lambda page, email: page.goto("/signup")),
        ("signup-errors", _signup_errors),
        ("forgot", lambda page, email: page.goto("/forgot")),
        ("forgot-errors", _forgot_errors),
        ("forgot-sent", _forgot_sent),
        ("reset", _reset(server)),
        ("reset-errors", _reset_errors(server)),
        ("reset-invalid", lambda page, email: page.goto("/reset/" + "x" * 43)),
        ("account", lambda page, email: page.goto("/account")),
        ("account-errors", _account_errors),
        ("account-token", lambda page, email: page.goto("/account/token")),
        ("closed", _closed),
    ]
    failures: dict[str, list[str]] = {}
    for n, (name, reach) in enumerate(states):
        page = person
        email = f"axe-{n}-{name}@example.com"
        page.context.clear_cookies()
        sign_up(page, email)
        if name.partition("-")[0] in anonymous and name != "closed":
            page.get_by_role("button", name="Log out").click()
            page.wait_for_url("**/login?bye=1")
        reach(page, email)
        for size, viewport in VIEWPORTS.items():
            page.set_viewport_size(viewport)
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                screenshot(page, f"{name}-{size}-{scheme}")
                # every rule in light, at both widths; colour contrast again in dark
                found = run_axe(page)
                if scheme == "dark":
                    found = [v for v in found if v["id"] == "color-contrast"]
                if found:
                    failures[f"{name}-{size}-{scheme}"] = [
                        f"{v['id']} ({v['impact']}): {v['help']} at "
                        f"{[node['target'] for node in v['nodes']]}"
                        for v in found
                    ]
        page.set_viewport_size(VIEWPORTS["1280"])
        page.emulate_media(color_scheme="light")
    assert failures == {}
    assert problems_of(person) == []
