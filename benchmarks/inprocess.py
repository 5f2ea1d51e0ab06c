"""Microseconds per request of the ASGI app alone: `python -m benchmarks.inprocess`.

No server, socket or wrk: the app is called with a ready scope, so the figure is what
punchclock itself costs a worker per request, steady enough to compare two commits on a
busy machine (wrk's figures on 2 shared cores are not). Also runs under
`valgrind --tool=callgrind` for instruction counts (`--rounds 1 --requests 2000`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import statistics
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
COOKIE = "__Secure-accounts-session"


def _basic(username: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{username}:{password}".encode())


def _scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> dict[str, Any]:
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
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8080"), *headers],
    }


async def _call(app: App, scope: dict[str, Any], body: bytes = b"") -> tuple[int, bytes, list[Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), sent[0]["headers"]


async def _time(
    app: App, scope: dict[str, Any], requests: int, rounds: int, body: bytes = b""
) -> list[float]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    per_request = []
    for _ in range(rounds):
        gc.collect()
        started = time.process_time()  # CPU time: steady while others load the machine
        for i in range(requests):
            await app(scope.copy(), receive, send)
            if i % 32 == 31:  # a turn of the loop, as a server with 32 connections has
                await asyncio.sleep(0)
        await app.drain()  # the work requests leave behind (a log-in's audit event) counts
        per_request.append((time.process_time() - started) / requests * 1e6)
    return per_request


async def run(requests: int, rounds: int, only: set[str]) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="punchclock-inprocess-") as tmp:
        env = {
            "PUNCHCLOCK_DATA_DIR": str(Path(tmp) / "data"),
            "PUNCHCLOCK_PUBLIC_URL": "http://127.0.0.1:8080",
            "PUNCHCLOCK_HASH_POOL": "threads",
            # argon2 made negligible: only `log_in` hashes on its timed path, and its figure
            # is then what a log-in costs the event loop besides its hash
            "PUNCHCLOCK_ARGON2_TIME_COST": "1",
            "PUNCHCLOCK_ARGON2_MEMORY_KIB": "8",
            **{name: "off" for name in RATE_LIMIT_VARIABLES.values()},
            "PUNCHCLOCK_ACCESS_LOG": os.environ.get("PUNCHCLOCK_ACCESS_LOG", "on"),
        }
        app = create_app(Settings.from_env(env))
        async with app.running():
            email = "ada@example.com"
            body = f'{{"email":"{email}","password":"{PASSWORD}","timezone":"UTC"}}'.encode()
            json = [(b"content-type", b"application/json")]
            status, answer, headers = await _call(app, _scope("POST", "/api/signup", json), body)
            assert status == 200, answer
            token = answer.split(b'"api_token":"')[1].split(b'"')[0].decode()
            cookie = next(v for k, v in headers if k == b"set-cookie").split(b";")[0]
            # what nginx's auth_request sends with the shipped examples/forward-auth/nginx.conf
            nginx = [
                (b"x-original-method", b"GET"),
                (b"x-original-uri", b"/api/v9/time_entries"),
                (b"x-forwarded-host", b"app.example.com"),
                (b"x-forwarded-proto", b"http"),
                (b"x-forwarded-for", b"192.0.2.1"),
            ]
            me, verify = "/api/v9/me", "/api/auth/verify"
            cases = {
                "token": (me, _basic(token, "api_token"), 200, []),
                "cookie": (me, None, 200, []),
                "password": (me, _basic(email, PASSWORD), 200, []),
                "wrong_token": (me, _basic("0" * 32, "api_token"), 403, []),
                "verify_token": (verify, _basic(token, "api_token"), 200, []),
                "verify_cookie": (verify, None, 200, []),
                "verify_nginx": (verify, _basic(token, "api_token"), 200, nginx),
                "log_in": ("/api/sessions", None, 200, []),
            }
            log_in = f'{{"email":"{email}","password":"{PASSWORD}","remember_me":false}}'.encode()
            figures = {}
            for name, (path, authorization, expected, more) in cases.items():
                if only and name not in only:
                    continue
                extra = (
                    [(b"authorization", authorization)] if authorization else [(b"cookie", cookie)]
                )
                query = b"login=401" if more else b""
                if name == "log_in":  # POST /api/sessions: about 20 times the work of a /me
                    scope = _scope("POST", path, [(b"user-agent", b"wrk"), *json])
                    status, answer, _ = await _call(app, scope, log_in)
                    assert status == expected, (name, status, answer)
                    figures[name] = await _time(app, scope, max(1, requests // 20), rounds, log_in)
                    continue
                scope = _scope("GET", path, [(b"user-agent", b"wrk"), *extra, *more], query)
                status, answer, _ = await _call(app, scope)
                assert status == expected, (name, status, answer)
                figures[name] = await _time(app, scope, requests, rounds)
            await app.drain()
        return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inprocess")
    parser.add_argument("--requests", type=int, default=20_000, help="per round (20000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is told (5)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: token,cookie,password,wrong_token,"
        "verify_token,verify_cookie,verify_nginx,log_in",
    )
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name}
    import uvloop

    figures = uvloop.run(run(args.requests, args.rounds, only))
    for name, rounds in figures.items():
        shown = " ".join(f"{r:.1f}" for r in rounds)
        print(f"{name:<12} {statistics.median(rounds):6.1f} us a request  (rounds: {shown})")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
