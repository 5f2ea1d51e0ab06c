from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from punchclock.config import RATE_LIMIT_VARIABLES, Settings
from punchclock.passwords import PasswordHasher
from punchclock.services import Services
from punchclock.web.app import Parts, app_for, build_services
from punchclock.web.asgi import App
from tests import postgres
from tests.smtp_server import SmtpServer
from tests.support import PASSWORD, session_from

# Cheap argon2 parameters keep the suite fast; tests/unit/test_passwords.py checks the defaults.
# Threads start faster than worker processes; tests/unit/test_hashworkers.py and every
# system test (a real server) use the processes.
FAST_HASHING = {
    "PUNCHCLOCK_ARGON2_TIME_COST": "1",
    "PUNCHCLOCK_ARGON2_MEMORY_KIB": "1024",
    "PUNCHCLOCK_HASH_POOL": "threads",
}

# Tests about something else log in with wrong passwords, sign up and ask for resets far
# more often than anyone should: they run with limits nobody reaches. The production
# defaults are tested in tests/unit/test_config.py, the limits in tests/http/test_throttling.py.
# The API rate limit stays off, as it is by default: it is no limit to relax.
LAX_LIMITS = {
    name: "100000/minute"
    for name in RATE_LIMIT_VARIABLES.values()
    if name != "PUNCHCLOCK_API_RATE_LIMIT"
}


class FixedClock:
    """A clock that moves only when a test moves it; starts at the real time."""

    def __init__(self) -> None:
        self.microseconds = time.time_ns() // 1000

    def now(self) -> int:
        return self.microseconds

    def advance(self, seconds: float) -> None:
        self.microseconds += round(seconds * 1_000_000)  # int() could fall 1 us short


def pytest_report_header() -> str:
    url = postgres.server_url()
    if url is None:
        return postgres.SKIP_REASON
    return f"PostgreSQL tests on {url.rpartition('@')[2]}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Report every PostgreSQL skip from one place, so that -ra sums them up in one line."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2]
        if reason.endswith(postgres.SKIP_REASON):
            report.longrepr = ("tests/postgres.py", 0, reason)
    return report


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of the test's own (skips without PostgreSQL)."""
    with postgres.fresh_schema() as url:
        yield url


SECRET_KEY = "cHVuY2hjbG9jay10ZXN0cy1zZXJ2ZXIta2V5LTMyYiE"  # 32 bytes, base64url


@pytest.fixture(params=["sqlite", "postgres"])
def backend_env(request: pytest.FixtureRequest, base_env: dict[str, str]) -> dict[str, str]:
    """The test environment on each store backend in turn."""
    if request.param == "sqlite":
        return base_env
    url = request.getfixturevalue("postgres_url")
    return {**base_env, "PUNCHCLOCK_DATABASE_URL": url, "PUNCHCLOCK_SECRET_KEY": SECRET_KEY}


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every argon2 operation (hash or verify) any app makes."""
    done: list[str] = []
    run = PasswordHasher._run

    async def counted(self: PasswordHasher, op: str, *args: str) -> str | bool:
        done.append(op)
        return await run(self, op, *args)

    monkeypatch.setattr(PasswordHasher, "_run", counted)
    return done


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def base_env(data_dir: Path) -> dict[str, str]:
    return {
        "PUNCHCLOCK_DATA_DIR": str(data_dir),
        "PUNCHCLOCK_PUBLIC_URL": "http://testserver",
        **FAST_HASHING,
        **LAX_LIMITS,
    }


@pytest.fixture
def env(base_env: dict[str, str]) -> dict[str, str]:
    """The test's environment; a module overrides it with `backend_env` to run on both stores."""
    return base_env


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def parts(settings: Settings, clock: FixedClock) -> Parts:
    return build_services(settings, clock=clock)


@pytest.fixture
async def app(settings: Settings, parts: Parts) -> AsyncIterator[App]:
    application = app_for(settings, parts)
    async with application.running():
        yield application


@pytest.fixture
def services(parts: Parts, app: App) -> Services:
    """The services the app serves with (the app is running)."""
    return parts.services


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class User:
    """An account made through the API, with what a client would hold."""

    def __init__(self, email: str, password: str, me: dict[str, Any], session: str) -> None:
        self.email = email
        self.password = password
        self.me = me
        self.session = session

    @property
    def token(self) -> str:
        token: str = self.me["api_token"]
        return token


async def sign_up(
    client: httpx.AsyncClient,
    email: str = "ann@example.com",
    password: str = PASSWORD,
    **extra: Any,
) -> User:
    body = {"email": email, "password": password, "display_name": "Ann", "timezone": "UTC"}
    response = await client.post("/api/signup", json={**body, **extra})
    assert response.status_code == 200, response.text
    return User(email, password, response.json(), session_from(response))


async def log_in(client: httpx.AsyncClient, user: User, agent: str = "test-agent") -> str:
    """Start another session for the user; return its JWT."""
    response = await client.post(
        "/api/sessions",
        json={"email": user.email, "password": user.password},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.text
    return session_from(response)


@pytest.fixture
async def user(client: httpx.AsyncClient) -> User:
    return await sign_up(client)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port, for the duration of the test."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
