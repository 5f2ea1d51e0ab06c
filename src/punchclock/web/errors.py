"""The one table from errors to HTTP answers. Every error body is a JSON string."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import msgspec
from starlette.exceptions import HTTPException
from starlette.responses import Response

from punchclock.errors import (
    CrossSiteRequest,
    CurrentPasswordInvalid,
    CurrentPasswordMissing,
    EmailChangeLinkInvalid,
    EmailChangeNeedsPassword,
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    Overloaded,
    PasswordNeedsSecondFactor,
    PasswordRejected,
    PunchclockError,
    ResetCodeInvalid,
    SecondFactorInvalid,
    SecondFactorRequired,
    SessionNotFound,
    StoreUnavailable,
    Throttled,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotStarted,
)

JSON = "application/json; charset=utf-8"
log = logging.getLogger("punchclock.web")

STATUS: dict[type[PunchclockError], int] = {
    InvalidCredentials: 403,
    InvalidInput: 400,
    EmailTaken: 400,
    PasswordRejected: 400,
    CurrentPasswordMissing: 400,
    CurrentPasswordInvalid: 400,
    ResetCodeInvalid: 400,
    EmailChangeNeedsPassword: 400,
    EmailChangeLinkInvalid: 400,
    Overloaded: 503,
    StoreUnavailable: 503,
    SessionNotFound: 404,
    NotFound: 404,
    CrossSiteRequest: 403,
    Throttled: 429,
    # two-factor (issue 19): Toggl-style string bodies, told only after a right password
    SecondFactorRequired: 403,
    SecondFactorInvalid: 403,
    PasswordNeedsSecondFactor: 403,
    TwoFactorAlreadyEnabled: 400,
    TwoFactorNotStarted: 400,
    TwoFactorNotEnabled: 400,
}

_forbidden_body = msgspec.json.encode(InvalidCredentials.message)
_FORBIDDEN_HEADERS = (
    (b"content-length", str(len(_forbidden_body)).encode()),
    (b"content-type", JSON.encode()),
)


class _Forbidden(Response):
    """Toggl's 403, its body and head made once: Response() works both out again."""

    def __init__(self) -> None:  # Response.__init__ is not called: nothing to work out
        self.status_code = 403
        self.background = None
        self.body = _forbidden_body
        self.raw_headers = [*_FORBIDDEN_HEADERS]  # the dispatcher adds to it: a copy


_JSON_TYPE = (b"content-type", JSON.encode())


class JsonAnswer(Response):
    """An answer with a JSON body already encoded: its head in two lines, where
    Response.__init__ renders, sniffs the media type and copies headers (2 us of /me)."""

    media_type = JSON

    def __init__(self, body: bytes, status: int = 200) -> None:  # Response.__init__ not called
        self.status_code = status
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", str(len(body)).encode()), _JSON_TYPE]


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, "Request body is too large")


class UnsupportedMediaType(HTTPException):
    def __init__(self) -> None:
        super().__init__(415, "Content-Type must be application/json")


def error_response(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(message), status, headers, media_type=JSON)


def forbidden() -> Response:
    """The answer to every failed authentication (Toggl's body, which clients match on)."""
    return _Forbidden()


def response_for(exc: Exception) -> Response:
    """Return the answer to an error raised while handling a request."""
    if type(exc) is InvalidCredentials:
        return forbidden()  # the commonest error: a wrong token, password or cookie
    if isinstance(exc, PunchclockError):
        status = STATUS.get(type(exc))
        if status is None:
            log.error("no HTTP status for %s", type(exc).__name__)
            return error_response("Internal server error", 500)
        headers = None
        if isinstance(exc, Throttled):
            headers = {"Retry-After": str(exc.retry_after)}
        elif status == 503:
            headers = {"Retry-After": "1"}
        return error_response(exc.message, status, headers)
    if isinstance(exc, HTTPException):
        message = exc.detail if exc.status_code != 404 else "Not found"
        return error_response(message, exc.status_code, exc.headers)
    log.exception("unexpected error while handling a request", exc_info=exc)
    return error_response("Internal server error", 500)
