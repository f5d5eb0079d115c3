"""A node with a running TAK gateway on an ephemeral port, and a tiny raw TAK client."""

from __future__ import annotations

import asyncio
import re
import ssl
from datetime import UTC, datetime, timedelta

from fossatum.cot import codec
from fossatum.cot.server import CotServer
from fossatum.settings import load

PASSWORD = "correct-horse-1"


def settings(**overrides: object):
    # The harness opens many connections from 127.0.0.1: per-address caps far above the defaults
    # (tests/test_slowloris.py tests the caps themselves).
    overrides = {"cot_per_address": 100_000, "http_per_address": 100_000, **overrides}
    return load({}, **{k: str(v) if isinstance(v, str) else v for k, v in overrides.items()})


async def start(node, **overrides: object) -> tuple[CotServer, int]:
    server = CotServer(node, settings=settings(**overrides))
    await server.start(["tcp://127.0.0.1:0"])
    return server, server.addresses[0][1]


def auth(username: str, uid: str, callsign: str = "", password: str = PASSWORD) -> bytes:
    return (f'<auth><cot username="{username}" password="{password}" uid="{uid}" '
            f'callsign="{callsign or uid}"/></auth>').encode()


def event(uid: str, type_: str, lat: float = 35.2, lon: float = 8.6, *, remarks: str = "", callsign: str = "",
          detail: str = "", at: datetime | None = None) -> bytes:
    now = at or datetime.now(UTC)
    extra = f"<contact callsign=\"{callsign}\" endpoint=\"*:-1:stcp\"/>" if callsign else ""
    extra += f"<remarks>{remarks}</remarks>" if remarks else ""
    return codec.event_xml(uid=uid, type_=type_, time=now, stale=now + timedelta(minutes=2), lat=lat, lon=lon,
                           how="m-g", detail=extra + detail)


class Device:
    """A raw TAK client: write bytes, collect the events it is sent (XML, v0)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.events: list[bytes] = []
        self._buf = b""
        self.closed = False

    @classmethod
    async def connect(cls, port: int, username: str | None = None, uid: str = "", **kw: str) -> Device:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        device = cls(reader, writer)
        if username:
            await device.send(auth(username, uid or f"ANDROID-{username}", **kw))
        return device

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def _read(self, timeout: float) -> bool:
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except TimeoutError:
            return True
        except ConnectionError:
            data = b""
        if not data:
            self.closed = True
            return False
        self._buf += data
        while b"</event>" in self._buf:
            frame, self._buf = self._buf.split(b"</event>", 1)
            self.events.append(frame + b"</event>")
        return True

    async def wait_for(self, predicate, timeout: float = 5.0) -> bytes:
        """The first received event matching `predicate` (bytes → bool), waiting up to `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            for frame in self.events[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.events)
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self._read(min(remaining, 0.2)):
                if remaining <= 0 or self.closed:
                    raise AssertionError(f"no matching event within {timeout}s ({len(self.events)} received)")

    async def settle(self, seconds: float = 0.3) -> None:
        """Read whatever arrives during `seconds`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end and await self._read(end - loop.time()):
            pass

    async def wait_closed(self, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not self.closed and loop.time() < end:
            await self._read(end - loop.time())
        assert self.closed, "the server did not close the connection"

    def uids(self) -> set[str]:
        return {m.group(1).decode() for f in self.events if (m := re.search(rb' uid="([^"]*)"', f.split(b"<event", 1)[-1]))}

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def has(*needles: str):
    return lambda frame: all(n.encode() in frame for n in needles)


async def eventually(check, timeout: float = 5.0) -> None:
    """Wait until `check()` is true (the gateway works asynchronously)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.02)


async def start_urls(node, urls: list[str], **overrides: object) -> tuple[CotServer, list[int]]:
    server = CotServer(node, settings=settings(**overrides))
    await server.start(urls)
    return server, [port for _, port in server.addresses]


def client_tls(bundle, password: str, ca) -> ssl.SSLContext:
    """A device's TLS context from its PKCS#12 bundle (what ATAK imports) and the node's CA."""
    from pathlib import Path

    from cryptography.hazmat.primitives.serialization import pkcs12

    key, cert, _ = pkcs12.load_key_and_certificates(Path(bundle).read_bytes(), password.encode())
    return client_tls_key(key, cert, ca)


def client_tls_key(key, cert, ca) -> ssl.SSLContext:
    """A device's TLS context from its private key and certificate (e.g. enrolled by CSR) and the node's CA."""
    import tempfile
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization

    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    with tempfile.TemporaryDirectory() as tmp:
        pem = Path(tmp) / "device.pem"
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
        ctx.load_cert_chain(pem)
    return ctx


async def connect_tls(port: int, ctx) -> Device:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    return Device(reader, writer)
