"""Sessions: start one, know it by its cookie, list and end them, purge the dead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from punchclock.errors import InvalidCredentials, SessionNotFound
from punchclock.keys import KeyRing
from punchclock.models import Account, ClientInfo, Session
from punchclock.services.audit import Audit
from punchclock.services.background import Background
from punchclock.services.clock import Clock
from punchclock.store import Store
from punchclock.tokens import SessionTokens, new_jti, new_session_id

TOUCH_INTERVAL = 60 * 1_000_000  # microseconds between recorded uses of a session


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session: the JWT for the cookie, and whether the cookie should outlive the browser."""

    token: str
    remember_me: bool
    device: str = ""  # a device cookie for the client (OWASP device cookies); "" for none


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who made a request; `jti` names the session when the cookie was the credential."""

    account: Account
    jti: str | None = None


class Sessions:
    """Issue, authenticate, list, end and purge sessions; record their use."""

    def __init__(
        self,
        store: Store,
        tokens: SessionTokens,
        audit: Audit,
        background: Background,
        clock: Clock,
        *,
        idle_timeout: int = 0,
        devices: Callable[[str], str] | None = None,
    ) -> None:
        self._store = store
        self._devices = devices  # makes a device cookie for an account's email
        self._tokens = tokens
        self._audit = audit
        self._background = background
        self._clock = clock
        self._idle_timeout = idle_timeout  # seconds; 0: none
        self._touched: dict[str, int] = {}  # jti -> when this worker last recorded its use

    async def start_session(
        self, account: Account, remember_me: bool, client: ClientInfo
    ) -> IssuedSession:
        """Start a session for an account that has just proved who it is."""
        now = self._clock.now()
        jti = new_jti()
        token, kid = self._tokens.issue(account.accounts_id, jti, now // 1_000_000)
        await self._store.add_session(
            Session(
                jti=jti,
                id=new_session_id(),
                account_id=account.id,
                kid=kid,
                created_at=now,
                last_used_at=now,
                expires_at=now + self._tokens.lifetime * 1_000_000,  # the JWT's exp
                remember_me=remember_me,
                user_agent=client.user_agent[:512],
                ip=client.ip,
            )
        )
        # the client that proved itself is known from now on (OWASP device cookies)
        device = self._devices(account.email) if self._devices is not None else ""
        return IssuedSession(token=token, remember_me=remember_me, device=device)

    async def authenticate(self, token: str) -> Authenticated:
        """Authenticate the session cookie: a valid JWT *and* a live server-side session."""
        now = self._clock.now()
        claims = self._tokens.verify(token, now // 1_000_000)
        account = await self._store.account_by_session(
            claims.jti, claims.sub, now, self._idle_since(now)
        )
        if account is None:
            raise InvalidCredentials()
        self._touch(claims.jti, now)
        return Authenticated(account, claims.jti)

    async def log_out(
        self, auth: Authenticated, cookie_token: str | None, client: ClientInfo | None = None
    ) -> None:
        """End the session the cookie names, whatever credential the request carried."""
        jti = auth.jti
        if jti is None and cookie_token:
            try:
                claims = self._tokens.verify(cookie_token, self._clock.now() // 1_000_000)
            except InvalidCredentials:
                return
            # a cookie of another account's, sent with this one's Basic credentials, ends
            # nothing (ASVS 4.0.3 V3.3.1: only its owner ends a session)
            if claims.sub == auth.account.accounts_id:
                jti = claims.jti
        if jti is not None:
            await self._store.delete_session(auth.account.id, jti)
            self._audit.record("session_ended", auth.account.id, client, "log_out")

    async def list_sessions(self, auth: Authenticated) -> list[Session]:
        """Return the caller's live sessions, newest first."""
        now = self._clock.now()
        return await self._store.sessions_of(auth.account.id, now, self._idle_since(now))

    async def end_session(
        self, auth: Authenticated, session_id: str, client: ClientInfo | None = None
    ) -> None:
        """End one of the caller's sessions; another account's id is not found (ASVS 3.3.4)."""
        if not await self._store.delete_session_by_id(auth.account.id, session_id):
            raise SessionNotFound()
        self._audit.record("session_ended", auth.account.id, client, "by_id")

    async def end_other_sessions(
        self, auth: Authenticated, client: ClientInfo | None = None
    ) -> None:
        """End every session of the caller's but the one making the request."""
        await self._store.delete_sessions(auth.account.id, keep_jti=auth.jti)
        self._audit.record("session_ended", auth.account.id, client, "others")

    async def purge_sessions(self) -> int:
        """Remove expired and idle sessions from the store; return how many."""
        now = self._clock.now()
        return await self._store.delete_dead_sessions(now, self._idle_since(now))

    def signing_keys(self) -> KeyRing:
        """Return the keys session JWTs are signed and verified with (for the JWKS)."""
        return self._tokens.ring

    def _idle_since(self, now: int) -> int:
        """Return the earliest last use a live session may have (0: no idle timeout)."""
        return now - self._idle_timeout * 1_000_000 if self._idle_timeout else 0

    def _touch(self, jti: str, now: int) -> None:
        """Record a session's use, at most once a minute per worker (a write per request
        would put the disk on the hot path); the idle timeout is exact to that minute."""
        if now - self._touched.get(jti, 0) < TOUCH_INTERVAL:
            return
        if len(self._touched) >= 100_000:
            self._touched.clear()
        self._touched[jti] = now
        self._background.run(self._store.touch_session(jti, now))
