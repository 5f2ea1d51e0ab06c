from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from starlette.requests import Request

from punchclock.config import RateLimits, Settings
from punchclock.errors import Throttled
from punchclock.throttle import ClearableMemoryStorage, Throttle
from punchclock.web.auth import Clients

KEY = b"k" * 32


@pytest.fixture
async def throttle() -> AsyncIterator[Throttle]:
    rates = RateLimits(log_in_per_account="100/minute", log_in_per_account_and_ip="2/minute;3/hour")
    made = Throttle.in_memory(rates, KEY)
    yield made
    await made.close()


async def fail() -> bool:
    return False


async def test_limits_grow_with_repeated_failures(
    throttle: Throttle, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])
    for _ in range(2):
        await throttle.password_attempt("ann@example.com", "192.0.2.1", fail)
    with pytest.raises(Throttled) as first:
        await throttle.password_attempt("ann@example.com", "192.0.2.1", fail)
    assert 1 <= first.value.retry_after <= 60  # the minute's window
    now[0] += 61
    await throttle.password_attempt("ann@example.com", "192.0.2.1", fail)
    with pytest.raises(Throttled) as second:
        await throttle.password_attempt("ann@example.com", "192.0.2.1", fail)
    assert 3000 < second.value.retry_after <= 3600  # now the hour's: 3 failures in it


async def test_simultaneous_guesses_cannot_overshoot_a_limit(throttle: Throttle) -> None:
    started = 0

    async def slow_failure() -> bool:
        nonlocal started
        started += 1
        await asyncio.sleep(0.01)
        return False

    results = await asyncio.gather(
        *(
            throttle.password_attempt("ann@example.com", "192.0.2.1", slow_failure)
            for _ in range(10)
        ),
        return_exceptions=True,
    )
    assert started == 2
    assert sum(isinstance(r, Throttled) for r in results) == 8


async def test_an_ipv6_client_is_counted_by_its_64_bit_prefix(throttle: Throttle) -> None:
    await throttle.password_attempt("ann@example.com", "2001:db8:1:2::1", fail)
    await throttle.password_attempt("ann@example.com", "2001:db8:1:2:ffff::9", fail)
    with pytest.raises(Throttled):
        await throttle.password_attempt("ann@example.com", "2001:db8:1:2::77", fail)
    await throttle.password_attempt("ann@example.com", "2001:db8:1:3::1", fail)


def test_the_counters_hold_no_email_address(throttle: Throttle) -> None:
    subject = throttle._id("ann@example.com")
    assert "ann" not in subject
    assert len(subject) == 32


def request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


PROXIES = Settings.from_env({"PUNCHCLOCK_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"})


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # no trusted proxy in front: X-Forwarded-For is the caller's own claim
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # through a trusted proxy: the address it saw
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        # the client sent its own X-Forwarded-For: its entries (the left) are ignored
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),
        # two trusted proxies in a row
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1, 10.1.1.1"], "198.51.100.1"),
        # ports and IPv6 forms
        ("10.0.0.2", ["198.51.100.1:5555"], "198.51.100.1"),
        ("fd00::2", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("10.0.0.2", ["2001:DB8::7"], "2001:db8::7"),
        # junk where a trusted proxy wrote: stop at the last address known to be good
        ("10.0.0.2", ["198.51.100.1, garbage"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1, garbage, 10.1.1.1"], "10.1.1.1"),
        # a trusted proxy without the header, and only trusted hops
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert Clients(PROXIES.trusted_proxies).address(request(peer, *forwarded)) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert Clients().address(request("10.0.0.2", "198.51.100.1")) == "10.0.0.2"


async def succeed() -> bool:
    return True


@pytest.fixture
async def strict() -> AsyncIterator[Throttle]:
    """Production-like shapes, small numbers: 3 failures lock the account for strangers."""
    rates = RateLimits(
        log_in_per_account="3/minute",
        log_in_per_account_and_ip="2/minute",
        reset_request_per_email="2/hour",
    )
    made = Throttle.in_memory(rates, KEY)
    yield made
    await made.close()


async def lock(throttle: Throttle, email: str = "ann@example.com") -> None:
    for ip in ("198.51.100.1", "198.51.100.2"):
        for _ in range(2):
            with contextlib.suppress(Throttled):
                await throttle.password_attempt(email, ip, fail)
    with pytest.raises(Throttled):
        await throttle.password_attempt(email, "203.0.113.9", succeed)


async def test_a_device_is_judged_by_its_own_failures_only(strict: Throttle) -> None:
    await lock(strict)
    assert await strict.password_attempt("ann@example.com", "203.0.113.9", succeed, "dev-1")
    for _ in range(2):  # a thief with the cookie: the device's own two guesses
        assert not await strict.password_attempt("ann@example.com", "203.0.113.9", fail, "dev-2")
    with pytest.raises(Throttled):
        await strict.password_attempt("ann@example.com", "203.0.113.9", succeed, "dev-2")
    assert await strict.password_attempt("ann@example.com", "203.0.113.9", succeed, "dev-1")


async def test_an_address_that_logged_in_before_is_judged_by_its_own_failures(
    strict: Throttle,
) -> None:
    assert await strict.password_attempt("ann@example.com", "192.0.2.10", succeed)
    await lock(strict)
    assert await strict.password_attempt("ann@example.com", "192.0.2.10", succeed)
    # known for this account only
    await lock(strict, "bob@example.com")
    with pytest.raises(Throttled):
        await strict.password_attempt("bob@example.com", "192.0.2.10", succeed)


async def test_forgetting_failures_lets_the_owner_in_from_anywhere(strict: Throttle) -> None:
    await lock(strict)
    await strict.forget_failures("ANN@example.com", "203.0.113.9")
    assert await strict.password_attempt("ann@example.com", "203.0.113.9", succeed)


async def test_reset_mails_stop_quietly_and_requests_count_per_address_only(
    strict: Throttle,
) -> None:
    assert [await strict.reset_mail("ann@example.com") for _ in range(3)] == [True, True, False]
    assert await strict.reset_mail("bob@example.com")
    for _ in range(20):  # never per email: the default per address is 10/hour
        with contextlib.suppress(Throttled):
            await strict.reset_request("198.51.100.1")
    await strict.reset_request("198.51.100.2")


async def test_a_count_cleared_while_old_entries_expire_breaks_nothing() -> None:
    storage = ClearableMemoryStorage()
    for key in ("a", "b"):
        assert await storage.acquire_entry(key, 5, 60)
    expiring = storage.timer
    assert expiring is not None
    await asyncio.sleep(0)  # the expiry task takes its list of keys and waits on "a"
    await storage.clear("b")
    await expiring  # limits' own clear() made this raise KeyError('b')
    assert (await storage.get_moving_window("b", 5, 60))[1] == 0  # "b" holds no entry
    await Throttle(RateLimits(), storage, KEY).close()
