"""uvicorn's httptools protocol, sending each answer's head and body in one write.

uvicorn writes an answer's status line and headers as soon as the app starts it, then
its body: two send() system calls (each with an fcntl) where one will do. On this
machine a system call is most of what the bare server spends on a request, so /me
pays for one more than it needs to. The head is held until the body follows (or the
answer ends, or the connection closes) and both go out together.

`punchclock serve` names this class as uvicorn's HTTP protocol (cli.serve_http); every
other behaviour is uvicorn's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _OneWritePerAnswer:
    """The connection's transport, holding an answer's head until its body is written.

    A head is what uvicorn writes first: `HTTP/1.1 200 OK\\r\\n...\\r\\n\\r\\n`. Informational
    heads (100 Continue, 101 Switching Protocols) go out at once: a client waits for them.
    Order is never changed; a held head goes out with the next write, when the answer is
    complete, or before the transport closes.
    """

    __slots__ = ("_held", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif (
            isinstance(data, bytes)
            and data.startswith(b"HTTP/1.")
            and data.endswith(b"\r\n\r\n")
            and data[9:10] != b"1"  # not 1xx
        ):
            self._held = data
        else:
            self._transport.write(data)

    def release(self) -> None:
        """Write a head still held (an answer without a body: HEAD, for one)."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol, on a transport that sends each answer in one write."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneWritePerAnswer(transport))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        self.transport.release()  # type: ignore[attr-defined]
        super().on_response_complete()
