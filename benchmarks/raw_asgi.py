"""The baselines' app: the least an ASGI app can do, one fixed JSON answer to every request.

Served by bare uvicorn (no access log), its requests per second are the limit the server
and the machine allow: the yardstick. Served through uvicorn's access log
(benchmarks/serve.py), it is the hot-path issue's old yardstick.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = b'{"ok":true}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
RESPONSE = {"type": "http.response.body", "body": BODY}


async def app(scope: Message, receive: Receive, send: Send) -> None:
    """Answer every HTTP request with BODY; take part in the lifespan protocol."""
    if scope["type"] == "http":
        await send(START)
        await send(RESPONSE)
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
