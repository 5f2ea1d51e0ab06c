"""X-Request-Id: on every answer, errors included; a trusted proxy's is kept, a client's is not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from punchclock.config import Settings
from punchclock.web.app import Parts, create_app
from tests.conftest import User
from tests.support import PASSWORD, cookie_header, token_auth

MADE_HERE = re.compile(r"[0-9a-f]{13,}")  # a process's random prefix and a counter


@pytest.fixture
def env(base_env: dict[str, str]) -> dict[str, str]:
    return {**base_env, "PUNCHCLOCK_SIGNUP_LIMIT_PER_IP": "2/hour"}


async def test_every_answer_carries_its_own_request_id(
    client: httpx.AsyncClient, user: User, parts: Parts
) -> None:
    answers = {
        200: await client.get("/api/v9/me", headers=token_auth(user.token)),
        403: await client.get("/api/v9/me"),
        404: await client.get("/nowhere"),
        405: await client.put("/api/sessions"),
        413: await client.post("/api/signup", content=b"x" * (65 * 1024)),
        400: await client.post("/api/me/password_reset/confirm/c0de", json={"password": "x"}),
    }
    for i in range(2):  # the limit is 2 sign-ups an hour, the fixture's user made one
        body = {"email": f"x{i}@example.com", "password": PASSWORD}
        limited = await client.post("/api/signup", json=body)
    answers[429] = limited
    others = [
        await client.head("/api/v9/me", headers=token_auth(user.token)),
        await client.get("/health/live"),
        await client.get("/login"),  # a page
        await client.get("/account", headers=cookie_header(user.session)),
        await client.get("/api/auth/verify", headers=token_auth(user.token)),  # forward auth
        await client.get("/api/auth/verify"),
    ]
    await parts.hasher.close()  # the hash pool is dead: not ready
    answers[503] = await client.get("/health/ready")
    for status, answer in answers.items():
        assert answer.status_code == status
    ids = [a.headers.get("x-request-id", "") for a in [*answers.values(), *others]]
    assert all(MADE_HERE.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


async def test_a_clients_own_request_id_is_not_believed(client: httpx.AsyncClient) -> None:
    """Without a trusted proxy, a client could pin another request's id on its own lines."""
    answer = await client.get("/health/live", headers={"X-Request-Id": "forged-id"})
    assert answer.headers["x-request-id"] != "forged-id"
    assert MADE_HERE.fullmatch(answer.headers["x-request-id"])


@pytest.fixture
async def behind_proxy(base_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env({**base_env, "PUNCHCLOCK_TRUSTED_PROXIES": "10.0.0.0/8"})
    app = create_app(settings)
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=("10.0.0.5", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_a_trusted_proxys_request_id_is_passed_on(
    behind_proxy: httpx.AsyncClient,
) -> None:
    proxy_id = "7f1c2a9e-0b4d-4c3e-9a7f-2d1e5b6c8a90"
    answer = await behind_proxy.get("/api/v9/me", headers={"X-Request-Id": proxy_id})
    assert (answer.status_code, answer.headers["x-request-id"]) == (403, proxy_id)


@pytest.mark.parametrize(
    "value",
    [
        "a" * 129,  # longer than any tracing system's
        "two words",
        "back\\slash",
        '"quoted"',
        "semi;colon",
        "",
    ],
)
async def test_a_trusted_proxys_insane_request_id_is_replaced(
    behind_proxy: httpx.AsyncClient, value: str
) -> None:
    answer = await behind_proxy.get("/health/live", headers={"X-Request-Id": value})
    assert answer.status_code == 200
    assert MADE_HERE.fullmatch(answer.headers["x-request-id"])


async def test_a_request_id_of_128_token_characters_is_kept(
    behind_proxy: httpx.AsyncClient,
) -> None:
    value = ("1-67891233-abcdef0123456789ABCDEF.~_!" * 4)[:128]
    answer = await behind_proxy.get("/health/live", headers={"X-Request-Id": value})
    assert answer.headers["x-request-id"] == value


async def test_a_password_log_in_gets_one_too(client: httpx.AsyncClient, user: User) -> None:
    answer = await client.post("/api/sessions", json={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 200
    assert MADE_HERE.fullmatch(answer.headers["x-request-id"])
