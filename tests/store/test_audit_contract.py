"""What every Store must do with the audit trail, whatever the database behind it."""

from __future__ import annotations

from punchclock.models import AuditEvent
from punchclock.store import Store

T0 = 1_800_000_000_000_000  # microseconds
HOUR = 3600 * 1_000_000


async def test_a_recorded_event_is_listed_with_every_field(store: Store) -> None:
    await store.record_event(T0, "log_in", 7, "203.0.113.7", "curl/8", "detail")
    await store.record_event(T0 + 1, "log_in_failed", None, "::1", "", None)

    newest, oldest = await store.events(None, 0, 10)

    assert isinstance(newest, AuditEvent)
    assert (newest.at, newest.event, newest.account_id, newest.ip, newest.user_agent) == (
        T0 + 1,
        "log_in_failed",
        None,
        "::1",
        "",
    )
    assert newest.detail is None
    assert (oldest.at, oldest.event, oldest.account_id, oldest.detail) == (
        T0,
        "log_in",
        7,
        "detail",
    )
    assert (oldest.ip, oldest.user_agent) == ("203.0.113.7", "curl/8")
    assert newest.id != oldest.id


async def test_an_event_keeps_the_request_id_it_was_recorded_under(store: Store) -> None:
    await store.record_event(T0, "log_in", 7, "203.0.113.7", "curl/8", None, "a1b2c3-17")
    await store.record_event(T0 + 1, "purged", None, "", "")  # outside any request

    outside, inside = await store.events(None, 0, 10)

    assert inside.request_id == "a1b2c3-17"
    assert outside.request_id is None


async def test_events_are_listed_newest_first_then_by_highest_id(store: Store) -> None:
    await store.record_event(T0, "a", 1, "", "")
    await store.record_event(T0 + HOUR, "b", 1, "", "")
    await store.record_event(T0, "c", 1, "", "")  # recorded later at the same time

    assert [e.event for e in await store.events(None, 0, 10)] == ["b", "c", "a"]


async def test_events_are_filtered_by_account_since_and_limit(store: Store) -> None:
    for n in range(5):
        await store.record_event(T0 + n * HOUR, f"ann-{n}", 1, "", "")
        await store.record_event(T0 + n * HOUR, f"bob-{n}", 2, "", "")
    await store.record_event(T0 + HOUR, "nobody", None, "", "")

    assert [e.event for e in await store.events(1, 0, 100)] == [
        f"ann-{n}" for n in range(4, -1, -1)
    ]
    assert [e.event for e in await store.events(2, T0 + 3 * HOUR, 100)] == ["bob-4", "bob-3"]
    assert [e.event for e in await store.events(1, 0, 2)] == ["ann-4", "ann-3"]
    assert len(await store.events(None, 0, 100)) == 11
    assert await store.events(3, 0, 100) == []


async def test_delete_events_before_removes_only_older_events(store: Store) -> None:
    await store.record_event(T0 - 1, "old", 1, "", "")
    await store.record_event(T0 - HOUR, "older", None, "", "")
    await store.record_event(T0, "kept", 1, "", "")

    assert await store.delete_events_before(T0) == 2
    assert [e.event for e in await store.events(None, 0, 10)] == ["kept"]
    assert await store.delete_events_before(T0) == 0
