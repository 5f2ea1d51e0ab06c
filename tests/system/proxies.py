"""Run the shipped forward-auth configurations (examples/forward-auth/) with a real nginx and
a real Caddy, changed only in their ports and file paths."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.system.conftest import free_port, stop

EXAMPLES = Path(__file__).parents[2] / "examples" / "forward-auth"
STARTUP_TIMEOUT = 15.0  # seconds for a proxy to accept connections


@dataclass(frozen=True, slots=True)
class Proxy:
    name: str
    base_url: str
    origin: str  # what the proxy tells punchclock the site is (X-Forwarded-Proto + Host)


def templated(text: str, replacements: Mapping[str, str]) -> str:
    """Replace each of `replacements` in a shipped file, each of which must be there."""
    for old, new in replacements.items():
        assert old in text, f"the shipped file no longer has {old!r}"
        text = text.replace(old, new)
    return text


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:  # fail, never skip: .ci/run installs it
        pytest.fail(f"{name} is not installed: apt-get install -y {name} (.ci/run does)")
    return found


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the proxy exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    pytest.fail(f"the proxy did not listen on {port}:\n{log.read_text()}")


@contextlib.contextmanager
def _running(
    command: list[str], port: int, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[None]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=env
        )
    try:
        _wait_for_port(port, process, log)
        yield
    finally:
        stop(process)


@contextlib.contextmanager
def nginx(root: Path, port: int, punchclock: int, upstream: int) -> Iterator[Proxy]:
    """Run examples/forward-auth/nginx.conf on `port` in front of punchclock and upstream."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "nginx.conf"
    config.write_text(
        templated(
            (EXAMPLES / "nginx.conf").read_text(),
            {
                "listen 80;": f"listen 127.0.0.1:{port};",
                "server 127.0.0.1:8080;": f"server 127.0.0.1:{punchclock};",
                "server 127.0.0.1:9000;": f"server 127.0.0.1:{upstream};",
                "/run/nginx-punchclock.pid": str(root / "nginx.pid"),
                "/var/log/nginx/": f"{root}/",
            },
        )
    )
    command = [binary("nginx"), "-p", str(root), "-e", str(root / "error.log"), "-c", str(config)]
    with _running([*command, "-g", "daemon off;"], port, root / "nginx.out"):
        yield Proxy("nginx", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}")


@contextlib.contextmanager
def caddy(root: Path, port: int, punchclock: int, upstream: int) -> Iterator[Proxy]:
    """Run examples/forward-auth/Caddyfile on `port` in front of punchclock and upstream."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "Caddyfile"
    config.write_text(
        templated(
            (EXAMPLES / "Caddyfile").read_text(),
            {
                "admin localhost:2019": f"admin 127.0.0.1:{free_port()}",
                "app.example.com {": f"http://127.0.0.1:{port} {{",
                "127.0.0.1:8080": f"127.0.0.1:{punchclock}",
                "127.0.0.1:9000": f"127.0.0.1:{upstream}",
            },
        )
    )
    env = {
        **os.environ,
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
    }
    command = [binary("caddy"), "run", "--config", str(config), "--adapter", "caddyfile"]
    with _running(command, port, root / "caddy.out", env):
        yield Proxy("caddy", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}")


STARTERS = {"nginx": nginx, "caddy": caddy}
