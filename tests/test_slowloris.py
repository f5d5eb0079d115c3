"""Finding 16: slowloris on every listener (API, TAK enrolment over TLS, CoT plain and TLS).

Per port, one address (127.0.0.1) opens more trickling connections than its cap: a byte every
0.3 s of a request head, of a TLS handshake, or of a TAK auth message. The connections over
the cap are closed at once, the others within the header (or auth) deadline although they keep
trickling; meanwhile a normal client from another address (127.0.0.2) is served, and once the
tricklers are gone the slots are free again. On the API port the body and idle deadlines too.
Real sockets against the same servers `fossatum serve` runs (api/guard.py, cot/server.py).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from cot.harness import client_tls
from fossatum.api.app import create_app
from fossatum.api.guard import GuardedServer, Limits
from fossatum.cot.pki import Authority
from fossatum.cot.server import CotServer
from fossatum.node import Node
from fossatum.runtime import listening_socket
from fossatum.settings import load

CAP = 6
TRICKLERS = 10
HEADER = 2  # seconds (HTTP head / TLS handshake; TAK auth)
OTHER = "127.0.0.2"  # another client address (all of 127/8 is loopback)


def run(coro: Awaitable[Any], timeout: float = 90.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


@dataclass
class Trickler:
    """A connection that sends its first bytes and then one byte every 0.3 s, and notes when
    the server closed it."""
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened: float
    closed_at: float | None = None
    watcher: asyncio.Task[None] | None = None  # held, so the task is not collected while it runs

    async def _watch(self, drip: bytes) -> None:
        loop = asyncio.get_running_loop()
        reading = asyncio.ensure_future(self.reader.read(65536))
        try:
            while True:
                done, _ = await asyncio.wait({reading}, timeout=0.3)
                if done:
                    try:
                        data = reading.result()
                    except (ConnectionError, OSError, ssl.SSLError):
                        data = b""
                    if not data:
                        break
                    reading = asyncio.ensure_future(self.reader.read(65536))
                    continue
                try:
                    self.writer.write(drip)
                    await self.writer.drain()
                except (ConnectionError, OSError, ssl.SSLError):
                    break
        finally:
            reading.cancel()
            self.closed_at = loop.time()
            self.writer.transport.abort()


async def trickle(port: int, first: bytes, drip: bytes = b"a", *, tls: ssl.SSLContext | None = None) -> Trickler:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls,
                                                       server_hostname="" if tls else None)
    except (ConnectionError, OSError, ssl.SSLError):  # refused during the TLS handshake
        now = asyncio.get_running_loop().time()
        return Trickler(asyncio.StreamReader(), None, now, now)  # type: ignore[arg-type]
    if first:
        writer.write(first)
        await writer.drain()
    t = Trickler(reader, writer, asyncio.get_running_loop().time())
    t.watcher = asyncio.ensure_future(t._watch(drip))
    return t


async def flood(port: int, first: bytes, drip: bytes = b"a", **kw: Any) -> list[Trickler]:
    out = []
    for _ in range(TRICKLERS):
        out.append(await trickle(port, first, drip, **kw))
        await asyncio.sleep(0.02)  # accepted in this order
    return out


async def check_flood(tricklers: list[Trickler], served: Callable[[], Awaitable[None]], deadline: float) -> None:
    """Over the cap: closed at once. Under it: still open while another address is served,
    then closed within the deadline although they trickle."""
    await asyncio.sleep(0.5)
    early = [t for t in tricklers if t.closed_at is not None]
    assert len(early) == TRICKLERS - CAP, f"{len(early)} closed at once, expected {TRICKLERS - CAP}"
    await served()  # a normal client of another address, while the cap of 127.0.0.1 is full
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline + 3.0
    while any(t.closed_at is None for t in tricklers) and loop.time() < end:
        await asyncio.sleep(0.1)
    held = [t.closed_at - t.opened for t in tricklers if t not in early and t.closed_at is not None]
    assert len(held) == CAP, "trickling connections were held beyond the deadline"
    assert all(deadline - 0.5 <= h <= deadline + 2.5 for h in held), held


def _settings(**overrides: Any) -> Any:
    return load({}, http_header_seconds=HEADER, http_body_seconds=HEADER, http_idle_seconds=HEADER,
                http_per_address=CAP, cot_per_address=CAP, cot_auth_seconds=HEADER, **overrides)


# --- the API port ----------------------------------------------------------------------------
def test_api_port(node: Node) -> None:
    async def scenario() -> None:
        sock = listening_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(node), log_config=None, access_log=False, proxy_headers=False)
        server = GuardedServer(config, Limits.of(_settings()))
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{port}"

        async def served(local: str = OTHER) -> None:
            async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=local)) as client:
                answer = await client.get(f"{base}/api/v1/health", timeout=5)
                assert answer.status_code == 200

        try:
            tricklers = await flood(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await check_flood(tricklers, served, HEADER)
            await served("127.0.0.1")  # the slots of 127.0.0.1 were freed
            # A body that never completes, and a kept-alive connection left idle: closed too.
            body = await trickle(port, b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                       b"application/json\r\nContent-Length: 100000\r\n\r\n{", b" ")
            idle = await trickle(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", b"")
            loop = asyncio.get_running_loop()
            end = loop.time() + HEADER + 3
            while (body.closed_at is None or idle.closed_at is None) and loop.time() < end:
                await asyncio.sleep(0.1)
            assert body.closed_at is not None and idle.closed_at is not None
            assert server.counters["head_timeouts"] >= CAP and server.counters["body_timeouts"] == 1
            assert server.counters["refused_per_address"] == TRICKLERS - CAP
        finally:
            server.should_exit = True
            await serving
            sock.close()

    run(scenario())


def test_a_trusted_reverse_proxy_is_not_capped(node: Node) -> None:
    """Behind a reverse proxy (FOSSATUM_TRUSTED_PROXIES) every client shares its address."""
    async def scenario() -> None:
        sock = listening_socket("127.0.0.1", 0)
        config = uvicorn.Config(create_app(node), log_config=None, access_log=False, proxy_headers=False)
        server = GuardedServer(config, Limits.of(_settings(trusted_proxies="127.0.0.1")))
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            tricklers = await flood(sock.getsockname()[1], b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await asyncio.sleep(0.5)
            assert all(t.closed_at is None for t in tricklers) and not server.counters["refused_per_address"]
        finally:
            server.should_exit = True
            await serving
            sock.close()

    run(scenario())


# --- the TAK enrolment port (TLS) -------------------------------------------------------------
def test_enrolment_port_tls(node: Node) -> None:
    async def scenario() -> None:
        gateway = CotServer(node, settings=_settings())
        await gateway.start(["https://127.0.0.1:0"])
        port = gateway.addresses[0][1]
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE

        async def served() -> None:
            transport = httpx.AsyncHTTPTransport(local_address=OTHER, verify=insecure)
            async with httpx.AsyncClient(transport=transport) as client:
                answer = await client.get(f"https://127.0.0.1:{port}/Marti/api/tls/config", timeout=5)
                assert answer.status_code == 401  # served: asks for the enrolment credentials

        try:
            # A TLS handshake that never ends (a ClientHello record header, then a byte at a time).
            tricklers = await flood(port, b"\x16\x03\x01\x02\x00", b"\x00")
            await check_flood(tricklers, served, HEADER)
            # After the handshake, a request head that never ends.
            tricklers = await flood(port, b"GET /Marti/api/tls/config HTTP/1.1\r\nHost: x\r\nX-Slow: ", tls=insecure)
            await check_flood(tricklers, served, HEADER)
            await served()
        finally:
            await gateway.stop()

    run(scenario())


# --- the CoT ports (plain and TLS) --------------------------------------------------------------
async def _device(port: int, first: bytes, tls: ssl.SSLContext | None = None) -> None:
    """A device of another address is admitted: it gets the protocol offer (t-x-takp-v)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(OTHER, 0), ssl=tls,
                                                   server_hostname="" if tls else None)
    try:
        if first:
            writer.write(first)
            await writer.drain()
        seen = b""
        while b"t-x-takp-v" not in seen:
            data = await asyncio.wait_for(reader.read(65536), 5)
            assert data, "the gateway closed the connection of a normal device"
            seen += data
    finally:
        writer.transport.abort()


def test_cot_plain_port(node: Node) -> None:
    async def scenario() -> None:
        gateway = CotServer(node, settings=_settings())
        await gateway.start(["tcp://127.0.0.1:0"])
        port = gateway.addresses[0][1]
        auth = b'<auth><cot username="sami" password="correct-horse-1" uid="ANDROID-OK" callsign="OK"/></auth>'
        try:
            tricklers = await flood(port, b'<auth><cot username="', b"s")
            await check_flood(tricklers, lambda: _device(port, auth), HEADER)
            assert gateway.counters["refused_per_address"] == TRICKLERS - CAP
            assert gateway.counters["auth_timeouts"] == CAP
        finally:
            await gateway.stop()

    run(scenario())


def test_cot_tls_port(node: Node, users: Any) -> None:
    unit = node.register_device(actor=users["sami"], uid="ANDROID-TLS-OK", callsign="TLS-OK")
    tak = Authority(Path(node.store.path).parent, node_name=node.name)
    issued = tak.add_device(username="sami", callsign="TLS-OK", uid="ANDROID-TLS-OK", unit_id=unit)
    device_tls = client_tls(issued.bundle, issued.password, Path(node.store.path).parent / "tak" / "ca.pem")

    async def scenario() -> None:
        gateway = CotServer(node, settings=_settings())
        await gateway.start(["tls://127.0.0.1:0"])
        port = gateway.addresses[0][1]
        try:
            tricklers = await flood(port, b"\x16\x03\x01\x02\x00", b"\x00")
            await check_flood(tricklers, lambda: _device(port, b"", device_tls), HEADER)
            assert gateway.counters["refused_per_address"] == TRICKLERS - CAP
            await _device(port, b"", device_tls)
        finally:
            await gateway.stop()

    run(scenario())
