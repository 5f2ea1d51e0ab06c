from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from punchclock.errors import InvalidCredentials, Overloaded
from punchclock.web.asgi import App, Route


async def echo(request: Request) -> Response:
    return Response(repr(request.path_params).encode())


async def broken(request: Request) -> Response:
    raise RuntimeError("a bug")


async def refused(request: Request) -> Response:
    raise InvalidCredentials()


async def busy(request: Request) -> Response:
    raise Overloaded()


def make_app(shutdowns: list[str] | None = None) -> App:
    async def on_shutdown() -> None:
        if shutdowns is not None:
            shutdowns.append("down")

    routes = [
        Route("GET", "/things/{name}", echo),
        Route("DELETE", "/things/{name}", echo),
        Route("GET", "/broken", broken),
        Route("GET", "/refused", refused),
        Route("GET", "/busy", busy),
    ]
    return App(routes, on_shutdown=on_shutdown)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_path_parameters_reach_the_handler(client: httpx.AsyncClient) -> None:
    assert (await client.get("/things/abc")).text == "{'name': 'abc'}"


async def test_an_unknown_path_is_404_and_a_wrong_method_405_with_allow(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/things/a/b")
    assert (missing.status_code, missing.json()) == (404, "Not found")
    wrong = await client.post("/things/abc")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "DELETE, GET, HEAD"
    assert isinstance(wrong.json(), str)


async def test_head_runs_the_get_handler_and_sends_no_body(client: httpx.AsyncClient) -> None:
    head = await client.head("/things/abc")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len("{'name': 'abc'}"))
    assert head.headers["x-frame-options"] == "DENY"


async def test_head_of_an_error_sends_its_status_without_a_body(client: httpx.AsyncClient) -> None:
    refused = await client.head("/refused")
    assert (refused.status_code, refused.content) == (403, b"")
    assert (await client.head("/nowhere")).status_code == 404


async def test_an_unexpected_error_is_a_json_500_and_is_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/broken")
    assert response.status_code == 500
    assert response.json() == "Internal server error"
    assert "a bug" not in response.text
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)


async def test_domain_errors_use_the_one_table(client: httpx.AsyncClient) -> None:
    refused = await client.get("/refused")
    assert (refused.status_code, refused.json()) == (403, "Incorrect username and/or password")
    busy = await client.get("/busy")
    assert (busy.status_code, busy.headers["retry-after"]) == (503, "1")


async def test_the_lifespan_protocol_runs_shutdown() -> None:
    shutdowns: list[str] = []
    app = make_app(shutdowns)
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert shutdowns == ["down"]
