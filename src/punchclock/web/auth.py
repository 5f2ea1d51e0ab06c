"""The one place that turns a request into an authenticated account."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from punchclock.config import SESSION_LIFETIME
from punchclock.errors import CrossSiteRequest, InvalidCredentials
from punchclock.service import Accounts, Authenticated, IssuedSession

COOKIE = "__Secure-accounts-session"
_COOKIE_ATTRIBUTES = "Path=/; HttpOnly; Secure; SameSite=Lax"  # as Toggl's accounts service
MAX_CREDENTIAL = 4096  # characters: a longer Authorization header is refused unread


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authenticator:
    """Authenticate by Basic (email:password or token:api_token), else by the session cookie.

    Every failure raises InvalidCredentials, whatever went wrong.
    """

    def __init__(self, accounts: Accounts, trusted_origins: Iterable[str]) -> None:
        self._accounts = accounts
        self._trusted_origins = frozenset(o.lower() for o in trusted_origins)

    async def __call__(self, request: Request) -> Authenticated:
        header = request.headers.get("authorization")
        if header is not None:  # Basic carries its own credentials: no CSRF to fear
            username, password = _basic_credentials(header)
            return await self._accounts.authenticate_basic(username, password)
        token = session_cookie(request)
        if token is None:
            raise InvalidCredentials()
        if request.method not in SAFE_METHODS:
            self._refuse_cross_site(request)
        return await self._accounts.authenticate_session(token)

    def _refuse_cross_site(self, request: Request) -> None:
        """Refuse a cookie-authenticated change requested by another site's page.

        The browser names the page's site in Sec-Fetch-Site and its origin in Origin
        (OWASP CSRF Prevention Cheat Sheet: Fetch Metadata, and verifying the origin with
        standard headers). Clients that send neither (curl, server-side code, the seed's
        examples) are not browsers and are let through.
        """
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise CrossSiteRequest()
        origin = request.headers.get("origin")
        if origin is not None and origin.lower() not in self._trusted_origins:
            raise CrossSiteRequest()


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def set_session_cookie(response: Response, session: IssuedSession) -> None:
    """Set the cookie; without remember_me it lasts as long as the browser session."""
    value = f"{COOKIE}={session.token}; {_COOKIE_ATTRIBUTES}"
    if session.remember_me:
        value += f"; Max-Age={SESSION_LIFETIME}"
    response.headers.append("set-cookie", value)


def clear_session_cookie(response: Response) -> None:
    response.headers.append("set-cookie", f"{COOKIE}=; {_COOKIE_ATTRIBUTES}; Max-Age=0")


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or len(encoded) > MAX_CREDENTIAL:
        raise InvalidCredentials()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidCredentials() from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidCredentials()
    return username, password
