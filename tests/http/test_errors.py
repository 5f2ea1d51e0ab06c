from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.conftest import User
from tests.support import token_auth


async def test_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v9/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == "Not found"


async def test_wrong_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v9/me")
    assert response.status_code == 405
    assert isinstance(response.json(), str)


async def test_a_body_over_64_kib_is_413(client: httpx.AsyncClient, user: User) -> None:
    response = await client.put(
        "/api/v9/me", headers=token_auth(user.token), json={"fullname": "x" * 70_000}
    )
    assert response.status_code == 413
    assert response.json() == "Request body is too large"


async def test_a_streamed_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    response = await client.post("/api/signup", content=chunks())
    assert response.status_code == 413
