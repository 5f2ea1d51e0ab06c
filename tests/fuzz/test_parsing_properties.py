"""Hypothesis: no Authorization header, Cookie header or JSON body breaks the API or changes
anything it should not.

Each test runs one app, on one event loop, for all of its examples, which must leave it as
they found it; after each example the test checks that they did: the known user's /me is
the same, their API token, password and session cookie all still work, their sessions are
the same, and no account appeared but those an example signed up. An answer of 200 must be
the right one (a profile change shows in /me; a log-in is only ever for an account an
example made). The @given function is defined inside the test, so it shares the app
without a pytest fixture being shared between examples.

PUNCHCLOCK_FUZZ_EXAMPLES sets the examples per test (default 300); runs are deterministic.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchclock.config import Settings
from punchclock.passwords import normalize
from punchclock.web.app import create_app
from punchclock.web.auth import COOKIE
from tests.fuzz.mail import RecordingMailer
from tests.support import FORBIDDEN, PASSWORD, basic, cookie_header, session_from, token_auth

T = TypeVar("T")
EXAMPLES = int(os.environ.get("PUNCHCLOCK_FUZZ_EXAMPLES", "300"))
PROPERTY = hypothesis.settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None
)
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Known:
    """The user every example must leave as it found them."""

    email: str
    password: str
    token: str
    session: str  # the session JWT
    me: dict[str, Any]
    session_ids: frozenset[str]


class Harness:
    """One app on one event loop, the known user, and the checks that nothing changed."""

    def __init__(self, runner: asyncio.Runner, client: httpx.AsyncClient, database: str) -> None:
        self._runner = runner
        self._database = database
        self.client = client
        self.known = self.run(self._sign_up())
        self.accounts = self._count_accounts()
        self.signed_up: dict[str, str] = {}  # by examples: email (lowercased) to password

    def run(self, step: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(step)

    async def send(
        self, method: str, path: str, headers: dict[str, bytes], body: bytes = b""
    ) -> httpx.Response:
        """Send a request; assert the answer is not a server error and errors are JSON strings."""
        raw = [(name.encode(), value) for name, value in headers.items()]
        response = await self.client.request(method, path, headers=raw, content=body)
        assert response.status_code < 500, f"{method} {path} {headers!r} got {response.status_code}"
        if response.status_code >= 400:
            assert response.headers["content-type"] == JSON
            assert isinstance(response.json(), str)
        return response

    async def assert_unchanged(self) -> None:
        """Assert the known user is as they were, their credentials work, no account appeared."""
        known = self.known
        me = await self.client.get("/api/v9/me", headers=token_auth(known.token))
        assert (me.status_code, me.json()) == (200, known.me)
        by_password = await self.client.get(
            "/api/v9/me/logged", headers=basic(known.email, known.password)
        )
        assert by_password.status_code == 200
        by_cookie = await self.client.get("/api/v9/me/logged", headers=cookie_header(known.session))
        assert by_cookie.status_code == 200
        assert await self._session_ids(known) == known.session_ids
        assert self._count_accounts() == self.accounts
        flags = await self.client.get("/api/v9/me/flags", headers=token_auth(known.token))
        assert (flags.status_code, flags.json()) == (200, {})
        web = await self.client.get("/api/v9/me/preferences/web", headers=token_auth(known.token))
        assert web.status_code == 200
        assert (web.json()["date_format"], web.json().get("TimerView")) == ("MM/DD/YYYY", None)

    async def accept_profile_change(self, answer: httpx.Response) -> None:
        """Take a 200 from PUT /api/v9/me as the known user's new state, if it is correct."""
        me = await self.client.get("/api/v9/me", headers=token_auth(self.known.token))
        updated = answer.json()
        assert updated.pop("toggl_accounts_updated_at") == updated["updated_at"]
        assert updated == me.json()
        self.known = replace(self.known, me=me.json(), email=me.json()["email"])

    def accept_sign_up(self, answer: httpx.Response, body: dict[str, Any]) -> None:
        assert answer.json()["email"] == body["email"]
        self.accounts += 1
        self.signed_up[body["email"].lower()] = body["password"]

    def accept_log_in(self, answer: httpx.Response, body: dict[str, Any]) -> None:
        """Take a 200 from POST /api/sessions if an example signed that user up before."""
        email, password = body["email"].lower(), body["password"]
        assert email in self.signed_up, f"logged in as {email}, who never signed up"
        assert normalize(password) == normalize(self.signed_up[email])
        assert answer.json()["email"].lower() == email

    async def _sign_up(self) -> Known:
        email = "ann@example.com"
        response = await self.client.post(
            "/api/signup", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        me = response.json()
        known = Known(email, PASSWORD, me["api_token"], session_from(response), me, frozenset())
        return replace(known, session_ids=await self._session_ids(known))

    async def _session_ids(self, known: Known) -> frozenset[str]:
        response = await self.client.get("/api/sessions", headers=token_auth(known.token))
        assert response.status_code == 200, response.text
        return frozenset(session["id"] for session in response.json())

    def _count_accounts(self) -> int:
        with contextlib.closing(sqlite3.connect(self._database)) as db:
            (count,) = db.execute("SELECT count(*) FROM accounts").fetchone()
        return int(count)


@contextlib.contextmanager
def started(settings: Settings) -> Iterator[Harness]:
    """Run the app in process, on an event loop of its own, with the known user signed up."""
    app = create_app(settings, mailer=RecordingMailer())
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4321))
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    with asyncio.Runner() as runner:
        running = app.running()
        runner.run(running.__aenter__())
        try:
            yield Harness(runner, client, str(settings.database_path))
        finally:
            runner.run(client.aclose())
            runner.run(running.__aexit__(None, None, None))


# -- what the examples send ---------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # may name {session_id}: one of the known user's sessions
    body: bytes = b""

    @property
    def changes_state(self) -> bool:
        return self.method != "GET"

    def url(self, known: Known) -> str:
        return self.path.format(session_id=min(known.session_ids))


AUTHENTICATED = [
    Route("GET", "/api/v9/me"),
    Route("GET", "/api/v9/me?with_related_data=true"),
    Route("GET", "/api/v9/me/logged"),
    Route("GET", "/api/sessions"),
    Route("PUT", "/api/v9/me", b'{"fullname": "Mallory"}'),
    Route("POST", "/api/v9/me/reset_token"),
    Route("POST", "/api/me/close_account/track"),
    Route("DELETE", "/api/sessions"),
    Route("DELETE", "/api/sessions?others=true"),
    Route("DELETE", "/api/sessions/{session_id}"),
    # what Toggl clients call after /me (issue 13): the same credentials, the same answers
    Route("GET", "/api/v9/me/workspaces"),
    Route("GET", "/api/v9/workspaces"),
    Route("GET", "/api/v9/me/organizations"),
    Route("GET", "/api/v9/me/features"),
    Route("GET", "/api/v9/me/preferences"),
    Route("GET", "/api/v9/me/preferences/desktop"),
    Route("GET", "/api/v9/me/location"),
    Route("GET", "/api/v9/me/flags"),
    Route("POST", "/api/v9/me/preferences", b'{"date_format": "DD.MM.YYYY"}'),
    Route("POST", "/api/v9/me/preferences/web", b'{"TimerView": "calendar"}'),
    Route("POST", "/api/v9/me/flags", b'{"mallory": true}'),
    Route("POST", "/api/v9/me/accept_tos"),
]


def header_bytes(value: bytes) -> bytes:
    """Leave out what no HTTP server hands an app in a header value: CR, LF and NUL."""
    return value.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")


def b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


garbage = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
)


def authorization(known: Known) -> st.SearchStrategy[tuple[bytes, bool | None]]:
    """Authorization headers, each with whether it must (True), must not (False) or may
    (None) authenticate the known user."""
    scheme = st.sampled_from([b"Basic", b"basic", b"BASIC", b"bAsIc"])
    near_misses = st.sampled_from(
        [
            f"{known.token[:-1]}:api_token",
            f"{known.token}0:api_token",
            f"{known.token.upper()}:api_token",
            f"api_token:{known.token}",
            f"{known.token}:api_token:",
            f"{known.token}:API_TOKEN",
            f"{known.email}:{known.password}x",
            f"{known.email}:{known.password[:-1]}",
            f"{known.email}:{known.password.upper()}",
            f"{known.email}:api_token",
            f"{known.email}:",
            f":{known.password}",
            f"{known.email}{known.password}",
        ]
    ).map(str.encode)
    refused = st.one_of(
        garbage,
        st.binary(max_size=200).map(lambda raw: b"Basic " + b64(raw)),
        st.tuples(st.text(max_size=80), st.text(max_size=80)).map(
            lambda pair: b"Basic " + b64(f"{pair[0]}:{pair[1]}".encode())
        ),
        st.tuples(scheme, st.sampled_from([b" ", b"  ", b"\t"]), near_misses).map(
            lambda parts: parts[0] + parts[1] + b64(parts[2])
        ),
        st.tuples(scheme, garbage).map(lambda parts: parts[0] + b" " + parts[1]),
        st.sampled_from(
            [b"Basic", b"Basic ", b"Bearer " + known.token.encode(), b"Basic " + b"A" * 5000]
        ),
    ).map(lambda header: (header_bytes(header), False))
    own = st.sampled_from([f"{known.token}:api_token", f"{known.email}:{known.password}"]).map(
        str.encode
    )
    accepted = st.tuples(
        scheme, st.sampled_from([b" ", b"  "]), own, st.sampled_from([b"", b" "])
    ).map(lambda parts: (parts[0] + parts[1] + b64(parts[2]) + parts[3], True))
    return st.one_of(refused, accepted)


def flip_one(text: str, at: int) -> str:
    """Change one character, keeping the text base64url."""
    position = at % len(text)
    swapped = "A" if text[position] != "A" else "B"
    return text[:position] + swapped + text[position + 1 :]


def jwt_shaped(known: Known) -> st.SearchStrategy[str]:
    """Tokens shaped like a session JWT, none of them signed by the server."""
    header = st.fixed_dictionaries(
        {"alg": st.sampled_from(["EdDSA", "none", "HS256", "RS256", "ES256", ""])},
        optional={"kid": st.text(max_size=40), "typ": st.text(max_size=5)},
    )
    claims = st.fixed_dictionaries(
        {},
        optional={
            "sub": st.sampled_from([known.me["toggl_accounts_id"], ""]) | st.text(max_size=30),
            "jti": st.text(max_size=40),
            "aud": st.sampled_from([["track"], "track", []]),
            "exp": st.integers(),
            "iat": st.integers(),
            "nbf": st.integers(),
            "iss": st.sampled_from(["http://testserver", ""]),
        },
    )
    signed_part = known.session.rpartition(".")[0]
    return st.one_of(
        st.tuples(header, claims, st.binary(max_size=80)).map(
            lambda parts: ".".join(
                [
                    b64url(json.dumps(parts[0]).encode()),
                    b64url(json.dumps(parts[1]).encode()),
                    b64url(parts[2]),
                ]
            )
        ),
        st.binary(max_size=64).map(lambda signature: f"{signed_part}.{b64url(signature)}"),
        st.integers(min_value=0).map(
            lambda at: flip_one(signed_part, at) + known.session[len(signed_part) :]
        ),
        st.integers(min_value=4, max_value=80).map(lambda cut: known.session[:-cut]),
        st.lists(st.text(max_size=20), max_size=5).map(".".join),
    )


def cookies(known: Known) -> st.SearchStrategy[tuple[bytes, bool | None]]:
    """Cookie headers, each with whether it must, must not or may authenticate the known user."""
    others = st.sampled_from(["", "theme=dark; ", "a=b;", f"{COOKIE}=; "])
    refused = st.one_of(
        garbage,
        garbage.map(lambda value: COOKIE.encode() + b"=" + value),
        st.tuples(others, jwt_shaped(known)).map(
            lambda parts: f"{parts[0]}{COOKIE}={parts[1]}".encode()
        ),
        st.sampled_from(
            [f"{COOKIE}=", COOKIE, f"{COOKIE.lower()}={known.session}", f"{COOKIE}=x" * 500]
        ).map(str.encode),
    ).map(lambda header: (header_bytes(header), False))
    accepted = st.just((f"{COOKIE}={known.session}".encode(), True))
    variants = st.tuples(others, st.sampled_from(["", " ", '"'])).map(
        lambda parts: (f"{parts[0]}{COOKIE}={parts[1]}{known.session}{parts[1]}".encode(), None)
    )
    return st.one_of(refused, accepted, variants)


def check_authentication(
    harness: Harness, route: Route, name: str, header: bytes, authenticates: bool | None
) -> None:
    async def exchange() -> None:
        url = route.url(harness.known)
        response = await harness.send(route.method, url, {name: header}, route.body)
        if authenticates is False or (authenticates is None and response.status_code != 200):
            assert (response.status_code, response.json()) == (403, FORBIDDEN), header
        else:
            assert response.status_code == 200, (header, response.text)
            if route.path == "/api/v9/me":
                assert response.json() == harness.known.me
        await harness.assert_unchanged()

    harness.run(exchange())


@pytest.mark.parametrize(
    ("name", "values"), [("authorization", authorization), ("cookie", cookies)]
)
def test_no_credential_header_breaks_or_changes_anything(
    settings: Settings,
    name: str,
    values: Callable[[Known], st.SearchStrategy[tuple[bytes, bool | None]]],
) -> None:
    with started(settings) as harness:
        reading = [route for route in AUTHENTICATED if not route.changes_state]
        changing = [route for route in AUTHENTICATED if route.changes_state]
        header = values(harness.known)
        refused = header.filter(lambda pair: pair[1] is False)

        @PROPERTY
        @given(
            st.one_of(
                st.tuples(st.sampled_from(reading), header),
                st.tuples(st.sampled_from(changing), refused),
            )
        )
        def sent(example: tuple[Route, tuple[bytes, bool | None]]) -> None:
            route, (value, authenticates) = example
            check_authentication(harness, route, name, value, authenticates)

        sent()


# -- JSON bodies --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def field_values(known: Known) -> st.SearchStrategy[Any]:
    """Values for any field: anything JSON holds, and some a form would send."""
    plausible = st.sampled_from(
        [
            "",
            " ",
            "track",
            "UTC",
            "Mars/Olympus",
            known.email,
            known.email.upper(),
            "a" * 300,
            "\u0000",
            "\ufb03" * 3,  # three characters, nine after NFKC
            0,
            -1,
            2**63,
            2**64,
            1.0,
            known.me["default_workspace_id"],
            True,
            None,
            [],
            {},
        ]
    )
    return st.one_of(plausible, st.text(max_size=60), json_values)


def typed_values(known: Known, field: str) -> st.SearchStrategy[Any]:
    """Values of the field's own type, valid or not, so examples reach past the parsing."""
    emails = st.emails() | st.sampled_from(["new@example.com", "NEW@example.com", known.email])
    names = st.text(max_size=300) | st.none()
    integers = st.integers(min_value=-2, max_value=1001) | st.integers() | st.none()
    typed: dict[str, st.SearchStrategy[Any]] = {
        "email": emails,
        "password": st.text(max_size=140) | st.sampled_from(["long enough password", "short"]),
        "current_password": st.text(max_size=40) | st.none(),
        "display_name": names,
        "fullname": names,
        "tos_accepted_for": st.sampled_from(["track", "Track", "reports", None]),
        "remember_me": st.booleans(),
        "timezone": st.sampled_from(
            ["UTC", "Europe/London", "America/New_York", "Mars/Olympus", None]
        )
        | st.text(max_size=40),
        "beginning_of_week": integers,
        "country_id": integers,
        "default_workspace_id": integers
        | st.sampled_from([known.me["default_workspace_id"], known.me["default_workspace_id"] + 1]),
    }
    return typed[field]


@dataclass(frozen=True)
class BodyRoute:
    method: str
    path: str
    fields: tuple[str, ...]
    required: tuple[str, ...] = ()
    as_user: bool = False  # sent with the known user's API token


BODY_ROUTES = [
    BodyRoute(
        "POST",
        "/api/signup",
        ("email", "password", "display_name", "tos_accepted_for", "remember_me", "timezone"),
        required=("email", "password"),
    ),
    BodyRoute("POST", "/api/sessions", ("email", "password", "remember_me"), ("email", "password")),
    BodyRoute("POST", "/api/me/password_reset/request", ("email",), ("email",)),
    BodyRoute("POST", "/api/me/password_reset/confirm/{code}", ("password",), ("password",)),
    BodyRoute(
        "PUT",
        "/api/v9/me",
        (
            "fullname",
            "email",
            "timezone",
            "beginning_of_week",
            "country_id",
            "default_workspace_id",
            "password",
            "current_password",
        ),
        as_user=True,
    ),
]


too_large = b"{" + b" " * (64 * 1024) + b"}"  # 64 KiB of JSON is the most a body may be


def bodies(known: Known, route: BodyRoute) -> st.SearchStrategy[bytes]:
    """Bodies for a route: JSON of any shape, objects with its fields, and raw bytes."""
    values = field_values(known)
    anything = st.fixed_dictionaries(
        {}, optional={name: values for name in route.fields}
    ) | st.dictionaries(st.sampled_from(route.fields) | st.text(max_size=10), values, max_size=6)
    well_typed = st.fixed_dictionaries(
        {name: typed_values(known, name) for name in route.required},
        optional={
            name: typed_values(known, name) for name in route.fields if name not in route.required
        },
    )
    objects = anything | well_typed
    return st.one_of(
        # non-ASCII as \u escapes, or as UTF-8 (lone surrogates as the bytes of no character)
        st.tuples(st.one_of(objects, json_values), st.booleans()).map(
            lambda drawn: json.dumps(drawn[0], ensure_ascii=drawn[1]).encode(
                "utf-8", "surrogatepass"
            )
        ),
        st.binary(max_size=300),
        st.sampled_from([b"", b"null", b"{}", b'{"email": ', b"\xef\xbb\xbf{}", too_large]),
    )


def check_body(harness: Harness, route: BodyRoute, code: str, raw: bytes) -> None:
    async def exchange() -> None:
        known = harness.known
        path = route.path.format(code=quote(code, safe=""))
        headers = {"content-type": b"application/json"}
        if route.as_user:
            headers["authorization"] = token_auth(known.token)["Authorization"].encode()
        response = await harness.send(route.method, path, headers, raw)
        if response.status_code == 200:
            value = json.loads(raw)  # only a JSON object is ever accepted
            assert isinstance(value, dict)
            if route.path == "/api/signup":
                harness.accept_sign_up(response, value)
            elif route.path == "/api/v9/me":
                await harness.accept_profile_change(response)
            elif route.path == "/api/sessions":
                harness.accept_log_in(response, value)
            elif route.path == "/api/me/password_reset/request":
                assert response.json() == "OK"
            else:  # no example holds a real reset code
                raise AssertionError(f"{route.path} accepted {value!r}: {response.text}")
        await harness.assert_unchanged()

    harness.run(exchange())


def test_no_json_body_breaks_or_changes_anything(settings: Settings) -> None:
    with started(settings) as harness:
        example = st.sampled_from(BODY_ROUTES).flatmap(
            lambda route: st.tuples(
                st.just(route), st.text(max_size=60), bodies(harness.known, route)
            )
        )

        @PROPERTY
        @given(example)
        def sent(drawn: tuple[BodyRoute, str, bytes]) -> None:
            route, code, raw = drawn
            check_body(harness, route, code, raw)

        sent()


def test_no_content_length_header_breaks_or_changes_anything(settings: Settings) -> None:
    # in process nothing checks the header before the app does, as a server's parser would
    declared = st.one_of(
        garbage,
        st.text(st.characters(max_codepoint=255), max_size=12).map(
            lambda text: text.encode("latin-1")
        ),
        # numerals in latin-1, which is how the app reads header bytes: 0-9, and ¹ ² ³ ¼ ½ ¾
        st.text(st.characters(max_codepoint=255, categories=["Nd", "No"]), min_size=1).map(
            lambda text: text.encode("latin-1")
        ),
        st.integers().map(lambda number: str(number).encode()),
    ).map(header_bytes)
    with started(settings) as harness:
        body = json.dumps({"email": harness.known.email, "password": "not the password"}).encode()

        @PROPERTY
        @given(declared)
        def sent(value: bytes) -> None:
            async def exchange() -> None:
                headers = {"content-length": value, "content-type": b"application/json"}
                response = await harness.send("POST", "/api/sessions", headers, body)
                assert response.status_code in (403, 413), response.text
                await harness.assert_unchanged()

            harness.run(exchange())

        sent()
