"""The access log (uvicorn's line, or one JSON object a line), request ids, JSON app logs.

uvicorn's own access log goes through `logging` (a LogRecord, a filter, a formatter, a
locked handler and a write with flush, per request): about 40 us of a /me request that
otherwise takes 50. This writer makes the same line from the scope with one f-string
(PUNCHCLOCK_LOG_FORMAT=json: one msgspec Struct, encoded) and writes the lines in batches:
FLUSH_DELAY after the first line of a batch, or at once when BATCH_LINES are waiting. A
write to a pipe costs several microseconds, so one a request (a quiet server answers one
request a loop turn) was most of the log's cost. `flush()` runs at shutdown and at exit,
so no line is lost when the server stops.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import http
import itertools
import logging
import os
import re
import sys
import time
import weakref
from collections.abc import Callable, Iterable, MutableMapping
from typing import IO, Any
from urllib.parse import quote

import msgspec

from punchclock.web.scope import ACCOUNT_ID, CREDENTIAL, REQUEST_ID, ROUTE

# the API's confirm paths, and the links in the emails (served by PUNCHCLOCK_PUBLIC_URL):
# reset codes, and the codes that confirm or undo a change of address
_RESET_CODE = re.compile(
    r"(/password_reset/confirm/|^/reset/|/email_change/(?:confirm|undo)/|^/email/(?:confirm|undo)/)"
    r"[^/?\s]+"
)
PIPE_BUF = 4096  # bytes: a write this size to a pipe is never interleaved with another's
FLUSH_DELAY = 0.1  # seconds a line may wait for the lines written with it
BATCH_LINES = 40  # lines that are written at once, without waiting (about PIPE_BUF bytes)
MAX_REQUEST_ID = 128  # characters of a proxy's X-Request-Id that are believed
# RFC 9110 token characters only: the id goes into log lines and headers as it is
_SANE_REQUEST_ID = re.compile(b"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")  # MAX_REQUEST_ID
# the request being answered, for the application's log lines (JSON format)
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "punchclock_request_id", default=""
)


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


class RequestIds:
    """Give each request its X-Request-Id: a trusted proxy's, when it is sane, else a new one.

    A client's own X-Request-Id is never believed (it could forge another request's id in
    the logs and the audit trail); a proxy in PUNCHCLOCK_TRUSTED_PROXIES passes on the id
    it gave the request, so one id follows it through both logs. A new id is a random
    prefix drawn once a process and a counter: unique across workers and restarts, and
    cheaper than a draw from the OS each request (0.1 us against 0.5).
    """

    def __init__(self, trusted_peer: Callable[[MutableMapping[str, Any]], bool] | None) -> None:
        self._trusted_peer = trusted_peer  # None: no proxy is trusted
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)

    def __call__(self, scope: MutableMapping[str, Any]) -> str:
        if self._trusted_peer is not None:
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    if _SANE_REQUEST_ID.fullmatch(value) and self._trusted_peer(scope):
                        given: str = value.decode("ascii")
                        return given
                    break
        return f"{self._prefix}{next(self._counter):x}"


class _Batches:
    """Lines waiting to go out in one write, FLUSH_DELAY after the first at the latest."""

    timed = False  # whether `record` wants the time an answer took

    def __init__(self, stream: IO[str] | None) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._flush_scheduled = False
        _open_logs.add(self)

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stdout  # sys.stdout as it is at the time (tests swap it)

    def _add(self, line: str) -> None:
        lines = self._lines
        lines.append(line)
        if len(lines) >= BATCH_LINES:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_later(FLUSH_DELAY, self.flush)
            except RuntimeError:  # no loop (a test calling the app by hand): write now
                self.flush()

    def flush(self) -> None:
        """Write every line recorded so far, in writes of at most PIPE_BUF bytes each, so
        that the lines of several workers sharing a pipe never cut into each other."""
        self._flush_scheduled = False  # a timer still pending finds nothing, or a new batch
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


class AccessLog(_Batches):
    """Write `INFO:     127.0.0.1:50000 - "GET /api/v9/me HTTP/1.1" 200 OK`, as uvicorn's
    access log did, for every answer, followed by ` request_id=<its X-Request-Id>`."""

    def __init__(self, stream: IO[str] | None = None, known_paths: Iterable[str] = ()) -> None:
        super().__init__(stream)
        colours = self.stream.isatty()
        self._prefix = f"{_ansi('INFO', '32')}:     " if colours else "INFO:     "
        self._colours = colours
        self._statuses = {s.value: _status_text(s.value, colours) for s in http.HTTPStatus}
        # the routes' own paths need no quoting and hold no code: looked up, not worked out
        self._paths = {path: path for path in known_paths if quote(path) == path == redact(path)}

    def record(self, scope: MutableMapping[str, Any], status: int, seconds: float = 0.0) -> None:
        """Add the line for an answer with `status` to the batch (`seconds`: unused)."""
        try:  # the usual answer, made in as few steps as Python allows (1 us a line)
            if self._colours or scope["query_string"]:
                raise KeyError
            path = self._paths[scope["path"]]
            host, port = scope["client"]
            line = (
                f'INFO:     {host}:{port} - "{scope["method"]} {path} '
                f'HTTP/{scope["http_version"]}" {self._statuses[status]} '
                f"request_id={scope[REQUEST_ID]}\n"
            )
        except (KeyError, TypeError, ValueError):
            line = self._line(scope, status)
        self._add(line)

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
        address = f"{client[0]}:{client[1]}" if client else ""
        request_id = scope.get(REQUEST_ID)
        end = f" request_id={request_id}\n" if request_id else "\n"
        return f'{self._prefix}{address} - "{request}" {shown}{end}'


class AccessEntry(msgspec.Struct):
    """One answer, as a line of the JSON access log: never a path, query or credential."""

    time: str  # 2026-12-02T04:02:48.123Z
    level: str
    logger: str
    request_id: str
    method: str
    route: str | None  # the template (/api/me/password_reset/confirm/{code}); None: 404
    status: int
    duration_ms: float  # from the request's arrival to its answer, sending not included
    auth: str  # the credential presented: token, password, session, none, other
    account_id: int | None  # the account it authenticated; None: none did
    client: str  # the client's address (X-Forwarded-For of a trusted proxy, else the peer)


class JsonAccessLog(_Batches):
    """Write one JSON object a line for every answer (PUNCHCLOCK_LOG_FORMAT=json).

    The route's template stands for the path, so no reset or email-change code, and no
    path or query a client chose, ever reaches the log (ASVS 4.0.3 V7.1.1)."""

    timed = True

    def __init__(
        self,
        client_address: Callable[[MutableMapping[str, Any]], str],
        stream: IO[str] | None = None,
    ) -> None:
        super().__init__(stream)
        self._client_address = client_address
        self._encode = msgspec.json.Encoder().encode

    def record(self, scope: MutableMapping[str, Any], status: int, seconds: float = 0.0) -> None:
        """Add the line for an answer with `status`, made in `seconds`, to the batch."""
        entry = AccessEntry(
            time=timestamp(time.time()),
            level="INFO",
            logger="punchclock.access",
            request_id=scope.get(REQUEST_ID, ""),
            method=scope["method"] if scope["method"] in _METHODS else "other",
            route=scope.get(ROUTE),
            status=status,
            duration_ms=int(seconds * 1_000_000) / 1000,  # to the microsecond, as 0.061
            auth=scope.get(CREDENTIAL, "none"),
            account_id=scope.get(ACCOUNT_ID),
            client=self._client_address(scope),
        )
        self._add(self._encode(entry).decode() + "\n")


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_second: tuple[int, str] = (0, "1970-01-01T00:00:00")
_millisecond: tuple[int, str] = (0, "1970-01-01T00:00:00.000Z")


def timestamp(now: float) -> str:
    """Return `now` (seconds since the epoch) as 2026-12-02T04:02:48.123Z, in UTC; each
    millisecond's text is made once, and each second's date and time (strftime: 2 us)."""
    global _second, _millisecond
    milliseconds = int(now * 1000)
    if _millisecond[0] != milliseconds:
        second, millisecond = divmod(milliseconds, 1000)
        if _second[0] != second:
            _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _millisecond = (milliseconds, f"{_second[1]}.{millisecond:03d}Z")
    return _millisecond[1]


class JsonFormatter(logging.Formatter):
    """Format the application's log records as JSON objects, one a line, with the id of
    the request being answered when there is one (PUNCHCLOCK_LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return msgspec.json.encode(entry).decode()


_open_logs: weakref.WeakSet[_Batches] = weakref.WeakSet()


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
