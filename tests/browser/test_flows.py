"""A person's whole life with an account, in a real browser, with and without JavaScript."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect
from tests.browser.conftest import log_in, problems_of, reset_link, sign_up, watched
from tests.support import FORBIDDEN, PASSWORD
from tests.system.conftest import Server

NEW_PASSWORD = "a brand new passphrase 42"


def test_sign_up_log_out_in_reset_change_end_sessions_and_close(
    browser: Browser, server: Server, email: str, javascript: bool
) -> None:
    mine = browser.new_context(base_url=server.base_url, java_script_enabled=javascript)
    theirs = browser.new_context(base_url=server.base_url, java_script_enabled=javascript)
    page = watched(mine.new_page())
    other = watched(theirs.new_page())

    # sign up: the account page, with the API token
    sign_up(page, email)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    page.get_by_text("Show the API token").click()
    token = page.locator("#api-token")
    expect(token).to_be_visible()
    expect(token).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    assert (
        httpx.get(f"{server.base_url}/api/v9/me", auth=(token.inner_text(), "api_token")).json()[
            "email"
        ]
        == email
    )

    # log out, log in again
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login?bye=1")
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    log_in(page, email)
    page.wait_for_url("**/account")

    # a second browser logs in too
    log_in(other, email)
    other.wait_for_url("**/account")

    # forgot the password: the mail's link, a new password, logged in here
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("a message with a link")
    page.goto(reset_link(server, email))
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url("**/account")
    # ... and the other browser's session is gone
    other.goto("/account")
    other.wait_for_url("**/login?next=/account")

    # change the profile
    page.get_by_label("Name").fill("Ada King")
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_label("First day of the week").select_option("Sunday")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Your profile is saved.")
    expect(page.get_by_label("Name")).to_have_value("Ada King")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    expect(page.get_by_label("First day of the week")).to_have_value("0")

    # the other browser logs in again; end its session from the list
    log_in(other, email, NEW_PASSWORD)
    other.wait_for_url("**/account")
    page.reload()
    rows = page.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="This device")).to_have_count(1)
    rows.filter(has_not_text="This device").get_by_role("button", name="End").click()
    expect(page.get_by_role("status")).to_have_text("The session has ended.")
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    other.goto("/account")
    other.wait_for_url("**/login?next=/account")

    # recent security events come from the audit trail
    events = page.get_by_role(
        "table", name="The latest security events of your account, newest first"
    )
    expect(events).to_contain_text("Password reset")
    expect(events).to_contain_text("Session ended")

    # close the account: a wrong password first
    page.locator("#close-current_password").fill("not my password")
    page.get_by_role("button", name="Close my account").click()
    expect(page.locator("#close-current_password-error")).to_have_text(
        "⚠ Current password is not valid"
    )
    page.locator("#close-current_password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Close my account").click()
    page.wait_for_url("**/closed")
    expect(page.get_by_role("heading", name="Your account is closed")).to_be_visible()

    # log-in refused
    log_in(page, email, NEW_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(FORBIDDEN)
    assert page.url.endswith("/login")
    assert problems_of(page) == []
    assert problems_of(other) == []
    mine.close()
    theirs.close()


def test_a_page_session_works_on_the_api_and_an_api_session_on_the_pages(
    browser: Browser, server: Server, email: str
) -> None:
    context = browser.new_context(base_url=server.base_url)
    page = watched(context.new_page())
    sign_up(page, email)
    me = context.request.get("/api/v9/me")  # the browser's own cookie jar
    assert me.status == 200
    assert me.json()["email"] == email

    api = httpx.post(f"{server.base_url}/api/sessions", json={"email": email, "password": PASSWORD})
    assert api.status_code == 200
    cookie = next(c for c in api.headers.get_list("set-cookie") if c.startswith("__Secure-"))
    name, _, rest = cookie.partition("=")
    fresh = browser.new_context(base_url=server.base_url)
    fresh.add_cookies(
        [
            {
                "name": name,
                "value": rest.partition(";")[0],
                "domain": "127.0.0.1",
                "path": "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    other = watched(fresh.new_page())
    other.goto("/account")
    assert other.url.endswith("/account")
    expect(other.get_by_role("textbox", name="Email", exact=True)).to_have_value(email)

    # logging out on a page ends the session the API sees
    other.get_by_role("button", name="Log out").click()
    other.wait_for_url("**/login?bye=1")
    assert fresh.request.get("/api/v9/me").status == 403
    context.close()
    fresh.close()
