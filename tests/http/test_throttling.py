"""Limits on failed log-ins, sign-ups and resets: 429 with Retry-After, and nothing done.

Here failed log-ins are limited to 3 a minute per account and 2 per account and address;
every other limit is 2 a minute, except reset requests per address (3 a minute).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.app import create_app
from punchclock.web.asgi import App
from tests.conftest import FixedClock, User, sign_up
from tests.contract import check_answer
from tests.support import FORBIDDEN, basic, outbox, reset_code_in, session_from, token_auth

A, B = "198.51.100.1", "198.51.100.2"  # two callers' addresses
THROTTLED = "Too many attempts, please retry later"
LIMITS = {
    "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT": "3/minute",
    "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "2/minute",
    "PUNCHCLOCK_SIGNUP_LIMIT_PER_IP": "2/minute",
    "PUNCHCLOCK_RESET_REQUEST_LIMIT_PER_EMAIL": "2/minute",
    "PUNCHCLOCK_RESET_REQUEST_LIMIT_PER_IP": "3/minute",
    "PUNCHCLOCK_RESET_CONFIRM_LIMIT_PER_IP": "2/minute",
}


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, **LIMITS}


Caller = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def caller(app: App) -> AsyncIterator[Caller]:
    """Return a function giving a client that calls from the given address."""
    opened: list[httpx.AsyncClient] = []

    def from_address(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 4321))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(client)
        return client

    yield from_address
    for client in opened:
        await client.aclose()


# The three ways of checking a password: each returns the response to an attempt.
Attempt = Callable[[httpx.AsyncClient, User, str], Awaitable[httpx.Response]]


async def by_log_in(client: httpx.AsyncClient, user: User, password: str) -> httpx.Response:
    return await client.post("/api/sessions", json={"email": user.email, "password": password})


async def by_basic(client: httpx.AsyncClient, user: User, password: str) -> httpx.Response:
    return await client.get("/api/v9/me", headers=basic(user.email, password))


async def by_current_password(
    client: httpx.AsyncClient, user: User, password: str
) -> httpx.Response:
    """Change the password to itself, which needs the current one."""
    return await client.put(
        "/api/v9/me",
        headers=token_auth(user.token),
        json={"current_password": password, "password": user.password},
    )


PATHS = pytest.mark.parametrize("attempt", [by_log_in, by_basic, by_current_password])


def failed(response: httpx.Response) -> bool:
    return (response.status_code, response.json()) in (
        (403, FORBIDDEN),
        (400, "Current password is not valid"),
    )


def throttled(response: httpx.Response) -> bool:
    """Tell whether a response is the 429 of a throttled attempt, checking its form."""
    if response.status_code != 429:
        return False
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == THROTTLED
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    assert "set-cookie" not in response.headers
    return True


@PATHS
async def test_failures_from_one_address_are_throttled_at_the_stricter_limit(
    caller: Caller, user: User, attempt: Attempt
) -> None:
    a = caller(A)
    assert failed(await attempt(a, user, "wrong guess 1"))
    assert failed(await attempt(a, user, "wrong guess 2"))
    assert throttled(await attempt(a, user, "wrong guess 3"))
    assert throttled(await attempt(a, user, user.password))  # even the right one


@PATHS
async def test_another_address_is_still_limited_per_account_but_later(
    caller: Caller, user: User, attempt: Attempt
) -> None:
    a, b = caller(A), caller(B)
    assert failed(await attempt(a, user, "wrong guess 1"))
    assert failed(await attempt(a, user, "wrong guess 2"))
    assert throttled(await attempt(a, user, "wrong guess 3"))
    assert failed(await attempt(b, user, "wrong guess 4"))  # A's limit is not B's
    assert throttled(await attempt(b, user, "wrong guess 5"))  # the account's: 3 failures


@PATHS
async def test_a_success_clears_the_addresses_count(
    caller: Caller, user: User, attempt: Attempt, clock: FixedClock
) -> None:
    a = caller(A)
    assert failed(await attempt(a, user, "wrong guess 1"))
    assert (await attempt(a, user, user.password)).status_code == 200
    assert failed(await attempt(a, user, "wrong guess 2"))
    clock.advance(301)  # past the cache of verified Basic pairs: the next one is checked
    # one failure since the success: under the address's limit of 2
    assert (await attempt(a, user, user.password)).status_code == 200


@PATHS
async def test_a_throttled_attempt_costs_no_hash_and_starts_no_session(
    caller: Caller, user: User, attempt: Attempt, hashes: list[str]
) -> None:
    a = caller(A)
    for guess in ("wrong guess 1", "wrong guess 2"):
        await attempt(a, user, guess)
    before = len(hashes)
    sessions = (await a.get("/api/sessions", headers=token_auth(user.token))).json()
    assert throttled(await attempt(a, user, user.password))
    assert len(hashes) == before
    assert (await a.get("/api/sessions", headers=token_auth(user.token))).json() == sessions


async def test_throttled_answers_are_as_documented(caller: Caller, user: User) -> None:
    a = caller(A)
    for attempt, method, path in [
        (by_log_in, "POST", "/api/sessions"),
        (by_basic, "GET", "/api/v9/me"),
        (by_current_password, "PUT", "/api/v9/me"),
    ]:
        response = await attempt(a, user, "wrong guess")
        while response.status_code != 429:
            response = await attempt(a, user, "wrong guess")
        assert check_answer(response, method, path) == THROTTLED


async def test_unknown_emails_are_throttled_as_known_ones_are(
    caller: Caller, user: User, hashes: list[str]
) -> None:
    nobody = User("nobody@example.com", "whatever", {}, "")
    answers = []
    for who in (user, nobody):
        a = caller(A)
        for guess in ("wrong guess 1", "wrong guess 2"):
            assert failed(await by_log_in(a, who, guess))
        before = len(hashes)
        answer = await by_log_in(a, who, "wrong guess 3")
        assert throttled(answer)
        assert len(hashes) == before
        answers.append((answer.status_code, answer.content, answer.headers["retry-after"]))
    assert answers[0] == answers[1]


async def test_the_email_is_counted_whatever_its_case(caller: Caller, user: User) -> None:
    a = caller(A)
    upper = User(user.email.upper(), user.password, user.me, user.session)
    assert failed(await by_log_in(a, user, "wrong guess 1"))
    assert failed(await by_log_in(a, upper, "wrong guess 2"))
    assert throttled(await by_log_in(a, user, "wrong guess 3"))


async def test_sign_ups_are_limited_per_address(caller: Caller) -> None:
    a, b = caller(A), caller(B)
    await sign_up(a, email="one@example.com")
    await sign_up(a, email="two@example.com")
    refused = await a.post(
        "/api/signup", json={"email": "three@example.com", "password": "a fine password"}
    )
    assert throttled(refused)
    assert (await a.post("/api/sessions", json={"email": "three@example.com"})).status_code != 200
    await sign_up(b, email="three@example.com")  # another address may


async def test_reset_mails_are_limited_per_email_but_the_answer_stays_ok(
    caller: Caller, app: App, user: User, data_dir: Path
) -> None:
    body = {"email": user.email}
    assert (await caller(A).post("/api/me/password_reset/request", json=body)).status_code == 200
    assert (await caller(B).post("/api/me/password_reset/request", json=body)).status_code == 200
    third = await caller("198.51.100.3").post("/api/me/password_reset/request", json=body)
    # never a 429 per email: someone who knows only the email must not keep its owner
    # from asking (issue 11); the owner's inbox already holds two live codes
    assert (third.status_code, third.json()) == (200, "OK")
    await app.drain()
    assert len(outbox(data_dir)) == 2  # nothing was sent for the request over the limit


async def test_reset_requests_are_limited_per_address(caller: Caller) -> None:
    a = caller(A)
    for n in range(3):
        body = {"email": f"someone{n}@example.com"}
        assert (await a.post("/api/me/password_reset/request", json=body)).status_code == 200
    fourth = await a.post("/api/me/password_reset/request", json={"email": "x@example.com"})
    assert throttled(fourth)
    other = await caller(B).post("/api/me/password_reset/request", json={"email": "x@example.com"})
    assert other.status_code == 200


async def test_reset_confirms_are_limited_per_address(
    caller: Caller, app: App, user: User, data_dir: Path
) -> None:
    a = caller(A)
    await a.post("/api/me/password_reset/request", json={"email": user.email})
    await app.drain()
    code = reset_code_in(outbox(data_dir)[0])
    body = {"password": "my new password"}
    for guess in ("A" * 43, "B" * 43):
        wrong = await a.post(f"/api/me/password_reset/confirm/{guess}", json=body)
        assert wrong.status_code == 400
    assert throttled(await a.post(f"/api/me/password_reset/confirm/{code}", json=body))
    # the code was not used: from another address it still works
    confirmed = await caller(B).post(f"/api/me/password_reset/confirm/{code}", json=body)
    assert confirmed.status_code == 200
    assert session_from(confirmed)


async def test_the_api_rate_limit_is_off_by_default(client: httpx.AsyncClient, user: User) -> None:
    for _ in range(20):
        assert (await client.get("/api/v9/me", headers=token_auth(user.token))).status_code == 200


async def test_the_api_rate_limit_counts_calls_per_user_and_address(
    env: dict[str, str], clock: FixedClock
) -> None:
    settings = Settings.from_env({**env, "PUNCHCLOCK_API_RATE_LIMIT": "3/minute"})
    app = create_app(settings, clock=clock)
    async with app.running():

        def from_address(ip: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(ip, 4321))
            return httpx.AsyncClient(transport=transport, base_url="http://testserver")

        async with from_address(A) as a, from_address(B) as b:
            ann = await sign_up(a, email="ann@example.com")
            bob = await sign_up(b, email="bob@example.com")
            for _ in range(3):
                assert (await a.get("/api/v9/me", headers=token_auth(ann.token))).is_success
            assert throttled(await a.get("/api/v9/me", headers=token_auth(ann.token)))
            assert (await a.get("/api/v9/me", headers=token_auth(bob.token))).is_success
            assert (await b.get("/api/v9/me", headers=token_auth(ann.token))).is_success


async def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(
    env: dict[str, str], clock: FixedClock
) -> None:
    settings = Settings.from_env({**env, "PUNCHCLOCK_TRUSTED_PROXIES": "10.0.0.0/8"})
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.5", 4321))  # the proxy
    async with (
        app.running(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as proxy,
    ):
        user = await sign_up(proxy, email="ann@example.com")

        def via(*forwarded: str) -> dict[str, str]:
            return {"X-Forwarded-For": ", ".join(forwarded)}

        body = {"email": user.email, "password": "wrong guess"}
        for _ in range(2):
            assert failed(await proxy.post("/api/sessions", json=body, headers=via(A)))
        assert throttled(await proxy.post("/api/sessions", json=body, headers=via(A)))
        # a client cannot pass for another by writing its own X-Forwarded-For entry
        assert throttled(await proxy.post("/api/sessions", json=body, headers=via(B, A)))
        # another client behind the same proxy is its own address
        good = {"email": user.email, "password": user.password}
        logged_in = await proxy.post("/api/sessions", json=good, headers=via(A, B))
        assert logged_in.status_code == 200
        sessions = await proxy.get("/api/sessions", headers=token_auth(user.token))
        assert B in [s["ip"] for s in sessions.json()]
