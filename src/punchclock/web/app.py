"""Composition root of the web process: build the service from settings and serve it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from punchclock.config import SESSION_LIFETIME, Settings
from punchclock.mail import FileMailer, Mailer, SmtpMailer
from punchclock.passwords import PasswordHasher
from punchclock.service import Accounts, Clock
from punchclock.store import Store
from punchclock.store.keyfiles import KeyDirectory, load_secret_key
from punchclock.store.sqlite import SQLiteStore
from punchclock.throttle import Throttle
from punchclock.tokens import SecretBox, SessionTokens
from punchclock.web.asgi import App
from punchclock.web.auth import Clients
from punchclock.web.routes import Api

log = logging.getLogger("punchclock.web")
PURGE_INTERVAL = 600.0  # seconds between sweeps of expired sessions


def build_accounts(
    settings: Settings,
    *,
    store: Store | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> tuple[Accounts, Store, PasswordHasher, Throttle]:
    """Make the service and what it stands on; keys are created on first use."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = KeyDirectory(settings.data_dir, dt.datetime.now(dt.UTC).date())
    secret = settings.secret_key or load_secret_key(settings.data_dir)
    store = store or SQLiteStore(settings.database_path)
    if mailer is None:
        mailer = (
            SmtpMailer(settings.smtp_url, settings.mail_from)
            if settings.smtp_url
            else FileMailer(settings.data_dir / "outbox", settings.mail_from)
        )
    hasher = PasswordHasher(
        time_cost=settings.argon2.time_cost,
        memory_cost=settings.argon2.memory_cost,
        parallelism=settings.argon2.parallelism,
        workers=settings.hash_workers,
        max_pending=settings.hash_queue,
        processes=settings.hash_processes,
    )
    throttle = (
        Throttle.in_redis(
            settings.rate_limits, secret, settings.redis_url, settings.redis_key_prefix
        )
        if settings.redis_url
        else Throttle.in_memory(settings.rate_limits, secret)
    )
    accounts = Accounts(
        store=store,
        mailer=mailer,
        hasher=hasher,
        sessions=SessionTokens(keys.ring, settings.public_url, SESSION_LIFETIME),
        secrets=SecretBox(secret),
        public_url=settings.public_url,
        reset_code_ttl=settings.reset_code_ttl,
        session_idle_timeout=settings.session_idle_timeout,
        password_min_length=settings.password_min_length,
        clock=clock,
        throttle=throttle,
    )
    return accounts, store, hasher, throttle


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> App:
    """Return the ASGI app serving both Toggl path sets (accounts and /api/v9)."""
    accounts, store, hasher, throttle = build_accounts(
        settings, store=store, mailer=mailer, clock=clock
    )
    opened_store = store
    purging: list[asyncio.Task[None]] = []

    async def startup() -> None:
        purging.append(asyncio.get_running_loop().create_task(purge_sessions(accounts)))
        if settings.redis_url and not await throttle.check():
            # log-ins and the other limited requests get 503 until Redis answers
            log.error("PUNCHCLOCK_REDIS_URL: Redis does not answer; limited requests get 503")

    async def shutdown() -> None:
        for task in purging:
            task.cancel()
        await accounts.drain()
        await opened_store.close()
        await hasher.close()
        await throttle.close()

    api = Api(
        accounts,
        trusted_origins={settings.public_origin, *settings.allowed_origins},
        clients=Clients(settings.trusted_proxies),
    )
    return App(api.routes(), accounts=accounts, on_startup=startup, on_shutdown=shutdown)


async def purge_sessions(accounts: Accounts, every: float = PURGE_INTERVAL) -> None:
    """Remove expired and idle sessions from the store now and then, for as long as we run."""
    while True:
        await asyncio.sleep(every)
        try:
            removed = await accounts.purge_sessions()
        except Exception:
            log.exception("purging expired sessions failed; trying again later")
        else:
            if removed:
                log.info("purged %d expired or idle sessions", removed)


def app_from_env() -> App:
    """Build the app from PUNCHCLOCK_* variables: the factory each uvicorn worker calls."""
    return create_app(Settings.from_env())
