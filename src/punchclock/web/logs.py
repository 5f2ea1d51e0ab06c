"""The access log: uvicorn's line, one per answer, written in batches; reset codes never.

uvicorn's own access log goes through `logging` (a LogRecord, a filter, a formatter, a
locked handler and a write with flush, per request): about 40 us of a /me request that
otherwise takes 50. This writer makes the same line from the scope with one f-string and
writes what a turn of the event loop answered with one write, at the end of that turn.
Nothing waits in memory longer than that turn, and `flush()` runs again at shutdown and
at exit, so no line is lost when the server stops.
"""

from __future__ import annotations

import asyncio
import atexit
import http
import re
import sys
import weakref
from collections.abc import Iterable, MutableMapping
from typing import IO, Any
from urllib.parse import quote

# the API's confirm paths, and the links in the emails (served by PUNCHCLOCK_PUBLIC_URL):
# reset codes, and the codes that confirm or undo a change of address
_RESET_CODE = re.compile(
    r"(/password_reset/confirm/|^/reset/|/email_change/(?:confirm|undo)/|^/email/(?:confirm|undo)/)"
    r"[^/?\s]+"
)
PIPE_BUF = 4096  # bytes: a write this size to a pipe is never interleaved with another's


def redact(path: str) -> str:
    """Replace the code in `/api/me/password_reset/confirm/{code}`, `/reset/{code}`,
    `/api/me/email_change/{confirm,undo}/{code}` and `/email/{confirm,undo}/{code}` with
    `***` (ASVS 4.0.3 V7.1.1: no credentials in logs)."""
    return _RESET_CODE.sub(r"\1***", path)


def _ansi(text: str, code: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m"


_STATUS_COLOURS = {1: "97", 2: "32", 3: "33", 4: "31", 5: "91"}  # by class, as uvicorn


def _status_text(status: int, colours: bool) -> str:
    """Return "200 OK", or "599 " for a status HTTP does not name, coloured on a terminal."""
    try:
        text = f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        text = f"{status} "
    colour = _STATUS_COLOURS.get(status // 100)
    return _ansi(text, colour) if colours and colour else text


class AccessLog:
    """Write `INFO:     127.0.0.1:50000 - "GET /api/v9/me HTTP/1.1" 200 OK`, as uvicorn's
    access log did, for every answer; the lines of one loop turn go out in one write."""

    def __init__(self, stream: IO[str] | None = None, known_paths: Iterable[str] = ()) -> None:
        self._stream = stream
        colours = self.stream.isatty()
        self._prefix = f"{_ansi('INFO', '32')}:     " if colours else "INFO:     "
        self._colours = colours
        self._statuses = {s.value: _status_text(s.value, colours) for s in http.HTTPStatus}
        # the routes' own paths need no quoting and hold no code: looked up, not worked out
        self._paths = {path: path for path in known_paths if quote(path) == path == redact(path)}
        self._lines: list[str] = []
        self._flush_scheduled = False
        _open_logs.add(self)

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stdout  # sys.stdout as it is at the time (tests swap it)

    def record(self, scope: MutableMapping[str, Any], status: int) -> None:
        """Add the line for an answer with `status` to `scope`; it is written this loop turn."""
        try:  # the usual answer, made in as few steps as Python allows (1 us a line)
            if self._colours or scope["query_string"]:
                raise KeyError
            path = self._paths[scope["path"]]
            host, port = scope["client"]
            line = (
                f'INFO:     {host}:{port} - "{scope["method"]} {path} '
                f'HTTP/{scope["http_version"]}" {self._statuses[status]}\n'
            )
        except (KeyError, TypeError, ValueError):
            line = self._line(scope, status)
        self._lines.append(line)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a test calling the app by hand): write now
                self.flush()

    def _line(self, scope: MutableMapping[str, Any], status: int) -> str:
        """Return the line for any answer: a path to quote or redact, a query, colours."""
        client = scope.get("client")
        path = self._paths.get(scope["path"]) or redact(
            quote(scope["path"], errors="backslashreplace")
        )
        query = scope["query_string"]
        if query:
            path = redact(f"{path}?{query.decode('ascii', 'backslashreplace')}")
        request = f"{scope['method']} {path} HTTP/{scope['http_version']}"
        if self._colours:
            request = _ansi(request, "1")
        shown = self._statuses.get(status)
        if shown is None:  # ASGI allows any status from 100 to 599
            shown = _status_text(status, self._colours)
        address = f"{client[0]}:{client[1]:d}" if client else ""
        return f'{self._prefix}{address} - "{request}" {shown}\n'

    def flush(self) -> None:
        """Write every line recorded so far, in writes of at most PIPE_BUF bytes each, so
        that the lines of several workers sharing a pipe never cut into each other."""
        self._flush_scheduled = False
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        stream = self.stream
        try:
            for chunk in _chunks(lines):
                stream.write(chunk)
                stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: nowhere left to write to
            pass


_open_logs: weakref.WeakSet[AccessLog] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """Write what is left when the process ends without a shutdown (or after one)."""
    for log in list(_open_logs):
        log.flush()


def _chunks(lines: list[str]) -> Iterable[str]:
    """Cut `lines` at line ends into strings of at most PIPE_BUF bytes (lines are ASCII:
    the path is quoted, the query's other bytes escaped)."""
    if sum(map(len, lines)) <= PIPE_BUF:
        yield "".join(lines)
        return
    batch: list[str] = []
    size = 0
    for line in lines:
        if batch and size + len(line) > PIPE_BUF:
            yield "".join(batch)
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    if batch:
        yield "".join(batch)
