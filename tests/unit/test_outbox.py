"""The outbox sender against a real SQLite store and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from punchclock.mail import FileMailer, Mailer, SmtpMailer
from punchclock.models import MailRecord, Message, OutgoingMail
from punchclock.outbox import RETRY_BASE, OutboxSender
from punchclock.store.sqlite import SQLiteStore
from punchclock.tokens import SecretBox
from tests.conftest import FixedClock
from tests.fuzz.mail import RecordingMailer
from tests.smtp_server import SmtpServer, free_port

BOX = SecretBox(b"k" * 32)
SENDER = "punchclock <no-reply@example.com>"
DAY = 24 * 3600


def queued(n: int, now: int, to: str | None = None, box: SecretBox = BOX) -> OutgoingMail:
    """Return message n, sealed as the service seals it."""
    message = Message(to=to or f"user-{n}@example.com", subject=f"message {n}", text=f"body {n}\n")
    mail_id = f"{n:032x}"
    return OutgoingMail(
        id=mail_id,
        recipient=message.to,
        subject=message.subject,
        sealed=box.seal_mail(msgspec.msgpack.encode(message), mail_id),
        created_at=now,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "db.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


def sender_for(
    store: SQLiteStore, mailer: Mailer, clock: FixedClock, **options: Any
) -> OutboxSender:
    options.setdefault("keep", 30 * DAY)
    return OutboxSender(store, mailer, BOX, sender=SENDER, max_age=DAY, now=clock.now, **options)


async def states(store: SQLiteStore) -> dict[str, MailRecord]:
    return {record.recipient: record for record in await store.list_mail()}


async def test_a_refused_recipient_is_a_dead_letter_and_later_mail_goes_out_on_time(
    store: SQLiteStore, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    inbox = smtp_server.inbox
    inbox.refuse["refused@example.com"] = "550 5.1.1 no such user"
    inbox.stall.add("stalled@example.com")  # never answers RCPT TO
    await store.enqueue_mail(queued(1, clock.now(), "refused@example.com"))
    await store.enqueue_mail(queued(2, clock.now(), "stalled@example.com"))
    for n in range(3, 8):  # queued after the bad ones
        await store.enqueue_mail(queued(n, clock.now() + n))
    clock.advance(1)
    sender = sender_for(store, SmtpMailer(smtp_server.url), clock, send_timeout=1.0)

    started = time.monotonic()
    tally = await sender.send_due()
    took = time.monotonic() - started

    assert (tally.sent, tally.retrying, tally.dead) == (5, 1, 1)
    assert sorted(str(m["To"]) for m in inbox.received) == [
        f"user-{n}@example.com" for n in range(3, 8)
    ]
    assert took < 5  # one pass, bounded by the one timeout, not one timeout per message
    found = await states(store)
    assert found["refused@example.com"].state == "dead"
    assert found["refused@example.com"].last_error == "recipient refused: 550 5.1.1 no such user"
    assert found["stalled@example.com"].state == "queued"
    assert found["stalled@example.com"].last_error == "timed out after 1 s"
    assert {found[f"user-{n}@example.com"].state for n in range(3, 8)} == {"sent"}


async def test_two_senders_on_one_database_deliver_each_message_exactly_once(
    tmp_path: Path, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    smtp_server.inbox.data_delay = 0.005  # so that the two senders' batches overlap
    first, second = SQLiteStore(tmp_path / "db.sqlite3"), SQLiteStore(tmp_path / "db.sqlite3")
    try:
        for n in range(50):
            await first.enqueue_mail(queued(n, clock.now()))
        mailer = SmtpMailer(smtp_server.url)
        senders = [sender_for(s, mailer, clock, batch=5) for s in (first, second)]
        tallies = await asyncio.gather(*(s.send_due() for s in senders))
        await asyncio.gather(*(s.send_due() for s in senders))  # nothing left to send
    finally:
        await first.close()
        await second.close()
    counts = smtp_server.inbox.message_id_counts()
    assert len(counts) == 50
    assert set(counts.values()) == {1}
    assert min(t.sent for t in tallies) > 0  # both took part
    assert sum(t.sent for t in tallies) == 50


async def test_a_temporary_failure_is_retried_later_and_later_with_jitter(
    store: SQLiteStore, clock: FixedClock
) -> None:
    await store.enqueue_mail(queued(1, clock.now()))
    sender = sender_for(store, SmtpMailer(f"smtp://127.0.0.1:{free_port()}", 2), clock)
    waits = []
    for attempt in range(1, 5):
        before = clock.now()
        assert (await sender.send_due()).retrying == 1
        [record] = await store.list_mail()
        assert record.attempts == attempt
        assert record.last_error is not None
        waits.append((record.next_attempt_at - before) / 1_000_000)
        assert (await sender.send_due()).retrying == 0  # not due yet
        clock.advance(waits[-1])
    for n, wait in enumerate(waits):
        assert RETRY_BASE * 2**n / 2 <= wait <= RETRY_BASE * 2**n


async def test_a_message_older_than_the_max_age_becomes_a_dead_letter_unsent(
    store: SQLiteStore, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    await store.enqueue_mail(queued(1, clock.now()))
    clock.advance(DAY + 1)
    tally = await sender_for(store, SmtpMailer(smtp_server.url), clock).send_due()
    assert (tally.sent, tally.dead) == (0, 1)
    assert smtp_server.inbox.received == []
    [record] = await store.list_mail()
    assert (record.state, record.attempts) == ("dead", 0)
    assert record.last_error == "not delivered within 24 h (PUNCHCLOCK_MAIL_MAX_AGE)"


async def test_a_dead_letter_queued_again_is_delivered(
    store: SQLiteStore, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    smtp_server.inbox.refuse["user-1@example.com"] = "550 5.1.1 no such user"
    await store.enqueue_mail(queued(1, clock.now()))
    sender = sender_for(store, SmtpMailer(smtp_server.url), clock)
    assert (await sender.send_due()).dead == 1
    del smtp_server.inbox.refuse["user-1@example.com"]  # the operator fixed it
    assert await store.retry_mail(f"{1:032x}", clock.now())
    assert (await sender.send_due()).sent == 1
    assert len(smtp_server.inbox.received) == 1


async def test_a_message_that_cannot_be_opened_is_a_dead_letter(
    store: SQLiteStore, tmp_path: Path, clock: FixedClock
) -> None:
    await store.enqueue_mail(queued(1, clock.now(), box=SecretBox(b"o" * 32)))
    tally = await sender_for(store, FileMailer(tmp_path / "outbox"), clock).send_due()
    assert tally.dead == 1
    [record] = await store.list_mail()
    assert record.last_error == "cannot be read: the message cannot be decrypted: wrong server key?"


async def test_a_sender_that_died_holding_a_lease_is_taken_over_when_it_runs_out(
    store: SQLiteStore, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    await store.enqueue_mail(queued(1, clock.now()))
    # a sender claims the message, then its process dies before sending it
    await store.claim_mail("d" * 32, clock.now(), clock.now() + 60_000_000, 20)
    sender = sender_for(store, SmtpMailer(smtp_server.url), clock, send_timeout=25.0)
    assert (await sender.send_due()).sent == 0
    clock.advance(61)
    assert (await sender.send_due()).sent == 1
    assert len(smtp_server.inbox.received) == 1


async def test_the_running_sender_is_woken_by_an_enqueue_and_stops_cleanly(
    store: SQLiteStore, clock: FixedClock
) -> None:
    mailer = RecordingMailer()
    sender = sender_for(store, mailer, clock, interval=3600.0)
    sender.start()
    await asyncio.sleep(0.05)  # its first look found nothing; now it sleeps for an hour
    await store.enqueue_mail(queued(1, clock.now()))
    sender.wake()
    for _ in range(100):
        if mailer.sent:
            break
        await asyncio.sleep(0.02)
    await sender.stop()
    assert len(mailer.sent) == 1


async def test_sent_mail_is_forgotten_after_the_retention(
    store: SQLiteStore, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    sender = sender_for(store, SmtpMailer(smtp_server.url), clock, keep=DAY)
    await store.enqueue_mail(queued(1, clock.now()))
    assert (await sender.send_due()).sent == 1
    clock.advance(DAY - 1)
    assert await sender.forget_old() == 0
    clock.advance(2)
    assert await sender.forget_old() == 1
    assert await store.list_mail() == []


async def test_the_file_mailers_copies_follow_the_outboxs_retention(
    store: SQLiteStore, clock: FixedClock, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    sender = sender_for(store, FileMailer(folder), clock, keep=DAY)
    await store.enqueue_mail(queued(1, clock.now()))
    clock.advance(1e-6)
    await store.enqueue_mail(queued(2, clock.now()))
    assert (await sender.send_due()).sent == 2
    files = sorted(folder.glob("*.eml"))
    assert [p.stem.rpartition("-")[2] for p in files] == [f"{1:032x}", f"{2:032x}"]
    unrelated = folder / "notes.txt"
    unrelated.write_text("kept")
    clock.advance(DAY - 1e-6)
    assert await sender.forget_old() == 0
    assert len(list(folder.glob("*.eml"))) == 2
    clock.advance(1e-6)  # message 1 is past the retention, message 2 a microsecond short
    assert await sender.forget_old() == 1
    assert [p.stem.rpartition("-")[2] for p in folder.glob("*.eml")] == [f"{2:032x}"]
    assert unrelated.exists()


async def test_a_file_whose_message_left_the_outbox_is_erased(
    store: SQLiteStore, clock: FixedClock, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    sender = sender_for(store, FileMailer(folder), clock)
    await store.enqueue_mail(queued(1, clock.now(), to="ann@example.com"))
    await sender.send_due()
    assert await sender.erase_copies() == 0  # still in the outbox
    await store.delete_old_mail(clock.now() + 1)  # as closing the account would
    assert await sender.erase_copies() == 1
    assert list(folder.glob("*.eml")) == []
