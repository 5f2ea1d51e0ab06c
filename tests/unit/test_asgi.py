from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, MutableMapping
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


async def _until_in_progress(app: App) -> None:
    for _ in range(1000):
        if app._in_progress:
            return
        await asyncio.sleep(0)
    raise AssertionError("the request never started")


def _start_then_stop(app: App, sent: list[str]) -> Awaitable[None]:
    """Run the app's lifespan: a start-up, then a stop; the types it answers go to `sent`."""
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    return app({"type": "lifespan"}, receive, send)


async def test_a_stop_waits_for_the_answers_in_progress_before_it_shuts_down() -> None:
    """granian starts the lifespan shutdown as soon as it stops accepting: what a request in
    progress still needs (the hash workers, the store) must outlive it."""
    events: list[str] = []
    release = asyncio.Event()

    async def slow(request: Request) -> Response:
        await release.wait()
        events.append("answered")
        return Response(b"done")

    async def on_shutdown() -> None:
        events.append("shut down")

    app = App([Route("GET", "/slow", slow)], on_shutdown=on_shutdown)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    answer = asyncio.ensure_future(client.get("/slow"))
    await _until_in_progress(app)
    sent: list[str] = []
    lifespan = asyncio.ensure_future(_start_then_stop(app, sent))
    for _ in range(20):
        await asyncio.sleep(0)
    assert events == []  # still waiting for /slow
    assert sent == ["lifespan.startup.complete"]
    release.set()
    assert (await answer).status_code == 200
    await lifespan
    assert events == ["answered", "shut down"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    await client.aclose()


async def test_a_stop_does_not_wait_past_its_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("punchclock.web.asgi.GRACE", 0.05)
    stuck = asyncio.Event()

    async def hangs(request: Request) -> Response:
        await stuck.wait()
        return Response(b"")

    downs: list[str] = []

    async def on_shutdown() -> None:
        downs.append("down")

    app = App([Route("GET", "/hang", hangs)], on_shutdown=on_shutdown)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    answer = asyncio.ensure_future(client.get("/hang"))
    await _until_in_progress(app)
    sent: list[str] = []
    await asyncio.wait_for(_start_then_stop(app, sent), 5)
    assert downs == ["down"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    answer.cancel()
    await client.aclose()
