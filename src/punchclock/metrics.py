"""Prometheus metrics: off until PUNCHCLOCK_METRICS_ADDR names a listen address of their own,
or PUNCHCLOCK_METRICS_TOKEN opens GET /metrics on the main port to who sends that token.

With `--workers N` each worker writes its series to files in `<data dir>/metrics/`
(prometheus-client's multiprocess mode); `punchclock serve` empties that directory before any
worker starts, and serves the sum of every worker's series on the metrics address, from
the process that supervises the workers (and each worker on /metrics). The live gauges of
a worker that is gone (stopped, or killed and replaced) are removed before each collection.
prometheus_client is imported only when metrics are on, so a server without them pays
nothing, not even the import.

No label carries an email, a token, a code, an id or a client address: routes are
templates (`/api/sessions/{id}`), methods and statuses come from short fixed lists.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client reads it at import
LATENCY_BUCKETS = (  # seconds: /me by token takes tens of microseconds, a log-in milliseconds
    *(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
    *(0.25, 0.5, 1.0, 2.5, 5.0),
)
HASH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)  # seconds


def prepare_directory(data_dir: Path) -> Path:
    """Empty `<data dir>/metrics` (series of an earlier run must not add to this one's) and
    name it, for this process and the workers it starts, before prometheus_client loads."""
    folder = data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    os.environ[DIRECTORY_VARIABLE] = str(folder)
    return folder


def serve_metrics(host: str, port: int) -> None:
    """Serve every worker's series, summed, on host:port from a thread of this process."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=_every_workers_registry())


def exposition(metrics: Metrics) -> tuple[bytes, str]:
    """Return the series in Prometheus's text format, with its content type: every worker's,
    summed, in multiprocess mode; else this process's own (tests, in process)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = metrics.registry or _every_workers_registry()
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _every_workers_registry() -> CollectorRegistry:
    from prometheus_client import CollectorRegistry, multiprocess

    folder = os.environ[DIRECTORY_VARIABLE]

    class LiveWorkersCollector(multiprocess.MultiProcessCollector):
        """The sum of the workers' files, once the gauges of the dead ones are removed."""

        def collect(self) -> Any:
            forget_dead_workers(Path(folder))
            return super().collect()  # type: ignore[no-untyped-call]

    registry = CollectorRegistry()
    LiveWorkersCollector(registry, folder)  # type: ignore[no-untyped-call]
    return registry


def forget_dead_workers(folder: Path) -> None:
    """Remove the live gauges (hash queue, outbox) of the workers that are gone: a killed
    worker leaves its files behind, and its last values would be summed forever. Counters
    and histograms stay: what a dead worker counted did happen."""
    from prometheus_client import multiprocess

    for path in folder.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(folder))  # type: ignore[no-untyped-call]


def forget_this_worker() -> None:
    """Remove this worker's live gauges as it stops (multiprocess mode only)."""
    folder = os.environ.get(DIRECTORY_VARIABLE)
    if folder:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


class Metrics:
    """The series one worker records; build it only when metrics are on."""

    registry: CollectorRegistry | None  # None: the workers' files are collected instead
    requests: Counter
    latency: Histogram
    authentications: Counter
    account_events: Counter
    throttled: Counter
    unavailable: Counter
    hash_seconds: Histogram
    hash_queue: Gauge
    mail: Counter
    mail_pending: Gauge
    mail_oldest_age: Gauge

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Make the series, registered in `registry`, or in one of their own when no
        multiprocess directory is named (tests, in process); in none when one is, since
        every worker's are then collected from the directory's files."""
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        if registry is None and not os.environ.get(DIRECTORY_VARIABLE):
            registry = CollectorRegistry()
        self.registry = registry

        self.requests = Counter(
            "punchclock_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "punchclock_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.authentications = Counter(
            "punchclock_authentications",
            "Credentials checked, by kind (token, password, session) and result (ok, "
            "refused, throttled).",
            ["kind", "result"],
            registry=registry,
        )
        self.account_events = Counter(
            "punchclock_account_events",
            "Log-ins, sign-ups, password resets requested and confirmed, accounts closed "
            "(successful answers only).",
            ["event"],
            registry=registry,
        )
        self.throttled = Counter(
            "punchclock_throttled_requests",
            "Requests refused with 429 by a limit, by route template.",
            ["route"],
            registry=registry,
        )
        self.unavailable = Counter(
            "punchclock_unavailable_answers",
            "503 answers by cause: hash_queue_full (too many password hashes waiting) or "
            "store_unavailable (the database does not answer).",
            ["cause"],
            registry=registry,
        )
        self.hash_seconds = Histogram(
            "punchclock_password_hash_seconds",
            "Time an argon2id hash or verify took, waiting for a worker included.",
            ["operation"],
            buckets=HASH_BUCKETS,
            registry=registry,
        )
        self.hash_queue = Gauge(
            "punchclock_password_hash_queue",
            "Password hashes waiting or running, summed over the live workers.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.mail = Counter(
            "punchclock_mail_messages",
            "Outbox deliveries by outcome: sent, retried (to be tried again), dead.",
            ["outcome"],
            registry=registry,
        )
        self.mail_pending = Gauge(
            "punchclock_mail_pending",
            "Messages queued in the outbox, not yet sent.",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.mail_oldest_age = Gauge(
            "punchclock_mail_oldest_pending_age_seconds",
            "Age of the oldest message waiting in the outbox (0 when none waits).",
            multiprocess_mode="livemax",
            registry=registry,
        )
