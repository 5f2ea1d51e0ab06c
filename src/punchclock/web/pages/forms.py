"""What the pages' forms carry: anti-CSRF tokens bound to the browser, the fields, the errors."""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from punchclock.errors import (
    CurrentPasswordInvalid,
    CurrentPasswordMissing,
    EmailTaken,
    InvalidInput,
    PasswordRejected,
    PunchclockError,
    SecondFactorInvalid,
    SecondFactorRequired,
    Throttled,
)
from punchclock.tokens import SecretBox
from punchclock.web.errors import STATUS

BROWSER_COOKIE = "__Secure-punchclock-browser"
FORM_LIFETIME = 12 * 3600  # seconds a form's token is accepted: a tab left open a day is stale
MAX_FIELDS = 20  # form fields read from a body; a page's forms have at most six
_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 random bytes, base64url
_TOKEN = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


class FormRefused(Exception):
    """A form's token is missing, forged, for another browser, or too old."""

    def __init__(self, stale: bool) -> None:
        super().__init__("stale" if stale else "unverified")
        self.stale = stale


class FormTokens:
    """Tokens that prove a form was served by punchclock to this very browser.

    Synchronizer-style, without server state (OWASP CSRF Prevention Cheat Sheet, signed
    double-submit): the browser holds a random id in an HttpOnly cookie, and each form
    carries `<issued at>.<HMAC(server key, browser id, issued at)>`. Another site can
    neither read the cookie nor make the HMAC, so it cannot make a token this browser's
    cookie accepts (ASVS 4.0.3 V4.2.2). The pages also apply the Origin / Sec-Fetch-Site
    rule of web/auth.py to every POST.
    """

    def __init__(self, secrets_box: SecretBox, now: Callable[[], int]) -> None:
        self._secrets = secrets_box
        self._now = now  # microseconds since the epoch

    @staticmethod
    def browser_id(request: Request) -> str | None:
        """Return the browser's id from its cookie, if it holds a well-formed one."""
        value = request.cookies.get(BROWSER_COOKIE)
        return value if value is not None and _BROWSER_ID.fullmatch(value) else None

    @staticmethod
    def new_browser_id() -> str:
        return secrets.token_urlsafe(32)

    def issue(self, browser_id: str) -> str:
        """Return a token for a form served now to this browser."""
        issued = self._now() // 1_000_000
        return f"{issued}.{self._mac(browser_id, issued)}"

    def check(self, browser_id: str | None, token: str) -> None:
        """Raise FormRefused unless `token` was issued to this browser within the lifetime."""
        match = _TOKEN.fullmatch(token)
        if browser_id is None or match is None:
            raise FormRefused(stale=False)
        issued = int(match.group(1))
        if not hmac.compare_digest(match.group(2), self._mac(browser_id, issued)):
            raise FormRefused(stale=False)
        age = self._now() // 1_000_000 - issued
        if not 0 <= age <= FORM_LIFETIME:
            raise FormRefused(stale=True)

    def _mac(self, browser_id: str, issued: int) -> str:
        digest = self._secrets.form_mac(f"{browser_id}|{issued}")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def browser_cookie(browser_id: str) -> str:
    """Return the Set-Cookie value for a browser id: it lives as long as the browser session."""
    return f"{BROWSER_COOKIE}={browser_id}; Path=/; HttpOnly; Secure; SameSite=Lax"


def parse_form(body: bytes) -> dict[str, str]:
    """Return the fields of an application/x-www-form-urlencoded body (the first of a name).

    Raises InvalidInput for a body that is not UTF-8 or has too many fields.
    """
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("Invalid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


@dataclass
class FormErrors:
    """The errors of one submitted form: by field, and one for the form as a whole."""

    form: str = ""  # which form of the page they belong to
    fields: dict[str, str] = field(default_factory=dict)
    general: str = ""
    focus: str = ""  # the field to put the cursor in: the first with an error

    def __post_init__(self) -> None:
        self.focus = self.focus or next(iter(self.fields), "")

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


_INVALID_FIELD = re.compile(r"Invalid (\w+)")


def errors_from(form: str, error: PunchclockError, fields: dict[str, str]) -> FormErrors:
    """Place the service's message next to the field it concerns, else above the form.

    `fields` maps the service's field names to the form's (only those the form has).
    """
    name = error.field
    if name is not None:
        pass
    elif isinstance(error, EmailTaken):
        name = "email"
    elif isinstance(error, PasswordRejected):
        name = "password"
    elif isinstance(error, SecondFactorInvalid | SecondFactorRequired):
        name = "otp"
    elif isinstance(
        error, CurrentPasswordInvalid | CurrentPasswordMissing
    ) or error.message.startswith("Current password"):  # e.g. "... to change email"
        name = "current_password"
    elif isinstance(error, InvalidInput):
        match = _INVALID_FIELD.fullmatch(error.message)
        name = match.group(1) if match else None
    message = error.message
    if isinstance(error, Throttled):
        message = f"{message}: wait {_duration(error.retry_after)}."
    if name is not None and name in fields:
        return FormErrors(form, {fields[name]: message})
    return FormErrors(form, general=message)


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = (seconds + 59) // 60
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{(minutes + 59) // 60} hours"


# what a form never gets back filled in: passwords, one-time codes, its token
_SECRET_FIELDS = frozenset({"password", "current_password", "otp", "csrf"})


def kept(form: dict[str, str]) -> dict[str, Any]:
    """Return what a form sent back to fill it again: never a password or a code."""
    return {k: v for k, v in form.items() if k not in _SECRET_FIELDS}


def for_form(errors: FormErrors, form: str) -> FormErrors:
    errors.form = errors.form or form
    return errors


def status_of(error: PunchclockError) -> int:
    return STATUS.get(type(error), 400)


def redirect(path: str) -> Response:
    """Send the browser on with a GET (303 See Other), as after every form."""
    return RedirectResponse(path, status_code=303)


def safe_next(value: str | None) -> str:
    """Return `value` if it is a path on this site, else /account (no open redirect).

    `//evil.example`, `/\\evil.example` and `https://evil.example` name other sites;
    browsers also drop tabs and newlines from URLs, so no control character passes.
    """
    default = "/account"
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return default
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
