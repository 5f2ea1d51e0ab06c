"""Pages for people: sign up, log in, forgot and reset password, the account page (its
two-factor pages and the log-in's code step are in two_factor.py).

Each handler parses a form, makes the one service call the matching API endpoint makes,
and renders: every rule and message is the service's. Errors of a form come back as the
form, with the service's message next to the field it concerns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from secrets import token_hex
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response

from punchclock.errors import (
    CrossSiteRequest,
    InvalidCredentials,
    PunchclockError,
    ResetCodeInvalid,
    SecondFactorRequired,
)
from punchclock.models import AuditEvent, Session
from punchclock.services import Services
from punchclock.services.accounts import SignUp
from punchclock.services.fields import ProfileUpdate
from punchclock.services.sessions import Authenticated
from punchclock.tokens import SecretBox
from punchclock.web.asgi import Route
from punchclock.web.auth import (
    Clients,
    CrossSiteGuard,
    clear_session_cookie,
    device_cookie,
    session_cookie,
    set_session_cookie,
)
from punchclock.web.pages import devices
from punchclock.web.pages.assets import Assets
from punchclock.web.pages.forms import (
    FormErrors,
    FormRefused,
    FormTokens,
    browser_cookie,
    errors_from,
    for_form,
    kept,
    parse_form,
    redirect,
    safe_next,
    status_of,
)
from punchclock.web.pages.two_factor import START_AGAIN, TwoFactorPages, second_step
from punchclock.web.routes import read_body
from punchclock.web.scope import ACCOUNT_ID, CREDENTIAL

HTML = "text/html; charset=utf-8"
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# The dispatcher adds `Cache-Control: no-store`: pages show personal data and form tokens.
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
# `same-origin`: the pages' own form POSTs then carry their real Origin, and no other site
# is ever told which page linked to it. The reset page, whose URL holds a code, sends no
# Referer at all, even to punchclock (its POST then carries `Origin: null`, which
# web/auth.py's rule accepts only with `Sec-Fetch-Site: same-origin`).
PAGE_HEADERS = (
    *_COMMON,
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", _CSP.encode()),
)
SCRIPTED_PAGE_HEADERS = (
    *_COMMON,
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", (_CSP + "; script-src 'self'").encode()),
)
SECRET_URL_PAGE_HEADERS = (
    *_COMMON,
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", _CSP.encode()),
)
MAX_BLANK_PAGES = 512  # blank forms kept rendered (see Pages._render)
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
EVENTS = {
    "sign_up": "Account created",
    "log_in": "Logged in",
    "log_in_failed": "Wrong password",
    "throttled": "Attempts refused: too many",
    "session_ended": "Session ended",
    "password_changed": "Password changed",
    "email_changed": "Email changed",
    "reset_requested": "Password reset asked for",
    "reset_failed": "Password reset failed",
    "reset_completed": "Password reset",
    "api_token_reset": "API token reset",
    "account_closed": "Account closed",
    "account_created": "Account created by an operator",
    "account_disabled": "Account disabled by an operator",
    "account_enabled": "Account enabled by an operator",
    "email_change_requested": "Email change asked for",
    "email_change_failed": "Email change link refused",
    "email_change_undone": "Email change undone",
    "two_factor_enabled": "Two-factor authentication turned on",
    "two_factor_disabled": "Two-factor authentication turned off",
    "two_factor_removed": "Two-factor authentication removed by an operator",
    "two_factor_failed": "Wrong two-factor code",
    "recovery_code_used": "Recovery code used",
    "recovery_codes_replaced": "New recovery codes made",
}
NOTICES = {
    "profile": "Your profile is saved.",
    "email": "Your email is changed. Your previous address was told of it.",
    "email-pending": (
        "Check your new address: we sent it a link to confirm the change. Until it is "
        "followed, your account keeps its current email."
    ),
    "password": "Your password is changed. Every other session has ended.",
    "token": "Your API token is reset: the new one is shown below. The old one no longer works.",
    "session": "The session has ended.",
    "others": "Every other session has ended.",
    "two-factor-off": (
        "Two-factor authentication is off: your password alone logs you in. Your recovery "
        "codes no longer work."
    ),
}
STALE_FORM = "This form was open too long, so it was not sent. Check it and send it again."
UNVERIFIED_FORM = (
    "This form could not be verified (cookies may be off, or it came from an old tab), "
    "so it was not sent. Check it and send it again."
)


class Page(Response):
    """An HTML page with the pages' own security headers (see PAGE_HEADERS)."""

    media_type = HTML

    def __init__(
        self,
        content: str,
        status_code: int = 200,
        security_headers: tuple[tuple[bytes, bytes], ...] = PAGE_HEADERS,
    ) -> None:
        super().__init__(content, status_code)
        self.security_headers = security_headers


@dataclass(slots=True)
class Visit:
    """What a request brings: the browser's id (new if it had none) and who is logged in."""

    request: Request
    browser_id: str
    new_browser: bool
    auth: Authenticated | None = None


FormAction = Callable[[Visit, dict[str, str]], Awaitable[Response]]
FormPage = Callable[[Visit, dict[str, Any], FormErrors, int], Awaitable[Response]]


class Pages:
    """The server-rendered pages, served by the same process (and services) as the API."""

    def __init__(
        self,
        services: Services,
        *,
        secrets: SecretBox,
        now: Callable[[], int],
        trusted_origins: Iterable[str] = (),
        clients: Clients | None = None,
        reset_code_ttl: int = 3600,
        password_min_length: int = 8,
    ) -> None:
        self.credentials = services.credentials
        self.sessions = services.sessions
        self.resets = services.resets
        self.accounts = services.accounts
        self.audit = services.audit
        self.client = clients or Clients()
        # the dispatcher's guard trusts the API's allowed origins too; the pages' forms are
        # posted by the pages alone
        self._guard = CrossSiteGuard(trusted_origins)
        self._tokens = FormTokens(secrets, now)
        self._assets = Assets()
        self._ttl_minutes = reset_code_ttl // 60
        self._password_hint = f"At least {password_min_length} characters; a long phrase is best."
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("punchclock.web.pages", "templates"),
            autoescape=True,  # every value is text: a name holding HTML is shown as written
            undefined=jinja2.ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals["url"] = self._assets.url
        self._timezones = [
            (name, name.replace("_", " "))
            for name in sorted(zoneinfo.available_timezones())
            if not name.startswith(("posix/", "right/")) and name not in ("localtime", "Factory")
        ]
        self._weekdays = list(enumerate(WEEKDAYS))
        self._blank_pages: dict[tuple[str | None, ...], str] = {}
        self._token_slot = f"csrf-{token_hex(16)}"  # where a blank page's token goes
        self._two_factor = TwoFactorPages(self, services.two_factor)

    def routes(self) -> list[Route]:
        return [Route(r.method, r.path, self._answered(r.handler)) for r in self._routes()]

    def _answered(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Answer a service error no form shows (the database is down, too busy) with a page
        rather than the API's JSON."""

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except PunchclockError as e:
                status = status_of(e)
                if status < 500:
                    raise
                visit = Visit(request, FormTokens.new_browser_id(), False)
                again = request.url.path if request.method == "GET" else "/"
                page = self.render(visit, "error.html", status, message=e.message, again=again)
                page.headers["retry-after"] = "1"
                return page

        return handle

    def _routes(self) -> list[Route]:
        return [
            Route("GET", "/", self.home),
            Route("GET", "/static/{name}", self.static),
            Route("GET", "/login", self.login_page),
            Route("POST", "/login", self.form_handler(self._login_form, self._log_in, "password")),
            Route("POST", "/logout", self.log_out),
            Route("GET", "/signup", self.signup_page),
            Route("POST", "/signup", self.form_handler(self._signup_form, self._sign_up, "email")),
            Route("GET", "/forgot", self.forgot_page),
            Route("POST", "/forgot", self.form_handler(self._forgot_form, self._forgot, "email")),
            Route("GET", "/reset/{code}", self.reset_page),
            Route(
                "POST",
                "/reset/{code}",
                self.form_handler(self._reset_form, self._reset, "password"),
            ),
            Route("GET", "/account", self.account_page),
            Route("GET", "/account/token", self.token_page),
            Route("GET", "/closed", self.closed_page),
            *(
                Route("POST", f"/account/{name}", self._account_form(name, action, focus))
                for name, action, focus in (
                    ("profile", self._update_profile, "fullname"),
                    ("email", self._change_email, "current_password"),
                    ("password", self._change_password, "current_password"),
                    ("token", self._reset_token, ""),
                    ("sessions/end", self._end_session, ""),
                    ("sessions/others", self._end_other_sessions, ""),
                    ("close", self._close_account, "current_password"),
                )
            ),
            *self._two_factor.routes(),
        ]

    # -- plumbing -------------------------------------------------------------------------

    async def visit(self, request: Request) -> Visit:
        browser_id = FormTokens.browser_id(request)
        visit = Visit(request, browser_id or FormTokens.new_browser_id(), browser_id is None)
        token = session_cookie(request)
        if token is not None:
            request.scope[CREDENTIAL] = "session"  # for the access log and the metrics
            with contextlib.suppress(InvalidCredentials):
                visit.auth = await self.credentials.authenticate_session(token)
                request.scope[ACCOUNT_ID] = visit.auth.account.id
        return visit

    def render(
        self,
        visit: Visit,
        template: str,
        status: int = 200,
        headers: tuple[tuple[bytes, bytes], ...] = PAGE_HEADERS,
        blank: tuple[str | None, ...] | None = None,
        **context: Any,
    ) -> Response:
        """Render a page. `blank` marks a form as first served to someone logged out (no
        value, no error): such a page differs only by its token, so it is rendered once
        per `blank` key and the token put in (GET /login costs ~15 us instead of ~150)."""
        token = self._tokens.issue(visit.browser_id)
        key = (template, *blank) if blank is not None and visit.auth is None else None
        html = self._blank_pages.get(key) if key is not None else None
        if html is None:
            context.setdefault("values", {})
            context.setdefault("errors", FormErrors())
            html = self._env.get_template(template).render(
                csrf_token=self._token_slot if key is not None else token,
                account=visit.auth.account if visit.auth else None,
                password_hint=self._password_hint,
                **context,
            )
            if key is not None:
                if len(self._blank_pages) >= MAX_BLANK_PAGES:  # keys hold ?next= paths
                    self._blank_pages.clear()
                self._blank_pages[key] = html
        if key is not None:
            html = html.replace(self._token_slot, token)
        page = Page(html, status, headers)
        if visit.new_browser:
            page.headers.append("set-cookie", browser_cookie(visit.browser_id))
        return page

    async def _submitted(self, visit: Visit) -> dict[str, str]:
        """Read a POSTed form; CrossSiteRequest if another site's page sent it."""
        request = visit.request
        self._guard(request)  # CrossSiteRequest
        return parse_form(await read_body(request))

    def _check(self, visit: Visit, form: dict[str, str]) -> None:
        """FormRefused unless the form is one punchclock served this very browser."""
        self._tokens.check(None if visit.new_browser else visit.browser_id, form.get("csrf", ""))

    def form_handler(
        self, page: FormPage, action: FormAction, focus: str
    ) -> Callable[[Request], Awaitable[Response]]:
        """Handle a POST: check it, act, or give the form back with what went wrong."""

        async def handle(request: Request) -> Response:
            visit = await self.visit(request)
            form: dict[str, str] = {}
            try:
                form = await self._submitted(visit)
                self._check(visit, form)
                return await action(visit, form)
            except CrossSiteRequest:
                return self.render(visit, "refused.html", 403)
            except FormRefused as e:
                errors = FormErrors(general=STALE_FORM if e.stale else UNVERIFIED_FORM)
                return await page(visit, kept(form), errors, 403)
            except PunchclockError as e:
                errors = errors_from("", e, _FIELDS)
                errors.focus = errors.focus or focus
                return await page(visit, kept(form), errors, status_of(e))

        return handle

    # -- home and assets ------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        visit = await self.visit(request)
        return redirect("/account" if visit.auth else "/login")

    async def static(self, request: Request) -> Response:
        return self._assets.response(request.path_params["name"])

    # -- log in and out -------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        visit = await self.visit(request)
        target = safe_next(request.query_params.get("next"))
        if visit.auth is not None:
            return redirect(target)
        return await self._login_form(visit, {"remember_me": ""}, FormErrors(), 200)

    async def _login_form(
        self, visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
    ) -> Response:
        request = visit.request
        notice = (
            "You are logged out."
            if request.query_params.get("bye")
            else START_AGAIN
            if request.query_params.get("again")
            else None
        )
        next_path = request.query_params.get("next")
        target = safe_next(next_path) if next_path else None
        return self.render(
            visit,
            "login.html",
            status,
            blank=(notice, target) if not errors and not any(values.values()) else None,
            values=values,
            errors=for_form(errors, "login"),
            notice=notice,
            next=target,
        )

    async def _log_in(self, visit: Visit, form: dict[str, str]) -> Response:
        request = visit.request
        try:
            _, session = await self.credentials.log_in(
                form.get("email", ""),
                form.get("password", ""),
                form.get("remember_me") == "yes",
                self.client(request),
                device_cookie(request),
            )
        except SecondFactorRequired as e:  # the password was right: the code comes next
            return second_step(e.pending, request.query_params.get("next"))
        response = redirect(safe_next(request.query_params.get("next")))
        set_session_cookie(response, session)
        return response

    async def log_out(self, request: Request) -> Response:
        visit = await self.visit(request)
        try:
            self._check(visit, await self._submitted(visit))
        except CrossSiteRequest:
            return self.render(visit, "refused.html", 403)
        except FormRefused:
            # a stale "Log out" button: the person meant it, but only a verified form may
            # act; the account page comes back with a fresh one
            if visit.auth is None:
                return redirect("/login")
            return await self.render_account(visit, FormErrors("logout", general=STALE_FORM), 403)
        if visit.auth is not None:
            await self.sessions.log_out(visit.auth, session_cookie(request), self.client(request))
        response = redirect("/login?bye=1")
        clear_session_cookie(response)
        return response

    # -- sign up --------------------------------------------------------------------------

    async def signup_page(self, request: Request) -> Response:
        visit = await self.visit(request)
        return await self._signup_form(visit, {"timezone": "UTC"}, FormErrors(), 200)

    async def _signup_form(
        self, visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
    ) -> Response:
        values.setdefault("timezone", "UTC")
        return self.render(
            visit,
            "signup.html",
            status,
            blank=() if not errors and values == {"timezone": "UTC"} else None,
            values=values,
            errors=for_form(errors, "signup"),
            timezones=self._timezones,
        )

    async def _sign_up(self, visit: Visit, form: dict[str, str]) -> Response:
        request = visit.request
        _, session = await self.accounts.sign_up(
            SignUp(
                email=form.get("email", ""),
                password=form.get("password", ""),
                display_name=form.get("fullname") or None,
                timezone=form.get("timezone") or None,
                # unticked, the service refuses it with its own message
                tos_accepted_for="track" if form.get("tos") == "yes" else "",
                remember_me=False,
            ),
            self.client(request),
        )
        response = redirect("/account")
        set_session_cookie(response, session)
        return response

    # -- forgotten password ---------------------------------------------------------------

    async def forgot_page(self, request: Request) -> Response:
        visit = await self.visit(request)
        return await self._forgot_form(visit, {}, FormErrors(), 200)

    async def _forgot_form(
        self, visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
    ) -> Response:
        return self.render(
            visit,
            "forgot.html",
            status,
            blank=() if not errors and not values else None,
            values=values,
            errors=for_form(errors, "forgot"),
        )

    async def _forgot(self, visit: Visit, form: dict[str, str]) -> Response:
        email = form.get("email", "")
        # the same answer whether or not the email has an account: the service's
        await self.resets.request_password_reset(email, self.client(visit.request))
        return self.render(
            visit, "forgot.html", values={"email": email}, sent=True, ttl_minutes=self._ttl_minutes
        )

    async def reset_page(self, request: Request) -> Response:
        visit = await self.visit(request)
        # a GET never uses the code up: mail scanners and link previews fetch links
        if not await self.resets.reset_code_is_live(request.path_params["code"]):
            return self._reset_invalid(visit, 404)
        return await self._reset_form(visit, {}, FormErrors(), 200)

    def _reset_invalid(self, visit: Visit, status: int) -> Response:
        return self.render(
            visit,
            "reset.html",
            status,
            SECRET_URL_PAGE_HEADERS,
            invalid=ResetCodeInvalid.message,
        )

    async def _reset_form(
        self, visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
    ) -> Response:
        if errors.general == ResetCodeInvalid.message:
            return self._reset_invalid(visit, status)
        return self.render(
            visit,
            "reset.html",
            status,
            SECRET_URL_PAGE_HEADERS,
            code=visit.request.path_params["code"],
            values=values,
            errors=for_form(errors, "reset"),
        )

    async def _reset(self, visit: Visit, form: dict[str, str]) -> Response:
        request = visit.request
        try:
            _, session = await self.resets.confirm_password_reset(
                request.path_params["code"], form.get("password", ""), self.client(request)
            )
        except SecondFactorRequired as e:
            # the new password is set, but a reset is no way around the second factor
            # (ASVS 5 V6.4.3): the session waits for the code, as a log-in's does
            return second_step(e.pending, None, after_reset=True)
        response = redirect("/account")
        set_session_cookie(response, session)
        return response

    # -- the account page -----------------------------------------------------------------

    async def account_page(self, request: Request) -> Response:
        visit = await self.visit(request)
        if visit.auth is None:
            return redirect("/login?next=/account")
        return await self.render_account(visit, FormErrors(), 200)

    async def render_account(
        self,
        visit: Visit,
        errors: FormErrors,
        status: int,
        values: dict[str, Any] | None = None,
    ) -> Response:
        assert visit.auth is not None
        account = visit.auth.account
        zone = _zone(account.timezone)
        done = visit.request.query_params.get("done", "")
        sessions = await self.sessions.list_sessions(visit.auth)
        events = await self.audit.recent(visit.auth.account.id)
        shown = {
            "fullname": account.fullname,
            "email": account.email,
            "timezone": account.timezone,
            "beginning_of_week": account.beginning_of_week,
        }
        if values and errors.form in ("profile", "email"):
            shown.update(values)  # what the person typed stays in the form that failed
        return self.render(
            visit,
            "account.html",
            status,
            SCRIPTED_PAGE_HEADERS,
            values=shown,
            errors=errors,
            notice=NOTICES.get(done),
            api_token=self.credentials.api_token(account),
            reveal_token=done == "token",
            sessions=[_session_row(s, visit.auth.jti, zone) for s in sessions],
            events=[_event_row(e, zone) for e in events],
            timezones=self._timezones,
            weekdays=self._weekdays,
        )

    def _account_form(
        self, name: str, action: Callable[[Visit, dict[str, str]], Awaitable[str]], focus: str
    ) -> Callable[[Request], Awaitable[Response]]:
        """Handle a form of the account page: the page again, with its errors or a notice."""
        form_name = name.partition("/")[0]

        async def page(
            visit: Visit, values: dict[str, Any], errors: FormErrors, status: int
        ) -> Response:
            if visit.auth is None:
                return redirect("/login?next=/account")
            return await self.render_account(visit, for_form(errors, form_name), status, values)

        async def act(visit: Visit, form: dict[str, str]) -> Response:
            if visit.auth is None:
                return redirect("/login?next=/account")
            done = await action(visit, form)
            anchor = "#sessions" if form_name == "sessions" else ""
            if form_name == "token":
                anchor = "#token"
            if done:
                return redirect(f"/account?done={done}{anchor}")
            response = redirect("/closed")  # the account is closed: so is this session
            clear_session_cookie(response)
            return response

        return self.form_handler(page, act, focus)

    async def token_page(self, request: Request) -> Response:
        visit = await self.visit(request)
        if visit.auth is None:
            return redirect("/login?next=/account")
        return self.render(visit, "token.html")

    async def closed_page(self, request: Request) -> Response:
        return self.render(await self.visit(request), "closed.html")

    async def _update_profile(self, visit: Visit, form: dict[str, str]) -> str:
        assert visit.auth is not None
        day = form.get("beginning_of_week")
        update = ProfileUpdate(
            fullname=form.get("fullname", ""),
            timezone=form.get("timezone"),
            # a select sends a digit; anything else is out of range, for the service to refuse
            beginning_of_week=(
                None if day is None else int(day) if day.isascii() and day.isdigit() else -1
            ),
        )
        await self.accounts.update_profile(visit.auth, update, self.client(visit.request))
        return "profile"

    async def _change_email(self, visit: Visit, form: dict[str, str]) -> str:
        assert visit.auth is not None
        email = form.get("email", "")
        update = ProfileUpdate(email=email, current_password=form.get("current_password", ""))
        account = await self.accounts.update_profile(visit.auth, update, self.client(visit.request))
        # where the service waits for the new address to confirm, the page says so
        return "email" if account.email.lower() == email.lower() else "email-pending"

    async def _change_password(self, visit: Visit, form: dict[str, str]) -> str:
        assert visit.auth is not None
        update = ProfileUpdate(
            password=form.get("password", ""),
            current_password=form.get("current_password", ""),
        )
        await self.accounts.update_profile(visit.auth, update, self.client(visit.request))
        return "password"

    async def _reset_token(self, visit: Visit, form: dict[str, str]) -> str:
        assert visit.auth is not None
        await self.accounts.reset_api_token(visit.auth, self.client(visit.request))
        return "token"

    async def _end_session(self, visit: Visit, form: dict[str, str]) -> str:
        assert visit.auth is not None
        session_id = form.get("session_id", "")
        await self.sessions.end_session(visit.auth, session_id, self.client(visit.request))
        return "session"

    async def _end_other_sessions(self, visit: Visit, form: dict[str, str]) -> str:
        assert visit.auth is not None
        await self.sessions.end_other_sessions(visit.auth, self.client(visit.request))
        return "others"

    async def _close_account(self, visit: Visit, form: dict[str, str]) -> str:
        assert visit.auth is not None
        await self.accounts.close_account(
            visit.auth, self.client(visit.request), form.get("current_password", "")
        )
        return ""


# The service's field names, as the forms name their inputs.
_FIELDS = {
    name: name
    for name in (
        "email",
        "password",
        "current_password",
        "fullname",
        "timezone",
        "beginning_of_week",
        "tos_accepted_for",
        "otp",
    )
}
_FIELDS["tos_accepted_for"] = "tos"


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _when(microseconds: int, zone: dt.tzinfo) -> str:
    return f"{dt.datetime.fromtimestamp(microseconds / 1_000_000, zone):%Y-%m-%d %H:%M}"


def _session_row(session: Session, current_jti: str | None, zone: dt.tzinfo) -> dict[str, Any]:
    return {
        "id": session.id,
        "device": devices.describe(session.user_agent),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "last_used": _when(session.last_used_at, zone),
        "current": session.jti == current_jti,
    }


def _event_row(event: AuditEvent, zone: dt.tzinfo) -> dict[str, Any]:
    what = EVENTS.get(event.event, event.event)
    return {
        "at": _when(event.at, zone),
        "what": what,
        "ip": event.ip,
        "device": devices.describe(event.user_agent) if event.user_agent else "",
    }
