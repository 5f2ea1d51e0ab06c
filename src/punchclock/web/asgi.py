"""The ASGI application: find the handler, call it, turn any error into its answer.

Starlette's Request and Response do the HTTP work; its application, router and two
middlewares are replaced by this one dispatcher because they cost more than the rest of
a /me request put together (see ./scripts/bench and the closing note of the hot-path
issue). Errors are mapped in one place, web/errors.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from punchclock.web.errors import JsonAnswer, forbidden, response_for
from punchclock.web.logs import AccessLog, JsonAccessLog, RequestIds, current_request_id
from punchclock.web.scope import REQUEST_ID, ROUTE

if TYPE_CHECKING:
    from punchclock.web.metered import AnswerMeter

Handler = Callable[[Request], Awaitable[Response]]

# On every answer (OWASP Secure Headers; ASVS 4.0.3 V14.4). Answers carry credentials or
# personal data, so none may be stored by a cache unless its handler says otherwise.
NO_STORE = (b"cache-control", b"no-store")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # reset codes travel in URLs
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
)
# granian names itself in a Server header unless the app sends one: the product, never a
# version (ASVS 4.0.3 V14.3.3)
SERVER = (b"server", b"punchclock")
# answers whose whole body is in `body` (no stream, no file): sent without Response.__call__
_BODY_IN_HAND = frozenset({Response, JsonAnswer, type(forbidden())})
_PARAMETER = re.compile(r"\{(\w+)\}")


def _compile(template: str) -> re.Pattern[str]:
    """Turn /a/{name}/b into a pattern with one named group per {parameter}."""
    parts = _PARAMETER.split(template)  # literal, name, literal, name, ..., literal
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def _without_body(send: Send) -> Send:
    """Send the headers of an answer, Content-Length included, but none of its body."""

    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


class Route:
    """One method and path, e.g. POST /api/me/password_reset/confirm/{code}."""

    def __init__(self, method: str, path: str, handler: Handler) -> None:
        self.method = method
        self.path = path
        self.handler = handler


async def _nothing() -> None:
    pass


# A stop waits this long for the answers in progress before it closes what they use (the
# hash workers, the store): granian starts the app's shutdown as soon as it stops
# accepting, while uvicorn waited for them itself.
GRACE = 30.0  # seconds


class App:
    """Serve routes; run the lifecycle hooks: on startup, on shutdown, and to drain work."""

    def __init__(
        self,
        routes: list[Route],
        *,
        on_startup: Callable[[], Awaitable[None]] = _nothing,
        on_shutdown: Callable[[], Awaitable[None]] = _nothing,
        drain: Callable[[], Awaitable[None]] = _nothing,
        guard: Callable[[Request], None] | None = None,
        access_log: AccessLog | JsonAccessLog | None = None,
        meter: AnswerMeter | None = None,
        request_ids: RequestIds | None = None,
    ) -> None:
        self.routes = routes
        # run before every handler: refuses what must not be handled (web/auth.py CrossSiteGuard)
        self._guard = guard or (lambda request: None)
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._drain = drain
        self._access_log = access_log
        self._meter = meter  # Prometheus series (PUNCHCLOCK_METRICS_ADDR); None: off
        self._timed = meter is not None or (access_log is not None and access_log.timed)
        self._request_ids = request_ids or RequestIds(None)
        self._in_progress = 0  # HTTP requests being answered
        self._all_answered: asyncio.Event | None = None  # set by a stop that waits for them
        self._static: dict[str, dict[str, Handler]] = {}
        self._templated: list[tuple[re.Pattern[str], str, dict[str, Handler]]] = []
        for route in routes:
            if _PARAMETER.search(route.path):
                pattern = _compile(route.path)
                methods = next((m for p, _, m in self._templated if p == pattern), None)
                if methods is None:
                    methods = {}
                    self._templated.append((pattern, route.path, methods))
                methods[route.method] = route.handler
            else:
                self._static.setdefault(route.path, {})[route.method] = route.handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._in_progress += 1  # a stop waits for the answers in progress (GRACE)
            try:
                started = time.perf_counter() if self._timed else 0.0
                scope[REQUEST_ID] = request_id = self._request_ids(scope)
                # for the application's log lines, and those of the tasks the request starts
                context = current_request_id.set(request_id)
                try:
                    handler = self._handler(scope)
                    request = Request(scope, receive)
                    self._guard(request)
                    response = await handler(request)
                except Exception as e:  # every error, expected or not, gets a JSON answer
                    response = response_for(e)
                headers = response.raw_headers
                for name, _ in headers:
                    if name == b"cache-control":
                        break
                else:
                    headers.append(NO_STORE)
                # the pages bring their own (web/pages: a CSP that lets their style sheet load)
                headers.extend(getattr(response, "security_headers", SECURITY_HEADERS))
                # on every answer the app makes, errors included: a report quoting it finds its
                # lines in the access log and its events in the audit trail
                headers.append((b"x-request-id", request_id.encode()))
                headers.append(SERVER)
                seconds = time.perf_counter() - started if self._timed else 0.0
                if self._meter is not None:
                    self._meter.record(scope, response, seconds)
                if self._access_log is not None:
                    self._access_log.record(scope, response.status_code, seconds)
                head = scope["method"] == "HEAD"
                if type(response) in _BODY_IN_HAND and response.background is None:
                    # what Response.__call__ sends, without its frame (the usual answer)
                    await send(
                        {
                            "type": "http.response.start",
                            "status": response.status_code,
                            "headers": headers,
                        }
                    )
                    await send(
                        {"type": "http.response.body", "body": b"" if head else response.body}
                    )
                else:
                    await response(scope, receive, _without_body(send) if head else send)
                current_request_id.reset(context)  # a caller in the same task (tests) is not in it
            finally:
                self._in_progress -= 1
                if self._all_answered is not None and not self._in_progress:
                    self._all_answered.set()
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    def _handler(self, scope: Scope) -> Handler:
        path: str = scope["path"]
        methods = self._static.get(path)
        if methods is not None:
            scope[ROUTE] = path
        else:
            for pattern, template, candidates in self._templated:
                match = pattern.match(path)
                if match:
                    scope["path_params"] = match.groupdict()
                    scope[ROUTE] = template
                    methods = candidates
                    break
            else:
                raise HTTPException(404)
        method = scope["method"]
        handler = methods.get(method)
        if handler is None and method == "HEAD":
            handler = methods.get("GET")  # answered as GET, without the body (RFC 9110 9.3.2)
        if handler is None:
            allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
        return handler

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._on_startup()
                except Exception as e:  # the server exits, saying why, instead of serving
                    reason = getattr(e, "message", None) or repr(e)
                    await send({"type": "lifespan.startup.failed", "message": reason})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._answered(GRACE)
                await self._on_shutdown()
                if self._access_log is not None:
                    self._access_log.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _answered(self, within: float) -> None:
        """Wait until no request is being answered, or `within` seconds have passed."""
        if self._in_progress:
            self._all_answered = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_answered.wait(), within)

    async def drain(self) -> None:
        """Finish the work started after answers were sent, sending the mail it queued."""
        await self._drain()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[App]:
        """Use the app in process (tests), started and shut down as a server would."""
        await self._on_startup()
        try:
            yield self
        finally:
            await self._on_shutdown()
            if self._access_log is not None:
                self._access_log.flush()
