"""A guard in front of every uvicorn listener of a node (the API port, the TAK enrolment port).

Slowloris: a client that opens many connections and trickles bytes into them (or never ends
its TLS handshake) holds them for ever on a plain uvicorn, which has no deadline for a
request's head or body, none for a fresh connection that sends nothing, and the TLS
handshake's default of 60 s; a server-wide `limit_concurrency` then turns a few dozen such
connections into a refusal of everyone. The guard instead gives each connection

- a per-address cap (`FOSSATUM_HTTP_PER_ADDRESS`): a connection beyond it is closed at once,
  before any TLS work, so one address cannot take the port from the others (reverse proxies
  named in `FOSSATUM_TRUSTED_PROXIES` are not capped: they carry many clients);
- a deadline for the TLS handshake, and then one for each request's head
  (`FOSSATUM_HTTP_HEADER_SECONDS` each; the head's counted from the request's first byte, or
  from the connection's start for its first request): trickling a byte now and then does not
  extend either;
- a deadline for the request body (`FOSSATUM_HTTP_BODY_SECONDS`, from the end of the head);
- the idle keep-alive timeout (`FOSSATUM_HTTP_IDLE_SECONDS`, uvicorn's own `timeout_keep_alive`).

A connection upgraded to a websocket leaves the HTTP deadlines behind (the live feed has its
own authentication deadline and pings) but still counts against its address's cap.

`GuardedServer` is a `uvicorn.Server`: TLS, when the uvicorn `Config` has it (ssl_certfile …),
is done by the guard with the same context, so serving TLS and the guard compose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..settings import Settings
from .client_address import Network, _trusted, parse_trusted

log = logging.getLogger("fossatum.guard")


@dataclass(frozen=True)
class Limits:
    header_seconds: float = 10.0
    body_seconds: float = 60.0
    idle_seconds: float = 5.0
    per_address: int = 256
    # Reverse proxies (FOSSATUM_TRUSTED_PROXIES) carry many clients on their connections and
    # have limits of their own: no cap for them.
    uncapped: tuple[Network, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(float(settings.http_header_seconds), float(settings.http_body_seconds),
                   float(settings.http_idle_seconds), int(settings.http_per_address),
                   parse_trusted(str(settings.trusted_proxies)))


class Addresses:
    """Open connections per client address, and how many were refused or timed out."""

    def __init__(self, cap: int, uncapped: tuple[Network, ...] = ()) -> None:
        self.cap = cap
        self.uncapped = uncapped
        self.open: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()

    def admit(self, address: str) -> bool:
        if self.open[address] >= self.cap and not _trusted(address, self.uncapped):
            self.counters["refused_per_address"] += 1
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


class GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with deadlines for a request's head and body."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._limits: Limits = self.config.fossatum_limits  # type: ignore[attr-defined]
        self._counters: Counter[str] = self.config.fossatum_counters  # type: ignore[attr-defined]
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = ""
        self._arm("head", self._limits.header_seconds)  # a fresh connection must send a request

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm("head", self._limits.header_seconds)  # the next request on a kept-alive connection
        super().data_received(data)
        if self.transport.get_protocol() is not self:  # upgraded to a websocket
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body", self._limits.body_seconds)
        elif state is not h11.IDLE:  # the whole request is in (or the connection is done)
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = ""

    def _expired(self) -> None:
        self._deadline = None
        self._counters[f"{self._phase}_timeouts"] += 1
        log.info("http: %s: request %s not received in time; closing", _peer(self.client), self._phase)
        self.transport.abort()


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"


class _Transport(asyncio.Transport):
    """What the inner (uvicorn) protocol writes to: the real transport, except that switching
    protocols (the websocket upgrade) switches the guard's inner protocol."""

    def __init__(self, real: asyncio.Transport, guard: Guard) -> None:
        super().__init__()
        self._real, self._guard = real, guard

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._guard.inner = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._guard.inner  # type: ignore[return-value]

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._real.get_extra_info(name, default)

    def write(self, data: Any) -> None:
        self._real.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._real.writelines(list_of_data)

    def write_eof(self) -> None:
        self._real.write_eof()

    def can_write_eof(self) -> bool:
        return self._real.can_write_eof()

    def close(self) -> None:
        self._real.close()

    def abort(self) -> None:
        self._real.abort()

    def is_closing(self) -> bool:
        return self._real.is_closing()

    def pause_reading(self) -> None:
        self._real.pause_reading()

    def resume_reading(self) -> None:
        self._real.resume_reading()

    def is_reading(self) -> bool:
        return self._real.is_reading()

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._real.set_write_buffer_limits(high, low)


class Guard(asyncio.Protocol):
    """The protocol of an accepted TCP connection: the per-address cap, TLS within the
    header deadline, then uvicorn's protocol behind it."""

    def __init__(self, server: GuardedServer, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self.server = server
        self.make_inner = make_inner
        self.inner: asyncio.Protocol | None = None
        self.address: str | None = None
        self.raw: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.early = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if not self.server.addresses.admit(address):
            log.warning("http: %s refused: %d connections from that address already", address,
                        self.server.addresses.cap)
            transport.abort()
            return
        self.address, self.raw = address, transport
        self.server.guards.add(self)
        if self.server.tls is None:
            self._attach(transport)
        else:
            transport.pause_reading()
            self.task = asyncio.get_running_loop().create_task(self._handshake(transport, self.server.tls))

    async def _handshake(self, transport: asyncio.Transport, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        try:
            secured = await loop.start_tls(transport, self, context, server_side=True,
                                           ssl_handshake_timeout=self.server.limits.header_seconds)
        except (ssl.SSLError, TimeoutError, ConnectionError, OSError) as exc:
            self.server.counters["tls_failures"] += 1
            log.info("http: %s: TLS handshake failed (%s)", self.address, type(exc).__name__)
            transport.abort()
            self._release()
            return
        except asyncio.CancelledError:
            transport.abort()
            self._release()
            raise
        if secured is None:
            self._release()
            return
        self._attach(secured)

    def _attach(self, transport: asyncio.Transport) -> None:
        self.inner = self.make_inner()
        self.inner.connection_made(_Transport(transport, self))
        early, self.early = self.early, b""
        if early:
            self.inner.data_received(early)

    def _release(self) -> None:
        if self.address is not None:
            self.server.addresses.release(self.address)
            self.address = None
        self.server.guards.discard(self)

    # --- forwarded to the inner protocol --------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)
        else:  # with the last flight of the TLS handshake, before start_tls has returned
            self.early += data

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def abort(self) -> None:
        if self.raw is not None:
            self.raw.abort()


class GuardedServer(uvicorn.Server):
    """A uvicorn server whose listening sockets accept through `Guard`."""

    def __init__(self, config: uvicorn.Config, limits: Limits) -> None:
        config.timeout_keep_alive = int(max(1, limits.idle_seconds))
        config.http = GuardedH11
        super().__init__(config)
        self.limits = limits
        self.addresses = Addresses(limits.per_address, limits.uncapped)
        self.counters: Counter[str] = self.addresses.counters
        config.fossatum_limits = limits  # type: ignore[attr-defined]
        config.fossatum_counters = self.counters  # type: ignore[attr-defined]
        self.guards: set[Guard] = set()
        self.tls: ssl.SSLContext | None = None

    async def startup(self, sockets: list[Any] | None = None) -> None:
        if not sockets:
            raise ValueError("a guarded server serves sockets bound by its caller")
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            raise SystemExit(3)
        config = self.config
        self.tls = config.ssl  # TLS is the guard's, within the header deadline

        def inner() -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=self.server_state,  # type: ignore[call-arg]
                                              app_state=self.lifespan.state)

        loop = asyncio.get_running_loop()
        self.servers = [await loop.create_server(lambda: Guard(self, inner), sock=sock, backlog=config.backlog)
                        for sock in sockets]
        self.started = True

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for guard in list(self.guards):
            if guard.inner is None:  # still in its TLS handshake: nothing to finish gracefully
                guard.abort()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's signals belong to `fossatum serve`
