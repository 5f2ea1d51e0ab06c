"""Forward auth: /api/auth/verify by token and by cookie, and nginx in front of an upstream
with and without it, in the same run (the shipped examples/forward-auth/nginx.conf)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import BenchError, seeding, servers, wrk
from benchmarks.servers import ROOT, Server

if TYPE_CHECKING:
    from benchmarks.report import Target
    from benchmarks.scenarios import Bench

GROUP = "forward-auth"
KEYS = (
    "verify_token",
    "verify_cookie",
    "nginx_upstream",
    "nginx_forward_auth",
    "nginx_upstream_light",
    "nginx_forward_auth_light",
    "nginx_control_auth",
    "nginx_control_auth_granian",
)
VERIFY = "/api/auth/verify"
NGINX_CONF = ROOT / "examples" / "forward-auth" / "nginx.conf"
PATH = "/reports"  # any path of the upstream's: not one of punchclock's own


def run(bench: Bench, punchclock: Server) -> None:
    """Measure the verify endpoint, then nginx -> upstream without and with forward auth."""
    from benchmarks.scenarios import COOKIE, basic, log_in

    token = basic(seeding.token_of(5), "api_token")
    bench.measure(
        punchclock,
        "verify_token",
        "forward auth by API token",
        wrk.Load(path=VERIFY, headers=token),
        credential="api token",
    )
    cookie = {"Cookie": f"{COOKIE}={log_in(punchclock, seeding.email_of(6))}"}
    bench.measure(
        punchclock,
        "verify_cookie",
        "forward auth by session cookie",
        wrk.Load(path=VERIFY, headers=cookie),
        credential="session cookie",
    )

    upstream = bench.started(servers.start_bare("upstream", bench.log(), 1))
    alone = bench.started(start_nginx(bench.workdir / "nginx-alone", punchclock, upstream, False))
    guarded = bench.started(start_nginx(bench.workdir / "nginx-auth", punchclock, upstream, True))
    # throughput with every process busy, then the time one request takes at light load:
    # a closed loop at saturation queues, and its p50 measures the queue, not the check
    for connections, suffix, how in (
        (bench.options.connections, "", "saturated"),
        (bench.options.probe_connections, "_light", "light load"),
    ):
        bench.measure(
            alone,
            f"nginx_upstream{suffix}",
            f"nginx -> upstream (bare raw ASGI), no auth, {how}",
            wrk.Load(path=PATH),
            credential="none",
            connections=connections,
        )
        bench.measure(
            guarded,
            f"nginx_forward_auth{suffix}",
            f"nginx -> verify -> upstream, by token, {how}",
            wrk.Load(path=PATH, headers=token),
            credential="api token",
            connections=connections,
        )
    bench.stop(guarded)
    # the controls: the same configuration with the least an auth server can do in its
    # place (the bare raw ASGI app answering 200 to every check), on uvicorn and on granian:
    # what nginx's subrequest and a second Python server cost here, whoever answers
    for key, start, label in (
        ("nginx_control_auth", servers.start_bare, "bare uvicorn"),
        ("nginx_control_auth_granian", servers.start_bare_granian, "bare granian"),
    ):
        control_auth = bench.started(start(f"auth-control-{key}", bench.log(), 1))
        control = bench.started(
            start_nginx(bench.workdir / f"nginx-{key}", control_auth, upstream, True)
        )
        bench.measure(
            control,
            key,
            f"control: nginx -> {label} raw ASGI as the auth server -> upstream, saturated",
            wrk.Load(path=PATH, headers=token),
            credential="api token",
            connections=bench.options.connections,
        )
        bench.stop(control)
        bench.stop(control_auth)
    for server in (alone, upstream):
        bench.stop(server)
    alone_run, guarded_run = (
        bench.scenarios["nginx_upstream"],
        bench.scenarios["nginx_forward_auth"],
    )
    best = max(
        bench.scenarios[k]["rps"] for k in ("nginx_control_auth", "nginx_control_auth_granian")
    )
    bench.say(
        f"  forward auth behind nginx: {guarded_run['rps'] / alone_run['rps']:.1%} of nginx "
        f"alone's throughput (the best control, a bare auth server: "
        f"{best / alone_run['rps']:.1%}), "
        f"p50 +{guarded_run['p50_ms'] - alone_run['p50_ms']:.2f} ms"
    )


def nginx_config(root: Path, port: int, punchclock: int, upstream: int, auth: bool) -> str:
    """Return the shipped nginx.conf with its ports and paths changed (and, without
    `auth`, its auth_request turned off: the same configuration, minus the check)."""
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{punchclock};",
        "server 127.0.0.1:9000;": f"server 127.0.0.1:{upstream};",
        "/run/nginx-punchclock.pid": str(root / "nginx.pid"),
        "access_log /var/log/nginx/punchclock-access.log;": "access_log off;",
        "/var/log/nginx/": f"{root}/",
    }
    if not auth:
        replacements["auth_request /_punchclock/verify;"] = "auth_request off;"
    text = NGINX_CONF.read_text()
    for old, new in replacements.items():
        if old not in text:
            raise BenchError(f"{NGINX_CONF} no longer has {old!r}")
        text = text.replace(old, new)
    return text


def start_nginx(root: Path, punchclock: Server, upstream: Server, auth: bool) -> Server:
    """Run nginx with the shipped configuration on a free port, as a Server."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        raise BenchError("nginx is not installed: apt-get install nginx (.ci/run does)")
    root.mkdir(parents=True, exist_ok=True)
    port = servers.free_port()
    config = root / "nginx.conf"
    config.write_text(nginx_config(root, port, punchclock.port, upstream.port, auth))
    log = root / "nginx.log"
    with log.open("ab") as output:
        command = [nginx, "-p", str(root), "-e", str(root / "error.log"), "-c", str(config)]
        process = subprocess.Popen(  # noqa: S603 - our own arguments
            [*command, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    name = "nginx-forward-auth" if auth else "nginx-alone"
    server = Server(name=name, port=port, process=process, log=log, workers=1)
    try:
        _wait_until_listening(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_listening(server: Server) -> None:
    deadline = time.monotonic() + servers.STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        server.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), 1):
            return
        time.sleep(0.05)
    raise BenchError(f"nginx did not listen on {server.port}:\n{server.tail()}")


def targets(scenarios: Mapping[str, Mapping[str, Any]], base: float, judged: bool) -> list[Target]:
    """Return the forward-auth issue's targets that this run's figures speak to."""
    from benchmarks.report import Target

    found: list[Target] = []

    def add(
        key: str, name: str, value: float, shown: str, met: bool, wanted: str, at: float
    ) -> None:
        found.append(Target(key, name, round(value, 4), shown, at, wanted, met if judged else None))

    for key, name, threshold in (
        ("verify_token", "forward auth by API token", 0.40),
        ("verify_cookie", "forward auth by session cookie", 0.35),
    ):
        if key in scenarios and base:
            ratio = scenarios[key]["rps"] / base
            wanted = f">= {threshold:.0%} of baseline"
            add(key, name, ratio, f"{ratio:.1%} of baseline", ratio >= threshold, wanted, threshold)
    if "nginx_forward_auth" in scenarios and "nginx_upstream" in scenarios:
        alone, guarded = scenarios["nginx_upstream"], scenarios["nginx_forward_auth"]
        ratio = guarded["rps"] / alone["rps"]
        controls = [
            scenarios[k]["rps"]
            for k in ("nginx_control_auth", "nginx_control_auth_granian")
            if k in scenarios
        ]
        bound = f" (best control {max(controls) / alone['rps']:.1%})" if controls else ""
        add(
            "nginx_forward_auth",
            "nginx with forward auth, throughput",
            ratio,
            f"{ratio:.1%} of nginx alone{bound}",
            ratio >= 0.50,
            ">= 50% of nginx alone",
            0.50,
        )
    if "nginx_forward_auth_light" in scenarios and "nginx_upstream_light" in scenarios:
        added = (
            scenarios["nginx_forward_auth_light"]["p50_ms"]
            - scenarios["nginx_upstream_light"]["p50_ms"]
        )
        add(
            "nginx_forward_auth_light",
            "nginx with forward auth, added p50 at light load",
            added,
            f"+{added:.2f} ms p50",
            added <= 1.0,
            "<= +1 ms p50",
            1.0,
        )
    return found
