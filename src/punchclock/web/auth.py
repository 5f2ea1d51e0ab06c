"""The one place that turns a request into an authenticated account."""

from __future__ import annotations

import binascii
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from punchclock.config import SESSION_LIFETIME
from punchclock.errors import CrossSiteRequest, InvalidCredentials
from punchclock.models import ClientInfo
from punchclock.services.attempts import Attempts
from punchclock.services.credentials import Credentials, is_token_credential
from punchclock.services.sessions import Authenticated, IssuedSession
from punchclock.web.scope import ACCOUNT_ID, CREDENTIAL, REQUEST_ID

COOKIE = "__Secure-accounts-session"
# The browser's device cookie (OWASP, "Slow Down Online Guessing Attacks with Device
# Cookies"): __Host-, so that no other host of the domain can set or read it.
DEVICE_COOKIE = "__Host-punchclock-device"
DEVICE_COOKIE_LIFETIME = 365 * 24 * 3600  # seconds
_COOKIE_ATTRIBUTES = "Path=/; HttpOnly; Secure; SameSite=Lax"  # as Toggl's accounts service
MAX_CREDENTIAL = 4096  # characters: a longer Authorization header is refused unread


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORWARDED = 32  # X-Forwarded-For entries read, from the right; the rest are ignored

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Credential = Literal["token", "password", "session"]  # what a request authenticated with


class Clients:
    """The one place that tells who is calling: the client's address and user agent.

    The address is the socket's peer, unless that peer is one of `trusted_proxies`: then
    X-Forwarded-For is read from the right, each trusted proxy's entry skipped, and the
    first address a trusted proxy did not write is the client. Entries further left were
    written by the client itself and could say anything, so they are never believed.
    """

    def __init__(self, trusted_proxies: Sequence[Network] = ()) -> None:
        self._trusted = tuple(trusted_proxies)

    def __call__(self, request: Request) -> ClientInfo:
        return ClientInfo(
            ip=self.address(request),
            user_agent=request.headers.get("user-agent", ""),
            request_id=request.scope.get(REQUEST_ID, ""),
        )

    def address(self, request: Request) -> str:
        return self.address_in(request.scope)

    def address_in(self, scope: Scope) -> str:
        """Return the client's address as `address` does, from the ASGI scope alone."""
        client = scope.get("client")
        peer = client[0] if client else ""
        if not self._trusted or not self._is_trusted(peer):
            return peer
        hops = [
            hop.strip()
            for name, header in scope["headers"]
            if name == b"x-forwarded-for"
            for hop in header.decode("latin-1").split(",")
        ][-MAX_FORWARDED:]
        client = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:  # not an address: a trusted proxy did not write it
                return client
            client = address
            if not self._is_trusted(address):
                return address
        return client  # every hop is a trusted proxy: the leftmost is as far as we know

    @property
    def trusts_proxies(self) -> bool:
        """Tell whether any proxy is trusted (PUNCHCLOCK_TRUSTED_PROXIES is set)."""
        return bool(self._trusted)

    def peer_is_trusted(self, scope: Scope) -> bool:
        """Tell whether the socket's peer is a proxy in PUNCHCLOCK_TRUSTED_PROXIES."""
        client = scope.get("client")
        return bool(self._trusted) and client is not None and self._is_trusted(client[0])

    def from_trusted_proxy(self, request: Request) -> bool:
        """Tell whether the request came from a proxy in PUNCHCLOCK_TRUSTED_PROXIES."""
        peer = request.client.host if request.client else ""
        return bool(self._trusted) and self._is_trusted(peer)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)


def _address(hop: str) -> str | None:
    """Return an X-Forwarded-For entry as an address (without a port), or None."""
    if hop.startswith("["):  # [2001:db8::1]:443
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:  # 192.0.2.1:443
        hop = hop.partition(":")[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None


class Authenticator:
    """Authenticate by Basic (email:password or token:api_token), else by the session cookie.

    Every failure raises InvalidCredentials, whatever went wrong.
    """

    def __init__(
        self, credentials: Credentials, attempts: Attempts, clients: Clients | None = None
    ) -> None:
        self._credentials = credentials
        self._attempts = attempts
        self._clients = clients or Clients()

    async def __call__(self, request: Request) -> Authenticated:
        return (await self.identify(request))[0]

    async def identify(self, request: Request) -> tuple[Authenticated, Credential]:
        """Authenticate a request and say by which credential (forward auth tells it on)."""
        found = await self._authenticate(request)
        request.scope[ACCOUNT_ID] = found[0].account.id  # for the access log
        if self._attempts.limits_api_calls:  # off by default, and off the hot path then
            await self._attempts.api_call(found[0].account.id, self._clients(request))
        return found

    async def _authenticate(self, request: Request) -> tuple[Authenticated, Credential]:
        # the credential presented is noted before it is checked: the access log and the
        # metrics tell refused tokens from refused passwords (the kind only, never the value)
        scope = request.scope
        header = request.headers.get("authorization")
        if header is not None:  # Basic carries its own credentials: no CSRF to fear
            scope[CREDENTIAL] = "other"
            username, password = _basic_credentials(header)
            if is_token_credential(username, password):
                scope[CREDENTIAL] = "token"
                # the hot path: no throttle, no audit, so no need to work out the client
                # (5 us a request, a quarter of /me by token)
                return await self._credentials.authenticate_token(username), "token"
            scope[CREDENTIAL] = "password"
            auth = await self._credentials.authenticate_basic(
                username, password, self._clients(request)
            )
            return auth, "password"
        token = session_cookie(request)
        if token is None:
            scope[CREDENTIAL] = "none"
            raise InvalidCredentials()
        scope[CREDENTIAL] = "session"
        # a change made with the cookie passed CrossSiteGuard in the dispatcher first
        return await self._credentials.authenticate_session(token), "session"


class CrossSiteGuard:
    """Refuse a state-changing request that another site's page made (CSRF, log-in CSRF).

    Every request with a method other than GET, HEAD and OPTIONS is checked, authenticated
    or not: a form on another site must neither change an account through its owner's
    cookie nor log the visitor in to an account of the attacker's choosing (OWASP CSRF
    Prevention Cheat Sheet: log-in CSRF; Fetch Metadata; verifying the origin with standard
    headers). The browser names the page's site in Sec-Fetch-Site and its origin in
    Origin, neither of which a page can set. Clients that send neither (curl, server-side
    code, Toggl's desktop clients) are not browsers and pass. A request that carries an
    Authorization header passes too: a page on another site can only send one through a
    CORS preflight, which punchclock never grants, so it is no browser's ambient credential.
    """

    def __init__(self, trusted_origins: Iterable[str]) -> None:
        self._trusted_origins = frozenset(o.lower() for o in trusted_origins)

    def __call__(self, request: Request) -> None:
        self.check(request, request.method)

    def check(self, request: Request, method: str) -> None:
        """Judge the request as if its method were `method` (forward auth passes the
        original request's, which the proxy's question to punchclock may not carry)."""
        if method in SAFE_METHODS or "authorization" in request.headers:
            return
        site = request.headers.get("sec-fetch-site")
        if site in ("same-origin", "none"):
            # "same-origin": a page of punchclock's own (whose forms say Origin: null under
            # Referrer-Policy: no-referrer); "none": the user typed or bookmarked it
            return
        if site == "cross-site":
            raise CrossSiteRequest()
        # "same-site" (a sibling host, which may be anyone's) or an older browser: the
        # Origin must be one we trust
        origin = request.headers.get("origin")
        if origin is not None and origin.lower() not in self._trusted_origins:
            raise CrossSiteRequest()
        if site is not None and origin is None:
            raise CrossSiteRequest()


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def set_session_cookie(response: Response, session: IssuedSession) -> None:
    """Set the cookie; without remember_me it lasts as long as the browser session.

    The device cookie goes with it: the client that logged in is known from now on."""
    value = f"{COOKIE}={session.token}; {_COOKIE_ATTRIBUTES}"
    if session.remember_me:
        value += f"; Max-Age={SESSION_LIFETIME}"
    response.headers.append("set-cookie", value)
    set_device_cookie(response, session)


def device_cookie(request: Request) -> str | None:
    return request.cookies.get(DEVICE_COOKIE) or None


def set_device_cookie(response: Response, session: IssuedSession) -> None:
    """Set the device cookie of a log-in: its failures are its own from now on."""
    if session.device:
        response.headers.append(
            "set-cookie",
            f"{DEVICE_COOKIE}={session.device}; {_COOKIE_ATTRIBUTES}; "
            f"Max-Age={DEVICE_COOKIE_LIFETIME}",
        )


def clear_session_cookie(response: Response) -> None:
    response.headers.append("set-cookie", f"{COOKIE}=; {_COOKIE_ATTRIBUTES}; Max-Age=0")


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or len(encoded) > MAX_CREDENTIAL:
        raise InvalidCredentials()
    try:  # strict: only the alphabet and padding where it belongs (b64decode's validate=True)
        decoded = binascii.a2b_base64(encoded.strip(), strict_mode=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidCredentials() from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidCredentials()
    return username, password
