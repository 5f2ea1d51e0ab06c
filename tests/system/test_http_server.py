"""The HTTP server as `punchclock serve` runs it: answers whole, in order, nothing held back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from punchclock import __version__
from tests.system.conftest import Server, free_port, server_env, start_server

pytestmark = pytest.mark.system


def connect(server: Server) -> socket.socket:
    url = urlsplit(server.base_url)
    return socket.create_connection((url.hostname, url.port), timeout=5)


def read_until(sock: socket.socket, marker: bytes, count: int = 1) -> bytes:
    data = b""
    while data.count(marker) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one answer with a content-length: its status line and its body."""
    data = read_until(sock, b"\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    assert len(body) == length  # nothing of the next answer in this one
    return head.split(b"\r\n")[0], body


def test_answers_on_one_connection_come_whole_one_after_the_other(server: Server) -> None:
    with connect(server) as sock:
        for path, status in (
            (b"/api/v9/me/logged", b"HTTP/1.1 403 Forbidden"),
            (b"/nowhere", b"HTTP/1.1 404 Not Found"),
            (b"/.well-known/jwks.json", b"HTTP/1.1 200 OK"),
            (b"/api/v9/me/logged", b"HTTP/1.1 403 Forbidden"),
        ):
            sock.sendall(b"GET " + path + b" HTTP/1.1\r\nhost: x\r\n\r\n")
            line, body = read_answer(sock)
            assert line == status
            assert body.startswith((b'"', b"{"))


def test_a_head_request_gets_its_head_at_once(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"HEAD /.well-known/jwks.json HTTP/1.1\r\nhost: x\r\n\r\n")
        data = read_until(sock, b"\r\n\r\n")
        sock.sendall(b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n")  # the next answer
        data += read_until(sock, b"\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert rest.startswith(b"HTTP/1.1 404 ")  # no body came between the two


def test_a_client_waiting_for_100_continue_gets_it_before_sending_its_body(
    server: Server,
) -> None:
    body = json.dumps({"email": "nobody@example.com"}).encode()
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/me/password_reset/request HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/json\r\nexpect: 100-continue\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        started = time.monotonic()
        interim = read_until(sock, b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert time.monotonic() - started < 2
        sock.sendall(body)
        answer = read_until(sock, b'"OK"')
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


def _live_processes() -> Iterator[tuple[int, int, int]]:
    """Yield each live process's pid, parent and group (a zombie has stopped: not one)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            state, ppid, group = stat[stat.rindex(b")") + 2 :].split()[:3]
            if state != b"Z":
                yield int(entry.name), int(ppid), int(group)


def _children(pid: int) -> list[int]:
    """The live processes whose parent is `pid`."""
    return [child for child, parent, _ in _live_processes() if parent == pid]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] != b"Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_stop_when_the_main_process_is_killed(tmp_path: Path) -> None:
    """SIGKILL (or the OOM killer) on the main process leaves no worker serving on."""
    process, server = start_server(tmp_path, "--workers", "2")
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 20
        while len(workers := _children(process.pid)) < 2:
            assert time.monotonic() < deadline, "the two workers did not start"
            time.sleep(0.1)
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived the main process"
            time.sleep(0.1)
        with pytest.raises(ConnectionRefusedError):
            connect(server).close()  # nobody listens on the port any more
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_answers_name_the_product_once_and_no_version(server: Server) -> None:
    """granian sends `server: granian` unless the app names itself (ASVS 4.0.3 V14.3.3)."""
    with connect(server) as sock:
        sock.sendall(b"GET /api/v9/me HTTP/1.1\r\nhost: x\r\n\r\n")
        head = read_until(sock, b"\r\n\r\n").partition(b"\r\n\r\n")[0].lower()
    servers = [line for line in head.split(b"\r\n") if line.startswith(b"server:")]
    assert servers == [b"server: punchclock"]


def _status_of(server: Server, request: bytes) -> int:
    """Send one request on a new connection; return the status of its answer."""
    with connect(server) as sock:
        sock.sendall(request)
        line = read_until(sock, b"\r\n").split(b"\r\n")[0]
    assert line.startswith(b"HTTP/1.1 "), line
    return int(line.split()[1])


def test_a_request_head_far_past_32_kib_is_refused_with_431(server: Server) -> None:
    """granian would read ~408 KiB of headers; punchclock stops at nginx's 32 KiB. The
    buffer is checked before each read of up to 16 KiB, so 48 KiB is always refused."""
    padding = b"x-padding: " + b"a" * (48 * 1024) + b"\r\n"
    request = b"GET /api/v9/me HTTP/1.1\r\nhost: x\r\n" + padding + b"\r\n"
    assert _status_of(server, request) == 431


def test_a_large_cookie_header_under_the_limit_is_answered(server: Server) -> None:
    cookies = b"; ".join(b"c%d=%s" % (i, b"v" * 3000) for i in range(8))  # 24 KiB
    request = b"GET /api/v9/me/logged HTTP/1.1\r\nhost: x\r\ncookie: " + cookies + b"\r\n\r\n"
    assert _status_of(server, request) == 403


@pytest.mark.parametrize(
    ("size", "status"),
    [(60 * 1024, 200), (70 * 1024, 413)],
)
def test_the_head_limit_leaves_the_64_kib_body_limit_as_it_was(
    server: Server, size: int, status: int
) -> None:
    """The read buffer bounds the head only: a body past 32 KiB still reaches the app,
    which takes up to 64 KiB (web/routes.py MAX_BODY)."""
    body = json.dumps({"email": "nobody@example.com"}).encode()
    body += b" " * (size - len(body))  # JSON allows the whitespace
    request = (
        b"POST /api/me/password_reset/request HTTP/1.1\r\nhost: x\r\n"
        b"content-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    assert _status_of(server, request) == status


@pytest.mark.parametrize(
    ("when", "ending", "to_group"),
    [
        # Ctrl-C reaches every process of the terminal's group; here while granian loads
        (f"punchclock {__version__} on", signal.SIGINT, True),
        # `systemctl stop` or `kill` right after a start, while the workers start
        ("Spawning worker-2", signal.SIGTERM, False),
    ],
)
def test_a_stop_asked_for_while_the_server_starts_is_not_lost(
    tmp_path: Path, when: str, ending: signal.Signals, to_group: bool
) -> None:
    """granian listens for a stop only from its start-up on, and a worker keeps the main
    process's handlers until it has started: a stop in between was swallowed, and the
    server served on (or its main process waited for a worker forever)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "punchclock", "serve", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=server_env(tmp_path / "data", base_url),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, as a terminal's job is
        )
    try:
        deadline = time.monotonic() + 30
        while when not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, f"no {when!r} in the log"
            time.sleep(0.002)
        if to_group:
            os.killpg(process.pid, ending)
        else:
            process.send_signal(ending)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not stop:\n{log.read_text(errors='replace')}")
        deadline = time.monotonic() + 10
        while _children(process.pid) or _group_alive(process.pid):
            assert time.monotonic() < deadline, "a worker outlived the stop"
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _group_alive(group: int) -> bool:
    """Tell whether a live process of the group is left."""
    return any(in_group == group for _, _, in_group in _live_processes())
