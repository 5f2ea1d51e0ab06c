"""The first hour with punchclock, through real processes: `serve` on a port of one's own,
a busy port, a replaced server key, HEAD, and ./scripts/punchclock from elsewhere."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import outbox
from tests.system.conftest import free_port, server_env, stop, wait_until_answering

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "first-password-1"
EXIT_TIMEOUT = 15.0  # seconds for a refused start to exit


def env_without_public_url(data_dir: Path) -> dict[str, str]:
    env = server_env(data_dir, "http://unused")
    del env["PUNCHCLOCK_PUBLIC_URL"]
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_serve_on_another_port_without_a_public_url_links_and_trusts_that_port(
    tmp_path: Path,
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "punchclock", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env_without_public_url(tmp_path / "data"),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(process, base_url, log)
        with httpx.Client(base_url=base_url, timeout=10) as client:
            signed_up = client.post(
                "/api/signup",
                json={"email": "ann@example.com", "password": PASSWORD, "display_name": "Ann"},
            )
            assert signed_up.status_code == 200
            session = signed_up.cookies["__Secure-accounts-session"]
            # a page of the server's own origin may change state with the cookie
            changed = client.put(
                "/api/v9/me",
                json={"fullname": "Ann King"},
                headers={
                    "Origin": base_url,
                    "Cookie": f"__Secure-accounts-session={session}",
                },
            )
            assert changed.status_code == 200, changed.text
            assert (
                client.post(
                    "/api/me/password_reset/request", json={"email": "ann@example.com"}
                ).json()
                == "OK"
            )
        deadline = time.monotonic() + 10
        while not outbox(tmp_path / "data") and time.monotonic() < deadline:
            time.sleep(0.05)
        [message] = outbox(tmp_path / "data")
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"{base_url}/reset/" in text
    finally:
        stop(process)
    assert f"public URL      {base_url} (from --host and --port" in log.read_text()


def test_a_port_in_use_stops_serve_at_once_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(
            [sys.executable, "-m", "punchclock", "serve", "--port", str(port)],
            tmp_path,
            env_without_public_url(tmp_path / "data"),
        )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"punchclock: cannot listen on 127.0.0.1:{port}: Address already in use: another "
        "process listens there; choose another port with --port"
    )
    assert "startup" not in done.stderr.lower()
    assert not (tmp_path / "data").exists()


def test_serve_refuses_a_data_directory_made_with_another_server_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = env_without_public_url(data_dir)
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "punchclock", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(process, f"http://127.0.0.1:{port}", log)
        signed_up = httpx.post(
            f"http://127.0.0.1:{port}/api/signup",
            json={"email": "ann@example.com", "password": PASSWORD},
            timeout=10,
        )
        assert signed_up.status_code == 200
    finally:
        stop(process)

    other = {**env, "PUNCHCLOCK_SECRET_KEY": base64.urlsafe_b64encode(b"x" * 32).decode()}
    done = run(
        [sys.executable, "-m", "punchclock", "serve", "--port", str(free_port())], tmp_path, other
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "punchclock: the server key (PUNCHCLOCK_SECRET_KEY) is not the one the database at "
        f"{data_dir / 'punchclock.sqlite3'} was made with: its API tokens cannot be opened. "
        "Start with the original key"
    )


def test_head_through_a_real_server_sends_headers_only(tmp_path: Path) -> None:
    from tests.system.conftest import running_server

    with running_server(tmp_path) as server:
        get = httpx.get(f"{server.base_url}/.well-known/jwks.json", timeout=10)
        head = httpx.head(f"{server.base_url}/.well-known/jwks.json", timeout=10)
        refused = httpx.head(f"{server.base_url}/api/v9/me", timeout=10)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(get.content))
    assert (refused.status_code, refused.content) == (403, b"")


@pytest.fixture
def repository_venv() -> Path:
    """The .venv ./scripts/test made: ./scripts/punchclock uses it and installs nothing."""
    venv = ROOT / ".venv"
    stamp = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if not list(venv.glob(f".installed-{stamp}-*")):  # else the script would install first
        pytest.skip("./scripts/punchclock is tested with the .venv ./scripts/test makes")
    if shutil.which("realpath") is None:
        pytest.skip("no realpath")
    return venv


def test_scripts_punchclock_runs_from_anywhere_and_makes_no_data_directory(
    tmp_path: Path, repository_venv: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUNCHCLOCK_")}
    script = str(ROOT / "scripts" / "punchclock")

    version = run([script, "--version"], elsewhere, env)
    assert (version.returncode, version.stdout.split()[0]) == (0, "punchclock")

    missing = run([script, "audit"], elsewhere, {**env, "PUNCHCLOCK_DATA_DIR": "data"})
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"punchclock: no data directory at {elsewhere / 'data'} (`punchclock serve` or "
        "`punchclock migrate` creates it); is PUNCHCLOCK_DATA_DIR the server's?"
    ]
    assert list(elsewhere.iterdir()) == []

    made = run([script, "migrate"], elsewhere, {**env, "PUNCHCLOCK_DATA_DIR": "data"})
    assert made.returncode == 0, made.stderr
    keys = run([script, "keys", "list"], elsewhere, {**env, "PUNCHCLOCK_DATA_DIR": "data"})
    assert keys.returncode == 0, keys.stderr
    assert "signs new sessions, 0 sessions" in keys.stdout


def test_audit_run_elsewhere_without_settings_creates_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUNCHCLOCK_")}
    done = run([sys.executable, "-m", "punchclock", "audit"], tmp_path, env)
    assert done.returncode == 2
    assert f"no data directory at {tmp_path / 'data'}" in done.stderr
    assert list(tmp_path.iterdir()) == []
