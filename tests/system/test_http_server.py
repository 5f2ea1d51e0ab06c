"""The HTTP server as `punchclock serve` runs it: answers whole, in order, nothing held back."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.system.conftest import Server

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
