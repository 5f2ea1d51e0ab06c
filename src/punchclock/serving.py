"""How `punchclock serve` runs the app: granian, its settings, its logs, its stops.

Nothing is imported from granian until a server starts, so the other commands start fast.
"""

from __future__ import annotations

import copy
import os
import signal
from typing import Any

JSON_FORMATTER = {"()": "punchclock.web.logs.JsonFormatter"}


def log_config(json_logs: bool = False) -> dict[str, Any]:
    """Return the server's logging setup, with punchclock's own lines beside granian's;
    with `json_logs`, every line is a JSON object (PUNCHCLOCK_LOG_FORMAT=json), other
    libraries' too.

    The server's access log stays off: the app writes its lines itself, in batches
    (web/logs.py), at a tenth of the cost."""
    from granian.log import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    # the lines as punchclock's start-up summary writes them (`INFO:     ...`), not granian's
    config["formatters"]["generic"] = {"format": "%(levelname)s:     %(message)s"}
    config["loggers"]["punchclock"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
    if json_logs:
        config["formatters"] = {"generic": JSON_FORMATTER, "access": JSON_FORMATTER}
        config["root"] = {"handlers": ["console"], "level": "INFO"}
    return config


APP_FACTORY = "punchclock.web.app:app_from_env"
# A request's line and headers together, as nginx's default large_client_header_buffers
# (4 x 8 KiB) take them: past this, 431 before anything is parsed for the app. granian's
# default read buffer lets ~408 KiB of headers through (OWASP: limit request sizes). The
# buffer is checked before each read of up to 16 KiB: a head sent at once may reach 48 KiB.
MAX_REQUEST_HEAD = 32 * 1024  # bytes


def serve_http(host: str, port: int, workers: int, *, json_logs: bool = False) -> int:
    """Serve the app with granian, each worker building its own from the environment.

    granian (HTTP in Rust, the app on uvloop) over uvicorn, by measurement: the same app
    answered /me by token 25-30 % faster and a refusal ~30 % faster, side by side on one
    machine (the hot-path issue; README, "Performance"). One runtime thread and HTTP/1
    only: the app's event loop is the bottleneck, and a second Rust thread only competes
    with it for the cores."""
    # A stop asked for while granian starts must not be lost. granian listens for SIGINT
    # and SIGTERM only from its start-up on: one that came before (Ctrl-C, `systemctl
    # stop` right after a start) was swallowed and the server served on. Until then, the
    # stop is noted here and handed to granian before its workers start.
    asked: list[int] = []
    for ending in (signal.SIGINT, signal.SIGTERM):
        signal.signal(ending, lambda signum, frame: asked.append(signum))
    from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes, TaskImpl
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    from punchclock.web.app import SERVER_PID

    os.register_at_fork(after_in_child=_start_worker_stoppable)
    os.environ[SERVER_PID] = str(os.getpid())  # the workers stop with it (web/app.py)
    server = Server(
        APP_FACTORY,
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(max_buffer_size=MAX_REQUEST_HEAD),
        websockets=False,
        loop=Loops.uvloop,
        runtime_mode=RuntimeModes.st,
        task_impl=TaskImpl.asyncio,  # the Rust one is marked experimental
        log_level=LogLevels.info,
        log_dictconfig=log_config(json_logs),
        log_access=False,  # the app writes it (PUNCHCLOCK_ACCESS_LOG)
        respawn_failed_workers=True,  # a killed worker is replaced, as uvicorn's were
    )

    @server.on_startup
    def stop_if_asked() -> None:
        if asked:  # the serve loop ends at once and stops the workers it starts next
            server.signal_handler_interrupt()  # type: ignore[no-untyped-call]  # granian

    server.serve()
    return 0


def _start_worker_stoppable() -> None:
    """In a worker just forked: let a stop end it until granian sets its own handlers.

    A worker inherits the main process's handlers, which flag a stop on the main's copy of
    the server: a SIGTERM the main sends it while it starts was swallowed, and the main
    waited for it forever. Now SIGTERM ends a starting worker, which serves nothing yet;
    SIGINT (Ctrl-C reaches every process of the terminal's group) is left to the main,
    which stops its workers with SIGTERM."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
