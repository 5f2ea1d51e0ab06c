"""Each answer leaves in one write; nothing is held that a client waits for, or lost."""

from __future__ import annotations

import asyncio
from typing import Any

from punchclock.web.protocol import OneWriteHttpToolsProtocol, _OneWritePerAnswer

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """Stands in for the socket: records each write, as send() would make it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name, default)


def test_the_head_goes_out_with_the_body_in_one_write() -> None:
    transport = RecordingTransport()
    writes = _OneWritePerAnswer(transport)
    writes.write(HEAD)
    assert transport.writes == []
    writes.write(b"ok")
    assert transport.writes == [HEAD + b"ok"]


def test_a_head_without_a_body_goes_out_when_the_answer_is_complete() -> None:
    transport = RecordingTransport()
    writes = _OneWritePerAnswer(transport)
    writes.write(HEAD)
    writes.release()
    assert transport.writes == [HEAD]


def test_a_held_head_goes_out_before_the_connection_closes() -> None:
    transport = RecordingTransport()
    writes = _OneWritePerAnswer(transport)
    writes.write(HEAD)
    writes.close()
    assert transport.writes == [HEAD]
    assert transport.closed


def test_informational_answers_and_other_writes_go_out_at_once() -> None:
    transport = RecordingTransport()
    writes = _OneWritePerAnswer(transport)
    for data in (
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
        b"400 bytes of a body",
    ):
        writes.write(data)
        assert transport.writes[-1] == data


def test_the_protocol_releases_the_head_when_uvicorn_completes_an_answer() -> None:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def exchange(request: bytes) -> list[bytes]:
        config = Config(app, http="punchclock.web.protocol:OneWriteHttpToolsProtocol")
        config.load()
        protocol = OneWriteHttpToolsProtocol(config, ServerState(), app_state={})
        transport = RecordingTransport()
        protocol.connection_made(transport)
        protocol.data_received(request)
        for _ in range(5):
            await asyncio.sleep(0)
        return transport.writes

    get = asyncio.run(exchange(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"))
    assert len(get) == 1
    assert get[0].startswith(b"HTTP/1.1 204 No Content\r\n")
    head = asyncio.run(exchange(b"HEAD / HTTP/1.1\r\nhost: x\r\n\r\n"))
    assert len(head) == 1
    assert head[0].endswith(b"\r\n\r\n")
