"""What every Store must do with the outbox: queue with the change, lease, settle, list."""

from __future__ import annotations

import asyncio

import pytest

from punchclock.errors import EmailTaken
from punchclock.models import ProfileChanges
from punchclock.store import Store
from tests.store.test_store_contract import HOUR, T0, new_account, outgoing

SECOND = 1_000_000  # microseconds
LEASE = 60 * SECOND


async def claim(store: Store, token: str, now: int = T0, limit: int = 10) -> list[str]:
    return sorted(m.id for m in await store.claim_mail(token, now, now + LEASE, limit))


async def test_a_reset_code_and_its_message_are_written_together(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_reset_code(account.id, b"code-1", T0 + HOUR, T0, outgoing(1))
    [record] = await store.list_mail()
    assert (record.id, record.recipient, record.subject) == (
        outgoing(1).id,
        "ann@example.com",
        "message 1",
    )
    assert (record.state, record.attempts, record.created_at) == ("queued", 0, T0)
    assert (record.queued_at, record.next_attempt_at) == (T0, T0)
    assert (record.sent_at, record.last_error) == (None, None)
    [claimed] = await store.claim_mail("a" * 32, T0, T0 + LEASE, 10)
    assert (claimed.id, claimed.sealed, claimed.attempts, claimed.queued_at) == (
        outgoing(1).id,
        b"sealed-1",
        0,
        T0,
    )


async def test_a_reset_code_whose_message_cannot_be_queued_is_not_stored(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.enqueue_mail(outgoing(1))
    with pytest.raises(Exception, match=r"."):  # the same id twice: the transaction fails
        await store.add_reset_code(account.id, b"code-1", T0 + HOUR, T0, outgoing(1))
    assert await store.reset_code_account(b"code-1", T0) is None
    assert len(await store.list_mail()) == 1


async def test_claims_lease_each_due_message_to_one_claimer(store: Store) -> None:
    for n in (1, 2, 3):
        await store.enqueue_mail(outgoing(n, created_at=T0 + n))
    first = await claim(store, "a" * 32, T0 + 10, limit=2)
    second = await claim(store, "b" * 32, T0 + 10, limit=2)
    assert first == [outgoing(1).id, outgoing(2).id]  # the earliest due go first
    assert second == [outgoing(3).id]
    assert await claim(store, "c" * 32, T0 + 10) == []


async def test_concurrent_claims_never_share_a_message(store: Store) -> None:
    for n in range(1, 41):
        await store.enqueue_mail(outgoing(n))
    claims = await asyncio.gather(*(claim(store, f"{t:032x}", limit=3) for t in range(20)))
    claimed = [mail_id for ids in claims for mail_id in ids]
    assert len(claimed) == len(set(claimed)) == 40


async def test_a_message_is_not_due_before_it_was_created(store: Store) -> None:
    await store.enqueue_mail(outgoing(1, created_at=T0))
    assert await claim(store, "a" * 32, T0 - 1) == []
    assert await claim(store, "a" * 32, T0) == [outgoing(1).id]


async def test_a_lease_that_ran_out_is_taken_over_and_the_first_claimer_loses_it(
    store: Store,
) -> None:
    await store.enqueue_mail(outgoing(1))
    await store.claim_mail("a" * 32, T0, T0 + LEASE, 10)
    assert await claim(store, "b" * 32, T0 + LEASE) == []  # still held at its last moment
    assert await claim(store, "b" * 32, T0 + LEASE + 1) == [outgoing(1).id]
    assert not await store.mark_mail_sent(outgoing(1).id, "a" * 32, T0 + LEASE + 2)
    assert await store.mark_mail_sent(outgoing(1).id, "b" * 32, T0 + LEASE + 2)


async def test_only_the_holder_of_the_claim_settles_a_message(store: Store) -> None:
    await store.enqueue_mail(outgoing(1))
    await store.claim_mail("a" * 32, T0, T0 + LEASE, 10)
    mail_id = outgoing(1).id
    assert not await store.mark_mail_sent(mail_id, "x" * 32, T0)
    assert not await store.mark_mail_retry(mail_id, "x" * 32, T0 + HOUR, "no")
    assert not await store.mark_mail_dead(mail_id, "x" * 32, "no")
    [record] = await store.list_mail()
    assert (record.state, record.attempts, record.last_error) == ("queued", 0, None)


async def test_a_sent_message_keeps_its_record_and_is_never_claimed_again(store: Store) -> None:
    await store.enqueue_mail(outgoing(1))
    await store.claim_mail("a" * 32, T0, T0 + LEASE, 10)
    assert await store.mark_mail_sent(outgoing(1).id, "a" * 32, T0 + 5)
    assert not await store.mark_mail_sent(outgoing(1).id, "a" * 32, T0 + 6)  # settled once
    [record] = await store.list_mail()
    assert (record.state, record.sent_at, record.attempts) == ("sent", T0 + 5, 1)  # this one
    assert await claim(store, "b" * 32, T0 + HOUR) == []
    assert not await store.retry_mail(outgoing(1).id, T0 + HOUR)


async def test_a_retry_counts_the_attempt_releases_the_lease_and_waits(store: Store) -> None:
    await store.enqueue_mail(outgoing(1))
    await store.claim_mail("a" * 32, T0, T0 + LEASE, 10)
    assert await store.mark_mail_retry(outgoing(1).id, "a" * 32, T0 + 10 * SECOND, "421 busy")
    [record] = await store.list_mail()
    assert (record.state, record.attempts, record.last_error) == ("queued", 1, "421 busy")
    assert record.next_attempt_at == T0 + 10 * SECOND
    assert await claim(store, "b" * 32, T0 + 10 * SECOND - 1) == []
    # due again before the first lease would have run out: the retry released it
    [claimed] = await store.claim_mail("b" * 32, T0 + 10 * SECOND, T0 + HOUR, 10)
    assert claimed.attempts == 1
    assert await store.mark_mail_retry(outgoing(1).id, "b" * 32, T0 + HOUR, "421 still busy")
    assert (await store.list_mail())[0].attempts == 2


async def test_a_dead_message_is_queued_again_by_retry(store: Store) -> None:
    await store.enqueue_mail(outgoing(1))
    await store.claim_mail("a" * 32, T0, T0 + LEASE, 10)
    assert await store.mark_mail_dead(outgoing(1).id, "a" * 32, "550 no such user")
    [dead] = await store.list_mail()
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 1, "550 no such user")
    assert await claim(store, "b" * 32, T0 + HOUR) == []

    assert await store.retry_mail(outgoing(1).id, T0 + HOUR)
    assert not await store.retry_mail(outgoing(1).id, T0 + HOUR)  # no longer dead
    [queued] = await store.list_mail()
    assert (queued.state, queued.attempts) == ("queued", 0)
    assert (queued.queued_at, queued.next_attempt_at) == (T0 + HOUR, T0 + HOUR)
    assert queued.created_at == T0
    [claimed] = await store.claim_mail("c" * 32, T0 + HOUR, T0 + 2 * HOUR, 10)
    assert (claimed.sealed, claimed.queued_at) == (b"sealed-1", T0 + HOUR)


async def test_giving_up_without_an_attempt_does_not_count_one(store: Store) -> None:
    await store.enqueue_mail(outgoing(1))
    await store.claim_mail("a" * 32, T0, T0 + LEASE, 10)
    assert await store.mark_mail_dead(outgoing(1).id, "a" * 32, "too old", attempted=False)
    [record] = await store.list_mail()
    assert (record.state, record.attempts, record.last_error) == ("dead", 0, "too old")


async def test_retry_of_an_unknown_message_is_false(store: Store) -> None:
    assert not await store.retry_mail("f" * 32, T0)


async def test_list_shows_newest_first_and_failed_only_on_request(store: Store) -> None:
    for n in (1, 2, 3, 4):
        await store.enqueue_mail(outgoing(n, created_at=T0 + n))
    ids = {n: outgoing(n).id for n in (1, 2, 3, 4)}
    await store.claim_mail("a" * 32, T0 + 10, T0 + LEASE, 10)
    await store.mark_mail_sent(ids[1], "a" * 32, T0 + 20)
    await store.mark_mail_retry(ids[2], "a" * 32, T0 + HOUR, "421 busy")
    await store.mark_mail_dead(ids[3], "a" * 32, "550 no such user")
    await store.mark_mail_retry(ids[4], "a" * 32, T0 + HOUR, "421 busy")
    await store.retry_mail(ids[3], T0 + 30)  # queued again, but it has failed before
    assert [r.id for r in await store.list_mail()] == [ids[4], ids[3], ids[2], ids[1]]
    assert [r.id for r in await store.list_mail(limit=2)] == [ids[4], ids[3]]
    failed = await store.list_mail(failed_only=True)
    assert [r.id for r in failed] == [ids[4], ids[2]]  # a retried dead letter has attempts 0


async def test_closing_an_account_forgets_its_mail_and_only_its_mail(store: Store) -> None:
    ann = await store.create_account(new_account())
    await store.create_account(new_account("bob@example.com", n=2))
    await store.add_reset_code(ann.id, b"code-1", T0 + HOUR, T0, outgoing(1))  # queued
    await store.enqueue_mail(outgoing(2))
    await claim(store, "a" * 32)
    assert await store.mark_mail_sent(outgoing(2).id, "a" * 32, T0)  # sent, still listed
    await store.enqueue_mail(outgoing(3, recipient="bob@example.com"))
    await store.close_account(ann.id, T0 + 1)
    assert [m.recipient for m in await store.list_mail()] == ["bob@example.com"]


async def test_closing_an_account_forgets_mail_to_every_address_it_had_or_asked_for(
    store: Store,
) -> None:
    ann = await store.create_account(new_account())
    await store.request_email_change(
        ann.id, "new@example.com", b"c-1", T0 + HOUR, T0, outgoing(1, recipient="new@example.com")
    )
    notice = outgoing(2, recipient="ann@example.com")  # told to the old address
    assert await store.confirm_email_change(b"c-1", T0 + 1, b"u-1", T0 + HOUR, notice)
    await store.request_email_change(
        ann.id,
        "later@example.com",
        b"c-2",
        T0 + HOUR,
        T0,
        outgoing(3, recipient="later@example.com"),
    )
    await store.enqueue_mail(outgoing(4, recipient="bob@example.com"))
    ids = [m.id for m in await store.list_mail()]
    assert await store.existing_mail(ids) == set(ids)
    await store.close_account(ann.id, T0 + 2)
    assert [m.recipient for m in await store.list_mail()] == ["bob@example.com"]
    assert await store.existing_mail(ids) == {outgoing(4).id}
    assert await store.email_change(b"u-1", "undo", T0 + 3) is None


async def test_old_sent_and_dead_mail_is_forgotten_and_queued_mail_never(store: Store) -> None:
    for n in (1, 2, 3):
        await store.enqueue_mail(outgoing(n, created_at=T0 + n))
    assert sorted(await claim(store, "a" * 32, now=T0 + 10)) == [outgoing(n).id for n in (1, 2, 3)]
    assert await store.mark_mail_sent(outgoing(1).id, "a" * 32, T0 + 10)
    assert await store.mark_mail_dead(outgoing(2).id, "a" * 32, "550 no such user")
    assert await store.mark_mail_retry(outgoing(3).id, "a" * 32, T0 + 20, "421 busy")
    await store.enqueue_mail(outgoing(4, created_at=T0 + 100))
    await claim(store, "b" * 32, now=T0 + 100)
    assert await store.mark_mail_sent(outgoing(4).id, "b" * 32, T0 + 100)
    assert await store.delete_old_mail(T0 + 50) == 2  # the old sent one and the dead one
    assert sorted(m.id for m in await store.list_mail()) == [outgoing(3).id, outgoing(4).id]


async def test_a_profile_change_queues_its_notices_only_if_it_is_made(store: Store) -> None:
    ann = await store.create_account(new_account())
    await store.create_account(new_account("bob@example.com", n=2))
    taken = ProfileChanges(email="bob@example.com")
    with pytest.raises(EmailTaken):
        await store.update_profile(ann.id, taken, T0, notices=[outgoing(1)])
    assert await store.list_mail() == []
    await store.update_profile(
        ann.id, ProfileChanges(email="ann.b@example.com"), T0, notices=[outgoing(2)]
    )
    assert [m.id for m in await store.list_mail()] == [outgoing(2).id]


async def test_a_reset_queues_its_notice_only_if_the_code_is_live(store: Store) -> None:
    ann = await store.create_account(new_account())
    await store.add_reset_code(ann.id, b"code-1", T0 + HOUR, T0, outgoing(1))
    assert await store.use_reset_code(b"code-2", "hash-2", T0, outgoing(2)) is None
    assert await store.use_reset_code(b"code-1", "hash-2", T0 + 1, outgoing(3)) is not None
    assert await store.use_reset_code(b"code-1", "hash-3", T0 + 2, outgoing(4)) is None
    assert sorted(m.id for m in await store.list_mail()) == [outgoing(1).id, outgoing(3).id]
