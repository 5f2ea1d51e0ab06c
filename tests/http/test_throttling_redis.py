"""With PUNCHCLOCK_REDIS_URL, every worker counts in one place: two apps on one data dir
stand for two worker processes (or two servers), as in test_two_workers.py.

Needs a Redis: PUNCHCLOCK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 (.ci/run sets it). Unset,
these tests are skipped; set but unreachable, they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from punchclock.config import Settings
from punchclock.throttle import Throttle
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from tests.conftest import FixedClock, sign_up
from tests.support import FORBIDDEN

REDIS_URL = os.environ.get("PUNCHCLOCK_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="PUNCHCLOCK_TEST_REDIS_URL is not set: no Redis to share counters in"
)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    prefix = f"punchclock-test-{uuid.uuid4().hex[:12]}"  # this test's keys, removed after
    return {
        **env,
        "PUNCHCLOCK_REDIS_URL": REDIS_URL,
        "PUNCHCLOCK_REDIS_KEY_PREFIX": prefix,
        "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT": "3/minute",
        "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "2/minute",
    }


@pytest.fixture
async def redis_throttle(settings: Settings) -> AsyncIterator[Throttle]:
    """The test's counters in Redis, checked reachable first and cleared at the end."""
    assert settings.redis_url is not None
    throttle = Throttle.in_redis(settings.rate_limits, b"x", REDIS_URL, settings.redis_key_prefix)
    assert await throttle.check(), f"PUNCHCLOCK_TEST_REDIS_URL={REDIS_URL} does not answer"
    yield throttle
    await throttle.reset()
    await throttle.close()


@pytest.fixture
async def other_app(settings: Settings, redis_throttle: Throttle) -> AsyncIterator[App]:
    application = create_app(settings, clock=FixedClock())
    async with application.running():
        yield application


async def test_two_workers_share_the_failed_log_in_counts(
    app: App, other_app: App, redis_throttle: Throttle
) -> None:
    def from_address(app: App, ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 4321))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with (
        from_address(app, "198.51.100.1") as first,
        from_address(other_app, "198.51.100.1") as second,
        from_address(other_app, "198.51.100.2") as elsewhere,
    ):
        user = await sign_up(first, email="ann@example.com")
        body = {"email": user.email, "password": "wrong guess"}
        assert (await first.post("/api/sessions", json=body)).json() == FORBIDDEN
        assert (await second.post("/api/sessions", json=body)).json() == FORBIDDEN
        # the address's limit (2) was reached across both workers
        assert (await first.post("/api/sessions", json=body)).status_code == 429
        assert (await second.post("/api/sessions", json=body)).status_code == 429
        # the account's (3) too, after one more failure from elsewhere
        assert (await elsewhere.post("/api/sessions", json=body)).json() == FORBIDDEN
        refused = await elsewhere.post("/api/sessions", json=body)
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()


async def test_the_owners_device_and_known_address_are_known_to_every_worker(
    app: App, other_app: App, redis_throttle: Throttle, clock: FixedClock
) -> None:
    def from_address(app: App, ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 4321))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with (
        from_address(app, "192.0.2.10") as owner_here,
        from_address(other_app, "192.0.2.10") as owner_there,
        from_address(other_app, "192.0.2.11") as owner_elsewhere,
        from_address(other_app, "198.51.100.1") as attacker,
        from_address(other_app, "198.51.100.2") as accomplice,
    ):
        user = await sign_up(owner_here, email="ann@example.com")
        good = {"email": user.email, "password": user.password}
        logged_in = await owner_here.post("/api/sessions", json=good)  # through worker 1
        device = next(
            h.split(";")[0].partition("=")[2]
            for h in logged_in.headers.get_list("set-cookie")
            if h.startswith("__Host-punchclock-device=")
        )
        bad = {"email": user.email, "password": "wrong guess"}
        for who in (attacker, attacker, accomplice):  # the account's limit (3), on worker 2
            assert (await who.post("/api/sessions", json=bad)).json() == FORBIDDEN
        assert (await accomplice.post("/api/sessions", json=good)).status_code == 429
        # worker 2 knows the device worker 1 gave out, and the address worker 1 saw succeed
        with_device = await owner_elsewhere.post(
            "/api/sessions", json=good, headers={"Cookie": f"__Host-punchclock-device={device}"}
        )
        assert with_device.status_code == 200
        assert (await owner_there.post("/api/sessions", json=good)).status_code == 200
