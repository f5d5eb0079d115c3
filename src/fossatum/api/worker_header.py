"""`X-Fossatum-Worker` on every response and websocket handshake: which process answered.

With `fossatum serve --workers N` the kernel hands each connection to any of N processes;
operators (and tests) reading a log, a slow request or a live connection need to know which.
The value is `<index>; pid=<pid>` (index 1 is the process that also runs the federation and
the TAK gateway).
"""

from __future__ import annotations

import os
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-fossatum-worker"


def identity(index: int = 1) -> str:
    return f"{index}; pid={os.getpid()}"


class WorkerHeader:
    def __init__(self, app: ASGIApp, value: str) -> None:
        self.app = app
        self.header = (HEADER.encode(), value.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_named(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers: list[Any] = list(message.get("headers") or [])
                message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_named)
