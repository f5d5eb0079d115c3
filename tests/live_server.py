"""A node's app served by uvicorn on a loopback port in a thread, and a real /api/v1/live client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conftest import PASSWORD
from fossatum.api.app import create_app


@dataclass
class Served:
    port: int
    http: httpx.Client

    def token(self, username: str, password: str = PASSWORD) -> str:
        response = self.http.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def as_user(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def serve(node: Any) -> Iterator[Served]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(node), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            proxy_headers=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
        try:
            yield Served(port, http)
        finally:
            server.should_exit = True
            thread.join(10)


@dataclass
class Live:
    """A logged-in /api/v1/live connection; a thread collects what it is sent and how it closed."""
    ws: ClientConnection
    got: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    closed_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def open(cls, served: Served, token: str) -> Live:
        ws = connect(f"ws://127.0.0.1:{served.port}/api/v1/live", open_timeout=10).__enter__()
        ws.send(json.dumps({"type": "auth", "token": token}))
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello", hello
        live = cls(ws)
        threading.Thread(target=live._read, daemon=True).start()
        return live

    def _read(self) -> None:
        try:
            for raw in self.ws:
                self.got.append(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed_at = time.monotonic()
            self._done.set()

    def wait_closed(self, timeout: float) -> float:
        """Seconds waited until the server closed it (fails after `timeout`)."""
        start = time.monotonic()
        assert self._done.wait(timeout), f"the websocket is still open after {timeout} s: {self.got[-3:]}"
        return time.monotonic() - start

    def still_open(self, seconds: float) -> bool:
        return not self._done.wait(seconds)

    def ids(self) -> set[str]:
        return {m["report"]["id"] for m in self.got if m.get("type") == "report"}

    def close(self) -> None:
        self.ws.close()
