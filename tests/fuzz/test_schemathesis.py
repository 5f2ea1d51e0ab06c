"""Every operation in the OpenAPI document, fuzzed by Schemathesis against the app in process.

Each operation is its own pytest test, with its own app and data directory. A case of an
operation that needs credentials is sent four times: without credentials, and then with
an API token, with an email and password, and with a session cookie, each time as a user
signed up for that request alone. So the operations that end credentials (closing the
account, resetting the token, logging out, changing the password or email) cannot turn
the cases after them into a run of 403s, and a failing case replays against the same state.

PUNCHCLOCK_FUZZ_EXAMPLES sets the generated cases per operation (default 300); the run is
deterministic either way.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.python import asgi

from punchclock.config import Settings
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from punchclock.web.auth import COOKIE
from tests.contract import load_document
from tests.fuzz.mail import RecordingMailer

EXAMPLES = int(os.environ.get("PUNCHCLOCK_FUZZ_EXAMPLES", "300"))
DOCUMENT = load_document()
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",  # a request the document calls invalid must get a 4xx
    "unsupported_method",  # a method the document does not list must get a 405 ...
    "allow_header_conformance",  # ... whose Allow header lists the documented methods
]
CONFIG = schemathesis.Config.from_dict(
    {
        # Credentials are the fixture's; random ones are tests/fuzz/test_parsing_properties.py's.
        "generation": {"with-security-parameters": False},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    }
)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
LOG_IN_EXAMPLE: dict[str, Any] = DOCUMENT["paths"]["/api/sessions"]["post"]["requestBody"][
    "content"
]["application/json"]["example"]


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str
    token: str
    session: str


def _basic(username: str, password: str) -> dict[str, Any]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"headers": {"Authorization": f"Basic {raw}"}}


def by_token(user: Credentials) -> dict[str, Any]:
    return _basic(user.token, "api_token")


def by_password(user: Credentials) -> dict[str, Any]:
    return _basic(user.email, user.password)


def by_cookie(user: Credentials) -> dict[str, Any]:
    return {"cookies": {COOKIE: user.session}}


SENT_BY = (by_token, by_password, by_cookie)  # each returns call_and_validate's arguments


class Caller:
    """The app under test, and users of its own to call it as."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._users = 0

    def sign_up(self, email: str, password: str) -> Credentials:
        """Sign a user up through the app, on the event loop Schemathesis runs it on."""
        signup = SCHEMA["/api/signup"]["POST"]
        response = signup.Case(body={"email": email, "password": password}).call(app=self.app)
        assert response.status_code == 200, response.text
        session = response.headers["set-cookie"][0].partition(";")[0].partition("=")[2]
        return Credentials(email, password, response.json()["api_token"], session)

    def new_user(self) -> Credentials:
        self._users += 1
        return self.sign_up(f"fuzz-{self._users}@example.com", "fuzz-password-1")

    def call_and_validate(self, case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(app=self.app)
        if DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]["security"]:
            for sent_by in SENT_BY:
                case.call_and_validate(app=self.app, **sent_by(self.new_user()))


@pytest.fixture
def caller(settings: Settings) -> Iterator[Caller]:
    caller = Caller(create_app(settings, mailer=RecordingMailer()))
    # the document's log-in example names a real user, so its example case logs in
    caller.sign_up(LOG_IN_EXAMPLE["email"], LOG_IN_EXAMPLE["password"])
    yield caller
    asgi.shutdown_lifespans()  # end the app on the event loop it ran on (a no-op if done)


# One app per operation on purpose, shared by that operation's cases: Schemathesis ends
# the app's lifespan (its store and hash pool) when each test ends, and every case that
# sends credentials sends a user of its own, so sharing the app leaks nothing between cases.
@SCHEMA.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_no_request_breaks_the_contract(case: schemathesis.Case[Any], caller: Caller) -> None:
    caller.call_and_validate(case)
