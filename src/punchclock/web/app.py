"""Composition root of the web process: build the services from settings and serve them."""

from __future__ import annotations

import asyncio
import ctypes
import datetime as dt
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from punchclock.config import Settings
from punchclock.errors import StoreUnavailable
from punchclock.keys import KeyRing
from punchclock.mail import FileMailer, Mailer, mailer_for
from punchclock.metrics import Metrics, forget_this_worker
from punchclock.outbox import OutboxSender, Tally
from punchclock.passwords import PasswordHasher
from punchclock.services import Services
from punchclock.services.assembly import assemble
from punchclock.services.clock import Clock, SystemClock
from punchclock.store import Store
from punchclock.store.keyfiles import KeyDirectory, load_secret_key
from punchclock.store.keyrows import StoredKeys
from punchclock.store.postgres import PostgresStore
from punchclock.store.sqlite import SQLiteStore
from punchclock.throttle import Throttle
from punchclock.tokens import SecretBox
from punchclock.web.asgi import App
from punchclock.web.auth import Clients
from punchclock.web.forward_auth import ForwardAuth
from punchclock.web.logs import AccessLog, JsonAccessLog, RequestIds
from punchclock.web.metered import AnswerMeter, MetricsEndpoint
from punchclock.web.pages import Pages
from punchclock.web.routes import Api
from punchclock.web.startup_routes import StartupApi
from punchclock.web.two_factor_routes import TwoFactorApi

log = logging.getLogger("punchclock.web")
PURGE_INTERVAL = 600.0  # seconds between sweeps of old sessions, mail and audit events
SAMPLE_INTERVAL = 2.0  # seconds between updates of the metrics' gauges


class Parts:
    """The services and what they stand on, with what must run when a worker starts and stops."""

    def __init__(
        self,
        services: Services,
        store: Store,
        hasher: PasswordHasher,
        sender: OutboxSender,
        throttle: Throttle,
        secrets: SecretBox,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics  # None: metrics are off
        self.services = services
        self.secrets = secrets  # keyed hashes under the server key (the pages' form tokens)
        self.clock = clock
        self.store = store
        self.hasher = hasher
        self.sender = sender  # delivers the outbox: this process's mail and any other's
        self.throttle = throttle
        self.on_start: list[Callable[[], Awaitable[None]]] = []
        self.tasks: list[Callable[[], Coroutine[Any, Any, None]]] = []  # run until shutdown


def build_services(
    settings: Settings,
    *,
    store: Store | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> Parts:
    """Make the services, what they stand on, and the sender of the mail they queue."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    today = dt.datetime.now(dt.UTC).date()
    secret = settings.secret_key or load_secret_key(settings.data_dir)
    secrets = SecretBox(secret)
    on_start: list[Callable[[], Awaitable[None]]] = []
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = []
    ring: Callable[[], KeyRing]
    if settings.postgres_url:
        if not isinstance(store, PostgresStore):
            store = PostgresStore(settings.postgres_url)
        postgres = store
        stored_keys = StoredKeys(postgres, secrets)
        ring = stored_keys.ring

        async def open_postgres() -> None:
            await postgres.migrate()  # safe when every worker does it (advisory lock)
            await stored_keys.load(today)

        on_start.append(open_postgres)
        tasks.append(lambda: stored_keys.keep_fresh(today))
    else:
        ring = KeyDirectory(settings.data_dir, today).ring
        store = store or SQLiteStore(settings.database_path)
    mailer = mailer or mailer_for(settings)
    if isinstance(mailer, FileMailer):
        on_start.append(_announcing(mailer))
    metrics = Metrics() if settings.metrics else None
    sender = OutboxSender(
        store,
        mailer,
        secrets,
        sender=settings.mail_from,
        max_age=settings.mail_max_age,
        keep=settings.mail_retention,
        now=clock.now if clock is not None else None,
        observe=_count_mail(metrics) if metrics is not None else None,
    )
    hasher = PasswordHasher(
        time_cost=settings.argon2.time_cost,
        memory_cost=settings.argon2.memory_cost,
        parallelism=settings.argon2.parallelism,
        workers=settings.hash_workers,
        max_pending=settings.hash_queue,
        processes=settings.hash_processes,
        observe=_time_hashes(metrics) if metrics is not None else None,
    )
    throttle = (
        Throttle.in_redis(
            settings.rate_limits, secret, settings.redis_url, settings.redis_key_prefix
        )
        if settings.redis_url
        else Throttle.in_memory(settings.rate_limits, secret)
    )
    clock = clock or SystemClock()
    services = assemble(
        settings,
        store,
        hasher,
        secrets,
        ring,
        clock,
        throttle=throttle,
        mail_queued=sender.wake,
        mail_erased=sender.erase_copies,
    )
    parts = Parts(services, store, hasher, sender, throttle, secrets, clock, metrics)
    parts.on_start += on_start
    parts.tasks += [*tasks, lambda: purge(services, sender)]
    if metrics is not None:
        parts.tasks.append(lambda: sample(metrics, store, hasher))
    return parts


def _count_mail(metrics: Metrics) -> Callable[[Tally], None]:
    def count(tally: Tally) -> None:
        for outcome, number in (
            ("sent", tally.sent),
            ("retried", tally.retrying),
            ("dead", tally.dead),
        ):
            if number:
                metrics.mail.labels(outcome).inc(number)

    return count


def _time_hashes(metrics: Metrics) -> Callable[[str, float], None]:
    def observe(operation: str, seconds: float) -> None:
        metrics.hash_seconds.labels(operation).observe(seconds)

    return observe


async def sample(
    metrics: Metrics, store: Store, hasher: PasswordHasher, every: float = SAMPLE_INTERVAL
) -> None:
    """Set the gauges (hash queue, outbox backlog) every `every` seconds while we run."""
    while True:
        metrics.hash_queue.set(hasher.pending)
        try:
            pending, oldest = await store.outbox_backlog()
        except StoreUnavailable:
            pass
        except Exception:
            log.exception("reading the outbox's backlog for the metrics failed")
        else:
            metrics.mail_pending.set(pending)
            age = 0.0 if oldest is None else max(0.0, time.time() - oldest / 1_000_000)
            metrics.mail_oldest_age.set(age)
        await asyncio.sleep(every)


def _announcing(mailer: FileMailer) -> Callable[[], Awaitable[None]]:
    async def announce() -> None:
        mailer.announce()

    return announce


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> App:
    """Return the ASGI app serving both Toggl path sets (accounts and /api/v9).

    While it runs, it also sends the mail in the outbox, its own and any other process's.
    """
    return app_for(settings, build_services(settings, store=store, mailer=mailer, clock=clock))


def app_for(settings: Settings, parts: Parts) -> App:
    """Return the ASGI app that serves with these parts, starting and stopping them."""
    running: list[asyncio.Task[None]] = []

    async def startup() -> None:
        for step in parts.on_start:
            await step()
        try:
            await parts.services.health.check_schema()
        except StoreUnavailable:
            log.warning("the database is unavailable: readiness waits for it to answer")
        loop = asyncio.get_running_loop()
        running.extend(loop.create_task(task()) for task in parts.tasks)
        parts.sender.start()
        if settings.redis_url and not await parts.throttle.check():
            # log-ins and the other limited requests get 503 until Redis answers
            log.error("PUNCHCLOCK_REDIS_URL: Redis does not answer; limited requests get 503")

    async def drain() -> None:
        await parts.services.background.drain()  # the mail queued after answers is in the outbox...
        await parts.sender.send_due()  # ...and now it is sent, or waits for its next attempt

    async def shutdown() -> None:
        for task in running:
            task.cancel()
        await parts.services.background.drain()
        await parts.sender.stop()
        await parts.store.close()
        await parts.hasher.close()
        await parts.throttle.close()

    trusted_origins = {settings.public_origin, *settings.allowed_origins}
    clients = Clients(settings.trusted_proxies)
    api = Api(
        parts.services,
        trusted_origins=trusted_origins,
        clients=clients,
        public_url=settings.public_url,
    )
    pages = Pages(
        parts.services,
        secrets=parts.secrets,
        now=parts.clock.now,
        # only punchclock's own pages post to punchclock's pages
        trusted_origins={settings.public_origin},
        clients=clients,
        reset_code_ttl=settings.reset_code_ttl,
        password_min_length=settings.password_min_length,
    )
    forward_auth = ForwardAuth(
        parts.services.sessions,
        api.authenticate,
        api.guard,
        clients,
        trusted_origins,
        issuer=settings.public_url,
        identity_tokens=settings.forward_auth_token,
        now=lambda: parts.clock.now() // 1_000_000,
    )
    routes = [
        *api.routes(),
        *StartupApi(parts.services.workspaces, api.authenticate).routes(),
        *TwoFactorApi(
            parts.services.two_factor, api.authenticate, clients, api.me_response
        ).routes(),
        *pages.routes(),
        *forward_auth.routes(),
    ]
    meter = AnswerMeter(parts.metrics) if parts.metrics is not None else None
    if meter is not None and settings.metrics_token is not None:
        routes += MetricsEndpoint(meter, settings.metrics_token).routes()
    access_log: AccessLog | JsonAccessLog | None = None
    if settings.access_log and settings.log_format == "json":
        access_log = JsonAccessLog(clients.address_in)
    elif settings.access_log:
        access_log = AccessLog(known_paths=[r.path for r in routes])

    async def stop() -> None:
        await shutdown()
        if meter is not None:
            meter.flush()  # the counts of the last second
            forget_this_worker()  # its live gauges go with it

    return App(
        routes,
        on_startup=startup,
        on_shutdown=stop,
        drain=drain,
        guard=api.guard,
        access_log=access_log,
        meter=meter,
        request_ids=RequestIds(clients.peer_is_trusted if clients.trusts_proxies else None),
    )


async def purge(services: Services, sender: OutboxSender, every: float = PURGE_INTERVAL) -> None:
    """Remove expired and idle sessions, old mail and audit events past their retention,
    now and then, for as long as we run."""
    while True:
        await asyncio.sleep(every)
        try:
            sessions = await services.sessions.purge_sessions()
            mail = await sender.forget_old()
            events = await services.audit.purge()
        except StoreUnavailable:
            log.warning("the database is unavailable: purging waits for the next round")
        except Exception:
            log.exception("purging old sessions, mail or audit events failed; trying again later")
        else:
            if sessions or mail or events:
                log.info(
                    "purged %d expired or idle sessions, %d old messages, %d audit events",
                    sessions,
                    mail,
                    events,
                )


def app_from_env() -> App:
    """Build the app from PUNCHCLOCK_* variables: the factory each server worker calls."""
    stop_with_parent()
    return create_app(Settings.from_env())


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
SERVER_PID = "PUNCHCLOCK_SERVER_PID"  # the main process, which forks the workers


def stop_with_parent() -> None:
    """Have the kernel send this worker SIGTERM when the process that started it dies.

    granian forks its workers. Were its main process killed outright (SIGKILL, the OOM
    killer), a worker would live on as an orphan, still holding the port, the database and
    its hash workers. SIGTERM stops it as any stop does: answers finished, the access log
    written. Linux only (prctl PR_SET_PDEATHSIG); elsewhere, nothing is done.
    """
    server = os.environ.get(SERVER_PID)  # set by `punchclock serve` before it forks
    if not sys.platform.startswith("linux") or not server:
        return
    # SIGTERM is at its default until granian sets the worker's own handler: the main
    # process set it so as it forked this worker (serving.py, _start_worker_stoppable)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning(
            "cannot ask to be stopped with the server (prctl: errno %d)", ctypes.get_errno()
        )
    elif str(os.getppid()) != server:  # it died while this worker was starting
        raise SystemExit("punchclock: the server's main process is gone: this worker stops")
