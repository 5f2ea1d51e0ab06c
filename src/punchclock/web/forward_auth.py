"""/api/auth/verify: a reverse proxy asks who made the request it is about to pass on.

nginx `auth_request`, Caddy `forward_auth` and Traefik `ForwardAuth` send the original
request's credentials here before they proxy it to another service. The credentials are
checked exactly as /api/v9/me checks them (the same Authenticator: throttling, audit trail,
a revoked session refused on the very next request); the answer is 200 with identity
headers for the proxy to copy to that service, or Toggl's 403.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from punchclock.errors import InvalidCredentials, InvalidInput
from punchclock.models import Account
from punchclock.services.sessions import Authenticated, Sessions
from punchclock.tokens import identity_token
from punchclock.web.asgi import Route
from punchclock.web.auth import SAFE_METHODS, Authenticator, Clients, CrossSiteGuard

PATH = "/api/auth/verify"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")  # OpenAPI's
USER_ID = "X-Punchclock-User-Id"
ACCOUNT_ID = "X-Punchclock-Account-Id"
EMAIL = "X-Punchclock-Email"
WORKSPACE_ID = "X-Punchclock-Workspace-Id"
AUTH = "X-Punchclock-Auth"
SESSION_ID = "X-Punchclock-Session-Id"
IDENTITY = "X-Punchclock-Identity"  # the signed token, when PUNCHCLOCK_FORWARD_AUTH_TOKEN=on
# Every allowed answer carries each of these, empty when it does not apply (Session-Id
# without a cookie; Identity when off): Caddy 2.6 copies a header the answer lacks as its
# literal placeholder, "{http.reverse_proxy.header.X-Punchclock-Session-Id}".
IDENTITY_HEADERS = (USER_ID, ACCOUNT_ID, EMAIL, WORKSPACE_ID, AUTH, SESSION_ID, IDENTITY)
_IDENTITY = IDENTITY.lower().encode()
_IDENTITY_NAMES = frozenset(name.lower().encode() for name in IDENTITY_HEADERS)
LOGIN_ANSWERS = {"302": 302, "401": 401}  # ?login=: how a browser is sent to log in
_LOGIN_QUERIES = {f"login={value}".encode(): status for value, status in LOGIN_ANSWERS.items()}
_METHOD_HEADERS = {b"x-original-method": 0, b"x-forwarded-method": 1}  # the method, said
_FORWARDED = frozenset(  # what a proxy says about the original request's place
    {
        b"x-original-uri",
        b"x-forwarded-uri",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"host",
    }
)
MAX_SESSION_IDS = 100_000  # remembered session ids, per worker
MAX_NEXT = 2048  # characters of the original path kept in ?next=


class Original(NamedTuple):
    """What the proxy says about the request it asks about."""

    method: str
    path: str | None  # path and query; None when no trusted proxy said
    origin: str | None  # scheme://host, lowercase; None when no trusted proxy said


class ForwardAuth:
    """Answer reverse proxies' forward-auth questions at /api/auth/verify."""

    def __init__(
        self,
        sessions: Sessions,
        authenticate: Authenticator,
        guard: CrossSiteGuard,
        clients: Clients,
        allowed_origins: Iterable[str],
        *,
        issuer: str,
        identity_tokens: bool = False,
        now: Callable[[], int] | None = None,
    ) -> None:
        self._sessions = sessions
        self._authenticate = authenticate
        self._guard = guard
        self._clients = clients
        self._origins = frozenset(o.lower() for o in allowed_origins)
        self._issuer = issuer
        self._identity_tokens = identity_tokens
        self._now = now or (lambda: int(time.time()))
        # A session's jti and public id never change, so the pair is remembered; whether
        # the session is still live is asked of the store on every request regardless.
        self._session_ids: dict[str, str] = {}
        self._signed = functools.lru_cache(maxsize=4096)(self._sign)
        self._identity = functools.lru_cache(maxsize=4096)(self._render_identity)

    def routes(self) -> list[Route]:
        # nginx's subrequest carries the original request's method
        return [Route(method, PATH, self.verify) for method in METHODS]

    async def verify(self, request: Request) -> Response:
        """Answer 200 and who is calling, or 403 (or send a browser to log in)."""
        login = self._login_answer(request)
        method = self._original_method(request)
        try:
            # the dispatcher judged the question's method; this judges the original one
            self._guard.check(request, method)
            auth, credential = await self._authenticate.identify(request)
            session_id = await self._session_id(auth)
        except InvalidCredentials:
            # the original path and host matter only to a refusal: read them now
            redirect = self._login_redirect(request, self._original(request, method), login)
            if redirect is None:
                raise
            return redirect
        response = Response()
        identity = self._identity(auth.account, credential, session_id)
        response.raw_headers += identity
        if self._identity_tokens:
            token = self._signed(tuple(v.decode() for _, v in identity), self._now())
            response.raw_headers.append((_IDENTITY, token.encode()))
        else:
            response.raw_headers.append((_IDENTITY, b""))
        return response

    def _render_identity(
        self, account: Account, credential: str, session_id: str
    ) -> list[tuple[bytes, bytes]]:
        """Return the identity headers, encoded (cached: the account row is read afresh on
        every request, so headers cached by it are never stale)."""
        values = (
            str(account.id),
            account.accounts_id,
            account.email,
            str(account.default_workspace_id),
            credential,
            session_id,
        )
        return [
            (name.lower().encode(), value.encode())
            for name, value in zip(IDENTITY_HEADERS[:-1], values, strict=True)
        ]

    def _original_method(self, request: Request) -> str:
        """Return the original method to judge: the strictest one anything claims.

        The claims are the request's own method (nginx's subrequest carries the original),
        X-Original-Method and X-Forwarded-Method. A caller who adds a header of its own, or
        one the proxy does not overwrite (Caddy passes a caller's X-Original-Method on), can
        thus make the cross-site check stricter, never pass a change off as a read.
        A request carrying an X-Punchclock-* header that is not one of IDENTITY_HEADERS
        is refused (InvalidCredentials).
        """
        method = request.method
        said: list[str | None] = [None, None]  # X-Original-Method's, X-Forwarded-Method's
        for name, value in request.scope["headers"]:  # one pass: this is the hot path
            slot = _METHOD_HEADERS.get(name)
            if slot is not None and said[slot] is None:  # the first of each counts
                said[slot] = value.decode("latin-1").upper()
            elif name.startswith(b"x-punchclock-") and name not in _IDENTITY_NAMES:
                # An X-Punchclock-* header punchclock never sets came from the caller:
                # nginx cannot remove headers by pattern (its subrequest shows us all the
                # caller sent) and Traefik removes only the ones it names, so it would
                # reach the upstream beside the identity headers. Refused instead.
                raise InvalidCredentials()
        claims = [m for m in said if m is not None]
        if claims:
            unsafe = [m for m in (*claims, method) if m not in SAFE_METHODS]
            method = unsafe[0] if unsafe else claims[0]
        return method

    def _original(self, request: Request, method: str) -> Original:
        """Read the original path and origin that the proxy forwarded, to send a browser
        to log in; they are believed only from PUNCHCLOCK_TRUSTED_PROXIES."""
        if not self._clients.from_trusted_proxy(request):
            return Original(method, None, None)
        told: dict[bytes, str] = {}
        for name, value in request.scope["headers"]:
            if name in _FORWARDED and name not in told:
                told[name] = value.decode("latin-1")
        path = told.get(b"x-original-uri") or told.get(b"x-forwarded-uri")
        host = told.get(b"x-forwarded-host") or told.get(b"host")
        scheme = told.get(b"x-forwarded-proto") or request.url.scheme
        origin = f"{scheme}://{host}".lower() if host else None
        return Original(method, path, origin)

    async def _session_id(self, auth: Authenticated) -> str:
        """Return the public id of the session the cookie named ("" for Basic)."""
        if auth.jti is None:
            return ""
        known = self._session_ids.get(auth.jti)
        if known is not None:
            return known
        for session in await self._sessions.list_sessions(auth):
            if session.jti == auth.jti:
                if len(self._session_ids) >= MAX_SESSION_IDS:
                    self._session_ids.clear()
                self._session_ids[auth.jti] = session.id
                return session.id
        raise InvalidCredentials()  # ended between the check and now

    def _login_answer(self, request: Request) -> int | None:
        """Return how the proxy wants a browser sent to log in (?login=), if it does."""
        query = request.scope["query_string"]
        if not query:
            return None
        known = _LOGIN_QUERIES.get(query)  # what the shipped configurations send, unparsed
        if known is not None:
            return known
        value = request.query_params.get("login")
        if value is None:
            return None
        if value not in LOGIN_ANSWERS:  # the proxy's configuration is wrong: say so
            raise InvalidInput("Invalid login: use 302 or 401")
        return LOGIN_ANSWERS[value]

    def _login_redirect(
        self, request: Request, original: Original, status: int | None
    ) -> Response | None:
        """Send a browser without credentials to /login, if the proxy asked for that.

        Only a page load (GET/HEAD accepting HTML) with no Authorization header, for a host
        among punchclock's allowed origins as a trusted proxy names it: API clients keep
        Toggl's 403. The Location is a path on that same host, and ?next= a path on it
        too, never another host (ASVS 4.0.3 V5.1.5).
        """
        if (
            status is None
            or original.path is None
            or original.origin not in self._origins
            or original.method not in ("GET", "HEAD")
            or "authorization" in request.headers
            or "text/html" not in request.headers.get("accept", "")
        ):
            return None
        next_path = original.path
        if not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
            next_path = "/"  # "//evil.example" is another host to a browser
        location = "/login?next=" + quote(next_path[:MAX_NEXT], safe="")
        return Response(status_code=status, headers={"Location": location})

    def _sign(self, identity: tuple[str, ...], now: int) -> str:
        """Sign the identity headers' values (one token per identity and second)."""
        user_id, accounts_id, email, workspace_id, credential, session_id = identity
        claims: dict[str, object] = {
            "sub": accounts_id,
            "uid": int(user_id),
            "email": email,
            "wid": int(workspace_id),
            "auth": credential,
        }
        if session_id:
            claims["sid"] = session_id
        return identity_token(self._sessions.signing_keys().current, self._issuer, claims, now)
