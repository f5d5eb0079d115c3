"""TAK gateway side by side: Fossatum vs FreeTAKServer 2.2.1, same load, same loopback.

    .venv/bin/python bench/tak.py            # N = 10, 100, 500, 1000 (20 s of load each) + faults (~20 min)
    .venv/bin/python bench/tak.py --clients 10,50 --seconds 10 --servers fossatum --no-faults
    .venv/bin/python bench/tak.py --faults   # the fault scenarios only, both servers

The load (one asyncio process, pytak-style raw TCP clients writing XML header + event, as
pytak does with TAK_PROTO=0): N senders, each a device sending its self-SA (`a-f-G-U-C`) at
1 Hz and a hostile marker (`a-h-G`) every 10 s, and reading everything it is sent; plus
OBSERVERS devices that only read. Each SA carries its sequence number in its latitude, so an
observer can match what it receives (Fossatum re-emits the device's unit as
`fossatum.unit.dev-<uid>`, FTS relays the event as is) to the send time: delivery % and
latency are measured on the self-SA at the observers (markers are load: Fossatum files them
as *submitted* reports, which devices are not shown until validated; FTS relays them).
"msgs/s delivered" counts every event read by every client (senders and observers).
CPU is the server's process tree (user+system seconds per second of load, 1.0 = one core),
RSS its sum at the end. "Full picture" = time for a client connecting after the load to hold
the latest position of all N senders. The load starts once a probe's self-SA reaches the
observers (the server has taken every connection and serves).

On two or more CPUs the server's process tree is pinned to the first CPU and the load
generator to the others (printed, and checked on the server's processes after each run). The
generator is light (bare asyncio Protocols, pre-encoded events, one ticker task for all
senders); its own CPU is printed, with a note when it nears a full core.

Fossatum runs as `fossatum serve --cot tcp://…` on a copy of a node whose devices have all
connected once (an enrolled fleet, built once in bench/.data/; clients send TAK's auth message
first; one user for all, identity cached). FTS runs from its own venv (bench/.data/fts-venv,
created on first run with the pins it needs) on a fresh /opt/fts.
Everything — both servers and the clients — runs inside `unshare -n -m` (a private network
namespace with only loopback up, a tmpfs over /opt and a scratch folder bound on /opt/fts);
where unshare is not possible the servers bind 127.0.0.1 and the script says so.
Each run is bounded (connect, load, drain, late joiner) and every process it starts is
killed at the end of the run (its process group).

Fault scenarios, each on a fresh server of each kind, pass/fail printed: (a) one client writes
1,000 self-SA at once; (b) 200 admitted clients reset their connections at once, then 20 new
clients connect: each must reach an observer within 2 s of the resets; (c) 50 silent sockets
(no auth) beside a sender/observer pair at 10 Hz; (d) garbage bytes on one connection and
truncated XML on another beside such a pair: both closed (Fossatum: the reason from its log
and its `malformed` counter). For (c) and (d) the pair is first measured alone on the same
server; "unaffected" = delivery within 5 points, no disconnect, p99 at most 2× (or +100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
FTS_VENV = DATA / "fts-venv"
PASSWORD = "bench-password-1"
OBSERVERS = 2
HZ = 1.0
MARKER_EVERY = 10
LAT0, LON0, STEP = 33.0, 9.0, 1e-5
_UID = re.compile(rb'uid="[^"]*?BENCH-(\d+)"')
_LAT = re.compile(rb'lat="([-0-9.]+)"')
_TYPE = re.compile(rb'type="([^"]+)"')
HEADER = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@functools.cache
def _sa_parts(i: int) -> tuple[bytes, bytes]:
    """Sender i's self-SA before its time attributes and after its latitude (encoded once)."""
    head = HEADER + f'<event version="2.0" uid="BENCH-{i}" type="a-f-G-U-C" how="m-g" '.encode()
    tail = (f'" lon="{LON0 + (i % 1000) * 1e-3:.7f}" hae="0" ce="5" le="9999999"/><detail><contact callsign="B-{i}" '
            f'endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/><takv platform="bench" version="1" '
            f'device="x" os="1"/><track speed="1.0" course="90"/></detail></event>').encode()
    return head, tail


class SaStamp:
    """The time attributes of one instant, encoded once for every self-SA written at it."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.times = (f'time="{iso(now)}" start="{iso(now)}" stale="{iso(now + timedelta(minutes=2))}">'
                      f'<point lat="').encode()

    def sa(self, i: int, seq: int) -> bytes:
        """Sender i's self-SA number `seq` (the sequence number rides in the latitude)."""
        head, tail = _sa_parts(i)
        return b"%s%s%.7f%s" % (head, self.times, LAT0 + seq * STEP, tail)


def sa(i: int, seq: int) -> bytes:
    return SaStamp().sa(i, seq)


def marker(i: int, k: int) -> bytes:
    now = datetime.now(UTC)
    return HEADER + (
        f'<event version="2.0" uid="MK-{i}-{k}" type="a-h-G" how="h-e" time="{iso(now)}" start="{iso(now)}" '
        f'stale="{iso(now + timedelta(hours=1))}"><point lat="{LAT0 + 0.1:.5f}" lon="{LON0 + (i % 1000) * 1e-3:.5f}" hae="0" '
        f'ce="20" le="9999999"/><detail><contact callsign="mk-{i}-{k}"/><remarks>bench marker {k}</remarks>'
        f'</detail></event>').encode()


def auth(uid: str) -> bytes:
    return f'<auth><cot username="bench" password="{PASSWORD}" uid="{uid}" callsign="{uid}"/></auth>'.encode()


# --- process accounting (/proc; no psutil in the project venv) -----------------------------------
def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# --- CPU pinning: the server's process tree on one core, the load generator on the other -------
SERVER_CPUS: set[int] = set()


def pin() -> str:
    """Keep the load generator (this process) off the server's core; a no-op on one CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return f"not pinned: only CPU {cpus} available, servers and clients share it"
    SERVER_CPUS.clear()
    SERVER_CPUS.add(cpus[0])
    os.sched_setaffinity(0, set(cpus[1:]))
    return f"server process tree on CPU {cpus[0]}, load generator on CPU {','.join(map(str, cpus[1:]))}"


def _pin_server() -> None:  # preexec_fn of the servers: children (FTS's services) inherit it
    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)


def affinity(pid: int) -> str:
    """The CPUs the server's processes may run on (checked, not assumed)."""
    cpus: set[int] = set()
    for p in tree(pid):
        try:
            cpus |= os.sched_getaffinity(p)
        except OSError:
            pass
    return ",".join(map(str, sorted(cpus)))


def raise_nofile(clients: int) -> str:
    """Enough file descriptors for N clients (+ the servers' own sockets, inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * clients + 1024
    if soft < want:
        soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return f"RLIMIT_NOFILE {soft}" + ("" if soft >= want else f" (wanted {want}: N={clients} may run out)")


# --- servers --------------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    needs_auth: bool
    folder: Path
    logfile: Path

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


def wait_port(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return True
        except OSError:
            time.sleep(0.3)
    return False


FLEET_MAX = 1000  # senders BENCH-0 … BENCH-999 are enrolled in the template node
FLEET = DATA / f"tak-fleet-{FLEET_MAX}-v1"


def fleet_uids() -> list[str]:
    """Every device uid the bench uses: load senders, observers, probe, late joiner, fault scenarios."""
    numbers = [*range(FLEET_MAX), 800_000, 50_000, *range(51_000, 51_020), 52_000, 52_001, 53_000]
    return ([f"BENCH-{i}" for i in numbers] + [f"OBSERVER-{k}" for k in range(OBSERVERS)]
            + [f"CROWD-{k}" for k in range(200)] + [f"BAD-{k}" for k in range(2)] + ["LATE-JOINER"]
            + [f"OBS-{name}" for name in ("BURST", "CROWD", 52_000, 52_001, 53_000)])


def fleet_template() -> Path:
    """A node whose devices have all connected once before (an enrolled fleet), built once and
    copied for each run. A device's first connection registers it (one committed transaction
    each, fsync-bound: ~12 ms quiet, far more on a busy disk), which is not the steady state."""
    if FLEET.exists():
        return FLEET
    sys.path.insert(0, str(ROOT / "src"))
    from fossatum.node import init_node

    log(f"building the enrolled-fleet node {FLEET.name} (once) …")
    building = Path(tempfile.mkdtemp(prefix="tak-fleet-", dir=DATA))
    node = init_node(building / "node", country="TUN", name="Bench NCC")
    node.add_agency(actor=None, code="TN-GN", name="Garde nationale", country="TUN")
    node.add_user(actor=None, username="bench", agency="TN-GN", roles=["field"], password=PASSWORD)
    user = node.store.user("bench")
    for uid in fleet_uids():
        node.register_device(actor=user, uid=uid, callsign=uid)
    node.close()
    (building / "node").rename(FLEET)
    shutil.rmtree(building, ignore_errors=True)
    return FLEET


def start_fossatum(run: Path) -> Server:
    folder = run / "fossatum"
    shutil.copytree(fleet_template(), folder)
    port, http = free_port(), free_port()
    logfile = run / "fossatum.log"
    env = {**os.environ, "FOSSATUM_COT_IDLE_SECONDS": "600",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "fossatum.cli", "serve", "--data", str(folder), "--port", str(http),
                             "--cot", f"tcp://127.0.0.1:{port}"], stdout=logfile.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, env=env, preexec_fn=_pin_server)
    server = Server("Fossatum", proc, port, True, folder, logfile)
    if not wait_port(port, proc, 30):
        server.stop()
        raise RuntimeError(f"Fossatum did not open {port}; see {logfile}")
    return server


def ensure_fts() -> str | None:
    """The FTS venv (created once); None if ready, else why it cannot be used."""
    py = FTS_VENV / "bin/python"
    if not py.exists():
        log("installing FreeTAKServer 2.2.1 into bench/.data/fts-venv (once) …")
        if not shutil.which("python3.11"):
            return "python3.11 not found (FTS 2.2.1 needs it)"
        steps = [["python3.11", "-m", "venv", str(FTS_VENV)],
                 [str(py), "-m", "pip", "install", "-q", "FreeTAKServer==2.2.1"],
                 [str(py), "-m", "pip", "install", "-q", "setuptools<81", "opentelemetry-sdk==1.25.0",
                  "opentelemetry-api==1.25.0"]]
        for step in steps:
            r = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if r.returncode:
                return f"'{' '.join(step[-3:])}' failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}"
    r = subprocess.run([str(py), "-c", "import FreeTAKServer"], capture_output=True, text=True, timeout=120)
    if r.returncode:
        return f"FreeTAKServer does not import: {r.stderr.strip().splitlines()[-1:]}"
    return None


def start_fts(run: Path, isolated: bool) -> Server:
    folder = run / "fts"
    folder.mkdir(parents=True)
    if isolated:  # inside our namespace: /opt is a private tmpfs; bind the scratch folder on /opt/fts
        os.makedirs("/opt/fts", exist_ok=True)
        subprocess.run(["mount", "--bind", str(folder), "/opt/fts"], check=True)
    py = str(FTS_VENV / "bin/python")
    env = {**os.environ, "FTS_DP_ADDRESS": "127.0.0.1", "FTS_USER_ADDRESS": "127.0.0.1",
           "FTS_API_ADDRESS": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    logfile = run / "fts.log"
    subprocess.run([py, "-c", "from FreeTAKServer.core.configuration.configuration_wizard import "
                    "autogenerate_config; autogenerate_config()"], cwd=folder, env=env, check=True,
                   stdout=logfile.open("w"), stderr=subprocess.STDOUT, timeout=120)
    proc = subprocess.Popen([py, "-m", "FreeTAKServer.controllers.services.FTS", "-CoTIP", "127.0.0.1",
                             "-SSLCoTIP", "127.0.0.1", "-DataPackageIP", "127.0.0.1", "-SSLDataPackageIP",
                             "127.0.0.1", "-RestAPIIP", "127.0.0.1"], cwd=folder, env=env,
                            stdout=logfile.open("a"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_pin_server)
    server = Server("FreeTAKServer", proc, 8087, False, folder, logfile)
    if not wait_port(8087, proc, 90):
        server.stop()
        raise RuntimeError(f"FTS did not open 8087 within 90 s; see {logfile}")
    time.sleep(3)  # its other services finish starting after the CoT port opens
    return server


# --- the load -------------------------------------------------------------------------------------
# Every client is a bare asyncio Protocol (no task, StreamReader or wait_for per socket): a reading
# client only counts `</event>` in what it is given, and one ticker task writes each sender's
# pre-encoded self-SA when it is due. The generator's cost per event stays small, so that what is
# measured is the server (its own CPU is printed beside the server's).
GEN_SATURATED = 0.9  # the load generator's own CPU from which it is called the bottleneck
BLOCKED = 1 << 20  # bytes the server may leave unread on one sender's socket before that sender skips


@dataclass
class Tally:
    received: int = 0  # events read by all clients
    sent_at: dict[tuple[int, int], float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seen: set[tuple[int, int, int]] = field(default_factory=set)  # (observer, sender, seq)
    sa_sent: int = 0
    markers_sent: int = 0
    blocked: int = 0  # self-SA not sent: the server had left > BLOCKED bytes unread on that socket
    disconnects: int = 0  # connections the server closed


class Reader(asyncio.Protocol):
    """One TAK client's socket. Counts the events it is sent; an observer (`observer` = its
    number) also matches each self-SA to its send time (first arrival per (sender, seq))."""

    def __init__(self, tally: Tally, observer: int | None = None) -> None:
        self.tally, self.observer = tally, observer
        self.transport: asyncio.Transport | None = None
        self.tail = b""
        self.buf = b""
        self.closing = False
        self.first: dict[tuple[int, int], float] = {}  # observers: (sender, seq) → monotonic arrival
        self.answered = False  # the server has sent it something (admitted: takp offer / FTS welcome)
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.answered = True
        if self.observer is None:  # count only; a tag split over two reads is found in the seam
            self.tally.received += data.count(b"</event>") + (self.tail + data[:7]).count(b"</event>")
            self.tail = data[-7:]
            return
        now = time.monotonic()
        self.buf += data
        *events, self.buf = self.buf.split(b"</event>")
        self.tally.received += len(events)
        for e in events:
            m, lat, typ = _UID.search(e), _LAT.search(e), _TYPE.search(e)
            if not (m and lat and typ) or not typ.group(1).startswith(b"a-f-"):
                continue
            key = (int(m.group(1)), round((float(lat.group(1)) - LAT0) / STEP))
            if key in self.first:
                continue
            self.first[key] = now
            sent = self.tally.sent_at.get(key)
            if sent is not None:
                self.tally.seen.add((self.observer, *key))
                self.tally.latencies.append(now - sent)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.tally.disconnects += 1
        if not self.lost.done():
            self.lost.set_result(None)

    @property
    def open(self) -> bool:
        return not self.lost.done()

    def write(self, data: bytes) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    def close(self, *, reset: bool = False) -> None:
        self.closing = True
        if self.transport is not None:
            if reset:  # RST, as a device that loses its link or is killed
                sock = self.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.transport.abort()
            else:
                self.transport.close()


async def connect(server: Server, uid: str, reader: Reader, *, announce: bool = True) -> Reader:
    """A connected client; on Fossatum it sends the auth message first (unless `announce` is
    False: a silent socket). FTS needs nothing: it registers a client from its first event."""
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.create_connection(lambda: reader, "127.0.0.1", server.port), 10)
    if announce and server.needs_auth:
        reader.write(auth(uid))
    return reader


async def ticker(senders: list[tuple[int, Reader]], tally: Tally, t0: float, seconds: float) -> None:
    """Every sender's self-SA at HZ (and a marker every MARKER_EVERY), spread over the second in 100
    slots: slot k is due at t0 + k/100/HZ and holds the senders with i % 100 == k % 100."""
    slots: list[list[tuple[int, Reader]]] = [[] for _ in range(100)]
    for i, r in senders:
        slots[i % 100].append((i, r))
    k, end = 0, int(seconds * HZ * 100)
    while k < end:
        now = time.monotonic()
        stamp = SaStamp()
        while k < end and t0 + k / 100 / HZ <= now:
            seq = k // 100 + 1
            for i, r in slots[k % 100]:
                if r.transport is None or r.transport.get_write_buffer_size() > BLOCKED:
                    tally.blocked += 1
                    continue
                data = stamp.sa(i, seq)
                if seq % MARKER_EVERY == 0:
                    data += marker(i, seq // MARKER_EVERY)
                    tally.markers_sent += 1
                tally.sent_at[(i, seq)] = now
                if r.write(data):
                    tally.sa_sent += 1
            k += 1
        await asyncio.sleep(max(0.0, t0 + k / 100 / HZ - time.monotonic()))


async def full_picture(server: Server, n: int, timeout: float = 20.0) -> tuple[float | None, int]:
    """Seconds until a client connecting now holds a position of each of the N senders."""
    start = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port, limit=1 << 20), 10)
    writer.write(auth("LATE-JOINER") if server.needs_auth else sa(999_999, 1))
    have: set[int] = set()
    buf = b""
    try:
        while len(have) < n and time.monotonic() - start < timeout:
            try:
                data = await asyncio.wait_for(reader.read(1 << 16), 0.5)
            except TimeoutError:
                continue
            if not data:
                break
            buf += data
            *events, buf = buf.split(b"</event>")
            for e in events:
                m = _UID.search(e)
                if m and int(m.group(1)) < n:
                    have.add(int(m.group(1)))
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
    return (time.monotonic() - start if len(have) >= n else None), len(have)


async def until_serving(server: Server, observers: list[Reader], timeout: float = 120.0) -> bool:
    """Wait until the server, after taking all the connections, relays a probe's self-SA to every
    observer (on Fossatum the probe's fix queues behind the devices' admission on the writer thread)."""
    probe_id = 800_000
    probe = await connect(server, f"BENCH-{probe_id}", Reader(Tally()))
    end, seq = time.monotonic() + timeout, 0
    if not server.needs_auth:  # FTS: one event to register, answered (welcome) before the next
        probe.write(sa(probe_id, 0))
        await wait_until(lambda: probe.answered, 30)
    try:
        while time.monotonic() < end:
            seq += 1
            probe.write(SaStamp().sa(probe_id, seq))
            if await wait_until(lambda: all(any(s == probe_id for s, _ in o.first) for o in observers), 1.0):
                return True
        return False
    finally:
        probe.close()


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


async def load(server: Server, n: int, seconds: float) -> dict[str, object]:
    tally = Tally()
    clients: list[Reader] = []
    connect_start = time.monotonic()
    for k in range(OBSERVERS):
        observer = await connect(server, f"OBSERVER-{k}", Reader(tally, k))
        if not server.needs_auth:
            observer.write(sa(900_000 + k, 1))
        clients.append(observer)
    senders: list[tuple[int, Reader]] = []
    failed = 0
    for i in range(n):
        try:
            sender = await connect(server, f"BENCH-{i}", Reader(tally))
        except (TimeoutError, OSError):
            failed += 1
            continue
        if not server.needs_auth:  # FTS registers a client from its first event (seq 0: not measured)
            sender.write(sa(i, 0))
        senders.append((i, sender))
    clients += [r for _, r in senders]
    connected_s = time.monotonic() - connect_start
    ready = await until_serving(server, [r for r in clients if r.observer is not None])
    connect_s = time.monotonic() - connect_start
    await asyncio.sleep(1.0)
    cpu0, gen0, t0 = cpu_seconds(server.proc.pid), own_cpu(), time.monotonic()
    received0 = tally.received
    await ticker(senders, tally, t0, seconds)
    await asyncio.sleep(3.0)  # in-flight deliveries
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / elapsed
    gen_cpu = (own_cpu() - gen0) / elapsed
    received = tally.received - received0
    rss = rss_mb(server.proc.pid)
    pinned = affinity(server.proc.pid)
    picture, have = await full_picture(server, len(senders))
    for r in clients:
        r.close()
    expected = tally.sa_sent * OBSERVERS
    lat = sorted(tally.latencies)
    return {"n": n, "connected": len(senders), "connect_failed": failed, "connect_s": connect_s,
            "ready": ready, "connected_s": connected_s,
            "sa_sent": tally.sa_sent, "markers": tally.markers_sent, "blocked": tally.blocked,
            "delivery": 100.0 * len(tally.seen) / expected if expected else 0.0,
            "p50": lat[len(lat) // 2] * 1000 if lat else None, "p99": lat[int(len(lat) * 0.99)] * 1000 if lat else None,
            "msgs_s": received / elapsed, "cpu": cpu, "gen_cpu": gen_cpu, "rss": rss, "picture": picture,
            "picture_have": have, "disconnects": tally.disconnects, "pinned": pinned}


def fmt(v: object, spec: str, none: str = "—") -> str:
    return none if v is None else format(v, spec)


def start(name: str, run: Path, isolated: bool) -> Server:
    return start_fossatum(run) if name == "fossatum" else start_fts(run, isolated)


def stop(name: str, server: Server, isolated: bool) -> None:
    server.stop()
    if name == "fts" and isolated:
        subprocess.run(["umount", "-l", "/opt/fts"], check=False)


def run_one(name: str, n: int, seconds: float, run: Path, isolated: bool) -> dict[str, object]:
    server = start(name, run, isolated)
    try:
        result = asyncio.run(asyncio.wait_for(load(server, n, seconds), seconds + 150))
    finally:
        stop(name, server, isolated)
    result["server"] = server.name
    return result


def run_faults(name: str, run: Path, isolated: bool) -> tuple[str, list[Outcome]]:
    """Each scenario on a fresh server, so that one fault's aftermath does not judge the next."""
    outcomes, server_name = [], name
    for k, (title, scenario) in enumerate(SCENARIOS):
        folder = run / str(k)
        folder.mkdir()
        try:
            server = start(name, folder, isolated)
        except Exception as exc:
            outcomes.append(Outcome(title, f"server did not start: {exc}", False))
            continue
        server_name = server.name
        try:
            outcomes.append(asyncio.run(asyncio.wait_for(scenario(server), 120)))
        except Exception as exc:  # one scenario failing must not lose the others
            outcomes.append(Outcome(title, f"failed to run: {exc!r}", False))
        finally:
            stop(name, server, isolated)
            shutil.rmtree(folder / "fossatum", ignore_errors=True)
        o = outcomes[-1]
        log(f"   {o.scenario}: {'PASS' if o.passed else 'FAIL'} — {o.result}")
    return server_name, outcomes


def report(results: list[dict[str, object]]) -> None:
    log("")
    log(f"{'server':<14} {'N':>4} {'conn':>5} {'SA sent':>8} {'blocked':>7} {'delivery':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'msgs/s':>9} {'CPU':>5} {'RSS MB':>7} {'picture s':>10} {'disc':>5} {'gen CPU':>7}")
    for r in results:
        picture = fmt(r["picture"], ".2f", f"no ({r['picture_have']}/{r['connected']})")
        log(f"{r['server']:<14} {r['n']:>4} {r['connected']:>5} {r['sa_sent']:>8} {r['blocked']:>7} "
            f"{r['delivery']:>8.1f}% {fmt(r['p50'], '.1f'):>8} {fmt(r['p99'], '.1f'):>8} {r['msgs_s']:>9.0f} "
            f"{r['cpu']:>5.2f} {r['rss']:>7.0f} {picture:>10} {r['disconnects']:>5} {r['gen_cpu']:>7.2f}")
    log("CPU = server process tree, cores used during the load (pinned to CPU "
        f"{', '.join(sorted({str(r['pinned']) for r in results}))}); gen CPU = the load generator's own process.")
    busy = [r for r in results if r["gen_cpu"] >= GEN_SATURATED]
    for r in busy:
        log(f"note: at N={r['n']} ({r['server']}) the load generator used {r['gen_cpu']:.2f} of its core: it, not only "
            "the server, limits what is delivered and how fast it is read (latency includes its queueing)")
    by = {(r["server"], r["n"]): r for r in results}
    lines = []
    for n in sorted({r["n"] for r in results}):
        f, t = by.get(("Fossatum", n)), by.get(("FreeTAKServer", n))
        if f and t:
            ratio = lambda a, b: f"{a / b:.1f}×" if a and b else "—"  # noqa: E731
            lines.append(f"N={n}: msgs/s {ratio(f['msgs_s'], t['msgs_s'])}, p99 latency FTS/Fossatum "
                         f"{ratio(t['p99'], f['p99'])}, delivery {f['delivery']:.1f}% vs {t['delivery']:.1f}%, "
                         f"RSS {ratio(t['rss'], f['rss'])} less")
    if lines:
        log("\nratios (Fossatum vs FreeTAKServer):")
        for line in lines:
            log("  " + line)


def report_faults(outcomes: dict[str, list[Outcome]]) -> None:
    for name, rows in outcomes.items():
        log(f"\nfault scenarios — {name}:")
        for o in rows:
            log(f"  {'PASS' if o.passed else 'FAIL'}  {o.scenario:<36} {o.result}")


# --- fault scenarios --------------------------------------------------------------------------------
# Each on the same running server, one after the other; a pair = one sender streaming its self-SA
# at PAIR_HZ and one observer. Senders here use numbers ≥ 50,000 so that they never meet the load's.
PAIR_HZ = 10.0


@dataclass
class Outcome:
    scenario: str
    result: str
    passed: bool


async def registered(server: Server, i: int, tally: Tally) -> Reader:
    """Sender i, connected and admitted: on FTS one registering event (seq 0, not measured) first,
    answered by its welcome, as a device announces itself before it streams."""
    sender = await connect(server, f"BENCH-{i}", Reader(tally))
    if not server.needs_auth:
        sender.write(sa(i, 0))
    await wait_until(lambda: sender.answered, 30)
    return sender


async def observer_of(server: Server, tally: Tally, name: str) -> Reader:
    observer = await connect(server, name, Reader(tally, 0))
    if not server.needs_auth:
        observer.write(sa(abs(hash(name)) % 10_000 + 910_000, 1))
    return observer


async def wait_until(predicate: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def gateway_status(server: Server) -> dict[str, Any]:
    """Fossatum's cot-status.json (rewritten every 2 s; what `fossatum cot status` shows)."""
    try:
        return json.loads((server.folder / "cot-status.json").read_text())
    except (OSError, ValueError):
        return {}


async def pair_run(server: Server, i: int, seconds: float) -> dict[str, Any]:
    """A sender streaming at PAIR_HZ for `seconds` and an observer: delivery % and p50/p99 ms."""
    tally = Tally()
    observer = await observer_of(server, tally, f"OBS-{i}")
    sender = await registered(server, i, tally)
    await asyncio.sleep(0.5)
    count = int(seconds * PAIR_HZ)
    t0 = time.monotonic()
    for seq in range(1, count + 1):
        await asyncio.sleep(max(0.0, t0 + seq / PAIR_HZ - time.monotonic()))
        tally.sent_at[(i, seq)] = time.monotonic()
        sender.write(SaStamp().sa(i, seq))
    await wait_until(lambda: (i, count) in observer.first, 10.0)
    await asyncio.sleep(0.3)
    lat = sorted(tally.latencies)
    result = {"delivery": 100.0 * len(tally.seen) / count, "p50": lat[len(lat) // 2] * 1000 if lat else None,
              "p99": lat[int(len(lat) * 0.99)] * 1000 if lat else None, "disconnects": tally.disconnects}
    observer.close()
    sender.close()
    return result


def pair_text(r: dict[str, Any]) -> str:
    return f"{r['delivery']:.0f} % delivered, p50 {fmt(r['p50'], '.1f')} / p99 {fmt(r['p99'], '.1f')} ms"


async def fault_burst(server: Server) -> Outcome:
    """(a) one client writes 1,000 self-SA at once."""
    i, burst = 50_000, 1000
    tally = Tally()
    observer = await observer_of(server, tally, "OBS-BURST")
    sender = await registered(server, i, tally)
    await asyncio.sleep(1.0)
    before = gateway_status(server).get("ingest", {}).get("position", 0)
    stamp = SaStamp()
    for seq in range(1, burst + 1):  # one write per event, as a device's TAK library does, without pause
        sender.write(stamp.sa(i, seq))
    got = lambda: sum(1 for (s, _q) in observer.first if s == i)  # noqa: E731
    if server.needs_auth:  # Fossatum: every fix goes to the unit's track; devices get the newest state
        def recorded() -> int:
            return gateway_status(server).get("ingest", {}).get("position", 0) - before
        await wait_until(lambda: recorded() >= burst and (i, burst) in observer.first, 30)
        await asyncio.sleep(2.5)  # the status file is rewritten every 2 s
        n, last = recorded(), (i, burst) in observer.first
        text = (f"{n}/{burst} fixes recorded in the unit's track; observer holds the newest: {'yes' if last else 'no'}"
                f" ({got()} distinct states relayed, older ones coalesced by design)")
        passed = n == burst and last
    else:  # FTS relays every event as is
        await wait_until(lambda: got() >= burst, 60)
        text = f"{got()}/{burst} relayed to the observer"
        passed = got() == burst
    sender.close()
    observer.close()
    return Outcome("(a) burst of 1,000 from one client", text, passed)


async def fault_mass_disconnect(server: Server, crowd_size: int = 200, newcomers: int = 20) -> Outcome:
    """(b) 200 clients reset their connections at once; 20 new clients connect and send a self-SA:
    time from the resets until each new client's SA reaches an observer."""
    tally = Tally()
    observer = await observer_of(server, tally, "OBS-CROWD")
    crowd = [await connect(server, f"CROWD-{k}", Reader(tally)) for k in range(crowd_size)]
    if not server.needs_auth:
        for k, c in enumerate(crowd):
            c.write(sa(60_000 + k, 1))
    await wait_until(lambda: all(c.answered for c in crowd), 60)  # all admitted (answered) before they leave
    alive = sum(c.open and c.answered for c in crowd)
    start = time.monotonic()
    for c in crowd:
        c.close(reset=True)
    new = []
    for j in range(newcomers):
        i = 51_000 + j
        client = await connect(server, f"BENCH-{i}", Reader(tally))
        tally.sent_at[(i, 1)] = time.monotonic()
        client.write(SaStamp().sa(i, 1))
        new.append(i)
    await wait_until(lambda: all((i, 1) in observer.first for i in new), 30)
    served = [observer.first[(i, 1)] - start for i in new if (i, 1) in observer.first]
    worst = max(served) if served else None
    observer.close()
    text = (f"{alive}/{crowd_size} connected, served, then reset; {len(served)}/{newcomers} new clients served, "
            f"the last {fmt(worst, '.2f', 'never')} s after the resets")
    return Outcome("(b) 200 disconnect at once, 20 new", text, len(served) == newcomers and worst is not None and worst <= 2.0)


def unaffected(loaded: dict[str, Any], base: dict[str, Any]) -> bool:
    """The pair beside the fault did as well as the pair alone: delivery within 5 points, no
    disconnect, p99 at most twice (or 100 ms more than) the pair alone (the machine is shared)."""
    base_p99 = base["p99"] or 0.0
    return (loaded["delivery"] >= base["delivery"] - 5 and loaded["disconnects"] == 0
            and loaded["p99"] is not None and loaded["p99"] <= max(2 * base_p99, base_p99 + 100))


async def fault_idle(server: Server, base: dict[str, Any], idle_count: int = 50, seconds: float = 6.0) -> Outcome:
    """(c) 50 connected, silent sockets (no auth on Fossatum) beside a working pair."""
    tally = Tally()
    idle = [await connect(server, "", Reader(tally), announce=False) for _ in range(idle_count)]
    loaded = await pair_run(server, 52_001, seconds)
    still = sum(r.open for r in idle)
    for r in idle:
        r.close()
    text = f"pair beside {idle_count} idle: {pair_text(loaded)} ({still} idle still open)"
    return Outcome("(c) 50 idle sockets + a pair", text, unaffected(loaded, base))


def closed_reason(server: Server, local_port: int) -> str:
    """Fossatum's log line for the connection from `local_port`."""
    pattern = re.compile(rf"127\.0\.0\.1:{local_port} \(.*?\) disconnected: (.*)")
    try:
        for line in server.logfile.read_text(errors="replace").splitlines():
            m = pattern.search(line)
            if m:
                return m.group(1).strip()
    except OSError:
        pass
    return "no reason logged"


async def fault_garbage(server: Server, base: dict[str, Any], seconds: float = 6.0) -> Outcome:
    """(d) garbage bytes on one connection, truncated XML on another, a working pair beside them."""
    pair = asyncio.create_task(pair_run(server, 53_000, seconds))
    await asyncio.sleep(1.5)
    tally = Tally()
    bad = {"garbage": b"\x00\x01\x02\xff this is not XML <<<>>>\n",
           "truncated XML": (b'<event version="2.0" uid="x" type="a-h-G"><point lat="1" '
                             b'<event version="2.0" uid="y" type="a-h-G"><point lat="1" lon="1"/></event>')}
    conns: dict[str, Reader] = {}
    for k, what in enumerate(bad):
        conns[what] = await connect(server, f"BAD-{k}", Reader(tally))
        if not server.needs_auth:
            conns[what].write(sa(54_000 + k, 1))
    await asyncio.sleep(1.0)
    started = time.monotonic()
    ports = {}
    for what, payload in bad.items():
        ports[what] = conns[what].transport.get_extra_info("sockname")[1]
        conns[what].write(payload)
    await wait_until(lambda: not any(c.open for c in conns.values()), 10)
    took = time.monotonic() - started
    result = await pair
    parts, closed_all = [], True
    for what, c in conns.items():
        closed_all &= not c.open
        why = f": {closed_reason(server, ports[what])}" if server.needs_auth and not c.open else ""
        parts.append(f"{what} → {'closed' if not c.open else 'NOT closed in 10 s'}{why}")
        c.close()
    if server.needs_auth:
        await asyncio.sleep(2.5)
        parts.append(f"counter malformed={gateway_status(server).get('counters', {}).get('malformed', 0)}")
    ok = closed_all and unaffected(result, base)
    text = "; ".join(parts) + f" (within {took:.1f} s); pair: {pair_text(result)}"
    return Outcome("(d) garbage + truncated XML", text, ok)


async def with_reference(server: Server, fault: Any) -> Outcome:
    """A pair alone first (the reference), then `fault(server, base)`."""
    base = await pair_run(server, 52_000, 6.0)
    outcome = await fault(server, base)
    outcome.result = f"pair alone: {pair_text(base)}; {outcome.result}"
    return outcome


SCENARIOS: list[tuple[str, Any]] = [
    ("(a) burst of 1,000 from one client", fault_burst),
    ("(b) 200 disconnect at once, 20 new", fault_mass_disconnect),
    ("(c) 50 idle sockets + a pair", functools.partial(with_reference, fault=fault_idle)),
    ("(d) garbage + truncated XML", functools.partial(with_reference, fault=fault_garbage)),
]


def in_namespace() -> bool:
    return os.environ.get("TAK_BENCH_NAMESPACE") == "1"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", default="10,100,500,1000", help="comma-separated N (default 10,100,500,1000)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of load per run (default 20)")
    ap.add_argument("--servers", default="fossatum,fts", help="fossatum,fts")
    ap.add_argument("--faults", action="store_true", help="run only the fault scenarios")
    ap.add_argument("--no-faults", action="store_true", help="skip the fault scenarios")
    ap.add_argument("--no-unshare", action="store_true", help="do not isolate in a network namespace")
    args = ap.parse_args()
    if not in_namespace() and "fts" in args.servers and not (FTS_VENV / "bin/python").exists():
        ensure_fts()  # before the namespace: installing needs the package registry, the namespace has no network
    if not in_namespace() and not args.no_unshare:
        if os.geteuid() == 0 and shutil.which("unshare"):
            probe = subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True)
            if probe.returncode == 0:
                script = ("ip link set lo up && mount -t tmpfs -o size=64m fts-opt /opt && "
                          f"exec {sys.executable} {Path(__file__).resolve()} \"$@\"")
                env = {**os.environ, "TAK_BENCH_NAMESPACE": "1"}
                os.execvpe("unshare", ["unshare", "-n", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                                       *sys.argv[1:]], env)
            log(f"note: unshare -n -m failed ({probe.stderr.decode().strip()}); servers bind 127.0.0.1 only")
        else:
            log("note: not root or no unshare: servers run bound to 127.0.0.1 on the host's loopback")
    isolated = in_namespace()
    log(f"TAK benchmark: {os.cpu_count()} CPUs; servers and clients on one host"
        + (", inside unshare -n -m (loopback only; /opt/fts = scratch)" if isolated else " (127.0.0.1)"))
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    why_not_fts = None
    if "fts" in servers:
        if not isolated and not args.no_unshare:
            why_not_fts = "it binds 0.0.0.0 on 8080/8443 and writes /opt/fts; no network namespace here to contain it"
        else:
            why_not_fts = ensure_fts()
        if why_not_fts:
            log(f"FreeTAKServer NOT run: {why_not_fts}")
            servers.remove("fts")
    counts = [] if args.faults else [int(x) for x in args.clients.split(",")]
    log(f"pinning: {pin()}; {raise_nofile(max(counts + [250]))}")
    DATA.mkdir(exist_ok=True)
    results = []
    for n in counts:
        for name in servers:
            run = Path(tempfile.mkdtemp(prefix=f"tak-{name}-{n}-", dir=DATA))
            log(f"… {name} N={n}: {args.seconds:.0f} s of load ({run.name})")
            try:
                results.append(run_one(name, n, args.seconds, run, isolated))
            except Exception as exc:  # one server failing must not lose the other's figures
                log(f"   {name} N={n} failed: {exc}")
            else:
                r = results[-1]
                log(f"   {r['connected']} connected in {r['connected_s']:.1f} s, served in {r['connect_s']:.1f} s"
                    + ("" if r["ready"] else " (NOT serving within 120 s: measured anyway)") + "; "
                    f"delivery {r['delivery']:.1f}%, p99 {fmt(r['p99'], '.1f')} ms, {r['msgs_s']:.0f} msgs/s, "
                    f"server CPU {r['cpu']:.2f} (on CPU {r['pinned']}), generator CPU {r['gen_cpu']:.2f}")
            shutil.rmtree(run / "fossatum", ignore_errors=True)
    outcomes: dict[str, list[Outcome]] = {}
    if not args.no_faults:
        for name in servers:
            run = Path(tempfile.mkdtemp(prefix=f"tak-{name}-faults-", dir=DATA))
            log(f"… {name}: fault scenarios ({run.name})")
            try:
                server_name, rows = run_faults(name, run, isolated)
                outcomes[server_name] = rows
            except Exception as exc:
                log(f"   {name} fault scenarios failed: {exc}")
            shutil.rmtree(run / "fossatum", ignore_errors=True)
    if results:
        report(results)
    report_faults(outcomes)
    if why_not_fts:
        log(f"\nFreeTAKServer was not run: {why_not_fts}")


if __name__ == "__main__":
    main()
