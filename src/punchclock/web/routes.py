"""HTTP handlers: parse, make one service call, render. Errors are mapped in errors.py."""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable
from typing import TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from punchclock import keys
from punchclock.errors import InvalidInput
from punchclock.models import Account
from punchclock.services import Services
from punchclock.services.accounts import SignUp
from punchclock.web import openapi, wire
from punchclock.web.asgi import Route
from punchclock.web.auth import (
    Authenticator,
    Clients,
    CrossSiteGuard,
    clear_session_cookie,
    device_cookie,
    session_cookie,
    set_session_cookie,
)
from punchclock.web.errors import JSON, BodyTooLarge, JsonAnswer, UnsupportedMediaType
from punchclock.web.scope import ACCOUNT_ID, CREDENTIAL

MAX_BODY = 64 * 1024  # bytes
T = TypeVar("T")
_LIVE = msgspec.json.encode("OK")


def json_response(value: object, status: int = 200) -> Response:
    return JsonAnswer(msgspec.json.encode(value), status)


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    # isdigit() alone takes "²" for a digit, which int() then refuses
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge()
    return body


async def json_body(request: Request) -> bytes:
    """Return the body of a request that says it is JSON, or none; else a 415."""
    content_type = request.headers.get("content-type")
    if content_type is not None and not _is_json(content_type):
        # text/plain and the form encodings are what a plain HTML form on any site can send
        # without a CORS preflight: parsed as JSON, they would let it log a visitor in
        raise UnsupportedMediaType()
    return await read_body(request)


async def read_json(request: Request, shape: type[T]) -> T:
    """Decode a JSON body into `shape`; any other body is a 4xx, never a 500."""
    body = await json_body(request)
    try:
        return msgspec.json.decode(body, type=shape)
    except msgspec.DecodeError as e:  # ValidationError is a DecodeError
        raise InvalidInput(f"Invalid request body: {e}") from None
    except RecursionError:  # msgspec's answer to arrays nested thousands deep, not a DecodeError
        raise InvalidInput("Invalid request body: nested too deeply") from None


def _is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class Api:
    """The endpoints of Toggl's accounts service and of /api/v9/me."""

    def __init__(
        self,
        services: Services,
        trusted_origins: Iterable[str] = (),
        render_cache_size: int = 4096,
        clients: Clients | None = None,
        public_url: str = "",
    ) -> None:
        self.credentials = services.credentials
        self.sessions = services.sessions
        self.resets = services.resets
        self.email_changes = services.email_changes
        self.accounts = services.accounts
        self.health = services.health
        self.public_url = public_url  # where the links in mails point
        self.client = clients or Clients()
        self.authenticate = Authenticator(services.credentials, services.attempts, self.client)
        self.guard = CrossSiteGuard(trusted_origins)
        # /me is the hottest answer there is. Its body depends only on the account row, which
        # is read afresh on every request, so a body cached by that row is never stale.
        self._me_body = functools.lru_cache(maxsize=render_cache_size)(self._render_me)
        self._openapi = openapi.document()  # generated once, at start-up

    def _render_me(self, account: Account) -> bytes:
        return msgspec.json.encode(wire.me(account, self.credentials.api_token(account)))

    def me_response(self, account: Account) -> Response:
        return JsonAnswer(self._me_body(account))

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v9/me", self.me),
            Route("GET", "/api/v9/me/logged", self.logged),
            Route("POST", "/api/signup", self.sign_up),
            Route("POST", "/api/sessions", self.log_in),
            Route("DELETE", "/api/sessions", self.log_out),
            Route("GET", "/api/sessions", self.list_sessions),
            Route("DELETE", "/api/sessions/{id}", self.end_session),
            Route("POST", "/api/me/close_account/track", self.close_account),
            Route("POST", "/api/me/password_reset/request", self.request_reset),
            Route("POST", "/api/me/password_reset/confirm/{code}", self.confirm_reset),
            Route("POST", "/api/me/email_change/confirm/{code}", self.confirm_email_change),
            Route("POST", "/api/me/email_change/undo/{code}", self.undo_email_change),
            Route("GET", "/email/confirm/{code}", self.email_link_page),
            Route("GET", "/email/undo/{code}", self.email_link_page),
            Route("PUT", "/api/v9/me", self.update_me),
            Route("POST", "/api/v9/me/reset_token", self.reset_token),
            Route("GET", "/.well-known/jwks.json", self.jwks),
            Route("GET", "/api/openapi.json", self.openapi),
            Route("GET", "/health/live", self.live),
            Route("GET", "/health/ready", self.ready),
        ]

    async def sign_up(self, request: Request) -> Response:
        body = await read_json(request, wire.SignUpBody)
        form = SignUp(
            email=body.email,
            password=body.password,
            display_name=body.display_name,
            timezone=body.timezone,
            tos_accepted_for=body.tos_accepted_for,
            remember_me=body.remember_me,
        )
        account, session = await self.accounts.sign_up(form, self.client(request))
        response = self.me_response(account)
        set_session_cookie(response, session)
        return response

    async def log_in(self, request: Request) -> Response:
        body = await read_json(request, wire.LogInBody)
        request.scope[CREDENTIAL] = "password"  # for the access log, as auth.py notes it
        account, session = await self.credentials.log_in(
            body.email,
            body.password,
            body.remember_me,
            self.client(request),
            device_cookie(request),
            body.otp,
        )
        request.scope[ACCOUNT_ID] = account.id
        response = self.me_response(account)
        set_session_cookie(response, session)
        return response

    async def log_out(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        if _flag(request, "others"):
            await self.sessions.end_other_sessions(auth, self.client(request))
            return Response(status_code=200)
        await self.sessions.log_out(auth, session_cookie(request), self.client(request))
        response = Response(status_code=200)
        clear_session_cookie(response)
        return response

    async def list_sessions(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        found = await self.sessions.list_sessions(auth)
        return json_response(wire.sessions(found, auth.jti))

    async def end_session(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        await self.sessions.end_session(auth, request.path_params["id"], self.client(request))
        return Response(status_code=200)

    async def jwks(self, request: Request) -> Response:
        response = json_response(wire.jwks(keys.jwks(self.sessions.signing_keys())))
        # other services may cache the keys a while; a retired key's sessions are
        # refused here at once regardless
        response.headers["cache-control"] = "public, max-age=300"
        return response

    async def live(self, request: Request) -> Response:
        return Response(_LIVE, media_type=JSON)

    async def ready(self, request: Request) -> Response:
        problems = await self.health.problems()
        return json_response(problems, 503 if problems else 200)

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type=JSON)

    async def close_account(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        await self.accounts.close_account(auth, self.client(request))
        response = Response(status_code=200)
        clear_session_cookie(response)
        return response

    async def request_reset(self, request: Request) -> Response:
        body = await read_json(request, wire.ResetRequestBody)
        await self.resets.request_password_reset(body.email, self.client(request))
        return json_response("OK")

    async def confirm_reset(self, request: Request) -> Response:
        body = await read_json(request, wire.ResetConfirmBody)
        account, session = await self.resets.confirm_password_reset(
            request.path_params["code"], body.password, self.client(request), body.otp
        )
        response = self.me_response(account)
        set_session_cookie(response, session)
        return response

    async def confirm_email_change(self, request: Request) -> Response:
        await self.email_changes.confirm(request.path_params["code"], self.client(request))
        return json_response("OK")

    async def undo_email_change(self, request: Request) -> Response:
        await self.email_changes.undo(request.path_params["code"], self.client(request))
        return json_response("OK")

    async def email_link_page(self, request: Request) -> Response:
        """Answer a link of an email change's mail with a button that follows it.

        A GET never uses the code: mail scanners open links before people do. The button
        POSTs to the API from this same origin (CrossSiteGuard lets it through).
        """
        kind = "confirm" if request.url.path.startswith("/email/confirm/") else "undo"
        code = request.path_params["code"]
        action = f"{self.public_url}/api/me/email_change/{kind}/{code}"
        return Response(_link_page(kind, action), media_type="text/html; charset=utf-8")

    async def me(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        if request.scope["query_string"] and _flag(request, "with_related_data"):
            token = self.credentials.api_token(auth.account)
            workspaces = await self.accounts.workspaces(auth)
            return json_response(wire.me_with_related_data(auth.account, token, workspaces))
        return self.me_response(auth.account)

    async def update_me(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        body = wire.profile_body(await json_body(request))
        account = await self.accounts.update_profile(auth, body.update(), self.client(request))
        return json_response(wire.me_updated(account, self.credentials.api_token(account)))

    async def logged(self, request: Request) -> Response:
        await self.authenticate(request)
        return Response(status_code=200)

    async def reset_token(self, request: Request) -> Response:
        auth = await self.authenticate(request)
        return json_response(await self.accounts.reset_api_token(auth, self.client(request)))


_LINK_PAGES = {
    "confirm": ("Confirm your new address", "Use this address for my account"),
    "undo": ("Undo the change of address", "Undo the change and secure my account"),
}


def _link_page(kind: str, action: str) -> bytes:
    title, button = _LINK_PAGES[kind]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>\n<h1>{title}</h1>\n"
        f'<form method="post" action="{html.escape(action)}">\n'
        f'<button type="submit">{button}</button>\n</form>\n</body></html>\n'
    ).encode()


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None or value.lower() in ("false", "0", ""):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise InvalidInput(f"Invalid {name}: use true or false")
