"""Real Chromium (Debian's, never a downloaded build) driven by Playwright, against a real
`punchclock serve`. scripts/test installs chromium and axe-core when they are missing, so
these tests fail rather than skip when either is absent."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from tests.support import PASSWORD, outbox
from tests.system.conftest import Server, running_server

CHROMIUM = os.environ.get("PUNCHCLOCK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ROOT = HERE.parent.parent
SCREENSHOTS = Path(os.environ.get("PUNCHCLOCK_SCREENSHOTS", ROOT / "screenshots"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.exists() and any(SCREENSHOTS.glob("*.png")):
        count = len(list(SCREENSHOTS.glob("*.png")))
        terminalreporter.write_line(f"browser tests: {count} screenshots in {SCREENSHOTS}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one module's tests. Playwright's sync API runs an event loop of its own
    in this thread while it is started, so it is stopped after each module: the async
    tests that follow need the thread's loop free."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./scripts/test installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server per module, its mail written to data/outbox as .eml files."""
    with running_server(tmp_path_factory.mktemp("pages")) as running:
        yield running


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def javascript(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    made = browser.new_context(base_url=server.base_url)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return watched(context.new_page())


def watched(page: Page) -> Page:
    """Fail the test on a CSP violation or a script error on any page."""
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: problems.append(f"a dialog opened: {dialog.message}"))
    page.problems = problems  # type: ignore[attr-defined]
    return page


def problems_of(page: Page) -> list[str]:
    found: list[str] = page.problems  # type: ignore[attr-defined]
    return found


@pytest.fixture
def email() -> str:
    return f"page-{uuid.uuid4().hex[:12]}@example.com"


def sign_up(page: Page, email: str, name: str = "Ada Lovelace", password: str = PASSWORD) -> None:
    page.goto("/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Time zone").select_option("Europe/London")
    page.get_by_label("I accept the terms of service").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/account")


def log_in(page: Page, email: str, password: str = PASSWORD, next_path: str = "") -> None:
    page.goto(f"/login{next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def reset_link(server: Server, email: str) -> str:
    """Wait for the reset mail to `email` in the outbox and return the link in it."""
    for _ in range(100):
        for message in reversed(outbox(server.data_dir)):
            if message["To"] and email in message["To"] and "Reset" in message["Subject"]:
                body = message.get_body(("plain",))
                assert body is not None
                match = re.search(r"(https?://\S+/reset/[A-Za-z0-9_-]+)", body.get_content())
                assert match, body.get_content()
                return match.group(1)
        import time

        time.sleep(0.1)
    raise AssertionError(f"no reset mail to {email} in {server.data_dir / 'outbox'}")


def run_axe(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page; return its serious and critical violations."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: ./scripts/test installs it (npm ci in tests/browser)")
    # evaluated through the DevTools protocol, which the page's CSP does not govern
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def fresh_screenshots() -> None:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
