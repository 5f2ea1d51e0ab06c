"""The access log: uvicorn's line for every answer, in batches, never a reset code."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from uvicorn.logging import AccessFormatter

from punchclock.web.logs import BATCH_LINES, FLUSH_DELAY, PIPE_BUF, AccessLog


class Writes(io.StringIO):
    """A stream that remembers each write, so a test can count them."""

    def __init__(self, tty: bool = False) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.tty = tty

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)

    def isatty(self) -> bool:
        return self.tty


def scope(path: str = "/api/v9/me", query: bytes = b"", method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "query_string": query,
        "client": ("203.0.113.7", 50123),
    }


def uvicorns_line(
    scope: dict[str, Any], status: int, path_with_query: str, colours: bool = False
) -> str:
    """The line uvicorn's own access log writes for the same answer."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("{}:{:d}".format(*scope["client"]), scope["method"], path_with_query, "1.1", status),
        None,
    )
    formatter = AccessFormatter(
        '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=colours
    )
    return formatter.format(record) + "\n"


def written(log: AccessLog, stream: Writes) -> str:
    log.flush()
    return stream.getvalue()


@pytest.mark.parametrize(
    ("path", "query", "status", "logged_path"),
    [
        ("/api/v9/me", b"", 200, "/api/v9/me"),
        ("/api/v9/me", b"with_related_data=true", 403, "/api/v9/me?with_related_data=true"),
        ("/a b/é", b"", 404, "/a%20b/%C3%A9"),
        ("/api/sessions", b"", 429, "/api/sessions"),
        ("/api/sessions", b"", 599, "/api/sessions"),  # a status HTTPStatus does not know
    ],
)
@pytest.mark.parametrize("colours", [False, True])
def test_each_line_is_the_line_uvicorns_access_log_wrote(
    path: str, query: bytes, status: int, logged_path: str, colours: bool
) -> None:
    stream = Writes(tty=colours)
    log = AccessLog(stream, known_paths=["/api/v9/me", "/api/sessions"])
    log.record(scope(path, query), status)
    assert written(log, stream) == uvicorns_line(scope(path), status, logged_path, colours)


@pytest.mark.parametrize(
    ("path", "query", "shown"),
    [
        ("/api/me/password_reset/confirm/s3cr3t-c0de_value", b"x=1", "confirm/***?x=1"),
        ("/api/me/password_reset/confirm/s3cr3t-c0de_value", b"", "confirm/*** HTTP"),
        ("/reset/s3cr3t-c0de_value", b"", "/reset/*** HTTP"),
        ("/reset/s3cr3t-c0de_value", b"utm=1", "/reset/***?utm=1"),
        # the codes of email-change links, in the API's paths and in the links themselves
        ("/api/me/email_change/confirm/s3cr3t-c0de_value", b"", "change/confirm/*** HTTP"),
        ("/api/me/email_change/undo/s3cr3t-c0de_value", b"", "change/undo/*** HTTP"),
        ("/email/confirm/s3cr3t-c0de_value", b"", "/email/confirm/*** HTTP"),
        ("/email/undo/s3cr3t-c0de_value", b"utm=1", "/email/undo/***?utm=1"),
    ],
)
def test_reset_codes_never_reach_the_log(path: str, query: bytes, shown: str) -> None:
    stream = Writes()
    log = AccessLog(stream, known_paths=["/api/me/password_reset/confirm/{code}"])
    log.record(scope(path, query, "POST"), 400)
    line = written(log, stream)
    assert "s3cr3t" not in line
    assert shown in line


def test_other_paths_are_logged_as_they_are() -> None:
    stream = Writes()
    log = AccessLog(stream)
    log.record(scope("/api/v9/me/reset_token"), 200)
    assert '"GET /api/v9/me/reset_token HTTP/1.1" 200 OK' in written(log, stream)


async def test_the_lines_of_a_batch_go_out_in_one_write_flush_delay_after_the_first() -> None:
    stream = Writes()
    log = AccessLog(stream)
    for _ in range(BATCH_LINES - 1):
        log.record(scope(), 200)
    await asyncio.sleep(0)
    assert stream.writes == []  # not at the end of the loop's turn: a write a turn costs...
    await asyncio.sleep(FLUSH_DELAY * 1.5)
    assert len(stream.writes) == 1  # ...but once the delay is over, in one write
    assert stream.getvalue().count("\n") == BATCH_LINES - 1
    log.record(scope(), 200)
    await asyncio.sleep(FLUSH_DELAY * 1.5)
    assert len(stream.writes) == 2


async def test_a_full_batch_is_written_at_once() -> None:
    stream = Writes()
    log = AccessLog(stream)
    for _ in range(BATCH_LINES):
        log.record(scope(), 200)
    assert len(stream.writes) == 1
    assert stream.getvalue().count("\n") == BATCH_LINES


def test_a_batch_is_cut_at_line_ends_into_writes_a_pipe_keeps_whole() -> None:
    """Workers share stdout: a write of at most PIPE_BUF bytes to a pipe is never
    interleaved with another process's, so no worker's line cuts into another's."""
    stream = Writes()
    log = AccessLog(stream)
    for i in range(500):
        log.record(scope(query=f"n={i}".encode()), 200)
    log.flush()
    assert len(stream.writes) > 1
    for chunk in stream.writes:
        assert len(chunk.encode()) <= PIPE_BUF
        assert chunk.endswith("\n")
    assert [line.split("n=")[1].split(" ")[0] for line in stream.getvalue().splitlines()] == [
        str(i) for i in range(500)
    ]


def test_a_line_recorded_out_of_a_loop_is_written_at_once() -> None:
    stream = Writes()
    AccessLog(stream).record(scope(), 200)
    assert stream.getvalue().endswith('"GET /api/v9/me HTTP/1.1" 200 OK\n')


def test_lines_waiting_for_their_turn_are_written_when_the_process_exits() -> None:
    """The loop stops before the turn that would write them: the exit writes them."""
    code = textwrap.dedent(
        """
        import asyncio
        from punchclock.web.logs import AccessLog

        log = AccessLog()
        async def answer_and_stop():
            log.record({"method": "GET", "path": "/api/v9/me", "query_string": b"",
                        "http_version": "1.1", "client": ("127.0.0.1", 1)}, 200)
            asyncio.get_running_loop().stop()
        loop = asyncio.new_event_loop()
        loop.create_task(answer_and_stop())
        loop.run_forever()
        import os
        os.sys.stderr.write("loop stopped\\n")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "loop stopped" in done.stderr
    assert done.stdout == 'INFO:     127.0.0.1:1 - "GET /api/v9/me HTTP/1.1" 200 OK\n'


def test_a_closed_stdout_loses_the_lines_but_never_fails_an_answer() -> None:
    stream = Writes()
    log = AccessLog(stream)
    stream.close()
    log.record(scope(), 200)  # written at once (no loop), into a closed stream


def test_a_path_python_cannot_encode_is_logged_escaped_not_refused() -> None:
    stream = Writes()
    log = AccessLog(stream)
    log.record(scope("/bad\udcff"), 404)
    assert '"GET /bad%5Cudcff HTTP/1.1" 404 Not Found' in written(log, stream)
