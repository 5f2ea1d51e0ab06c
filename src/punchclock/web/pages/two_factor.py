"""The pages of two-factor authentication: the log-in's code step, and setting it up,
turning it off and making new recovery codes from the account page.

Every rule (which codes are right, once only, the 5-minute ticket, throttling) is
services/two_factor.py's; these handlers carry the ticket between the password step and the
code step in a cookie, and render.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from punchclock.errors import SecondFactorInvalid, TwoFactorAlreadyEnabled, TwoFactorNotStarted
from punchclock.services.two_factor import TwoFactor
from punchclock.web.asgi import Route
from punchclock.web.auth import set_session_cookie
from punchclock.web.pages.forms import FormErrors, for_form, redirect, safe_next

if TYPE_CHECKING:
    from punchclock.web.pages import Pages, Visit

# The log-in's step between a right password and the second factor: the service's pending
# ticket, kept by this browser alone. `__Host-`: no other host of the domain can set or
# read it; HttpOnly: no script can; SameSite=Strict: only punchclock's own pages send it
# back, so the code form of another site's page has no ticket to complete (log-in CSRF);
# 5 minutes, as long as the service keeps the ticket (ASVS 5 V6.4.3: the second factor
# stays bound to the log-in that proved the password; NIST SP 800-63B 4.2.3).
PENDING_COOKIE = "__Host-punchclock-2fa"
PENDING_LIFETIME = 300  # seconds
_PENDING_ATTRIBUTES = "Path=/; HttpOnly; Secure; SameSite=Strict"
_PENDING = re.compile(r"[!#-+\--:<-\[\]-~]{1,512}")  # a cookie value (RFC 6265 cookie-octet)

# the set-up cannot go on (another tab finished or started over): the account page says why
_NOT_NOW = (TwoFactorAlreadyEnabled.message, TwoFactorNotStarted.message)
START_AGAIN = (
    "Log in again: the step that asks for your code lasts 5 minutes, works once, and "
    "only in the browser where you typed your password."
)
AFTER_RESET = "Your new password is set. To log in, enter the code your authenticator app shows."


def pending_ticket(request: Request) -> str | None:
    """Return the log-in ticket this browser holds, if any (the service judges it)."""
    value = request.cookies.get(PENDING_COOKIE)
    return value if value is not None and _PENDING.fullmatch(value) else None


def set_pending_cookie(response: Response, pending: str) -> None:
    response.headers.append(
        "set-cookie",
        f"{PENDING_COOKIE}={pending}; {_PENDING_ATTRIBUTES}; Max-Age={PENDING_LIFETIME}",
    )


def clear_pending_cookie(response: Response) -> None:
    response.headers.append("set-cookie", f"{PENDING_COOKIE}=; {_PENDING_ATTRIBUTES}; Max-Age=0")


def second_step(pending: str, next_path: str | None, *, after_reset: bool = False) -> Response:
    """Answer a right password of an account with two-factor on: keep the ticket in this
    browser and ask for the code."""
    response = redirect(_code_path(next_path, after_reset=after_reset))
    set_pending_cookie(response, pending)
    return response


def _code_path(next_path: str | None, *, recovery: bool = False, after_reset: bool = False) -> str:
    query = {
        "recovery": "1" if recovery else "",
        "reset": "1" if after_reset else "",
        "next": safe_next(next_path) if next_path else "",
    }
    encoded = urllib.parse.urlencode({k: v for k, v in query.items() if v})
    return f"/login/code?{encoded}" if encoded else "/login/code"


def _start_again(request: Request) -> Response:
    """Send the browser back to the password step, its dead ticket dropped."""
    next_path = request.query_params.get("next")
    query = {"again": "1", **({"next": safe_next(next_path)} if next_path else {})}
    response = redirect(f"/login?{urllib.parse.urlencode(query)}")
    clear_pending_cookie(response)
    return response


class TwoFactorPages:
    """The two-factor pages, served with the plumbing (tokens, rendering) of `Pages`."""

    def __init__(self, pages: Pages, two_factor: TwoFactor) -> None:
        self._pages = pages
        self._two_factor = two_factor

    def routes(self) -> list[Route]:
        form = self._pages.form_handler
        return [
            Route("GET", "/login/code", self.code_page),
            Route("POST", "/login/code", form(self._code_form, self._complete_log_in, "otp")),
            # a reload of the set-up page, or a bookmark: the set-up starts from a button
            Route("GET", "/account/2fa/setup", self.setup_page),
            Route("POST", "/account/2fa/setup", form(self._account("two-factor"), self._begin, "")),
            Route("POST", "/account/2fa/enable", form(self._enrol_form, self._enable, "otp")),
            Route(
                "POST", "/account/2fa/disable", form(self._account("disable"), self._disable, "otp")
            ),
            Route(
                "POST",
                "/account/2fa/recovery-codes",
                form(self._account("recovery"), self._regenerate, "otp"),
            ),
        ]

    # -- the log-in's code step -------------------------------------------------------------

    async def code_page(self, request: Request) -> Response:
        visit = await self._pages.visit(request)
        return await self._code_form(visit, {}, FormErrors(), 200)

    async def _code_form(
        self, visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
    ) -> Response:
        request = visit.request
        # The page is the same for every ticket, live or not, so it tells nothing of an
        # account: whether one was ever found is known only once a code is checked.
        if pending_ticket(request) is None:
            return _start_again(request)
        recovery = request.query_params.get("recovery") == "1"
        next_path = request.query_params.get("next")
        after_reset = request.query_params.get("reset") == "1"
        return self._pages.render(
            visit,
            "login_code.html",
            status,
            values=values,
            errors=for_form(errors, "code"),
            recovery=recovery,
            notice=AFTER_RESET if after_reset and not errors else None,
            action=_code_path(next_path, recovery=recovery, after_reset=after_reset),
            switch=_code_path(next_path, recovery=not recovery, after_reset=after_reset),
        )

    async def _complete_log_in(self, visit: Visit, form: dict[str, str]) -> Response:
        request = visit.request
        pending = pending_ticket(request)
        if pending is None:
            return _start_again(request)
        try:
            _, session = await self._two_factor.complete_log_in(
                pending, form.get("otp", ""), self._pages.client(request)
            )
        except SecondFactorInvalid as e:
            if e.pending is None:  # the ticket itself is dead: used, expired or made up
                return _start_again(request)
            raise  # a wrong code: the form again, and the same ticket for another try
        response = redirect(safe_next(request.query_params.get("next")))
        clear_pending_cookie(response)
        set_session_cookie(response, session)
        return response

    # -- the account page's section ---------------------------------------------------------

    def _account(
        self, form_name: str
    ) -> Callable[[Visit, dict[str, Any], FormErrors, int], Awaitable[Response]]:
        """The account page again, with a two-factor form's errors."""

        async def page(
            visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
        ) -> Response:
            if visit.auth is None:
                return redirect("/login?next=/account")
            return await self._pages.render_account(visit, for_form(errors, form_name), status)

        return page

    async def setup_page(self, request: Request) -> Response:
        return redirect("/account#two-factor")

    async def _begin(self, visit: Visit, form: dict[str, str]) -> Response:
        if visit.auth is None:
            return redirect("/login?next=/account")
        enrolment = await self._two_factor.begin_enrolment(
            visit.auth, self._pages.client(visit.request)
        )
        # the service's own SVG, made from the otpauth URI alone: no text of anyone's in it
        return self._render_enrolment(visit, enrolment.secret, enrolment.qr_svg)

    def _render_enrolment(
        self,
        visit: Visit,
        secret: str,
        qr_svg: str | None,
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Response:
        return self._pages.render(
            visit,
            "two_factor_setup.html",
            status,
            errors=for_form(errors or FormErrors(), "enrol"),
            secret=secret,
            qr_svg=qr_svg,
        )

    async def _enrol_form(
        self, visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
    ) -> Response:
        """The set-up page again after a wrong code, with the key the app was given and its
        QR code (a new key would undo the scan); the page also offers to start over."""
        if visit.auth is None:
            return redirect("/login?next=/account")
        begun = (
            None
            if errors.general in _NOT_NOW
            else await self._two_factor.pending_enrolment(visit.auth)
        )
        if begun is None:
            return await self._account("two-factor")(visit, values, errors, status)
        return self._render_enrolment(visit, begun.secret, begun.qr_svg, errors, status)

    async def _enable(self, visit: Visit, form: dict[str, str]) -> Response:
        if visit.auth is None:
            return redirect("/login?next=/account")
        codes = await self._two_factor.enable(
            visit.auth, form.get("otp", ""), self._pages.client(visit.request)
        )
        return self._pages.render(visit, "recovery_codes.html", codes=codes, enabled=True)

    async def _disable(self, visit: Visit, form: dict[str, str]) -> Response:
        if visit.auth is None:
            return redirect("/login?next=/account")
        await self._two_factor.disable(
            visit.auth,
            form.get("otp", ""),
            form.get("current_password", ""),
            self._pages.client(visit.request),
        )
        return redirect("/account?done=two-factor-off#two-factor")

    async def _regenerate(self, visit: Visit, form: dict[str, str]) -> Response:
        if visit.auth is None:
            return redirect("/login?next=/account")
        codes = await self._two_factor.regenerate_recovery_codes(
            visit.auth, form.get("otp", ""), self._pages.client(visit.request)
        )
        return self._pages.render(visit, "recovery_codes.html", codes=codes, enabled=False)
