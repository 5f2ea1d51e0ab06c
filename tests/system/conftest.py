"""A real punchclock server in a subprocess, as `punchclock serve` runs it, one per module."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import LAX_LIMITS

STARTUP_TIMEOUT = 15.0  # seconds for the server to answer its first request
SHUTDOWN_TIMEOUT = 10.0  # seconds to exit after SIGTERM before it is killed


@dataclass(frozen=True, slots=True)
class Server:
    """A running server: where to reach it and the data dir it writes (db, keys, outbox/)."""

    base_url: str
    data_dir: Path
    log: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(
    data_dir: Path, base_url: str, settings: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return this process's environment without PUNCHCLOCK_* settings, plus the server's own
    (and `settings`)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PUNCHCLOCK_")}
    return {
        **inherited,
        "PYTHONUNBUFFERED": "1",  # the log is read while the server runs
        "PUNCHCLOCK_DATA_DIR": str(data_dir),
        "PUNCHCLOCK_PUBLIC_URL": base_url,
        # cheap argon2 keeps the suite fast; tests/unit checks the defaults
        "PUNCHCLOCK_ARGON2_TIME_COST": "1",
        "PUNCHCLOCK_ARGON2_MEMORY_KIB": "1024",
        # every test signs up and logs in from 127.0.0.1, far more than the limits allow;
        # tests/http/test_throttling.py tests them
        **LAX_LIMITS,
        **(settings or {}),
    }


def wait_until_answering(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"punchclock serve exited with {process.returncode} before answering:\n"
                f"{log.read_text(errors='replace')}"
            )
        try:
            httpx.get(f"{base_url}/api/v9/me/logged", timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(
        f"punchclock serve did not answer on {base_url} within {STARTUP_TIMEOUT} s:\n"
        f"{log.read_text(errors='replace')}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SHUTDOWN_TIMEOUT)


def start_server(
    root: Path, *args: str, env: Mapping[str, str] | None = None, log_name: str = "server.log"
) -> tuple[subprocess.Popen[bytes], Server]:
    """Start `python -m punchclock serve [args]` on a free port and wait until it answers;
    the caller stops it (tests that kill it with SIGKILL start it this way)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = root / "data"
    log = root / log_name
    root.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "punchclock", "serve", "--port", str(port), *args],
            cwd=root,
            env=server_env(data_dir, base_url, env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(process, base_url, log)
    except BaseException:
        stop(process)
        raise
    return process, Server(base_url=base_url, data_dir=data_dir, log=log)


@contextlib.contextmanager
def running_server(
    root: Path, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Run `python -m punchclock serve [args]` on a free port until the block ends.

    `env` adds PUNCHCLOCK_* settings to the server's environment.

    After the server stops, its log must hold no traceback: an error the server swallowed
    (a reset mail that failed, a 500) fails the test that used it.
    """
    process, server = start_server(root, *args, env=env)
    try:
        yield server
    finally:
        stop(process)
    log = server.log
    output_text = log.read_text(errors="replace")
    assert "Traceback" not in output_text, f"the server logged an error:\n{output_text}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the whole module (each test makes its own account)."""
    with running_server(tmp_path_factory.mktemp("punchclock")) as running:
        yield running


@pytest.fixture
def email() -> str:
    """Return an address no other test uses (example.com: toggl-python refuses .test)."""
    return f"user-{uuid.uuid4().hex[:12]}@example.com"
