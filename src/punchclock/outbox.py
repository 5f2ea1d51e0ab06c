"""The outbox sender: deliver the mail that transactions queued in the store.

Any number of senders, in any number of processes and hosts, may share one store: each
claims a batch under a lease with a random token (Store.claim_mail), so a message is
handed to the Mailer by one sender at a time, and settled only by the one holding it. A
sender that dies mid-batch leaves its leases to run out; another then takes the messages
over. The one case that sends a message twice is a sender that dies after the SMTP
server took the message and before the store recorded it: the Message-ID is the same
on both copies, so that receivers can tell.

Temporary failures (connection refused, timeouts, SMTP 4xx) are tried again with
exponential backoff and jitter; permanent ones (SMTP 5xx to a recipient or to the
message) and messages older than PUNCHCLOCK_MAIL_MAX_AGE become dead letters, which
`punchclock mail retry` queues again. Messages in a batch are sent side by side, each
with its own timeout, so one that fails or hangs delays none of the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from punchclock.errors import StoreUnavailable
from punchclock.mail import SEND_TIMEOUT, DeliveryFailed, KeepsCopies, Mailer, render
from punchclock.models import ClaimedMail, Message
from punchclock.store import Store
from punchclock.tokens import SecretBox

log = logging.getLogger("punchclock.mail")

INTERVAL = 1.0  # seconds between looks at the outbox when nobody wakes the sender
BATCH = 20  # messages claimed at once
RETRY_BASE = 5.0  # seconds before the first retry; doubled after each failure
RETRY_CAP = 15 * 60.0  # seconds: the longest wait between two attempts
MAX_ERROR = 500  # characters of an error kept with the message
STOP_GRACE = 5.0  # seconds a stopping server gives the messages it is sending

_jitter = random.SystemRandom()  # its own state: the module's `random` stays untouched


@dataclass(slots=True)
class Tally:
    """What one pass over the outbox did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0


def _system_now() -> int:
    return time.time_ns() // 1000


class OutboxSender:
    """Deliver due messages from the store's outbox through a Mailer."""

    def __init__(
        self,
        store: Store,
        mailer: Mailer,
        secrets_box: SecretBox,
        *,
        sender: str,
        max_age: int,
        keep: int,
        now: Callable[[], int] | None = None,
        batch: int = BATCH,
        send_timeout: float = SEND_TIMEOUT,
        retry_base: float = RETRY_BASE,
        retry_cap: float = RETRY_CAP,
        interval: float = INTERVAL,
        observe: Callable[[Tally], None] | None = None,
    ) -> None:
        self._observe = observe  # told what each pass did (metrics), when set
        self._store = store
        self._mailer = mailer
        self._box = secrets_box
        self._sender = sender
        self._max_age = max_age * 1_000_000  # microseconds
        self._keep = keep * 1_000_000  # how long sent and dead messages stay listed
        self._now = now or _system_now
        self._batch = batch
        self._send_timeout = send_timeout
        # Every message of a batch is settled within send_timeout, so a lease of twice
        # that, plus room for the store, runs out only if this sender is gone.
        self._lease = int((2 * send_timeout + 10) * 1_000_000)
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._interval = interval
        self._wake = asyncio.Event()
        self._passing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def forget_old(self) -> int:
        """Remove sent and dead messages older than the retention; return how many.

        A sent message keeps no body, but its recipient and subject are personal data
        that `mail list` needs only for a while (GDPR storage limitation)."""
        forgotten = await self._store.delete_old_mail(self._now() - self._keep)
        await self.erase_copies()
        return forgotten

    async def erase_copies(self) -> int:
        """Delete the copies the mailer keeps (the file mailer's .eml files) of messages the
        outbox no longer holds: past its retention, or erased with their account."""
        if not isinstance(self._mailer, KeepsCopies):
            return 0
        kept = self._mailer.copies()
        if not kept:
            return 0
        live = await self._store.existing_mail(list(kept))
        return self._mailer.erase(path for mail_id, path in kept.items() if mail_id not in live)

    def wake(self) -> None:
        """Look at the outbox now rather than at the next tick: a message was just queued."""
        self._wake.set()

    async def send_due(self) -> Tally:
        """Send every message due now, batch after batch; return what became of them.

        Passes in one process take turns, so that a pass started while another is sending
        returns only after the other's messages are settled.
        """
        tally = Tally()
        async with self._passing:
            while not self._stopping:
                now = self._now()
                token = secrets.token_hex(16)
                batch = await self._store.claim_mail(token, now, now + self._lease, self._batch)
                outcomes = await asyncio.gather(*(self._deliver(m, token, now) for m in batch))
                for outcome in outcomes:
                    setattr(tally, outcome, getattr(tally, outcome) + 1)
                if len(batch) < self._batch:
                    break
        if self._observe is not None and (tally.sent or tally.retrying or tally.dead):
            self._observe(tally)
        return tally

    def start(self) -> None:
        """Send due messages in the background, every `interval` and when woken, until stop()."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Claim no more; give the messages being sent `grace` seconds to be settled."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            # wait_for cancels the pass when the grace is over: its messages keep their
            # leases, and are sent by whichever sender claims them when the leases run out
            await asyncio.wait_for(self._task, grace)
        except TimeoutError:
            log.warning(
                "stopped while sending mail (the SMTP server is slow to answer): "
                "those messages are tried again when their leases run out"
            )

    async def _run(self) -> None:
        store_down = False
        while not self._stopping:
            self._wake.clear()
            try:
                await self.send_due()
            except StoreUnavailable:  # an outage, not a bug: one line when it starts
                if not store_down:
                    log.warning("the database is unavailable: mail waits until it is back")
                store_down = True
            except Exception:
                log.exception("looking for queued mail failed; trying again in a moment")
            else:
                if store_down:
                    log.info("the database is back: sending mail again")
                store_down = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def _deliver(self, claimed: ClaimedMail, token: str, now: int) -> str:
        """Try one message and record the outcome: "sent", "retrying" or "dead"."""
        try:
            return await self._attempt(claimed, token, now)
        except Exception:
            # the store failed to record the outcome: the lease runs out and it is tried again
            log.exception("message %s: recording the outcome failed", claimed.id)
            return "retrying"

    async def _attempt(self, claimed: ClaimedMail, token: str, now: int) -> str:
        if now - claimed.queued_at > self._max_age:
            hours = self._max_age / 3_600_000_000
            reason = f"not delivered within {hours:g} h (PUNCHCLOCK_MAIL_MAX_AGE)"
            return await self._dead(claimed, token, reason, attempted=False)
        try:
            message = msgspec.msgpack.decode(
                self._box.open_mail(claimed.sealed, claimed.id), type=Message
            )
            email = render(
                message,
                sender=self._sender,
                message_id=claimed.id,
                date=dt.datetime.fromtimestamp(now / 1_000_000, dt.UTC),
            )
        except (ValueError, msgspec.DecodeError) as e:
            return await self._dead(claimed, token, f"cannot be read: {e}", attempted=False)
        try:
            await asyncio.wait_for(self._mailer.send(email), self._send_timeout)
        except DeliveryFailed as e:
            if e.permanent:
                return await self._dead(claimed, token, e.reason)
            return await self._retry(claimed, token, now, e.reason)
        except TimeoutError:
            return await self._retry(
                claimed, token, now, f"timed out after {self._send_timeout:g} s"
            )
        except Exception as e:
            log.exception("message %s: the mailer failed unexpectedly", claimed.id)
            return await self._retry(claimed, token, now, f"{type(e).__name__}: {e}")
        if await self._store.mark_mail_sent(claimed.id, token, self._now()):
            log.info("message %s sent", claimed.id)
        else:
            log.warning(
                "message %s was sent after its lease ran out and another sender took it: "
                "it may arrive twice (is the SMTP server this slow?)",
                claimed.id,
            )
        return "sent"

    async def _retry(self, claimed: ClaimedMail, token: str, now: int, reason: str) -> str:
        # exponential backoff with "equal jitter": half the delay fixed, half random,
        # so that messages that failed together are not all tried again together
        delay = min(self._retry_cap, self._retry_base * 2**claimed.attempts)
        delay *= _jitter.uniform(0.5, 1.0)
        next_attempt_at = now + int(delay * 1_000_000)
        await self._store.mark_mail_retry(claimed.id, token, next_attempt_at, reason[:MAX_ERROR])
        log.warning("message %s not sent (%s); trying again in %.0f s", claimed.id, reason, delay)
        return "retrying"

    async def _dead(
        self, claimed: ClaimedMail, token: str, reason: str, *, attempted: bool = True
    ) -> str:
        await self._store.mark_mail_dead(claimed.id, token, reason[:MAX_ERROR], attempted=attempted)
        log.error(
            "message %s not sent and given up (%s); `punchclock mail retry %s` queues it again",
            claimed.id,
            reason,
            claimed.id,
        )
        return "dead"
