"""Prometheus series of the answers: used only when PUNCHCLOCK_METRICS_ADDR is set.

Everything is read from the request and the answer once it is made: the route template
the dispatcher matched, the credential web/auth.py noted (without checking anything
again), and what the status says. Without metrics the App is given no meter,
and costs one `is None` test more a request.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hmac

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from punchclock.errors import Overloaded, StoreUnavailable
from punchclock.metrics import LATENCY_BUCKETS, Metrics, exposition
from punchclock.web.asgi import Route
from punchclock.web.scope import CREDENTIAL, ROUTE

FLUSH_INTERVAL = 1.0  # seconds between hand-overs of the counts to prometheus-client
LATENCY_BOUNDS = (*LATENCY_BUCKETS, float("inf"))  # as the Histogram's upper bounds
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
PATH = "/metrics"  # on the main port, with PUNCHCLOCK_METRICS_TOKEN
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
        PATH,  # its bearer token is no account's credential
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


class AnswerMeter:
    """Record each answer in the worker's Prometheus series; App calls `record`.

    prometheus-client's multiprocess values cost 5 us an increment (a lock and a write to
    a shared file), three times what punchclock spends on a whole /me. So each answer is
    counted in plain dicts, and the sums are handed to prometheus-client once a second
    (FLUSH_INTERVAL) and at shutdown: a scrape lags by at most that second.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        # counted since the last flush; the keys are bounded (fixed lists of labels)
        self._answers: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], list[float]] = {}  # bucket counts..., sum
        self._credentials: dict[tuple[str, str], int] = {}
        self._flush_scheduled = False

    def record(self, scope: Scope, response: Response, seconds: float) -> None:
        """Count an answer that took `seconds` to make (sending it not included)."""
        status = response.status_code
        self._record(scope, status, seconds, bytes(response.body) if status == 503 else b"")

    def _record(self, scope: Scope, status: int, seconds: float, body: bytes) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = scope.get(ROUTE, UNMATCHED)  # the dispatcher's, for the path it matched
        answer = (route, method, status)
        self._answers[answer] = self._answers.get(answer, 0) + 1
        latency = self._latency.get((route, method))
        if latency is None:
            latency = self._latency[(route, method)] = [0.0] * (len(LATENCY_BOUNDS) + 1)
        latency[bisect.bisect_left(LATENCY_BOUNDS, seconds)] += 1
        latency[-1] += seconds
        if not self._flush_scheduled:
            self._flush_scheduled = True
            with contextlib.suppress(RuntimeError):  # no loop (a test calling by hand)
                asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self.flush)
        m = self.metrics  # the rare answers below cost a hash or a refusal: counted at once
        if status == 429:
            m.throttled.labels(route).inc()
        elif status == 503:
            m.unavailable.labels(_UNAVAILABLE.get(body, "other")).inc()
        if route == UNMATCHED or status == 405:  # no handler ran: nothing was authenticated
            return
        kind = _credential_kind(scope, route, method)
        if kind is not None and status != 503:  # None: no credential was needed or read
            result = "refused" if status == 403 else "throttled" if status == 429 else "ok"
            # a log-in refused for its body (400) checked no credential
            if status < 400 or result != "ok" or route != "/api/sessions":
                checked = (kind, result)
                self._credentials[checked] = self._credentials.get(checked, 0) + 1
        event = EVENTS.get((method, route))
        if event is not None and 200 <= status < 300:
            m.account_events.labels(event).inc()

    def flush(self) -> None:
        """Hand what was counted since the last flush to prometheus-client."""
        self._flush_scheduled = False
        m = self.metrics
        answers, self._answers = self._answers, {}
        for (route, method, status), count in answers.items():
            m.requests.labels(route, method, str(status)).inc(count)
        latencies, self._latency = self._latency, {}
        for (route, method), counts in latencies.items():
            child = m.latency.labels(route, method)
            # what Histogram.observe does, for a batch: its sum and one bucket per value
            # (cumulated when collected); tests/system/test_metrics.py checks the counts
            child._sum.inc(counts[-1])
            for bucket, observed in zip(child._buckets, counts[:-1], strict=True):
                if observed:
                    bucket.inc(observed)
        credentials, self._credentials = self._credentials, {}
        for (kind, result), count in credentials.items():
            m.authentications.labels(kind, result).inc(count)


def _credential_kind(scope: Scope, route: str, method: str) -> str | None:
    """Return the credential the request presented (token, password, session, none, other),
    None if it needed none: as web/auth.py noted it, never checked or recorded further."""
    if route == "/api/sessions" and method == "POST":
        return "password"  # a log-in
    if route in _OPEN:
        return None
    return scope.get(CREDENTIAL)


class MetricsEndpoint:
    """GET /metrics on the main port, for who sends PUNCHCLOCK_METRICS_TOKEN as a bearer token.

    The series tell the traffic, the routes and the failure rates: not for the public
    (issue 17: never on the public port without a token). The token is compared in
    constant time (hmac.compare_digest), so the answer's timing tells nothing about it."""

    def __init__(self, meter: AnswerMeter, token: str) -> None:
        self._meter = meter
        self._token = token.encode()

    def routes(self) -> list[Route]:
        return [Route("GET", PATH, self.serve)]

    async def serve(self, request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        given_token = given.strip().encode("latin-1", "replace")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given_token, self._token):
            raise HTTPException(401, "Unauthorized", {"WWW-Authenticate": 'Bearer realm="metrics"'})
        self._meter.flush()  # this worker's counts of the last second too
        body, content_type = await asyncio.to_thread(exposition, self._meter.metrics)
        return Response(body, media_type=content_type)
