"""A loopback HTTP proxy that misbehaves on purpose, for the federation fault tests.

One proxy stands in front of one node for one caller (so a link is two proxies, one per
direction). It understands just enough HTTP/1.1 (a request head and a Content-Length body)
to act per request:

- `cut`: every connection is refused, and open ones are closed at once;
- `drop_before`: close the client's connection without forwarding the request;
- `drop_after`: forward the request, then close without the answer (a lost acknowledgement);
- `delay` + `jitter`: wait before forwarding (random jitter reorders concurrent requests);
- `duplicate`: forward the request twice (the first answer is thrown away);
- `replay`: answer a stream pull with an earlier stream answer (old items again).

Each request gets its own upstream connection (`Connection: close`). The event loop runs
in a daemon thread; every wait is bounded. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

READ_TIMEOUT = 30.0
STREAM_PATH = b"/api/v1/federation/stream"


@dataclass
class Faults:
    cut: bool = False
    drop_before: float = 0.0
    drop_after: float = 0.0
    delay: float = 0.0
    jitter: float = 0.0
    duplicate: float = 0.0
    replay: float = 0.0
    # Faults that must happen at least once, at their first chance: a fast link may need only
    # a handful of requests, too few for every random fault to turn up by chance.
    forced: set[str] = field(default_factory=set)

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


@dataclass
class FaultProxy:
    upstream_port: int
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    stats: Counter = field(default_factory=Counter)
    port: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._recorded: list[bytes] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"proxy-{self.upstream_port}", daemon=True)

    # --- control (from the test's thread) ------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def set_cut(self, cut: bool) -> None:
        self.faults.cut = cut
        if cut:
            asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(5)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def shutdown() -> None:
            await self._close_all()
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- the loop -------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def open_server() -> None:
            self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]

        self._loop.run_until_complete(open_server())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def _chance(self, rate: float, name: str) -> bool:
        if name in self.faults.forced:
            self.faults.forced.discard(name)
            return True
        return rate > 0 and self._random.random() < rate

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.faults.cut:
                self.stats["refused"] += 1
                return
            request = await _read_request(reader)
            if request is None:
                return
            self.stats["requests"] += 1
            is_stream = request.split(b" ", 2)[1].startswith(STREAM_PATH) if request.startswith(b"GET ") else False
            if self._chance(self.faults.drop_before, "drop_before"):
                self.stats["dropped_before"] += 1
                return
            wait = self.faults.delay + (self._random.random() * self.faults.jitter if self.faults.jitter else 0.0)
            if wait:
                await asyncio.sleep(wait)
            if self.faults.cut:
                self.stats["refused"] += 1
                return
            if is_stream and self._recorded and self._chance(self.faults.replay, "replay"):
                self.stats["replayed"] += 1
                await self._answer(writer, self._random.choice(self._recorded))
                return
            if self._chance(self.faults.duplicate, "duplicate"):
                self.stats["duplicated"] += 1
                await self._forward(request, writer)
            response = await self._forward(request, writer)
            if response is None:
                return
            if is_stream and response.startswith(b"HTTP/1.1 200"):
                self._recorded = (self._recorded + [response])[-20:]
            if self._chance(self.faults.drop_after, "drop_after") or self.faults.cut:
                self.stats["dropped_after"] += 1
                return
            await self._answer(writer, response)
            self.stats["answered"] += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            self.stats["errors"] += 1
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _answer(self, writer: asyncio.StreamWriter, response: bytes) -> None:
        writer.write(response)
        await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        writer.close()   # a graceful close: the answer is flushed before the FIN
        await asyncio.wait_for(writer.wait_closed(), READ_TIMEOUT)

    async def _forward(self, request: bytes, client: asyncio.StreamWriter) -> bytes | None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.upstream_port), READ_TIMEOUT)
        except (TimeoutError, OSError):
            self.stats["upstream_down"] += 1
            return None
        self._writers.add(up_writer)
        try:
            up_writer.write(request)
            await up_writer.drain()
            return await asyncio.wait_for(up_reader.read(-1), READ_TIMEOUT)   # Connection: close
        except (TimeoutError, OSError):
            self.stats["upstream_errors"] += 1
            return None
        finally:
            self._writers.discard(up_writer)
            up_writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request, with its Connection header replaced by `close`; None at end of stream."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    except asyncio.IncompleteReadError:
        return None
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        if lname in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    kept.append(b"Connection: close")
    body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT) if length else b""
    return b"\r\n".join(kept) + b"\r\n\r\n" + body
