"""Someone who knows only an email must not keep its owner out (issue 11, point 2).

The attacker floods wrong passwords and reset requests for the owner's email from many
addresses, as a black-box probe did; the owner then comes back from a device that logged
in before, from an address whose log-in succeeded lately, and after a reset, and gets in.
The log-in limits here are the production defaults.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from punchclock.config import RateLimits
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, sign_up
from tests.support import FORBIDDEN, basic, outbox, reset_code_in, session_from

DEVICE = "__Host-punchclock-device"
OWNER = "192.0.2.10"  # the owner's usual address
ATTACKERS = [f"198.51.100.{n}" for n in range(1, 7)]  # six addresses, as in the probe
STRANGER = "203.0.113.99"  # neither owner nor attacker: an address never seen
THROTTLED = "Too many attempts, please retry later"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    defaults = RateLimits()
    return {
        **env,
        "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT": defaults.log_in_per_account,
        "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": defaults.log_in_per_account_and_ip,
        "PUNCHCLOCK_RESET_REQUEST_LIMIT_PER_EMAIL": defaults.reset_request_per_email,
    }


Caller = Callable[[str], httpx.AsyncClient]


class WallClock:
    """time.time() as the limits' moving windows read it, moved on by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    return WallClock(monkeypatch)


@pytest.fixture
async def caller(app: App) -> AsyncIterator[Caller]:
    opened: list[httpx.AsyncClient] = []

    def from_address(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 4321))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(client)
        return client

    yield from_address
    for client in opened:
        await client.aclose()


def device_cookie(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == DEVICE:
            return rest.partition(";")[0]
    raise AssertionError(f"no device cookie in {response.headers.get_list('set-cookie')}")


async def log_in(
    client: httpx.AsyncClient, email: str, password: str, device: str | None = None
) -> httpx.Response:
    headers = {"Cookie": f"{DEVICE}={device}"} if device else {}
    return await client.post(
        "/api/sessions", json={"email": email, "password": password}, headers=headers
    )


async def flood(caller: Caller, email: str, wall: WallClock, *others: str) -> None:
    """30 wrong passwords from 6 addresses in 2 minutes, as the probe sent them: ten a
    minute, so that each is counted rather than refused (`others` get the same, alongside)."""
    for minute in range(3):
        for ip in ATTACKERS[2 * minute : 2 * minute + 2]:
            attacker = caller(ip)
            for n in range(5):
                for target in (email, *others):
                    await log_in(attacker, target, f"wrong guess {ip} {n}")
        wall.advance(61)


def throttled(response: httpx.Response) -> int:
    """Return the Retry-After of a 429, checking its form."""
    assert response.status_code == 429, response.text
    assert response.json() == THROTTLED
    return int(response.headers["retry-after"])


async def test_a_log_in_sets_a_device_cookie_for_the_browser_only(
    caller: Caller, user: User
) -> None:
    response = await log_in(caller(OWNER), user.email, user.password)
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(DEVICE)]
    attributes = {a.strip().lower() for a in header.split(";")[1:]}
    assert {"path=/", "httponly", "secure", "samesite=lax"} <= attributes
    assert any(a.startswith("max-age=") for a in attributes)
    assert not any(a.startswith("domain=") for a in attributes)  # __Host-: this host only
    failed = await log_in(caller(OWNER), user.email, "wrong password")
    assert not [h for h in failed.headers.get_list("set-cookie") if h.startswith(DEVICE)]


async def test_after_a_flood_strangers_wait_less_than_an_hour(
    caller: Caller, user: User, wall: WallClock
) -> None:
    await flood(caller, user.email, wall)
    retry_after = throttled(await log_in(caller(STRANGER), user.email, user.password))
    assert retry_after <= 30 * 60  # the account-wide lock is capped well under an hour


async def test_after_a_flood_the_owners_browser_that_logged_in_before_gets_in(
    caller: Caller, user: User, wall: WallClock
) -> None:
    device = device_cookie(await log_in(caller(OWNER), user.email, user.password))
    await flood(caller, user.email, wall)
    # from a new address (a phone on another network), with the browser's device cookie
    response = await log_in(caller(STRANGER), user.email, user.password, device)
    assert response.status_code == 200
    assert session_from(response)


async def test_after_a_flood_a_basic_client_verified_lately_from_its_address_gets_in(
    caller: Caller, user: User, clock: FixedClock, wall: WallClock
) -> None:
    owner = caller(OWNER)
    assert (await owner.get("/api/v9/me", headers=basic(user.email, user.password))).is_success
    await flood(caller, user.email, wall)
    clock.advance(301)  # past the cache of verified Basic pairs: the password is checked again
    response = await owner.get("/api/v9/me", headers=basic(user.email, user.password))
    assert response.status_code == 200


async def test_after_a_flood_and_a_completed_reset_the_owner_gets_in_from_anywhere(
    caller: Caller, app: App, user: User, data_dir: Path, wall: WallClock
) -> None:
    await flood(caller, user.email, wall)
    owner = caller(STRANGER)  # a new device on a new network, no cookie
    throttled(await log_in(owner, user.email, user.password))
    await owner.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[-1])
    new_password = "the owner's new password"
    reset = await owner.post(
        f"/api/me/password_reset/confirm/{code}", json={"password": new_password}
    )
    assert reset.status_code == 200
    # the reset cleared the account's counters: any client of the owner's gets in
    assert (await log_in(caller("203.0.113.100"), user.email, new_password)).status_code == 200


async def test_a_forged_or_foreign_device_cookie_counts_for_nothing(
    caller: Caller, user: User, wall: WallClock
) -> None:
    bob = await sign_up(caller("192.0.2.20"), email="bob@example.com")
    bobs_device = device_cookie(await log_in(caller("192.0.2.20"), bob.email, bob.password))
    await flood(caller, user.email, wall)
    for device in (bobs_device, "A" * 22 + "." + "B" * 43, "garbage"):
        throttled(await log_in(caller(STRANGER), user.email, user.password, device))


async def test_a_stolen_device_cookie_gives_only_its_own_few_guesses(
    caller: Caller, user: User
) -> None:
    device = device_cookie(await log_in(caller(OWNER), user.email, user.password))
    thief = caller(STRANGER)
    answers = [
        (await log_in(thief, user.email, f"guess {n}", device)).status_code for n in range(7)
    ]
    assert answers == [403] * 5 + [429] * 2
    # the thief's failures were the device's, not the account's: the owner is not held back
    assert (await log_in(caller(OWNER), user.email, user.password)).status_code == 200


async def test_after_a_flood_an_unknown_email_is_answered_as_the_owners(
    caller: Caller, user: User, wall: WallClock
) -> None:
    nobody = "nobody@example.com"
    await flood(caller, user.email, wall, nobody)
    known = await log_in(caller(STRANGER), user.email, "another guess")
    unknown = await log_in(caller(STRANGER), nobody, "another guess")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 429
    assert abs(int(known.headers["retry-after"]) - int(unknown.headers["retry-after"])) <= 1


async def test_reset_requests_for_one_email_from_many_addresses_always_answer_ok(
    caller: Caller, app: App, user: User, data_dir: Path
) -> None:
    answers = []
    for n in range(8):
        response = await caller(f"198.51.100.{n + 1}").post(
            "/api/me/password_reset/request", json={"email": user.email}
        )
        answers.append((response.status_code, response.json()))
    assert answers == [(200, "OK")] * 8
    await app.drain()
    assert len(outbox(data_dir)) == 3  # at most a few mails an hour; the rest send nothing
    # and the owner, who asks last, finds live codes in the inbox: each of them works
    code = reset_code_in(outbox(data_dir)[0])
    reset = await caller(OWNER).post(
        f"/api/me/password_reset/confirm/{code}", json={"password": "the owner's new password"}
    )
    assert reset.status_code == 200


async def test_the_owners_reset_code_survives_someone_elses_requests(
    caller: Caller, app: App, user: User, data_dir: Path
) -> None:
    owner = caller(OWNER)
    await owner.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    owners_code = reset_code_in(outbox(data_dir)[0])
    for ip in ATTACKERS[:2]:
        await caller(ip).post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    assert len(outbox(data_dir)) == 3
    reset = await owner.post(
        f"/api/me/password_reset/confirm/{owners_code}",
        json={"password": "the owner's new password"},
    )
    assert reset.status_code == 200
    # using one code ends the others
    for message in outbox(data_dir)[1:]:
        later = await owner.post(
            f"/api/me/password_reset/confirm/{reset_code_in(message)}",
            json={"password": "yet another password"},
        )
        assert later.status_code == 400


async def test_a_password_check_still_forbidden_is_403_not_a_lock(
    caller: Caller, user: User
) -> None:
    response = await log_in(caller(OWNER), user.email, "one wrong guess")
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
