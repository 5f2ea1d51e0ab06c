"""Accounts: the product's verbs. Security reasoning lives here, next to the rule it serves."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import html
import logging
import re
import time
import zoneinfo
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from punchclock import passwords
from punchclock.errors import (
    CurrentPasswordInvalid,
    CurrentPasswordMissing,
    EmailChangeLinkInvalid,
    EmailChangeNeedsPassword,
    InvalidCredentials,
    InvalidInput,
    ResetCodeInvalid,
    SessionNotFound,
    StoreUnavailable,
    Throttled,
)
from punchclock.keys import KeyRing
from punchclock.models import (
    Account,
    ClientInfo,
    Message,
    NewAccount,
    OutgoingMail,
    ProfileChanges,
    Session,
    Workspace,
)
from punchclock.passwords import PasswordHasher, VerifiedPasswords
from punchclock.store import Store
from punchclock.throttle import Throttle
from punchclock.tokens import (
    SecretBox,
    SessionTokens,
    new_accounts_id,
    new_api_token,
    new_jti,
    new_link_code,
    new_mail_id,
    new_reset_code,
    new_session_id,
)

log = logging.getLogger("punchclock.service")

TOUCH_INTERVAL = 60 * 1_000_000  # microseconds between recorded uses of a session
API_TOKEN_PASSWORD = "api_token"  # noqa: S105 - Basic auth with "<token>:api_token" means the API token
MAX_ID = 2**63 - 1  # the largest id a 64-bit database column holds
DAY = 24 * 3600 * 1_000_000  # microseconds
_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_RESET_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")
EMAIL_CONFIRM_TTL = 24 * 3600  # seconds a link to confirm a new address lasts
EMAIL_UNDO_TTL = 7 * 24 * 3600  # seconds the old address may undo a change
RESET_CODES_KEPT = 3  # live reset codes an account may have at once


class Clock(Protocol):
    def now(self) -> int:
        """Return the time in microseconds since the Unix epoch."""
        ...


class SystemClock:
    def now(self) -> int:
        return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class SignUp:
    email: str
    password: str
    display_name: str | None = None
    timezone: str | None = None
    tos_accepted_for: str | None = None
    remember_me: bool = False


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session: the JWT for the cookie, and whether the cookie should outlive the browser."""

    token: str
    remember_me: bool
    device: str = ""  # a device cookie for the browser (OWASP device cookies); "" for none


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who made a request; `jti` names the session when the cookie was the credential."""

    account: Account
    jti: str | None = None


class Accounts:
    """Sign up, log in, authenticate, change, reset and close accounts."""

    def __init__(
        self,
        *,
        store: Store,
        hasher: PasswordHasher,
        sessions: SessionTokens,
        secrets: SecretBox,
        public_url: str,
        reset_code_ttl: int,
        session_idle_timeout: int = 0,
        password_min_length: int = passwords.MIN_LENGTH,
        clock: Clock | None = None,
        verified_passwords: VerifiedPasswords | None = None,
        mail_queued: Callable[[], None] | None = None,
        mail_erased: Callable[[], Coroutine[Any, Any, object]] | None = None,
        throttle: Throttle | None = None,
        audit_retention_days: int = 90,
    ) -> None:
        self._store = store
        self._audit_retention_days = audit_retention_days
        self._mail_queued = mail_queued or (lambda: None)  # wakes this process's mail sender
        self._mail_erased = mail_erased  # deletes the file mailer's copies of erased mail
        self._hasher = hasher
        self._sessions = sessions
        self._secrets = secrets
        self._public_url = public_url
        self._reset_code_ttl = reset_code_ttl
        self._session_idle_timeout = session_idle_timeout  # seconds; 0: none
        self._password_min_length = password_min_length
        self._touched: dict[str, int] = {}  # jti -> when this worker last recorded its use
        self._clock = clock or SystemClock()
        self._background: set[asyncio.Task[None]] = set()
        self._verified = verified_passwords or VerifiedPasswords()
        self._verifying: dict[bytes, asyncio.Future[Account]] = {}
        self._throttle = throttle
        self._throttled_seen: dict[tuple[str, int | None, str], int] = {}  # -> last recorded

    # -- accounts -------------------------------------------------------------------------

    async def sign_up(self, form: SignUp, client: ClientInfo) -> tuple[Account, IssuedSession]:
        """Create an account, its default workspace and API token; start a session."""
        email = _email(form.email)
        fullname = (
            _fullname(form.display_name)
            if form.display_name is not None
            else email.partition("@")[0]
        )
        timezone = _timezone(form.timezone) if form.timezone is not None else "UTC"
        if form.tos_accepted_for is not None and form.tos_accepted_for != "track":
            raise InvalidInput('tos_accepted_for must be "track"')
        passwords.check_policy(
            form.password,
            min_length=self._password_min_length,
            context=passwords.context_words(email, fullname),
        )
        if self._throttle is not None:
            # sign-ups cost a hash and tell whether an email is taken: limited per address
            # (ASVS 4.0.3 V2.2.1 anti-automation; ASVS 5 V6.3.8)
            with self._throttled_recorded("sign_up", None, client):
                await self._throttle.sign_up(client.ip)
        password_hash = await self._hasher.hash(form.password)
        accounts_id = new_accounts_id()
        token = new_api_token()
        account = await self._store.create_account(
            NewAccount(
                accounts_id=accounts_id,
                email=email,
                fullname=fullname,
                password_hash=password_hash,
                api_token_lookup=self._secrets.token_lookup(token),
                api_token_sealed=self._secrets.seal_token(token, accounts_id),
                timezone=timezone,
                workspace_name=f"{fullname}'s workspace"[:140],
                now=self._clock.now(),
            )
        )
        self._record("sign_up", account.id, client)
        return account, await self._start_session(account, form.remember_me, client)

    async def close_account(self, auth: Authenticated, client: ClientInfo | None = None) -> None:
        """End every session, the API token and the password at once; erase personal data."""
        await self._store.close_account(auth.account.id, self._clock.now())
        self._verified.forget_account(auth.account.id)
        self._record("account_closed", auth.account.id, client)
        if self._mail_erased is not None:
            # the outbox forgot every message to the account's addresses: so must any copy
            self._in_background(self._mail_erased())

    async def workspaces(self, auth: Authenticated) -> list[Workspace]:
        return await self._store.workspaces_of(auth.account.id)

    def api_token(self, account: Account) -> str:
        """Return the account's API token, decrypted for display."""
        return self._secrets.open_token(account.api_token_sealed, account.accounts_id)

    async def reset_api_token(self, auth: Authenticated, client: ClientInfo | None = None) -> str:
        """Give the account a new API token; the old one stops working at once."""
        token = new_api_token()
        await self._store.set_api_token(
            auth.account.id,
            self._secrets.token_lookup(token),
            self._secrets.seal_token(token, auth.account.accounts_id),
            self._clock.now(),
        )
        self._record("api_token_reset", auth.account.id, client)
        return token

    async def update_profile(
        self, auth: Authenticated, fields: Mapping[str, Any], client: ClientInfo | None = None
    ) -> Account:
        """Change profile fields and, given the current password, the password.

        Every field is checked before anything is written, so a bad request changes nothing.
        A password change ends every other session (ASVS 4.0.3 V3.3.3). A wrong current
        password is a failed log-in: it counts towards the same limits.
        """
        changes = _profile_changes(fields)
        current = fields.get("current_password")
        if not isinstance(current, str | None):
            raise InvalidInput("Invalid current_password")
        account = auth.account
        new_email = None
        if changes.email is not None and changes.email.lower() != account.email.lower():
            # A stolen token or cookie must not be enough to move the account to another
            # address (and then reset its password there): a new address needs the current
            # password (ASVS 5 V7.5.1) and is taken only once a link mailed to it is
            # followed. Another case of the same address is no move: Toggl's clients send
            # the whole profile back, email included.
            new_email = changes.email
            changes = msgspec.structs.replace(changes, email=None)
            if not current:
                raise EmailChangeNeedsPassword()
        new_password = fields.get("password")
        if new_password is not None:
            if not current:
                raise CurrentPasswordMissing()
            if not isinstance(new_password, str):
                raise InvalidInput("Invalid password")
            passwords.check_policy(
                new_password,
                min_length=self._password_min_length,
                context=[
                    *passwords.context_words(account.email, account.fullname),
                    *passwords.context_words(new_email or "", changes.fullname or ""),
                ],
            )
        if new_password is not None or new_email is not None:
            assert current is not None
            verify = functools.partial(self._hasher.verify, account.password_hash, current)
            if not await self._password_attempt(account.email, client, verify, account.id):
                self._record("log_in_failed", account.id, client, "current_password")
                raise CurrentPasswordInvalid()
        if new_email is not None and self._throttle is not None:
            # each request mails an address of the caller's choosing
            with self._throttled_recorded("email_change", account.id, client):
                await self._throttle.email_change(account.id)
        new_hash = await self._hasher.hash(new_password) if new_password is not None else None
        now = self._clock.now()
        # The account's address is told of a new password, so that its owner learns of a
        # change they did not make (ASVS 4.0.3 V2.2.3, 5 V6.3.7); a new address is told
        # when it is confirmed, with a link that undoes it.
        notices = []
        if new_hash is not None:
            notices.append(self._notice(account, _PASSWORD_CHANGED, now, client))
        account = await self._store.update_profile(
            account.id,
            changes,
            now,
            password_hash=new_hash,
            keep_jti=auth.jti,
            notices=notices,
        )
        if notices:
            self._mail_queued()
        if new_hash is not None or changes.email is not None:
            self._verified.forget_account(account.id)
        if new_hash is not None:
            self._record("password_changed", account.id, client)
        if new_email is not None:
            # after the answer, like a reset request: whether the address is taken must
            # show neither in the answer nor in its timing (ASVS 5 V6.3.8)
            self._in_background(self._ask_to_confirm(account, new_email, client))
        return account

    async def _ask_to_confirm(
        self, account: Account, email: str, client: ClientInfo | None
    ) -> None:
        now = self._clock.now()
        if await self._store.account_by_email(email) is not None:
            # its owner is told an account already exists there; nothing else happens
            await self._store.enqueue_mail(self._outgoing(self._address_taken(email), now))
            self._mail_queued()
            self._record("email_change_requested", account.id, client, "taken")
            return
        code = new_link_code()
        expires_at = now + EMAIL_CONFIRM_TTL * 1_000_000
        await self._store.request_email_change(
            account.id,
            email,
            self._secrets.email_change_lookup(code),
            expires_at,
            now,
            self._outgoing(self._confirm_address(account, email, code), now),
        )
        self._mail_queued()
        self._record("email_change_requested", account.id, client)

    async def confirm_email_change(self, code: str, client: ClientInfo) -> Account:
        """Follow the link mailed to a new address once: the account takes the address; the
        old address is told, with a link that undoes the change for 7 days."""
        lookup = await self._link_lookup(code, client)
        now = self._clock.now()
        found = await self._store.email_change(lookup, "confirm", now)
        if found is None:
            self._record("email_change_failed", None, client, "confirm")
            raise EmailChangeLinkInvalid()
        owner, email = found
        undo = new_link_code()
        notice = self._email_changed(owner, email, undo, now, client)
        account = await self._store.confirm_email_change(
            lookup,
            now,
            self._secrets.email_change_lookup(undo),
            now + EMAIL_UNDO_TTL * 1_000_000,
            notice,
        )
        if account is None:
            self._record("email_change_failed", owner.id, client, "used_meanwhile")
            raise EmailChangeLinkInvalid()
        self._mail_queued()
        self._verified.forget_account(account.id)
        self._record("email_changed", account.id, client)
        return account

    async def undo_email_change(self, code: str, client: ClientInfo) -> None:
        """Follow the link mailed to the old address once: restore it and secure the account.

        Whoever moved the account may hold its password, a session and the API token, so
        all of them end: every session, a new API token, and a reset code mailed to the
        restored address, from which the owner sets a new password.
        """
        lookup = await self._link_lookup(code, client)
        now = self._clock.now()
        found = await self._store.email_change(lookup, "undo", now)
        if found is None:
            self._record("email_change_failed", None, client, "undo")
            raise EmailChangeLinkInvalid()
        owner, email = found
        restored = msgspec.structs.replace(owner, email=email)
        token = new_api_token()
        reset_code = new_reset_code()
        expires_at = now + self._reset_code_ttl * 1_000_000
        account = await self._store.undo_email_change(
            lookup,
            now,
            self._secrets.token_lookup(token),
            self._secrets.seal_token(token, owner.accounts_id),
            self._secrets.reset_code_lookup(reset_code),
            expires_at,
            self._outgoing(self._reset_message(restored, reset_code, expires_at), now),
        )
        if account is None:
            self._record("email_change_failed", owner.id, client, "used_meanwhile")
            raise EmailChangeLinkInvalid()
        self._mail_queued()
        self._verified.forget_account(account.id)
        self._record("email_change_undone", account.id, client)

    async def _link_lookup(self, code: str, client: ClientInfo) -> bytes:
        if self._throttle is not None:
            # codes are 256 random bits, but guessing still costs lookups (ASVS 5 V6.6.3)
            with self._throttled_recorded("link_confirm", None, client):
                await self._throttle.reset_confirm(client.ip)
        if not _RESET_CODE.fullmatch(code):
            self._record("email_change_failed", None, client)
            raise EmailChangeLinkInvalid()
        return self._secrets.email_change_lookup(code)

    # -- sessions and authentication ------------------------------------------------------

    async def log_in(
        self,
        email: str,
        password: str,
        remember_me: bool,
        client: ClientInfo,
        device_cookie: str | None = None,
    ) -> tuple[Account, IssuedSession]:
        """Check an email and password and start a session.

        A log-in always costs a full hash: the cache of verified passwords serves API calls.
        A valid device cookie of this email's (from an earlier log-in) has the attempt
        judged by that device's failures only (see Throttle.password_attempt).
        """
        device = self._secrets.device_of(device_cookie, email)
        account = await self._check_password(
            email, await self._account_by_email(email), password, client, "log_in", device
        )
        self._record("log_in", account.id, client)
        return account, await self._start_session(account, remember_me, client)

    async def log_out(
        self, auth: Authenticated, cookie_token: str | None, client: ClientInfo | None = None
    ) -> None:
        """End the session the cookie names, whatever credential the request carried."""
        jti = auth.jti
        if jti is None and cookie_token:
            try:
                claims = self._sessions.verify(cookie_token, self._clock.now() // 1_000_000)
            except InvalidCredentials:
                return
            if claims.sub == auth.account.accounts_id:
                jti = claims.jti
        if jti is not None:
            await self._store.delete_session(auth.account.id, jti)
            self._record("session_ended", auth.account.id, client, "log_out")

    async def authenticate_basic(
        self, username: str, password: str, client: ClientInfo | None = None
    ) -> Authenticated:
        """Authenticate HTTP Basic credentials: `<token>:api_token` or `email:password`."""
        if is_token_credential(username, password):
            return await self.authenticate_token(username)
        return Authenticated(await self.authenticate_password(username, password, client))

    async def authenticate_token(self, token: str) -> Authenticated:
        account = await self._store.account_by_token(self._secrets.token_lookup(token))
        if account is None:
            raise InvalidCredentials()
        return Authenticated(account)

    async def authenticate_session(self, token: str) -> Authenticated:
        """Authenticate the session cookie: a valid JWT *and* a live server-side session."""
        now = self._clock.now()
        claims = self._sessions.verify(token, now // 1_000_000)
        account = await self._store.account_by_session(
            claims.jti, claims.sub, now, self._idle_since(now)
        )
        if account is None:
            raise InvalidCredentials()
        self._touch(claims.jti, now)
        return Authenticated(account, claims.jti)

    async def authenticate_password(
        self, email: str, password: str, client: ClientInfo | None = None
    ) -> Account:
        """Authenticate Basic email:password on an API call; a repeat caller skips argon2."""
        account = await self._account_by_email(email)
        now = self._clock.now()
        key = self._verified.key(email, password)
        if account is not None and self._verified.holds(
            key, account.id, account.password_hash, now
        ):
            return account
        # Callers that send the same pair at once (a client starting up) share one hash,
        # and one attempt as the limits on failed log-ins count them.
        pending = self._verifying.get(key)
        if pending is None:
            pending = asyncio.ensure_future(
                self._check_password(email, account, password, client, "basic")
            )
            self._verifying[key] = pending
            pending.add_done_callback(lambda _: self._verifying.pop(key, None))
        account = await asyncio.shield(pending)
        self._verified.remember(key, account.id, account.password_hash, now)
        return account

    async def _account_by_email(self, email: str) -> Account | None:
        return await self._store.account_by_email(email) if _EMAIL.fullmatch(email) else None

    async def _check_password(
        self,
        email: str,
        account: Account | None,
        password: str,
        client: ClientInfo | None,
        path: str,
        device: str | None = None,
    ) -> Account:
        """Return the account if the password is its own; raise InvalidCredentials otherwise.

        An unknown email, a closed account and a wrong password all cost one hash and give
        the same error, so neither the answer nor its timing tells whether an email has an
        account (ASVS 5 V6.3.8). They are also throttled alike, by the email as given.
        """
        password_hash = account.password_hash if account is not None else None
        account_id = account.id if account is not None else None
        verify = functools.partial(self._hasher.verify, password_hash, password)
        attempt = self._password_attempt(email, client, verify, account_id, device)
        if not await attempt or account is None:
            # `path` says where: "log_in" (POST /api/sessions) or "basic" (email:password
            # on an API call). An unknown email is recorded without it (see _record).
            self._record("log_in_failed", account_id, client, path)
            raise InvalidCredentials()
        if self._hasher.needs_rehash(account.password_hash):
            # the argon2 parameters were raised since this hash was made (OWASP CS1)
            new_hash = await self._hasher.hash(password)
            await self._store.replace_password_hash(account.id, account.password_hash, new_hash)
            account = msgspec.structs.replace(account, password_hash=new_hash)
        return account

    async def _password_attempt(
        self,
        email: str,
        client: ClientInfo | None,
        verify: Callable[[], Awaitable[bool]],
        account_id: int | None = None,
        device: str | None = None,
    ) -> bool:
        """Check a password, unless the account has had too many failures (Throttled).

        Every path that checks a password comes here: log-in, Basic email:password and the
        current password of a change (ASVS 4.0.3 V2.2.1; NIST SP 800-63B 5.2.2). The limit
        is checked before the hash, so a throttled guess costs no CPU and is answered
        the same whether or not the email has an account. Failures are counted per account
        and address, and per account from clients that never logged in to it; a device
        that did (`device`) or an address whose log-in succeeded lately is judged by its
        own failures only, so someone who knows only the email cannot keep the owner out.
        """
        if self._throttle is None:
            return await verify()
        with self._throttled_recorded("password", account_id, client):
            ip = client.ip if client else ""
            return await self._throttle.password_attempt(email, ip, verify, device)

    async def _start_session(
        self, account: Account, remember_me: bool, client: ClientInfo
    ) -> IssuedSession:
        now = self._clock.now()
        jti = new_jti()
        token, kid = self._sessions.issue(account.accounts_id, jti, now // 1_000_000)
        await self._store.add_session(
            Session(
                jti=jti,
                id=new_session_id(),
                account_id=account.id,
                kid=kid,
                created_at=now,
                last_used_at=now,
                expires_at=now + self._sessions.lifetime * 1_000_000,  # the JWT's exp
                remember_me=remember_me,
                user_agent=client.user_agent[:512],
                ip=client.ip,
            )
        )
        # the browser that logged in is known from now on (OWASP device cookies)
        return IssuedSession(
            token=token, remember_me=remember_me, device=self._secrets.device_cookie(account.email)
        )

    def _idle_since(self, now: int) -> int:
        """Return the earliest last use a live session may have (0: no idle timeout)."""
        return now - self._session_idle_timeout * 1_000_000 if self._session_idle_timeout else 0

    def _touch(self, jti: str, now: int) -> None:
        """Record a session's use, at most once a minute per worker (a write per request
        would put the disk on the hot path); the idle timeout is exact to that minute."""
        if now - self._touched.get(jti, 0) < TOUCH_INTERVAL:
            return
        if len(self._touched) >= 100_000:
            self._touched.clear()
        self._touched[jti] = now
        self._in_background(self._store.touch_session(jti, now))

    def _record(
        self,
        event: str,
        account_id: int | None,
        client: ClientInfo | None,
        detail: str | None = None,
    ) -> None:
        """Add a security event to the audit trail (ASVS 4.0.3 V7.1.3, V7.2.1).

        Recorded in the background, like a session's use: the write must neither delay
        the answer nor fail the request (an error is logged by _logged), and the request
        is done before it lands (drain() waits for it). Callers pass only the event, the
        account and the client: never a password, token, cookie or code. A failed log-in
        on an unknown email records no account and no email at all, not even a keyed
        hash: a hash of an email is still an identifier anyone with the key can test
        candidate emails against, and the address and time suffice to see an attack.
        """
        ip, agent = (client.ip, client.user_agent[:512]) if client is not None else ("", "")
        self._in_background(
            self._store.record_event(self._clock.now(), event, account_id, ip, agent, detail)
        )

    @contextlib.contextmanager
    def _throttled_recorded(
        self, what: str, account_id: int | None, client: ClientInfo | None
    ) -> Iterator[None]:
        """Record a refused attempt (Throttled) as a `throttled` event, `what` its kind."""
        try:
            yield
        except Throttled:
            # A throttled attempt costs no hash, so a flood of them is cheap to send: each
            # kind of refusal is recorded at most once a minute per account and address,
            # lest the trail turn the flood into as many writes.
            now = self._clock.now()
            seen = (what, account_id, client.ip if client is not None else "")
            if now - self._throttled_seen.get(seen, -TOUCH_INTERVAL) >= TOUCH_INTERVAL:
                if len(self._throttled_seen) >= 100_000:
                    self._throttled_seen.clear()
                self._throttled_seen[seen] = now
                self._record("throttled", account_id, client, what)
            raise

    def _in_background(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(_logged(work))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def limits_api_calls(self) -> bool:
        """Tell whether API calls are limited per user (PUNCHCLOCK_API_RATE_LIMIT)."""
        return self._throttle is not None and bool(self._throttle.api_per_user_and_ip.windows)

    async def count_api_call(self, auth: Authenticated, client: ClientInfo) -> None:
        """Refuse (Throttled) a user calling faster than PUNCHCLOCK_API_RATE_LIMIT allows.

        Off by default; like Toggl's, the limit is per user and address (compat.md).
        """
        if self._throttle is not None:
            with self._throttled_recorded("api_call", auth.account.id, client):
                await self._throttle.api_call(auth.account.id, client.ip)

    def signing_keys(self) -> KeyRing:
        """Return the keys session JWTs are signed and verified with (for the JWKS)."""
        return self._sessions.ring

    # -- sessions a user sees -------------------------------------------------------------

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
        self._record("session_ended", auth.account.id, client, "by_id")

    async def end_other_sessions(
        self, auth: Authenticated, client: ClientInfo | None = None
    ) -> None:
        """End every session of the caller's but the one making the request."""
        await self._store.delete_sessions(auth.account.id, keep_jti=auth.jti)
        self._record("session_ended", auth.account.id, client, "others")

    async def purge_sessions(self) -> int:
        """Remove expired and idle sessions from the store; return how many."""
        now = self._clock.now()
        return await self._store.delete_dead_sessions(now, self._idle_since(now))

    async def purge_events(self) -> int:
        """Remove audit events older than PUNCHCLOCK_AUDIT_RETENTION_DAYS; return how many."""
        cutoff = self._clock.now() - self._audit_retention_days * DAY
        return await self._store.delete_events_before(cutoff)

    # -- password reset -------------------------------------------------------------------

    async def request_password_reset(self, email: str, client: ClientInfo | None = None) -> None:
        """Queue a reset code for the email if it has an account; answer the same either way.

        All the work, the lookup included, happens after the answer is sent, and nothing
        is sent during the request (the outbox sender mails it later), so the answer can
        tell nothing about the email, nor about the mail server, through its content or
        its timing (OWASP Forgot Password Cheat Sheet). Requests are limited per address
        (429), so that nobody can probe many emails quickly; never per email, so that
        someone who knows only the email cannot keep its owner from asking. An inbox gets
        a few codes an hour at most: beyond that a request sends nothing, answered the same.
        """
        email = _email(email)
        if self._throttle is not None:
            with self._throttled_recorded("reset_request", None, client):
                await self._throttle.reset_request(client.ip if client else "")
        self._in_background(self._queue_reset_code(email, client))

    async def confirm_password_reset(
        self, code: str, password: str, client: ClientInfo
    ) -> tuple[Account, IssuedSession]:
        """Use a reset code once: set the password, end every session, start a new one."""
        # the policy is checked before the code is used, so that a retry can use it
        passwords.check_policy(password, min_length=self._password_min_length)
        if self._throttle is not None:
            # codes are 256 random bits, but guessing still costs lookups (ASVS 5 V6.6.3)
            with self._throttled_recorded("reset_confirm", None, client):
                await self._throttle.reset_confirm(client.ip)
        if not _RESET_CODE.fullmatch(code):
            self._record("reset_failed", None, client)
            raise ResetCodeInvalid()
        lookup = self._secrets.reset_code_lookup(code)
        owner = await self._store.reset_code_account(lookup, self._clock.now())
        if owner is None:
            self._record("reset_failed", None, client)
            raise ResetCodeInvalid()
        passwords.check_policy(
            password,
            min_length=self._password_min_length,
            context=passwords.context_words(owner.email, owner.fullname),
        )
        password_hash = await self._hasher.hash(password)
        now = self._clock.now()
        # the code is used in the same transaction that sets the password (and queues the
        # notice of it), so two confirms racing with one code cannot both succeed
        account = await self._store.use_reset_code(
            lookup, password_hash, now, self._notice(owner, _PASSWORD_RESET, now, client)
        )
        if account is None:
            self._record("reset_failed", owner.id, client, "used_meanwhile")
            raise ResetCodeInvalid()
        self._mail_queued()
        self._verified.forget_account(account.id)
        if self._throttle is not None:
            # the owner proved themselves through their inbox: whatever failures others
            # piled up on the account no longer hold them back
            await self._throttle.forget_failures(account.email, client.ip)
        self._record("reset_completed", account.id, client)
        return account, await self._start_session(account, False, client)

    async def _queue_reset_code(self, email: str, client: ClientInfo | None) -> None:
        account = await self._store.account_by_email(email)
        # recorded here, after the answer, where the account is known: the request itself
        # must not take longer for a known email than for an unknown one
        self._record("reset_requested", account.id if account is not None else None, client)
        if account is None:
            return
        if self._throttle is not None and not await self._throttle.reset_mail(email):
            return  # the inbox already holds the last few codes, all of them live
        code = new_reset_code()
        now = self._clock.now()
        expires_at = now + self._reset_code_ttl * 1_000_000
        # The code and the message that tells it are written in one transaction: there is
        # never a code nobody was told of, nor a message whose code was not stored. Codes
        # sent earlier stay live, so that someone else's request does not void the code
        # its owner just received; using one, or a new password or address, ends them all.
        await self._store.add_reset_code(
            account.id,
            self._secrets.reset_code_lookup(code),
            expires_at,
            now,
            self._outgoing(self._reset_message(account, code, expires_at), now),
            keep=RESET_CODES_KEPT,
        )
        self._mail_queued()

    def _outgoing(self, message: Message, now: int) -> OutgoingMail:
        """Seal a message for the outbox: it may hold a live code, and must not be kept in clear."""
        mail_id = new_mail_id()
        return OutgoingMail(
            id=mail_id,
            recipient=message.to,
            subject=message.subject,
            sealed=self._secrets.seal_mail(msgspec.msgpack.encode(message), mail_id),
            created_at=now,
        )

    def _notice(
        self, account: Account, kind: tuple[str, str], now: int, client: ClientInfo | None
    ) -> OutgoingMail:
        """Tell the account's address what happened to it, when and from where."""
        subject, what = kind
        moment = dt.datetime.fromtimestamp(now / 1_000_000, dt.UTC)
        when = f"{moment:%Y-%m-%d %H:%M} UTC"
        origin = f" from the address {client.ip}" if client is not None and client.ip else ""
        text = (
            f"{what} on {when}{origin}.\n\n"
            "If it was you, there is nothing to do.\n\n"
            "If it was not you, someone else may have your password: ask for a reset at once\n"
            f"(POST {self._public_url}/api/me/password_reset/request) and end every session\n"
            f"you do not recognise (GET and DELETE {self._public_url}/api/sessions).\n"
        )
        name = html.escape(account.fullname)
        body = html.escape(text).replace("\n\n", "</p>\n<p>")
        message = Message(
            to=account.email,
            to_name=account.fullname,
            subject=subject,
            text=text,
            html=(
                "<!DOCTYPE html>\n"
                '<html><head><meta charset="utf-8"><title>Account change</title></head>\n'
                f"<body>\n<p>Hello {name},</p>\n<p>{body}</p>\n</body></html>\n"
            ),
        )
        return self._outgoing(message, now)

    def _reset_message(self, account: Account, code: str, expires_at: int) -> Message:
        minutes = self._reset_code_ttl // 60
        expiry = dt.datetime.fromtimestamp(expires_at / 1_000_000, dt.UTC)
        until = f"{expiry:%Y-%m-%d %H:%M} UTC"
        link = f"{self._public_url}/reset/{code}"
        api = f"{self._public_url}/api/me/password_reset/confirm/{code}"
        name = html.escape(account.fullname)
        return Message(
            to=account.email,
            to_name=account.fullname,
            subject="Reset your punchclock password",
            text=(
                "Someone asked to reset the password of this account. If it was you, set a\n"
                f"new password within {minutes} minutes (until {until}) at\n\n"
                f"    {link}\n\n"
                "or with this code:\n\n"
                f"    {code}\n\n"
                "by sending it to\n\n"
                f"    POST {api}\n"
                '    with the body {"password": "<your new password>"}\n\n'
                "If it was not you, ignore this message: your password stays as it is.\n"
            ),
            html=(
                "<!DOCTYPE html>\n"
                '<html><head><meta charset="utf-8"><title>Reset your password</title></head>\n'
                "<body>\n"
                f"<p>Hello {name},</p>\n"
                "<p>Someone asked to reset the password of this account. If it was you, set a\n"
                f"new password within {minutes} minutes (until {until}):</p>\n"
                f'<p><a href="{html.escape(link)}">Choose a new password</a></p>\n'
                "<p>or send this code with your new password to the API:</p>\n"
                f"<p><code>{html.escape(code)}</code></p>\n"
                "<p>If it was not you, ignore this message: your password stays as it is.</p>\n"
                "</body></html>\n"
            ),
        )

    def _confirm_address(self, account: Account, email: str, code: str) -> Message:
        """Ask a new address to confirm it is the account's, by a link (24 hours)."""
        link = f"{self._public_url}/email/confirm/{code}"
        api = f"{self._public_url}/api/me/email_change/confirm/{code}"
        text = (
            "Someone asked to use this address for a punchclock account. If it was you,\n"
            "confirm it within 24 hours at\n\n"
            f"    {link}\n\n"
            f"(or with POST {api}).\n\n"
            "Until then the account keeps its old address. If it was not you, ignore this\n"
            "message: nothing changes.\n"
        )
        return self._message(email, account.fullname, "Confirm your new punchclock address", text)

    def _address_taken(self, email: str) -> Message:
        """Tell an address that someone asked to move their account to it, though it has one."""
        text = (
            "Someone asked to use this address for a punchclock account, but an account\n"
            "already exists with this address, so nothing changed. If it was you, log in\n"
            "with this address instead. If it was not you, ignore this message.\n"
        )
        return self._message(email, "", "Your punchclock address", text)

    def _email_changed(
        self, account: Account, email: str, undo: str, now: int, client: ClientInfo | None
    ) -> OutgoingMail:
        """Tell the old address its account moved to `email`, with a link that undoes it."""
        subject, what = _EMAIL_CHANGED
        moment = dt.datetime.fromtimestamp(now / 1_000_000, dt.UTC)
        origin = f" from the address {client.ip}" if client is not None and client.ip else ""
        link = f"{self._public_url}/email/undo/{undo}"
        text = (
            f"{what}, {email}, on {moment:%Y-%m-%d %H:%M} UTC{origin}.\n\n"
            "If it was you, there is nothing to do.\n\n"
            "If it was not you, undo it within 7 days at\n\n"
            f"    {link}\n\n"
            f"(or with POST {self._public_url}/api/me/email_change/undo/{undo}):\n"
            "this address becomes the account's again, every session and the API token\n"
            "end, and a code to set a new password is sent here.\n"
        )
        return self._outgoing(self._message(account.email, account.fullname, subject, text), now)

    def _message(self, to: str, name: str, subject: str, text: str) -> Message:
        """Return a message whose HTML part is its text, escaped, in paragraphs."""
        hello = f"<p>Hello {html.escape(name)},</p>\n" if name else ""
        body = html.escape(text).replace("\n\n", "</p>\n<p>")
        return Message(
            to=to,
            to_name=name,
            subject=subject,
            text=text,
            html=(
                "<!DOCTYPE html>\n"
                f'<html><head><meta charset="utf-8"><title>{html.escape(subject)}</title></head>\n'
                f"<body>\n{hello}<p>{body}</p>\n</body></html>\n"
            ),
        )

    async def drain(self) -> None:
        """Wait for the work started after answers were sent (queuing reset codes) to finish."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


# Notices of credential changes: (subject, what happened, as the text's first words).
_PASSWORD_CHANGED = (
    "Your punchclock password was changed",
    "The password of your punchclock account was changed",
)
_PASSWORD_RESET = (
    "Your punchclock password was reset",
    "The password of your punchclock account was reset with a code sent to this address",
)
_EMAIL_CHANGED = (
    "Your punchclock email address was changed",
    "The email address of your punchclock account was changed from this one to another",
)  # the new address follows


def is_token_credential(username: str, password: str) -> bool:
    """Tell whether Basic credentials are `<api token>:api_token` rather than email:password.

    Emails always hold an "@" and tokens never do, so a password that happens to be
    "api_token" still works with its email.
    """
    return password == API_TOKEN_PASSWORD and "@" not in username


async def _logged(work: Coroutine[Any, Any, object]) -> None:
    """Run work nobody awaits; an error is logged, never lost silently."""
    try:
        await work
    except StoreUnavailable:  # an outage, not a bug: one line, no traceback
        log.warning("background work skipped: the database is unavailable")
    except Exception:
        log.exception("background work failed")


def _email(value: object) -> str:
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidInput("Invalid email")
    return value


def _fullname(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("Invalid fullname")
    value = value.strip()
    if not 1 <= len(value) <= 255 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput("Invalid fullname")
    return value


@functools.cache
def _timezones() -> frozenset[str]:
    # IANA names only: the system's zoneinfo folder also holds "localtime" (whatever the
    # server runs in), "posixrules", "Factory" and the posix/ and right/ copies
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in _NOT_IANA and not name.startswith(("posix/", "right/"))
    )


_NOT_IANA = frozenset({"localtime", "posixrules", "Factory"})


def _timezone(value: object) -> str:
    if not isinstance(value, str) or value not in _timezones():
        raise InvalidInput("Invalid timezone")
    return value


def _int_in(value: object, low: int, high: int, message: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(message)
    return value


def _profile_changes(fields: Mapping[str, Any]) -> ProfileChanges:
    get = fields.get
    country = get("country_id")
    return ProfileChanges(
        fullname=_fullname(get("fullname")) if get("fullname") is not None else None,
        email=_email(get("email")) if get("email") is not None else None,
        timezone=_timezone(get("timezone")) if get("timezone") is not None else None,
        beginning_of_week=(
            _int_in(get("beginning_of_week"), 0, 6, "Invalid beginning_of_week")
            if get("beginning_of_week") is not None
            else None
        ),
        country_id=(
            _int_in(country, 1, 999, "Invalid country_id") if country is not None else None
        ),
        clear_country="country_id" in fields and country is None,
        default_workspace_id=(
            _int_in(get("default_workspace_id"), 1, MAX_ID, "Invalid default_workspace_id")
            if get("default_workspace_id") is not None
            else None
        ),
    )
