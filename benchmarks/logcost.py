"""CPU microseconds the access log and the metrics add to /me by token: `python -m
benchmarks.logcost`.

One process builds the same app several ways (access log off, text, JSON; metrics on) and
times them in alternating rounds, so that a busy machine slows every variant alike; the
median of the rounds is told, and each variant's cost over the bare app. CPU time
(time.process_time), not throughput: 5 programs share this machine's 2 cores. The log lines
go down a pipe to `cat > /dev/null`, as they go to a journal or a container runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

from punchclock.config import RATE_LIMIT_VARIABLES, Settings
from punchclock.web.app import create_app
from punchclock.web.asgi import App

PASSWORD = "bench-password-1"  # noqa: S105 - an account made for the run
CONNECTIONS = 32  # requests answered a loop turn, as a server with 32 busy connections
VARIANTS = {
    "bare": {"PUNCHCLOCK_ACCESS_LOG": "off"},
    "text log": {},
    "json log": {"PUNCHCLOCK_LOG_FORMAT": "json"},
    "metrics": {"PUNCHCLOCK_ACCESS_LOG": "off", "PUNCHCLOCK_METRICS_ADDR": "127.0.0.1:9"},
}


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8080"), *headers],
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _sign_up(app: App, email: str) -> str:
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    body = f'{{"email":"{email}","password":"{PASSWORD}","timezone":"UTC"}}'.encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = _scope("POST", "/api/signup", [(b"content-type", b"application/json")])
    await app(scope, receive, send)
    answer = b"".join(m.get("body", b"") for m in sent[1:])
    assert sent[0]["status"] == 200, answer
    return answer.split(b'"api_token":"')[1].split(b'"')[0].decode()


async def _round(app: App, scope: dict[str, Any], requests: int) -> float:
    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    gc.collect()
    started = time.process_time()
    for i in range(requests):
        await app(scope.copy(), _receive, send)
        if i % CONNECTIONS == CONNECTIONS - 1:
            await asyncio.sleep(0)  # the end of a loop turn: the turn's lines are written
    await asyncio.sleep(0)
    return (time.process_time() - started) / requests * 1e6


async def run(requests: int, rounds: int, names: list[str]) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="punchclock-logcost-") as tmp:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(tmp) / "metrics")  # as serve does
        (Path(tmp) / "metrics").mkdir()
        apps: dict[str, tuple[App, dict[str, Any]]] = {}
        for name in names:
            env = {
                "PUNCHCLOCK_DATA_DIR": str(Path(tmp) / name.replace(" ", "-")),
                "PUNCHCLOCK_PUBLIC_URL": "http://127.0.0.1:8080",
                "PUNCHCLOCK_HASH_POOL": "threads",
                # one sign-up hashes: cheap, so that a run under callgrind is mostly requests
                "PUNCHCLOCK_ARGON2_TIME_COST": "1",
                "PUNCHCLOCK_ARGON2_MEMORY_KIB": "1024",
                **{variable: "off" for variable in RATE_LIMIT_VARIABLES.values()},
                **VARIANTS[name],
            }
            app = create_app(Settings.from_env(env))
            await app._on_startup()
            token = await _sign_up(app, "ada@example.com")
            auth = b"Basic " + base64.b64encode(f"{token}:api_token".encode())
            scope = _scope("GET", "/api/v9/me", [(b"user-agent", b"wrk"), (b"authorization", auth)])
            await _round(app, scope, 200)  # warm the caches
            apps[name] = (app, scope)
        figures: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(rounds):
            for name, (app, scope) in apps.items():
                figures[name].append(await _round(app, scope, requests))
        for app, _ in apps.values():
            await app.drain()
            await app._on_shutdown()
        return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.logcost")
    parser.add_argument("--requests", type=int, default=5_000, help="per round (5000)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds; the median is told")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    args = parser.parse_args(argv)
    names = [name for name in args.variants.split(",") if name]
    import uvloop

    # the lines go down a pipe, read by another process; the figures go to stderr
    cat = shutil.which("cat") or "/bin/cat"
    sink = subprocess.Popen([cat], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)  # noqa: S603
    assert sink.stdin is not None
    report = sys.stderr
    sys.stdout.flush()
    os.dup2(sink.stdin.fileno(), sys.stdout.fileno())
    figures = uvloop.run(run(args.requests, args.rounds, names))
    bare = statistics.median(figures[names[0]])
    for name, values in figures.items():
        median = statistics.median(values)
        print(
            f"{name:<10} {median:6.2f} us a request, {median - bare:+6.2f} over {names[0]}"
            f"  (quartiles {statistics.quantiles(values, n=4)[0]:.1f}"
            f"-{statistics.quantiles(values, n=4)[2]:.1f})",
            file=report,
        )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
