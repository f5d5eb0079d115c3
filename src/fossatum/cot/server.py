"""The TAK stream server: one asyncio task pair per device, nothing shared that can block.

Per connection: the auth message first (within `cot_auth_seconds`), then events framed as
v0 XML or — after `t-x-takp-q` — v1 protobuf. Reads have an idle deadline and a deadline
for a started event (slowloris); a malformed or oversized frame closes that connection only,
with a log line and a counter. Writes go through a bounded per-device queue keyed by CoT uid:
a newer state of an item replaces the queued one (coalesced), past the bound the oldest is
dropped (counted), and a device that leaves sent data unread too long is disconnected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..domain.org import User
from ..errors import FossatumError, InvalidInput
from . import codec
from .codec import Auth, CotError, CotEvent
from .fanout import Fanout
from .framing import FrameError, ProtoFramer, XmlFramer, to_proto
from .identity import Identity
from .ingest import Ingest, Item

log = logging.getLogger("fossatum.cot")
STATUS_FILE = "cot-status.json"
READ_CHUNK = 65536


def parse_listen(url: str) -> tuple[str, str, int]:
    """`tcp://HOST:PORT` → (scheme, host, port)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("tcp",) or not parts.hostname or parts.port is None:
        raise InvalidInput(f"expected tcp://HOST:PORT, got {url!r} (tls:// is not available yet)", field="cot")
    return parts.scheme, parts.hostname, parts.port


class Closing(Exception):
    """Close this connection; the text is the reason (logged and counted)."""

    def __init__(self, reason: str, counter: str) -> None:
        super().__init__(reason)
        self.counter = counter


@dataclass(eq=False)
class Client:
    peer: str
    limit: int
    user: User | None = None
    device_uid: str | None = None
    unit_id: str | None = None
    callsign: str = ""
    protocol: str = "xml"
    connected_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    received: int = 0
    sent_count: int = 0
    dropped: int = 0
    coalesced: int = 0
    sent: set[str] = field(default_factory=set)  # CoT uids this device was given (for deletes)
    queue: OrderedDict[str, tuple[bytes, bool]] = field(default_factory=OrderedDict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    _serial: int = 0

    def send(self, key: str, message: bytes, *, switch: bool = False) -> None:
        """Queue `message` under `key` (a CoT uid): a queued older state of it is replaced."""
        if self.closed:
            return
        if key in self.queue:
            del self.queue[key]
            self.coalesced += 1
        elif len(self.queue) >= self.limit:
            self.queue.popitem(last=False)
            self.dropped += 1
        self.queue[key] = (message, switch)
        self.wake.set()

    def send_once(self, message: bytes, *, switch: bool = False) -> None:
        self._serial += 1
        self.send(f"\0{self._serial}", message, switch=switch)

    def status(self) -> dict[str, Any]:
        return {"peer": self.peer, "user": self.user.username if self.user else None,
                "agency": self.user.agency if self.user else None, "uid": self.device_uid, "unit": self.unit_id,
                "callsign": self.callsign, "protocol": self.protocol,
                "connected_at": _iso(self.connected_at), "last_seen": _iso(self.last_seen),
                "messages_in": self.received, "messages_out": self.sent_count, "queued": len(self.queue),
                "coalesced": self.coalesced, "dropped": self.dropped}


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class CotServer:
    """The gateway of one node: listeners, devices, ingest and fan-out."""

    def __init__(self, node: Any, *, settings: Any | None = None) -> None:
        self.node = node
        self.settings = settings or node.settings
        self.clients: set[Client] = set()
        self.counters: Counter[str] = Counter()
        self.ingest = Ingest(node, report_scope=self.settings.cot_report_scope)
        self.identity = Identity(node)
        self.fanout = Fanout(node, self.settings, lambda: [c for c in self.clients if c.user is not None])
        self.servers: list[asyncio.AbstractServer] = []
        self.addresses: list[tuple[str, int]] = []
        self._status_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, urls: list[str]) -> None:
        loop = asyncio.get_running_loop()
        self.fanout.loop = loop
        self.ingest.start()
        for url in urls:
            _, host, port = parse_listen(url)
            try:
                server = await asyncio.start_server(self._handle, host, port, backlog=4096, limit=READ_CHUNK * 4)
            except OSError as exc:
                raise FossatumError(f"cannot listen on {host}:{port} for CoT: {exc.strerror or exc}") from None
            self.servers.append(server)
            self.addresses.append(server.sockets[0].getsockname()[:2])
        self._status_task = loop.create_task(self._write_status())

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for client in list(self.clients):
            client.closed = True
            client.wake.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self.servers:
            await server.wait_closed()
        if self._status_task is not None:
            self._status_task.cancel()
            await asyncio.gather(self._status_task, return_exceptions=True)
        self.fanout.loop = None
        await self.ingest.stop()
        self._save_status()

    # --- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {"node": self.node.node_id, "at": _iso(time.time()),
                "listening": [f"tcp://{h}:{p}" for h, p in self.addresses],
                "counters": dict(self.counters), "ingest": dict(self.ingest.counts),
                "devices": sorted((c.status() for c in self.clients if c.user is not None),
                                  key=lambda d: (d["user"] or "", d["uid"] or ""))}

    def _save_status(self) -> None:
        path = Path(self.node.store.path).parent / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.status(), indent=1))
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cot: cannot write %s: %s", path, exc)

    async def _write_status(self) -> None:
        while True:
            self._save_status()
            await asyncio.sleep(2.0)

    # --- one connection --------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        peer = writer.get_extra_info("peername")
        client = Client(peer=f"{peer[0]}:{peer[1]}" if peer else "?", limit=self.settings.cot_queue)
        self.clients.add(client)
        self.counters["connections"] += 1
        sender = asyncio.get_running_loop().create_task(self._sender(client, writer))
        reason, counter = "closed by the device", "closed"
        try:
            await self._receive(client, reader)
        except Closing as exc:
            reason, counter = str(exc), exc.counter
        except (ConnectionError, OSError) as exc:
            reason, counter = f"connection error: {exc}", "connection_errors"
        except asyncio.CancelledError:
            reason, counter = "server stopping", "closed"
        except Exception:
            log.exception("cot: %s: unexpected error", client.peer)
            reason, counter = "internal error", "internal_errors"
        finally:
            self.counters[counter] += 1
            level = logging.INFO if counter in ("closed",) else logging.WARNING
            log.log(level, "cot: %s (%s) disconnected: %s", client.peer,
                    client.user.username if client.user else "not authenticated", reason)
            client.closed = True
            client.wake.set()
            self.clients.discard(client)
            try:
                await asyncio.wait_for(sender, 1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
                sender.cancel()
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError, ConnectionError, OSError):
                writer.transport.abort()
            self._tasks.discard(task)

    async def _receive(self, client: Client, reader: asyncio.StreamReader) -> None:
        s = self.settings
        framer: XmlFramer | ProtoFramer = XmlFramer(s.cot_max_event_bytes)
        loop = asyncio.get_running_loop()
        started = loop.time()
        last_frame = started
        partial_since: float | None = None
        while True:
            try:
                frame = framer.next()
            except FrameError as exc:
                raise Closing(str(exc), "malformed") from None
            if frame is None:
                now = loop.time()
                if client.user is None:
                    deadline, why = started + s.cot_auth_seconds, ("no auth message", "auth_timeouts")
                elif partial_since is not None:
                    deadline, why = partial_since + s.cot_frame_seconds, ("event not completed in time", "slow_senders")
                else:
                    deadline, why = last_frame + s.cot_idle_seconds, ("idle", "idle_timeouts")
                if now >= deadline:
                    raise Closing(f"{why[0]} within the time allowed", why[1])
                try:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), deadline - now)
                except asyncio.TimeoutError:
                    continue
                if not data:
                    if framer.partial:
                        raise Closing(f"stream ended inside an event ({framer.pending} bytes)", "truncated")
                    return
                framer.feed(data)
                if partial_since is None and framer.partial:
                    partial_since = loop.time()
                continue
            last_frame = loop.time()
            partial_since = last_frame if framer.partial else None
            try:
                message = codec.parse_frame(frame)
            except CotError as exc:
                raise Closing(str(exc), "malformed") from None
            client.received += 1
            client.last_seen = time.time()
            if client.user is None:
                await self._authenticate(client, message)
                continue
            if isinstance(message, Auth):
                continue
            switched = await self._on_event(client, message)
            if switched:
                framer = ProtoFramer(s.cot_max_event_bytes, framer.rest() if isinstance(framer, XmlFramer) else b"")
                partial_since = loop.time() if framer.partial else None

    async def _authenticate(self, client: Client, message: CotEvent | Auth) -> None:
        if not isinstance(message, Auth):
            raise Closing("the first message must be <auth><cot username=… password=…/></auth>", "auth_missing")
        try:
            user = await self.identity.check(message.username, message.password, client=client.peer.rsplit(":", 1)[0])
        except FossatumError as exc:
            raise Closing(f"authentication failed for {message.username!r}: {exc}", "auth_failures") from None
        client.callsign = message.callsign
        if message.uid:
            await self._bind_device(client, user, message.uid)
        client.user = user
        self.counters["authenticated"] += 1
        now = self.node.clock()
        client.send_once(codec.takp_offer(now))
        snapshot = await self.ingest.call(self.fanout.snapshot, user, own_unit=client.unit_id)
        for uid, event in snapshot:
            client.sent.add(uid)
            client.send(uid, event)
        log.info("cot: %s authenticated as %s (device %s, unit %s); %d items sent", client.peer, user.username,
                 client.device_uid, client.unit_id, len(snapshot))

    async def _bind_device(self, client: Client, user: User, uid: str) -> None:
        try:
            client.unit_id = await self.ingest.call(self.node.register_device, actor=user, uid=uid,
                                                    callsign=client.callsign)
        except FossatumError as exc:
            raise Closing(f"device {uid!r} refused: {exc}", "auth_failures") from None
        client.device_uid = uid

    async def _on_event(self, client: Client, event: CotEvent | Auth) -> bool:
        """Handle one event; True when the stream switches to protobuf after it."""
        assert isinstance(event, CotEvent) and client.user is not None
        kind = codec.kind_of(event)
        self.counters[f"in_{kind}"] += 1
        now = self.node.clock()
        if kind == "ping":
            client.send_once(codec.pong(now))
        elif kind == "takp_request":
            accepted = event.takp_request == "1"
            client.send_once(codec.takp_response(now, accepted), switch=accepted)
            return accepted
        elif kind == "sa":
            if client.device_uid is None:
                client.callsign = client.callsign or event.callsign
                await self._bind_device(client, client.user, event.uid)
            if event.uid == client.device_uid:
                await self.ingest.queue.put(Item(client.user, client.device_uid, client.unit_id,
                                                 client.callsign, kind, event))
        elif kind in ("marker", "alert", "chat"):
            await self.ingest.queue.put(Item(client.user, client.device_uid or event.uid, client.unit_id,
                                             client.callsign or event.callsign, kind, event))
        return False

    async def _sender(self, client: Client, writer: asyncio.StreamWriter) -> None:
        timeout = self.settings.cot_write_seconds
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                while client.queue:
                    batch: list[bytes] = []
                    switch_now = False
                    while client.queue and not switch_now:
                        _, (message, switch) = client.queue.popitem(last=False)
                        batch.append(to_proto(message) if client.protocol == "protobuf" else message)
                        switch_now = switch
                    writer.write(b"".join(batch))
                    client.sent_count += len(batch)
                    if switch_now:
                        client.protocol = "protobuf"
                    try:
                        await asyncio.wait_for(writer.drain(), timeout)
                    except asyncio.TimeoutError:
                        self.counters["slow_readers"] += 1
                        log.warning("cot: %s does not read (%ds); disconnecting", client.peer, timeout)
                        writer.transport.abort()
                        return
                if client.closed:
                    return
        except (ConnectionError, OSError):
            return

