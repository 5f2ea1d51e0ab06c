"""The second factor's checks: TOTP codes and recovery codes used once, throttled, and the
single-use log-in ticket between a right password and a right code (issue 19)."""

from __future__ import annotations

import secrets

from punchclock import totp
from punchclock.errors import SecondFactorInvalid
from punchclock.models import Account, ClientInfo
from punchclock.notices import RECOVERY_CODE_USED, Notices
from punchclock.services.attempts import Attempts
from punchclock.services.audit import Audit
from punchclock.services.clock import Clock
from punchclock.store import Store
from punchclock.tokens import SecretBox

TICKET_TTL = 300 * 1_000_000  # microseconds a log-in ticket lives: five minutes
_MAX_TICKET = 100  # characters: a ticket is 43


class SecondFactor:
    """Check two-factor codes and keep the log-in tickets; the verbs are in TwoFactor."""

    def __init__(
        self,
        store: Store,
        secrets_box: SecretBox,
        attempts: Attempts,
        audit: Audit,
        notices: Notices,
        clock: Clock,
    ) -> None:
        self._store = store
        self._secrets = secrets_box
        self._attempts = attempts
        self._audit = audit
        self._notices = notices
        self._clock = clock

    async def check(
        self, account: Account, otp: str, client: ClientInfo | None, *, recovery: bool = True
    ) -> None:
        """Accept a TOTP code (or, with `recovery`, a recovery code) of the account's once;
        raise SecondFactorInvalid otherwise, or Throttled after too many wrong ones."""

        async def verify() -> bool:
            code = totp.totp_code(otp)
            if code is not None:
                return await self._use_totp(account, code)
            spare = totp.recovery_code(otp) if recovery else None
            return spare is not None and await self._use_recovery_code(account, spare, client)

        if not await self._attempts.code(account.id, client, verify):
            self._audit.record("two_factor_failed", account.id, client)
            raise SecondFactorInvalid()

    async def _use_totp(self, account: Account, code: str) -> bool:
        state = await self._store.two_factor_state(account.id)
        if state is None or state.secret_sealed is None:
            return False
        secret = self._secrets.open_totp(state.secret_sealed, account.accounts_id)
        step = totp.matching_step(secret, code, self._clock.now())
        # A code counts once: its step is checked against the last one used and recorded
        # in one statement, so two requests racing with it (two workers or hosts) let one
        # through, and no older code works after a newer one (RFC 6238 5.2; ASVS 5 V6.5.1).
        return step is not None and await self._store.use_totp_step(account.id, step)

    async def _use_recovery_code(
        self, account: Account, code: str, client: ClientInfo | None
    ) -> bool:
        # Found by its HMAC, never compared as text: the database compares keyed hashes,
        # whose timing tells nothing of the code (ASVS 5 V6.5.2); used once (deleted).
        lookup = self._secrets.recovery_code_lookup(code, account.id)
        # the notice is queued in the transaction that uses the code: it exists exactly
        # when the code was used (ASVS 5 V6.3.7), even if the process dies right after
        notice = self._notices.change(account, RECOVERY_CODE_USED, self._clock.now(), client)
        if not await self._store.use_recovery_code(account.id, lookup, notice):
            return False
        self._notices.queued()
        self._audit.record("recovery_code_used", account.id, client)
        return True

    def new_recovery_codes(self, account: Account) -> tuple[list[str], list[bytes]]:
        """Return fresh recovery codes, to show once, and the HMACs to store of them."""
        codes = totp.new_recovery_codes()
        lookups = [
            self._secrets.recovery_code_lookup(totp.recovery_code(code) or "", account.id)
            for code in codes
        ]
        return codes, lookups

    async def new_ticket(self, account: Account, remember_me: bool) -> str:
        """Return a log-in ticket for an account whose password was right: 256 random
        bits, stored as an HMAC, usable once within five minutes."""
        ticket = secrets.token_urlsafe(32)
        now = self._clock.now()
        lookup = self._secrets.ticket_lookup(ticket)
        await self._store.add_two_factor_ticket(
            lookup, account.id, remember_me, now + TICKET_TTL, now
        )
        return ticket

    async def ticket(self, ticket: str) -> tuple[Account, bool]:
        """Return the account and remember_me of a live ticket; SecondFactorInvalid if none."""
        found = None
        if 0 < len(ticket) <= _MAX_TICKET:
            lookup = self._secrets.ticket_lookup(ticket)
            found = await self._store.two_factor_ticket(lookup, self._clock.now())
        if found is None:
            raise SecondFactorInvalid()
        return found

    async def use_ticket(self, ticket: str) -> bool:
        """Use a live ticket once; False if it is gone (used meanwhile, or expired)."""
        lookup = self._secrets.ticket_lookup(ticket)
        return await self._store.use_two_factor_ticket(lookup, self._clock.now())
