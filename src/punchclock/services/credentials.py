"""Credentials: who is calling (API token, email and password, session cookie), and the
password and token rules every other service uses."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable

import msgspec

from punchclock import passwords
from punchclock.errors import (
    CurrentPasswordInvalid,
    InvalidCredentials,
    PasswordNeedsSecondFactor,
    SecondFactorInvalid,
    SecondFactorRequired,
)
from punchclock.models import Account, ClientInfo
from punchclock.passwords import PasswordHasher, VerifiedPasswords
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.clock import Clock
from punchclock.services.fields import EMAIL
from punchclock.services.second_factor import SecondFactor
from punchclock.services.sessions import Authenticated, IssuedSession, Sessions
from punchclock.store import Store
from punchclock.tokens import SecretBox, new_api_token

API_TOKEN_PASSWORD = "api_token"  # noqa: S105 - Basic auth with "<token>:api_token" means the API token


class ApiToken(msgspec.Struct, frozen=True):
    """A new API token: shown once, stored as a keyed lookup and sealed for display."""

    token: str
    lookup: bytes
    sealed: bytes


class Credentials:
    """Check credentials; hash, verify and cache passwords; make and open API tokens."""

    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        secrets: SecretBox,
        sessions: Sessions,
        attempts: Attempts,
        audit: Audit,
        clock: Clock,
        *,
        password_min_length: int,
        second_factor: SecondFactor,
        verified: VerifiedPasswords | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._secrets = secrets
        self._sessions = sessions
        self._attempts = attempts
        self._audit = audit
        self._clock = clock
        self._password_min_length = password_min_length
        self._second_factor = second_factor
        self._verified = verified or VerifiedPasswords()
        self._verifying: dict[bytes, asyncio.Future[Account]] = {}

    async def log_in(
        self,
        email: str,
        password: str,
        remember_me: bool,
        client: ClientInfo,
        device_cookie: str | None = None,
        otp: str | None = None,
    ) -> tuple[Account, IssuedSession]:
        """Check an email and password (and, with two-factor on, `otp`) and start a session.

        A log-in always costs a full hash: the cache of verified passwords serves API calls.
        A valid device cookie of this email's, from an earlier log-in, has the attempt
        judged by that device's failures only (Attempts.password).
        """
        device = self._secrets.device_of(device_cookie, email)
        account = await self._check_password(
            email, await self._account_by_email(email), password, client, "log_in", device
        )
        session = await self.start_session(account, otp, remember_me, client)
        self._audit.record("log_in", account.id, client)
        return account, session

    async def start_session(
        self, account: Account, otp: str | None, remember_me: bool, client: ClientInfo
    ) -> IssuedSession:
        """Start a session for an account whose password (or reset code) was just right.

        With two-factor on, only with a right code in `otp`: without one, SecondFactorRequired;
        with a wrong one, SecondFactorInvalid. Either carries a new log-in ticket with which
        the code can be given next (TwoFactor.complete_log_in). Asked only after the
        password was right, so the answer to a wrong one never tells whether two-factor is
        on (ASVS 5 V6.3.8); a password reset does not pass the second factor (V6.4.3).
        """
        if account.two_factor:
            if not otp:
                raise SecondFactorRequired(
                    await self._second_factor.new_ticket(account, remember_me)
                )
            try:
                await self._second_factor.check(account, otp, client)
            except SecondFactorInvalid:
                ticket = await self._second_factor.new_ticket(account, remember_me)
                raise SecondFactorInvalid(ticket) from None
        return await self._sessions.start_session(account, remember_me, client)

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
        """Authenticate the session cookie (the session's own rules live in Sessions)."""
        return await self._sessions.authenticate(token)

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
            return _without_second_factor(account)
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
        return _without_second_factor(account)

    async def check_current_password(
        self, account: Account, password: str, client: ClientInfo | None
    ) -> None:
        """Refuse (CurrentPasswordInvalid) a wrong current password: a failed log-in, it
        counts towards the same limits."""
        verify = functools.partial(self._hasher.verify, account.password_hash, password)
        if not await self._attempts.password(account.email, client, verify, account.id):
            self._audit.record("log_in_failed", account.id, client, "current_password")
            raise CurrentPasswordInvalid()

    def check_policy(self, password: str, context: Iterable[str] = ()) -> None:
        """Refuse a new password the policy does not allow (length, common, context words)."""
        passwords.check_policy(password, min_length=self._password_min_length, context=context)

    async def hash_password(self, password: str) -> str:
        return await self._hasher.hash(password)

    def new_api_token(self, accounts_id: str) -> ApiToken:
        token = new_api_token()
        return ApiToken(
            token=token,
            lookup=self._secrets.token_lookup(token),
            sealed=self._secrets.seal_token(token, accounts_id),
        )

    def api_token(self, account: Account) -> str:
        """Return the account's API token, decrypted for display."""
        return self._secrets.open_token(account.api_token_sealed, account.accounts_id)

    def reset_code_lookup(self, code: str) -> bytes:
        return self._secrets.reset_code_lookup(code)

    def email_change_lookup(self, code: str) -> bytes:
        return self._secrets.email_change_lookup(code)

    async def _account_by_email(self, email: str) -> Account | None:
        return await self._store.account_by_email(email) if EMAIL.fullmatch(email) else None

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
        attempt = self._attempts.password(email, client, verify, account_id, device)
        if not await attempt or account is None:
            # `path` says where: "log_in" (POST /api/sessions) or "basic" (email:password
            # on an API call). An unknown email is recorded without it (see Audit.record).
            self._audit.record("log_in_failed", account_id, client, path)
            raise InvalidCredentials()
        if self._hasher.needs_rehash(account.password_hash):
            # the argon2 parameters were raised since this hash was made (OWASP CS1)
            new_hash = await self._hasher.hash(password)
            await self._store.replace_password_hash(account.id, account.password_hash, new_hash)
            account = msgspec.structs.replace(account, password_hash=new_hash)
        return account


def _without_second_factor(account: Account) -> Account:
    """Refuse a right email:password on an account with two-factor on: an API call has no
    field for a code, so it would walk past the second factor (ASVS 5 V6.3.3). Told only
    once the password was right; `<api token>:api_token` keeps working, as on Toggl."""
    if account.two_factor:
        raise PasswordNeedsSecondFactor()
    return account


def is_token_credential(username: str, password: str) -> bool:
    """Tell whether Basic credentials are `<api token>:api_token` rather than email:password.

    Emails always hold an "@" and tokens never do, so a password that happens to be
    "api_token" still works with its email.
    """
    return password == API_TOKEN_PASSWORD and "@" not in username
