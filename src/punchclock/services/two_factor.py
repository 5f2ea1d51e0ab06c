"""Two-factor authentication by TOTP (RFC 6238) with recovery codes: enrol, turn off,
replace the recovery codes, finish a log-in with a code; an operator removes it (issue 19)."""

from __future__ import annotations

import msgspec

from punchclock import totp
from punchclock.errors import (
    AccountNotFound,
    SecondFactorInvalid,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotStarted,
)
from punchclock.models import Account, ClientInfo
from punchclock.notices import (
    RECOVERY_CODES_REPLACED,
    TWO_FACTOR_DISABLED,
    TWO_FACTOR_ENABLED,
    TWO_FACTOR_REMOVED,
    Change,
    Notices,
)
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.clock import Clock
from punchclock.services.credentials import Credentials
from punchclock.services.second_factor import SecondFactor
from punchclock.services.sessions import Authenticated, IssuedSession, Sessions
from punchclock.store import Store
from punchclock.tokens import SecretBox


class Enrolment(msgspec.Struct, frozen=True):
    """A new TOTP secret to confirm: shown once, nothing is on until a code confirms it."""

    secret: str  # base32, 32 characters (160 bits)
    otpauth_uri: str  # otpauth://totp/<issuer>:<email>?secret=...&issuer=<issuer>
    qr_svg: str  # an <svg ...> document, safe to inline in HTML


class TwoFactor:
    """The two-factor verbs of an account's owner, and the operator's removal."""

    def __init__(
        self,
        store: Store,
        secrets_box: SecretBox,
        credentials: Credentials,
        second_factor: SecondFactor,
        sessions: Sessions,
        notices: Notices,
        audit: Audit,
        attempts: Attempts,
        clock: Clock,
        *,
        issuer: str = "punchclock",
    ) -> None:
        self._store = store
        self._secrets = secrets_box
        self._credentials = credentials
        self._second_factor = second_factor
        self._sessions = sessions
        self._notices = notices
        self._audit = audit
        self._attempts = attempts
        self._clock = clock
        self._issuer = issuer

    async def begin_enrolment(self, auth: Authenticated, client: ClientInfo) -> Enrolment:
        """Make a new secret (160 bits from the CSPRNG) and keep it, sealed, until confirmed.

        Refused while two-factor is on: a stolen cookie or token must not swap the
        secret for the thief's own (turning it off needs a code and the password).
        """
        account = auth.account
        if account.two_factor:
            raise TwoFactorAlreadyEnabled()
        secret = totp.new_secret()
        sealed = self._secrets.seal_totp(secret, account.accounts_id)
        if not await self._store.begin_two_factor(account.id, sealed):
            raise TwoFactorAlreadyEnabled()
        uri = totp.otpauth_uri(secret, account.email, self._issuer)
        return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))

    async def pending_enrolment(self, auth: Authenticated) -> Enrolment | None:
        """Return the begun, unconfirmed enrolment again (after a wrong code), or None.

        Shown from the secret kept here, never from what the page posted back: the set-up
        page can redraw the QR code the person scanned, and nobody can make it show
        another key.
        """
        account = auth.account
        state = None if account.two_factor else await self._store.two_factor_state(account.id)
        if state is None or state.pending_sealed is None:
            return None
        secret = self._secrets.open_totp(state.pending_sealed, account.accounts_id)
        uri = totp.otpauth_uri(secret, account.email, self._issuer)
        return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))

    async def enable(self, auth: Authenticated, otp: str, client: ClientInfo) -> list[str]:
        """Confirm the begun enrolment with a code from it; return 10 recovery codes, shown
        once. Every other session ends: one begun before may be someone else's (ASVS 5
        V7.4.3), and the one that enrolled stays."""
        account = auth.account
        if account.two_factor:
            raise TwoFactorAlreadyEnabled()
        state = await self._store.two_factor_state(account.id)
        pending = state.pending_sealed if state is not None else None
        if pending is None:
            raise TwoFactorNotStarted()
        secret = self._secrets.open_totp(pending, account.accounts_id)
        codes, lookups = self._second_factor.new_recovery_codes(account)
        now = self._clock.now()
        notice = self._notices.change(account, TWO_FACTOR_ENABLED, now, client)

        async def verify() -> bool:
            code = totp.totp_code(otp)
            step = totp.matching_step(secret, code, now) if code is not None else None
            # the same one-use rule as Credentials' codes: the step is taken in the
            # statement that turns two-factor on, and only for this very pending secret
            return step is not None and (
                await self._store.enable_two_factor(
                    account.id, pending, step, lookups, now, auth.jti, notice
                )
                is not None
            )

        if not await self._attempts.code(account.id, client, verify):
            self._audit.record("two_factor_failed", account.id, client, "enable")
            raise SecondFactorInvalid()
        self._notices.queued()
        self._audit.record("two_factor_enabled", account.id, client)
        return codes

    async def disable(
        self, auth: Authenticated, otp: str, current_password: str, client: ClientInfo
    ) -> Account:
        """Turn two-factor off: needs a code (or a recovery code) and the password, so that
        a stolen cookie or token alone cannot (ASVS 5 V6.4.4)."""
        account = self._enabled(auth)
        await self._credentials.check_current_password(account, current_password, client)
        await self._second_factor.check(account, otp, client)
        return await self._turn_off(account, client, "two_factor_disabled", TWO_FACTOR_DISABLED)

    async def regenerate_recovery_codes(
        self, auth: Authenticated, otp: str, client: ClientInfo
    ) -> list[str]:
        """Replace the recovery codes (the old ones die); needs a current TOTP code."""
        account = self._enabled(auth)
        await self._second_factor.check(account, otp, client, recovery=False)
        codes, lookups = self._second_factor.new_recovery_codes(account)
        now = self._clock.now()
        notice = self._notices.change(account, RECOVERY_CODES_REPLACED, now, client)
        await self._store.replace_recovery_codes(account.id, lookups, now, notice)
        self._notices.queued()
        self._audit.record("recovery_codes_replaced", account.id, client)
        return codes

    async def complete_log_in(
        self, pending: str, otp: str, client: ClientInfo
    ) -> tuple[Account, IssuedSession]:
        """Finish a log-in whose password was right with a code, by its ticket (single use,
        five minutes); a wrong code leaves the ticket for another try."""
        account, remember_me = await self._second_factor.ticket(pending)
        try:
            await self._second_factor.check(account, otp, client)
        except SecondFactorInvalid:
            raise SecondFactorInvalid(pending) from None
        if not await self._second_factor.use_ticket(pending):
            raise SecondFactorInvalid()
        self._audit.record("log_in", account.id, client, "two_factor")
        return account, await self._sessions.start_session(account, remember_me, client)

    async def remove(self, email: str, client: ClientInfo | None = None) -> Account:
        """Remove two-factor from an account whose owner lost both device and recovery
        codes (an operator's command); the trail and a mail to the account say so."""
        # a disabled account too: an operator may remove the factor before enabling it again
        account = await self._store.open_account_by_email(email)
        if account is None:
            raise AccountNotFound()
        if not account.two_factor:
            raise TwoFactorNotEnabled()
        # recorded with the detail "operator", as Administration's commands are
        return await self._turn_off(
            account, client, "two_factor_removed", TWO_FACTOR_REMOVED, "operator"
        )

    def _enabled(self, auth: Authenticated) -> Account:
        if not auth.account.two_factor:
            raise TwoFactorNotEnabled()
        return auth.account

    async def _turn_off(
        self,
        account: Account,
        client: ClientInfo | None,
        event: str,
        change: Change,
        detail: str | None = None,
    ) -> Account:
        now = self._clock.now()
        notice = self._notices.change(account, change, now, client)
        turned_off = await self._store.disable_two_factor(account.id, now, notice)
        if turned_off is None:
            raise TwoFactorNotEnabled()
        self._notices.queued()
        self._audit.record(event, account.id, client, detail)
        return turned_off
