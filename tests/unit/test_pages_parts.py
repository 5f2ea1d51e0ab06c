"""The pages' pure parts: where `next` may lead, device names, form tokens, error places."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from punchclock.errors import (
    CurrentPasswordInvalid,
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
    PasswordRejected,
    Throttled,
)
from punchclock.tokens import SecretBox
from punchclock.web.pages import EVENTS
from punchclock.web.pages.devices import describe
from punchclock.web.pages.forms import (
    FORM_LIFETIME,
    FormRefused,
    FormTokens,
    errors_from,
    safe_next,
)
from tests.conftest import FixedClock


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "//evil.example",
        "//evil.example/account",
        "https://evil.example",
        "http:evil.example",
        "/\\evil.example",
        "/account\\..\\",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        " /account",
        "account",
    ],
)
def test_next_outside_punchclock_falls_back_to_the_account_page(value: str | None) -> None:
    assert safe_next(value) == "/account"


@pytest.mark.parametrize("value", ["/account", "/account/token", "/account?done=profile", "/"])
def test_next_on_punchclock_is_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Safari/537.36 Edg/120.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1",
            "Chrome on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.27.0", "Python"),
        ("", "Unknown device"),
        ("something/1.0", "Other client"),
    ],
)
def test_a_session_s_device_is_named_from_its_user_agent(agent: str, device: str) -> None:
    assert describe(agent) == device


@pytest.fixture
def tokens(clock: FixedClock) -> FormTokens:
    return FormTokens(SecretBox(b"k" * 32), clock.now)


def test_a_form_token_is_accepted_from_its_own_browser_within_its_lifetime(
    tokens: FormTokens, clock: FixedClock
) -> None:
    browser = FormTokens.new_browser_id()
    token = tokens.issue(browser)
    tokens.check(browser, token)
    clock.advance(FORM_LIFETIME)
    tokens.check(browser, token)
    clock.advance(1)
    with pytest.raises(FormRefused) as refused:
        tokens.check(browser, token)
    assert refused.value.stale


def test_a_form_token_is_refused_anywhere_else(tokens: FormTokens, clock: FixedClock) -> None:
    browser, other = FormTokens.new_browser_id(), FormTokens.new_browser_id()
    token = tokens.issue(browser)
    issued, _, mac = token.partition(".")
    later = f"{int(issued) + 3600}.{mac}"  # a made-up time, to live longer
    for browser_id, candidate in [
        (other, token),
        (None, token),
        (browser, later),
        (browser, ""),
        (browser, token + "A"),
        (browser, f"{issued}.{'A' * 43}"),
    ]:
        with pytest.raises(FormRefused) as refused:
            tokens.check(browser_id, candidate)
        assert not refused.value.stale
    another_key = FormTokens(SecretBox(b"x" * 32), clock.now)
    with pytest.raises(FormRefused):
        another_key.check(browser, token)


def test_a_token_from_the_future_is_refused(tokens: FormTokens, clock: FixedClock) -> None:
    browser = FormTokens.new_browser_id()
    clock.advance(600)
    token = tokens.issue(browser)
    clock.advance(-600)
    with pytest.raises(FormRefused):
        tokens.check(browser, token)


FIELDS = {"email": "email", "password": "password", "current_password": "current_password"}


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (EmailTaken(), "email"),
        (PasswordRejected("Password must be at least 8 characters"), "password"),
        (CurrentPasswordInvalid(), "current_password"),
        (InvalidInput("Invalid email"), "email"),
        (InvalidInput("Invalid country_id"), None),  # no such field on the form: above it
        (InvalidInput("something", field="password"), "password"),
        (InvalidCredentials(), None),
    ],
)
def test_the_service_s_message_goes_next_to_its_field(error: Exception, field: str | None) -> None:
    assert isinstance(
        error,
        (EmailTaken, PasswordRejected, CurrentPasswordInvalid, InvalidInput, InvalidCredentials),
    )
    errors = errors_from("login", error, FIELDS)
    if field is None:
        assert errors.general == error.message
        assert errors.fields == {}
    else:
        assert errors.fields == {field: error.message}
        assert errors.focus == field


def test_a_throttled_form_says_how_long_to_wait() -> None:
    assert errors_from("login", Throttled(42), FIELDS).general.endswith("wait 42 seconds.")
    assert errors_from("login", Throttled(3000), FIELDS).general.endswith("wait 50 minutes.")
    assert errors_from("login", Throttled(7200), FIELDS).general.endswith("wait 2 hours.")


def test_every_audit_event_the_services_record_has_a_label_on_the_account_page() -> None:
    """The owner reads their recent events in words, never as an internal name."""
    services = Path(__file__).parents[2] / "src" / "punchclock" / "services"
    recorded = {
        name
        for path in services.glob("*.py")
        for name in re.findall(
            r'(?:record\(\s*|_turn_off\(\s*account, client, )"([a-z_]+)"', path.read_text()
        )
    }

    assert {"sign_up", "two_factor_removed", "email_change_undone"} <= recorded  # the scan works
    assert sorted(recorded - EVENTS.keys()) == []
