"""Reset mail through the outbox to a real SMTP server (aiosmtpd), with the app in process."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from punchclock.config import Settings
from punchclock.outbox import RETRY_BASE
from punchclock.store.sqlite import SQLiteStore
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from tests.conftest import LAX_LIMITS, FixedClock, User, sign_up
from tests.smtp_server import SmtpServer
from tests.support import reset_code_in, session_from

NEW_PASSWORD = "a whole new password"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server whose port is known, not started: each test starts it when it wants."""
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpServer) -> dict[str, str]:
    return {**env, "PUNCHCLOCK_SMTP_URL": smtp.url}


async def request_reset(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/api/me/password_reset/request", json={"email": email})
    assert (response.status_code, response.json()) == (200, "OK")


def database_bytes(data_dir: Path) -> bytes:
    """Return the database as a dump would have it: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in data_dir.glob("punchclock.sqlite3*"))


async def outbox_states(settings: Settings) -> list[tuple[str, str, int]]:
    store = SQLiteStore(settings.database_path)
    try:
        return sorted((r.recipient, r.state, r.attempts) for r in await store.list_mail())
    finally:
        await store.close()


async def test_a_reset_request_delivers_one_message_whose_code_works(
    client: httpx.AsyncClient, app: App, user: User, smtp: SmtpServer, settings: Settings
) -> None:
    smtp.start()
    await request_reset(client, user.email)
    await app.drain()
    [message] = smtp.inbox.received
    assert message["To"].addresses[0].addr_spec == user.email
    assert message["From"] == "punchclock <no-reply@testserver>"
    confirm = await client.post(
        f"/api/me/password_reset/confirm/{reset_code_in(message)}",
        json={"password": NEW_PASSWORD},
    )
    assert confirm.status_code == 200
    session_from(confirm)
    await app.drain()  # the code, then the notice that the password was reset
    assert await outbox_states(settings) == [(user.email, "sent", 1)] * 2


async def test_mail_queued_while_smtp_is_down_is_delivered_when_it_is_back(
    client: httpx.AsyncClient, app: App, smtp: SmtpServer, clock: FixedClock, settings: Settings
) -> None:
    users = [await sign_up(client, f"user-{n}@example.com") for n in range(3)]
    for user in users:
        await request_reset(client, user.email)
    await app.drain()  # every attempt is refused: the server is not there
    assert await outbox_states(settings) == [(u.email, "queued", 1) for u in users]

    smtp.start()
    clock.advance(RETRY_BASE)  # the longest the first retry waits
    await app.drain()

    assert sorted(m["To"].addresses[0].addr_spec for m in smtp.inbox.received) == [
        u.email for u in users
    ]
    assert await outbox_states(settings) == [
        (u.email, "sent", 2) for u in users
    ]  # failed, then sent
    codes = [reset_code_in(message) for message in smtp.inbox.received]
    for code in codes:  # (each confirmation adds a notice to the inbox)
        confirm = await client.post(
            f"/api/me/password_reset/confirm/{code}", json={"password": NEW_PASSWORD}
        )
        assert confirm.status_code == 200


async def test_a_queued_message_keeps_its_code_sealed_in_the_database(
    client: httpx.AsyncClient,
    app: App,
    user: User,
    smtp: SmtpServer,
    clock: FixedClock,
    data_dir: Path,
) -> None:
    await request_reset(client, user.email)
    await app.drain()  # SMTP is down: the message waits in the outbox
    queued = database_bytes(data_dir)
    smtp.start()
    clock.advance(RETRY_BASE)
    await app.drain()
    [message] = smtp.inbox.received
    assert reset_code_in(message).encode() not in queued
    assert user.email.encode() in queued  # the recipient is in clear, for `mail list`


async def test_the_reset_message_has_the_link_the_code_and_the_expiry(
    client: httpx.AsyncClient, app: App, smtp: SmtpServer, clock: FixedClock
) -> None:
    smtp.start()
    user = await sign_up(client, display_name='Ann <b>"&" Co</b>')
    await request_reset(client, user.email)
    await app.drain()
    [message] = smtp.inbox.received
    assert message.get_content_type() == "multipart/alternative"
    code = reset_code_in(message)
    expiry = dt.datetime.fromtimestamp(clock.now() / 1_000_000 + 3600, dt.UTC)
    until = f"until {expiry:%Y-%m-%d %H:%M} UTC"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    for part in (text.get_content(), html.get_content()):
        assert f"http://testserver/reset/{code}" in part
        assert code in part
        assert until in part
    assert f"    {code}" in text.get_content().splitlines()  # on a line of its own
    assert "Hello Ann &lt;b&gt;&quot;&amp;&quot; Co&lt;/b&gt;," in html.get_content()
    assert "<b>" not in html.get_content()
    assert message["To"].addresses[0].display_name == 'Ann <b>"&" Co</b>'


# -- timing ------------------------------------------------------------------------------


def unanswering_smtp() -> socket.socket:
    """Return a socket that takes SMTP connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    return listener


@contextlib.asynccontextmanager
async def client_for(settings: Settings, clock: FixedClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock)
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.mark.timing
async def test_a_reset_request_takes_as_long_with_smtp_down_as_with_it_up(
    tmp_path: Path, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    """Nothing is sent in the request: its time tells nothing about the mail server.

    Timed as a ratio of medians over interleaved requests, since the machine is noisy.
    """
    base = {"PUNCHCLOCK_PUBLIC_URL": "http://testserver", "PUNCHCLOCK_HASH_POOL": "threads"}
    base |= {"PUNCHCLOCK_ARGON2_TIME_COST": "1", "PUNCHCLOCK_ARGON2_MEMORY_KIB": "1024"}
    base |= LAX_LIMITS  # 60 reset requests from one address, one email: not about limits
    hanging = unanswering_smtp()
    setups = {
        "up": {"PUNCHCLOCK_SMTP_URL": smtp_server.url},
        "refused": {"PUNCHCLOCK_SMTP_URL": "smtp://127.0.0.1:9"},
        "hanging": {"PUNCHCLOCK_SMTP_URL": f"smtp://127.0.0.1:{hanging.getsockname()[1]}"},
    }
    clients = {}
    times: dict[str, list[float]] = {name: [] for name in setups}
    async with contextlib.AsyncExitStack() as stack:
        for name, extra in setups.items():
            settings = Settings.from_env(
                {**base, **extra, "PUNCHCLOCK_DATA_DIR": str(tmp_path / name)}
            )
            clients[name] = await stack.enter_async_context(client_for(settings, clock))
            await sign_up(clients[name])
        stack.callback(hanging.close)  # run first: its connections end, the apps stop at once
        for i in range(60):
            order = list(setups) if i % 2 else list(reversed(setups))
            for name in order:
                started = time.perf_counter()
                await request_reset(clients[name], "ann@example.com")
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(t[10:]) for name, t in times.items()}  # after warm-up
    ratios = {name: medians[name] / medians["up"] for name in ("refused", "hanging")}
    print(f"median seconds {medians}; ratios to SMTP up {ratios}")
    assert len(smtp_server.inbox.received) > 0  # SMTP up really delivered meanwhile
    for name, ratio in ratios.items():
        assert 0.6 < ratio < 1.6, (name, medians)
