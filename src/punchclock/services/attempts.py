"""The limits on attempts (ASVS 4.0.3 V2.2.1 anti-automation), with refusals recorded.

What is limited and why is said here, where the limits are applied; the numbers come from
config.RateLimits and the counting from throttle.Throttle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator

from punchclock.errors import Throttled
from punchclock.models import ClientInfo
from punchclock.services.audit import Audit
from punchclock.services.clock import Clock
from punchclock.throttle import Throttle

RECORD_INTERVAL = 60 * 1_000_000  # microseconds between recorded refusals of one kind


class Attempts:
    """Refuse (Throttled) attempts over their limits; record each refusal in the audit trail.

    Without a throttle nothing is limited (tests of something else).
    """

    def __init__(self, throttle: Throttle | None, audit: Audit, clock: Clock) -> None:
        self._throttle = throttle
        self._audit = audit
        self._clock = clock
        self._seen: dict[tuple[str, int | None, str], int] = {}  # -> last recorded

    async def password(
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
        that did (`device`, from its device cookie) or an address whose log-in succeeded
        lately is judged by its own failures only, so that someone who knows only the
        email cannot keep the owner out (Throttle.password_attempt).
        """
        if self._throttle is None:
            return await verify()
        with self._recorded("password", account_id, client):
            ip = client.ip if client else ""
            return await self._throttle.password_attempt(email, ip, verify, device)

    async def code(
        self, account_id: int, client: ClientInfo | None, verify: Callable[[], Awaitable[bool]]
    ) -> bool:
        """Check a two-factor code, unless the account has had too many wrong ones (Throttled).

        A 6-digit code is guessed in a million tries at most, so guesses are limited like
        passwords (ASVS 5 V6.3.1, V6.5.1; RFC 6238 5.2): per account and address, and per
        account from addresses that never passed a code, counted apart from wrong
        passwords. The account-wide lock lasts at most its longest window, so a stranger
        who got past the password cannot keep the owner out for long; a few typos stay
        well under the limits (Throttle.code_attempt).
        """
        if self._throttle is None:
            return await verify()
        with self._recorded("code", account_id, client):
            ip = client.ip if client else ""
            return await self._throttle.code_attempt(account_id, ip, verify)

    async def forget_failures(self, email: str, client: ClientInfo) -> None:
        """Clear the account's failed log-ins: its owner just proved themselves by a reset."""
        if self._throttle is not None:
            await self._throttle.forget_failures(email, client.ip)

    async def sign_up(self, client: ClientInfo) -> None:
        """Count a sign-up: it costs a hash and tells whether an email is taken (ASVS 5 V6.3.8)."""
        if self._throttle is not None:
            with self._recorded("sign_up", None, client):
                await self._throttle.sign_up(client.ip)

    async def reset_request(self, client: ClientInfo | None) -> None:
        """Count a reset request per address (429), so that nobody probes many emails
        quickly; never per email, lest someone who knows only the email keep its owner
        from asking."""
        if self._throttle is not None:
            with self._recorded("reset_request", None, client):
                await self._throttle.reset_request(client.ip if client else "")

    async def reset_mail(self, email: str) -> bool:
        """Tell whether one more reset code may be mailed to this email (a few an hour);
        beyond that a request, answered the same, sends nothing."""
        return self._throttle is None or await self._throttle.reset_mail(email)

    async def email_change(self, account_id: int, client: ClientInfo | None) -> None:
        """Count a request to move an account to another address: each mails an address
        of the caller's choosing."""
        if self._throttle is not None:
            with self._recorded("email_change", account_id, client):
                await self._throttle.email_change(account_id)

    async def link_confirm(self, client: ClientInfo) -> None:
        """Count a use of an email change's link: codes are 256 random bits, but guessing
        still costs lookups (ASVS 5 V6.6.3). Counted with reset confirmations."""
        if self._throttle is not None:
            with self._recorded("link_confirm", None, client):
                await self._throttle.reset_confirm(client.ip)

    async def reset_confirm(self, client: ClientInfo) -> None:
        """Count a reset confirmation: codes are 256 random bits, but guessing still costs
        lookups (ASVS 5 V6.6.3)."""
        if self._throttle is not None:
            with self._recorded("reset_confirm", None, client):
                await self._throttle.reset_confirm(client.ip)

    @property
    def limits_api_calls(self) -> bool:
        """Tell whether API calls are limited per user (PUNCHCLOCK_API_RATE_LIMIT)."""
        return self._throttle is not None and self._throttle.limits_api_calls

    async def api_call(self, account_id: int, client: ClientInfo) -> None:
        """Refuse (Throttled) a user calling faster than PUNCHCLOCK_API_RATE_LIMIT allows.

        Off by default; like Toggl's, the limit is per user and address (compat.md).
        """
        if self._throttle is not None:
            with self._recorded("api_call", account_id, client):
                await self._throttle.api_call(account_id, client.ip)

    @contextlib.contextmanager
    def _recorded(
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
            if now - self._seen.get(seen, -RECORD_INTERVAL) >= RECORD_INTERVAL:
                if len(self._seen) >= 100_000:
                    self._seen.clear()
                self._seen[seen] = now
                self._audit.record("throttled", account_id, client, what)
            raise
