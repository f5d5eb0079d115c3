"""The TAK stream server: one asyncio task pair per device, nothing shared that can block.

Listeners (`--cot URL`, repeatable):

    tcp://HOST:PORT                          plain TCP; the device sends TAK's auth message first
    tls://HOST:PORT                          TLS with client certificates of the node's own CA
                                             (`fossatum device add`); the certificate is the identity
    tcp://HOST:PORT?anonymous_unit=UNIT_ID   plain TCP without auth: every device on this port is
                                             that unit (of its agency), see below
    https://HOST:PORT                        TAK certificate enrolment (TAK's port is 8446): a device
                                             with a one-time token of `fossatum device add` gets a
                                             client certificate for the tls:// listener (enrol.py)

Anonymous devices exist only where an admin opens such a port. Each is admitted at once as
`anonymous.<unit>`, a field user of the unit's agency: it sees what a field user of that
agency may see, its self-SA moves that one unit, its markers become submitted reports authored
by `anonymous.<unit>`. An auth message sent on such a port is ignored.

On TLS the handshake is ours (`start_tls` after accept) so that every refusal — no
certificate, another CA, a revoked or unknown certificate, a user since disabled — is one log
line and one counter. `fossatum device revoke` also disconnects a device already connected
(the register is re-read every two seconds). A password change, a logout everywhere or a
disabled account (sessions.py) disconnects the user's devices that logged in with a password
within a second, and a disabled account its certificate devices too.

Per plain-TCP connection: the auth message first (within `cot_auth_seconds`), then events framed as
v0 XML or — after `t-x-takp-q` — v1 protobuf. Reads have an idle deadline and a deadline
for a started event (slowloris); a malformed or oversized frame closes that connection only,
with a log line and a counter. Writes go through a bounded per-device queue keyed by CoT uid:
while the device's queue is short (under KEEP_WHILE_QUEUED items) a newer state of an item
queued behind an unsent one is kept too, in order, up to KEEP_STATES (a device following a few
items gets every fix even when the node commits several in one batch); with a longer queue a
newer state replaces the queued ones (coalesced: latest state wins, so a busy device's backlog
stays one state per item), past the bound the oldest is
dropped (counted), and a device that leaves sent data unread too long is disconnected.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import ssl
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import parse_qs, urlsplit

from cryptography import x509

from ..api.guard import Addresses, Limits
from ..datadir import write_private
from ..domain.org import Role, User
from ..domain.timeutil import to_text
from ..errors import FossatumError, InvalidInput
from ..sessions import Revocation
from . import codec
from . import operations as ops
from .codec import Auth, CotError, CotEvent
from .enrol import EnrolListener, Enrolment
from .fanout import Fanout
from .framing import FrameError, ProtoFramer, XmlFramer, to_proto
from .identity import Identity
from .ingest import Ingest, Item
from .pki import Authority

if TYPE_CHECKING:
    from ..node import Node
    from ..settings import Settings
    from .fanout import Device

log = logging.getLogger("fossatum.cot")
STATUS_FILE = "cot-status.json"
READ_CHUNK = 65536
KEEP_STATES = 8  # states of one item queued in order while the device's queue is short (module doc)
KEEP_WHILE_QUEUED = 32  # items queued for a device from which newer states coalesce


@dataclass(frozen=True)
class Listen:
    scheme: str  # tcp | tls | https
    host: str
    port: int
    anonymous_unit: str | None = None

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        extra = f"?anonymous_unit={self.anonymous_unit}" if self.anonymous_unit else ""
        return f"{self.scheme}://{host}:{self.port if port is None else port}{extra}"


def parse_listen(url: str) -> Listen:
    """`tcp://HOST:PORT[?anonymous_unit=UNIT]`, `tls://HOST:PORT` or `https://HOST:PORT` → Listen."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls", "https") or not parts.hostname or port is None:
        raise InvalidInput(f"expected tcp://HOST:PORT, tls://HOST:PORT or https://HOST:PORT (enrolment), "
                           f"got {url!r}", field="cot")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(options) - {"anonymous_unit"}
    if unknown:
        raise InvalidInput(f"unknown option {sorted(unknown)[0]!r} in {url!r} (known: anonymous_unit)", field="cot")
    anonymous = options.get("anonymous_unit", [None])[-1]
    if anonymous is not None and (not anonymous or parts.scheme != "tcp"):
        raise InvalidInput("anonymous_unit=UNIT_ID needs a unit id, on a tcp:// listener only", field="cot")
    return Listen(parts.scheme, parts.hostname, port, anonymous)


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
    transport: str = "tcp"  # tcp | tls | anonymous
    cert_serial: str | None = None
    password_hash: str | None = None  # the stored hash its auth message matched (password devices)
    opened_at: str = ""  # node time its credentials were checked (a later revocation ends it)
    kicked: tuple[str, str] | None = None  # (reason, counter) when the server closes it from outside
    abort: Callable[[], None] | None = None  # closes the socket (set by the handler)
    connected_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    received: int = 0
    sent_count: int = 0
    dropped: int = 0
    coalesced: int = 0
    sent: set[str] = field(default_factory=set)  # CoT uids this device was given (for deletes)
    fresh: set[str] | None = None  # while its snapshot is read: uids the fan-out decided meanwhile
    queue: OrderedDict[str, tuple[list[bytes], bool]] = field(default_factory=OrderedDict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    _serial: int = 0

    def send(self, key: str, message: bytes, *, switch: bool = False, withdraw: bool = False) -> None:
        """Queue `message` under `key` (a CoT uid). A queued older state of it is kept before it
        while the queue is short, else replaced (coalesced); a withdrawal (`withdraw`: the delete
        of an item the user may no longer see) always replaces what is queued, so nothing withdrawn
        is written after the decision. Past the bound the oldest item goes (dropped)."""
        if self.closed:
            return
        queued = self.queue.get(key)
        if queued is not None:
            messages, _ = queued
            if (not withdraw and not switch and len(messages) < KEEP_STATES
                    and len(self.queue) < min(KEEP_WHILE_QUEUED, self.limit)):
                messages.append(message)
                self.wake.set()
                return
            del self.queue[key]
            self.coalesced += len(messages)
        elif len(self.queue) >= self.limit:
            _, (lost, _) = self.queue.popitem(last=False)
            self.dropped += len(lost)
        self.queue[key] = ([message], switch)
        self.wake.set()

    def take_snapshot(self, items: list[tuple[str, bytes]]) -> int:
        """Queue the state read at admission, except the items the fan-out has decided since
        (`fresh`): those are newer (moved again, narrowed, retracted), so the read copy is stale
        and must neither overwrite them nor show what was withdrawn meanwhile. Returns the count."""
        fresh, self.fresh = self.fresh or set(), None
        count = 0
        for uid, message in items:
            # An operation's group (area and sectors) was decided as a whole: none of it is stale-read.
            if uid in fresh or (fresh and ops.group_of(uid) in fresh):
                continue
            self.sent.add(uid)
            self.send(uid, message)
            count += 1
        return count

    def send_once(self, message: bytes, *, switch: bool = False) -> None:
        self._serial += 1
        self.send(f"\0{self._serial}", message, switch=switch)

    def status(self) -> dict[str, Any]:
        return {"peer": self.peer, "user": self.user.username if self.user else None,
                "agency": self.user.agency if self.user else None, "uid": self.device_uid, "unit": self.unit_id,
                "callsign": self.callsign, "protocol": self.protocol, "transport": self.transport,
                "certificate": self.cert_serial,
                "connected_at": _iso(self.connected_at), "last_seen": _iso(self.last_seen),
                "messages_in": self.received, "messages_out": self.sent_count, "queued": len(self.queue),
                "coalesced": self.coalesced, "dropped": self.dropped}


def _admitted(client: Client) -> TypeGuard[Device]:
    """A client is a device of the fan-out once admitted: from then on it has a user."""
    return client.user is not None


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class _AcceptTls(asyncio.Protocol):
    """Accepts a TLS connection: reading paused at once, the handshake done by the server's task."""

    def __init__(self, server: CotServer, listen: Listen) -> None:
        self.server, self.listen = server, listen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        address = self.server._admit_address(transport, self.listen)
        if address is None:
            return
        transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self.server._accept_tls(self.listen, transport))
        task.add_done_callback(lambda _: self.server.per_address.release(address))
        self.server._tasks.add(task)

    def connection_lost(self, exc: Exception | None) -> None:
        pass


class CotServer:
    """The gateway of one node: listeners, devices, ingest and fan-out."""

    def __init__(self, node: Node, *, settings: Settings | None = None) -> None:
        self.node = node
        self.settings = settings or node.settings
        self.clients: set[Client] = set()
        self.counters: Counter[str] = Counter()
        self.ingest = Ingest(node, report_scope=self.settings.cot_report_scope)
        self.identity = Identity(node)
        self.fanout = Fanout(node, self.settings, lambda: [c for c in self.clients if _admitted(c)])
        self.servers: list[asyncio.AbstractServer] = []
        self.addresses: list[tuple[str, int]] = []
        self.listening: list[str] = []
        self.authority = Authority(self.node.data_dir, node_name=getattr(node, "name", "Fossatum"))
        self._tls: ssl.SSLContext | None = None
        self._enrol: list[EnrolListener] = []
        self._anonymous: dict[str, tuple[User, dict[str, Any]]] = {}
        self._status_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # Open connections per client address, counted before any TLS work (slowloris).
        self.per_address = Addresses(int(self.settings.cot_per_address))
        # Snapshots for devices being admitted: reads, off the writer thread (see _admit).
        self._snapshots = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cot-snapshot")
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, urls: list[str]) -> None:
        loop = asyncio.get_running_loop()
        self.fanout.loop = loop
        self._loop = loop
        self.node.sessions.subscribe(self._sessions_ended)
        self.ingest.start()
        listens = [parse_listen(url) for url in urls]
        for listen in listens:
            if listen.scheme == "tls" and self._tls is None:
                self._tls = await asyncio.to_thread(self.authority.server_context)
            if listen.anonymous_unit:
                self._anonymous[listen.anonymous_unit] = await asyncio.to_thread(self._anonymous_user,
                                                                                 listen.anonymous_unit)
        if any(listen.scheme == "https" for listen in listens):
            await asyncio.to_thread(self.authority.ensure)  # the server certificate of the node's CA
        for listen in listens:
            try:
                if listen.scheme == "https":
                    enrol = EnrolListener(Enrolment(self).app(), listen.host, listen.port, self.authority.dir,
                                          Limits.of(self.settings))
                    self._enrol.append(enrol)
                    await enrol.start()
                    self.addresses.append(enrol.address)
                    self.listening.append(listen.url(enrol.address[1]))
                    continue
                if listen.scheme == "tls":
                    server = await loop.create_server(functools.partial(_AcceptTls, self, listen), listen.host,
                                                      listen.port, backlog=4096)
                else:
                    server = await asyncio.start_server(functools.partial(self._handle_plain, listen), listen.host,
                                                        listen.port, backlog=4096, limit=READ_CHUNK * 4)
            except OSError as exc:
                await self.stop()
                raise FossatumError(f"cannot listen on {listen.host}:{listen.port} for CoT: "
                                    f"{exc.strerror or exc}") from None
            self.servers.append(server)
            address = server.sockets[0].getsockname()[:2]
            self.addresses.append(address)
            self.listening.append(listen.url(address[1]))
        self._status_task = loop.create_task(self._write_status())

    def _anonymous_user(self, unit_id: str) -> tuple[User, dict[str, Any]]:
        """The stand-in user of anonymous devices of a port: a field user of the unit's agency."""
        unit = self.node.unit_doc(unit_id)
        if unit is None:
            raise InvalidInput(f"anonymous_unit: no unit {unit_id!r} on this node", field="cot")
        user = User(username=f"anonymous.{unit_id}"[:64], agency=unit["owner_agency"],
                    country=unit["owner_country"], roles=frozenset({Role.FIELD}), full_name="anonymous TAK device")
        return user, unit

    async def stop(self) -> None:
        self.node.sessions.unsubscribe(self._sessions_ended)
        self._loop = None
        for enrol in self._enrol:
            await enrol.stop()
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
        self._snapshots.shutdown(wait=True)
        self._save_status()

    # --- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {"node": self.node.node_id, "at": _iso(time.time()),
                "listening": list(self.listening),
                "counters": dict(self.counters), "ingest": dict(self.ingest.counts),
                "devices": sorted((c.status() for c in self.clients if c.user is not None),
                                  key=lambda d: (d["user"] or "", d["uid"] or ""))}

    def _save_status(self) -> None:
        path = self.node.data_dir / STATUS_FILE
        try:
            write_private(path, json.dumps(self.status(), indent=1).encode())
        except OSError as exc:
            log.warning("cot: cannot write %s: %s", path, exc)

    async def _write_status(self) -> None:
        while True:
            self._save_status()
            if self._tls is not None and self.authority.changed():
                self._recheck_certificates()
            await asyncio.sleep(2.0)

    def _recheck_certificates(self) -> None:
        """Disconnect devices whose certificate was revoked (or removed) since they connected."""
        for client in list(self.clients):
            if client.cert_serial is None or client.closed:
                continue
            record = self.authority.lookup(int(client.cert_serial, 16))
            if record is None or record["revoked_at"]:
                client.kicked = (f"certificate {client.cert_serial} revoked", "cert_revoked")
                if client.abort is not None:
                    client.abort()

    def _sessions_ended(self, revocations: list[Revocation]) -> None:
        """(The session watcher's thread.) Hop onto the loop to disconnect the devices they end."""
        loop = self._loop
        if revocations and loop is not None:
            loop.call_soon_threadsafe(self._end_devices, revocations)

    def _end_devices(self, revocations: list[Revocation]) -> None:
        for client in list(self.clients):
            if client.user is None or client.closed or client.transport == "anonymous":
                continue
            for revocation in revocations:
                if revocation.ends_device(client.user.username, client.opened_at,
                                          by_password=client.password_hash is not None):
                    client.kicked = (f"session ended: {revocation.message}", "sessions_ended")
                    if client.abort is not None:
                        client.abort()
                    break

    # --- one connection --------------------------------------------------------------------
    def _admit_address(self, transport: asyncio.WriteTransport, listen: Listen) -> str | None:
        """The client address of a new connection, or None (connection aborted) when that
        address holds `cot_per_address` connections already: one address cannot take the port."""
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if self.per_address.admit(address):
            return address
        self.counters["connections"] += 1
        self.counters["refused_per_address"] += 1
        log.warning("cot: %s refused on %s: %d connections from that address already", address,
                    listen.url(), self.per_address.cap)
        transport.abort()
        return None

    async def _handle_plain(self, listen: Listen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = self._admit_address(writer.transport, listen)
        if address is None:
            return
        try:
            await self._handle(listen, reader, writer)
        finally:
            self.per_address.release(address)

    async def _handle(self, listen: Listen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      cert_serial: str | None = None) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        peer = writer.get_extra_info("peername")
        client = Client(peer=f"{peer[0]}:{peer[1]}" if peer else "?", limit=self.settings.cot_queue,
                        transport=listen.scheme)
        client.cert_serial = cert_serial
        self.counters["connections"] += 1
        client.abort = writer.transport.abort
        self.clients.add(client)
        sender = asyncio.get_running_loop().create_task(self._sender(client, writer))
        reason, counter = "closed by the device", "closed"
        try:
            if listen.scheme == "tls":
                await self._admit_certificate(client)
            elif listen.anonymous_unit:
                await self._admit_anonymous(client, listen.anonymous_unit)
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
            if client.kicked is not None:
                reason, counter = client.kicked
            self.counters[counter] += 1
            level = logging.INFO if counter in ("closed",) else logging.WARNING
            log.log(level, "cot: %s (%s) disconnected: %s", client.peer,
                    client.user.username if client.user else "not authenticated", reason)
            client.closed = True
            client.wake.set()
            self.clients.discard(client)
            try:
                await asyncio.wait_for(sender, 1.0)
            except (TimeoutError, asyncio.CancelledError, Exception):
                sender.cancel()
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (TimeoutError, asyncio.CancelledError, ConnectionError, OSError):
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
                except TimeoutError:
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

    async def _accept_tls(self, listen: Listen, transport: asyncio.Transport) -> None:
        """TLS on an accepted socket (reading paused until now, so no byte of the handshake is
        lost); a client certificate of the node's CA is required. Every refusal: a line, a counter."""
        assert self._tls is not None
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername")
        where = f"{peer[0]}:{peer[1]}" if peer else "?"
        timeout = self.settings.cot_auth_seconds
        reader = asyncio.StreamReader(limit=READ_CHUNK * 4)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            try:
                secured = await loop.start_tls(transport, protocol, self._tls, server_side=True,
                                               ssl_handshake_timeout=timeout)
            except ssl.SSLCertVerificationError as exc:
                raise Closing(f"client certificate not accepted ({exc.verify_message})", "tls_bad_certificate") from None
            except ssl.SSLError as exc:
                why = exc.reason or str(exc)
                counter = "tls_no_certificate" if "PEER_DID_NOT_RETURN" in why.upper() else (
                    "tls_bad_certificate" if "CERTIFICATE" in why.upper() else "tls_failures")
                raise Closing(f"TLS handshake failed: {why}", counter) from None
            except TimeoutError:
                raise Closing("TLS handshake not completed in time", "tls_failures") from None
            except (ConnectionError, OSError) as exc:
                raise Closing(f"TLS handshake: {exc}", "tls_failures") from None
            if secured is None:
                raise Closing("TLS handshake: connection closed", "tls_failures")
            ssl_object = secured.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if not der:
                secured.abort()
                raise Closing("no client certificate", "tls_no_certificate")
            serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
        except Closing as exc:
            self.counters["connections"] += 1
            self.counters[exc.counter] += 1
            sockname = transport.get_extra_info("sockname")
            log.warning("cot: %s refused on %s: %s", where, listen.url(sockname[1] if sockname else None), exc)
            transport.abort()
            self._tasks.discard(task)
            return
        except asyncio.CancelledError:
            transport.abort()
            self._tasks.discard(task)
            raise
        protocol.connection_made(secured)
        writer = asyncio.StreamWriter(secured, protocol, reader, loop)
        self._tasks.discard(task)
        await self._handle(listen, reader, writer, serial)

    async def _admit_certificate(self, client: Client) -> None:
        """The device of a verified client certificate: the register names its user (and uid)."""
        assert client.cert_serial is not None
        record = await asyncio.to_thread(self.authority.lookup, int(client.cert_serial, 16))
        if record is None:
            raise Closing(f"certificate {client.cert_serial} is not in the device register", "cert_unknown")
        if record["revoked_at"]:
            raise Closing(f"certificate {client.cert_serial} ({record['name']}) revoked at {record['revoked_at']}",
                          "cert_revoked")
        client.opened_at = to_text(self.node.clock())
        user = self.node.user(record["username"])
        if user is None or not user.active:
            raise Closing(f"certificate {record['name']}: user {record['username']!r} is unknown or disabled",
                          "auth_failures")
        client.callsign = record.get("callsign") or ""
        if record.get("uid"):
            await self._bind_device(client, user, record["uid"])
        await self._admit(client, user, f"certificate {record['name']}")
        await self._recheck(client)

    async def _admit_anonymous(self, client: Client, unit_id: str) -> None:
        user, _unit = self._anonymous[unit_id]
        client.unit_id = unit_id
        client.transport = "anonymous"
        self.counters["anonymous"] += 1
        await self._admit(client, user, "anonymous port")

    async def _admit(self, client: Client, user: User, how: str) -> None:
        # From here on the fan-out serves the device (and notes in `fresh` what it decided), so the
        # snapshot is read on its own thread: a crowd connecting at once does not hold up the
        # positions queued for the writer thread behind their reads.
        client.fresh = set()
        client.user = user
        self.counters["authenticated"] += 1
        now = self.node.clock()
        client.send_once(codec.takp_offer(now))
        loop = asyncio.get_running_loop()
        snapshot = await loop.run_in_executor(
            self._snapshots, functools.partial(self.fanout.snapshot, user, own_unit=client.unit_id))
        sent = client.take_snapshot(snapshot)
        log.info("cot: %s admitted as %s by %s (device %s, unit %s); %d items sent", client.peer, user.username,
                 how, client.device_uid, client.unit_id, sent)

    async def _authenticate(self, client: Client, message: CotEvent | Auth) -> None:
        if not isinstance(message, Auth):
            raise Closing("the first message must be <auth><cot username=… password=…/></auth>", "auth_missing")
        client.opened_at = to_text(self.node.clock())
        try:
            user, client.password_hash = await self.identity.check_hash(
                message.username, message.password, client=client.peer.rsplit(":", 1)[0])
        except FossatumError as exc:
            raise Closing(f"authentication failed for {message.username!r}: {exc}", "auth_failures") from None
        client.callsign = message.callsign
        if message.uid:
            await self._bind_device(client, user, message.uid)
        await self._admit(client, user, "auth message")
        await self._recheck(client)

    async def _recheck(self, client: Client) -> None:
        """Once admitted (and so reachable by `_end_devices`), read the account again: a password
        changed or an account disabled while the device was being admitted ends it here."""
        assert client.user is not None
        username = client.user.username
        user, stored = await asyncio.to_thread(
            lambda: (self.node.user(username), self.node.password_hash(username)))
        if user is None or not user.active:
            raise Closing(f"session ended: {username!r} was disabled", "sessions_ended")
        if client.password_hash is not None and stored != client.password_hash:
            raise Closing(f"session ended: the password of {username!r} was changed", "sessions_ended")

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
                if client.transport == "anonymous":
                    client.device_uid = event.uid  # the port's unit, no device registration
                else:
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
                        _, (messages, switch) = client.queue.popitem(last=False)
                        batch.extend(map(to_proto, messages) if client.protocol == "protobuf" else messages)
                        switch_now = switch
                    writer.write(b"".join(batch))
                    client.sent_count += len(batch)
                    if switch_now:
                        client.protocol = "protobuf"
                    try:
                        await asyncio.wait_for(writer.drain(), timeout)
                    except TimeoutError:
                        self.counters["slow_readers"] += 1
                        log.warning("cot: %s does not read (%ds); disconnecting", client.peer, timeout)
                        writer.transport.abort()
                        return
                if client.closed:
                    return
        except (ConnectionError, OSError):
            return

