"""The ASGI app with Prometheus series: used only when PUNCHCLOCK_METRICS_ADDR is set.

Everything is worked out from the request and the answer after the answer is sent: the
route template, how the caller authenticated (from the request's headers, without
checking anything again), and what the status says. The app without metrics is the plain
App, so the hot path costs nothing more when metrics are off.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any

import msgspec
from starlette.types import Message, Receive, Scope, Send

from punchclock.errors import Overloaded, StoreUnavailable
from punchclock.metrics import Metrics
from punchclock.web.asgi import App, Route
from punchclock.web.auth import COOKIE

_PARAMETER = re.compile(r"\{(\w+)\}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a path no route serves: never the path itself
# routes that need no credentials, or check a password themselves (log-in)
_OPEN = frozenset(
    {
        "/api/signup",
        "/api/me/password_reset/request",
        "/api/me/password_reset/confirm/{code}",
        "/.well-known/jwks.json",
        "/api/openapi.json",
        "/health/live",
        "/health/ready",
    }
)
# successful answers that are account events, by (method, route)
EVENTS = {
    ("POST", "/api/sessions"): "log_in",
    ("POST", "/api/signup"): "sign_up",
    ("POST", "/api/me/password_reset/request"): "reset_requested",
    ("POST", "/api/me/password_reset/confirm/{code}"): "reset_confirmed",
    ("POST", "/api/me/close_account/track"): "account_closed",
}
_UNAVAILABLE = {  # 503 bodies (JSON strings) by what they mean
    msgspec.json.encode(Overloaded.message): "hash_queue_full",
    msgspec.json.encode(StoreUnavailable.message): "store_unavailable",
}


class MeteredApp(App):
    """The App, recording each answer in the worker's Prometheus series."""

    def __init__(self, metrics: Metrics, routes: list[Route], **options: Any) -> None:
        super().__init__(routes, **options)
        self.metrics = metrics
        # labelled children, looked up once per label set (a bounded number: routes,
        # methods and statuses come from fixed lists)
        self._answers: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._credentials: dict[tuple[str, str], Any] = {}
        self._templates: dict[str, str] = {}
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for route in routes:
            if _PARAMETER.search(route.path):
                parts = _PARAMETER.split(route.path)
                regex = "".join(
                    re.escape(p) if i % 2 == 0 else "[^/]+" for i, p in enumerate(parts)
                )
                self._patterns.append((re.compile(f"^{regex}$"), route.path))
            else:
                self._templates[route.path] = route.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        unavailable = b""

        async def watched(message: Message) -> None:
            nonlocal status, unavailable
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status == 503 and message["type"] == "http.response.body":
                unavailable += message.get("body", b"")
            await send(message)

        try:
            await super().__call__(scope, receive, watched)
        finally:
            self._record(scope, status, time.perf_counter() - started, unavailable)

    def _record(self, scope: Scope, status: int, seconds: float, body: bytes) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = self._template(scope["path"])
        m = self.metrics
        answers = self._answers.get((route, method, status))
        if answers is None:
            answers = (
                m.requests.labels(route, method, str(status)),
                m.latency.labels(route, method),
            )
            self._answers[(route, method, status)] = answers
        answers[0].inc()
        answers[1].observe(seconds)
        if status == 429:
            m.throttled.labels(route).inc()
        elif status == 503:
            m.unavailable.labels(_UNAVAILABLE.get(body, "other")).inc()
        if route == UNMATCHED or status == 405:  # no handler ran: nothing was authenticated
            return
        kind = _credential_kind(scope, route, method)
        if kind is not None and status != 503:
            result = "refused" if status == 403 else "throttled" if status == 429 else "ok"
            # a log-in refused for its body (400) checked no credential
            if status < 400 or result != "ok" or route != "/api/sessions":
                counter = self._credentials.get((kind, result))
                if counter is None:
                    counter = self._credentials[(kind, result)] = m.authentications.labels(
                        kind, result
                    )
                counter.inc()
        event = EVENTS.get((method, route))
        if event is not None and 200 <= status < 300:
            m.account_events.labels(event).inc()

    def _template(self, path: str) -> str:
        template = self._templates.get(path)
        if template is not None:
            return template
        for pattern, name in self._patterns:
            if pattern.match(path):
                return name
        return UNMATCHED


def _credential_kind(scope: Scope, route: str, method: str) -> str | None:
    """Return how the request authenticated (token, password, session), None if it did not
    need to: read from its headers only, never checked or recorded further."""
    if route == "/api/sessions" and method == "POST":
        return "password"  # a log-in
    if route in _OPEN:
        return None
    cookie = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return _basic_kind(value)
        if name == b"cookie":
            cookie = value
    if cookie is not None and COOKIE.encode() + b"=" in cookie:
        return "session"
    return "none"


def _basic_kind(header: bytes) -> str:
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return "other"
    try:
        decoded = base64.b64decode(encoded.strip()[:8192], validate=True)
    except (binascii.Error, ValueError):
        return "other"
    username, _, password = decoded.partition(b":")
    return "token" if password == b"api_token" and b"@" not in username else "password"
