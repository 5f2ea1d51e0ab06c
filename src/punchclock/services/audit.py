"""The audit trail of security events (ASVS 4.0.3 V7.1.3, V7.2.1)."""

from __future__ import annotations

from punchclock.models import AuditEvent, ClientInfo
from punchclock.services.background import Background
from punchclock.services.clock import DAY, Clock
from punchclock.store import Store


class Audit:
    """Record security events in the background; purge those past their retention."""

    def __init__(
        self, store: Store, background: Background, clock: Clock, *, retention_days: int
    ) -> None:
        self._store = store
        self._background = background
        self._clock = clock
        self._retention_days = retention_days

    def record(
        self,
        event: str,
        account_id: int | None,
        client: ClientInfo | None,
        detail: str | None = None,
    ) -> None:
        """Add a security event to the audit trail.

        Recorded in the background, like a session's use: the write must neither delay
        the answer nor fail the request (an error is logged), and the request is done
        before it lands (Background.drain() waits for it). Callers pass only the event,
        the account and the client: never a password, token, cookie or code. A failed
        log-in on an unknown email records no account and no email at all, not even a
        keyed hash: a hash of an email is still an identifier anyone with the key can
        test candidate emails against, and the address and time suffice to see an attack.
        """
        ip, agent, request_id = (
            (client.ip, client.user_agent[:512], client.request_id or None)
            if client is not None
            else ("", "", None)
        )
        self._background.run(
            self._store.record_event(
                self._clock.now(), event, account_id, ip, agent, detail, request_id
            )
        )

    async def recent(self, account_id: int, limit: int = 20) -> list[AuditEvent]:
        """Return the account's latest security events, newest first (for its owner)."""
        return await self._store.events(account_id, 0, limit)

    async def purge(self) -> int:
        """Remove audit events older than PUNCHCLOCK_AUDIT_RETENTION_DAYS; return how many."""
        cutoff = self._clock.now() - self._retention_days * DAY
        return await self._store.delete_events_before(cutoff)
