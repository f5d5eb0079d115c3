"""TAK gateway side by side: Fossatum vs FreeTAKServer 2.2.1, same load, same loopback.

    .venv/bin/python bench/tak.py                      # N = 10, 100, 500; 20 s of load each (~5 min)
    .venv/bin/python bench/tak.py --clients 10,50 --seconds 10 --servers fossatum

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
the latest position of all N senders.

Fossatum runs as `fossatum serve --cot tcp://…` on a fresh node (clients send TAK's auth
message first; one user for all, identity cached). FTS runs from its own venv
(bench/.data/fts-venv, created on first run with the pins it needs) on a fresh /opt/fts.
Everything — both servers and the clients — runs inside `unshare -n -m` (a private network
namespace with only loopback up, a tmpfs over /opt and a scratch folder bound on /opt/fts);
where unshare is not possible the servers bind 127.0.0.1 and the script says so.
Each run is bounded (connect, load, drain, late joiner) and every process it starts is
killed at the end of the run (its process group).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

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


def sa(i: int, seq: int) -> bytes:
    now = datetime.now(timezone.utc)
    return HEADER + (
        f'<event version="2.0" uid="BENCH-{i}" type="a-f-G-U-C" how="m-g" time="{iso(now)}" start="{iso(now)}" '
        f'stale="{iso(now + timedelta(minutes=2))}"><point lat="{LAT0 + seq * STEP:.7f}" lon="{LON0 + i * 1e-3:.7f}" '
        f'hae="0" ce="5" le="9999999"/><detail><contact callsign="B-{i}" endpoint="*:-1:stcp"/>'
        f'<__group name="Cyan" role="Team Member"/><takv platform="bench" version="1" device="x" os="1"/>'
        f'<track speed="1.0" course="90"/></detail></event>').encode()


def marker(i: int, k: int) -> bytes:
    now = datetime.now(timezone.utc)
    return HEADER + (
        f'<event version="2.0" uid="MK-{i}-{k}" type="a-h-G" how="h-e" time="{iso(now)}" start="{iso(now)}" '
        f'stale="{iso(now + timedelta(hours=1))}"><point lat="{LAT0 + 0.1:.5f}" lon="{LON0 + i * 1e-3:.5f}" hae="0" '
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


def start_fossatum(run: Path) -> Server:
    sys.path.insert(0, str(ROOT / "src"))
    from fossatum.node import init_node

    folder = run / "fossatum"
    node = init_node(folder, country="TUN", name="Bench NCC")
    node.add_agency(actor=None, code="TN-GN", name="Garde nationale", country="TUN")
    node.add_user(actor=None, username="bench", agency="TN-GN", roles=["field"], password=PASSWORD)
    node.close()
    port, http = free_port(), free_port()
    logfile = run / "fossatum.log"
    proc = subprocess.Popen([str(ROOT / ".venv/bin/fossatum"), "serve", "--data", str(folder), "--port", str(http),
                             "--cot", f"tcp://127.0.0.1:{port}"], stdout=logfile.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "FOSSATUM_COT_IDLE_SECONDS": "600"})
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
                            start_new_session=True)
    server = Server("FreeTAKServer", proc, 8087, False, folder, logfile)
    if not wait_port(8087, proc, 90):
        server.stop()
        raise RuntimeError(f"FTS did not open 8087 within 90 s; see {logfile}")
    time.sleep(3)  # its other services finish starting after the CoT port opens
    return server


# --- the load -------------------------------------------------------------------------------------
@dataclass
class Tally:
    received: int = 0  # events read by all clients
    sent_at: dict[tuple[int, int], float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seen: set[tuple[int, int, int]] = field(default_factory=set)  # (observer, sender, seq)
    sa_sent: int = 0
    markers_sent: int = 0
    disconnects: int = 0


async def open_client(port: int, uid: str, needs_auth: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, limit=1 << 20), 10)
    if needs_auth:
        writer.write(auth(uid))
        await writer.drain()
    return reader, writer


async def drain_reader(reader: asyncio.StreamReader, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(1 << 16), 0.5)
        except asyncio.TimeoutError:
            continue
        except (ConnectionError, OSError):
            tally.disconnects += 1
            return
        if not data:
            tally.disconnects += 1
            return
        tally.received += data.count(b"</event>")


async def observe(k: int, reader: asyncio.StreamReader, tally: Tally, stop: asyncio.Event) -> None:
    buf = b""
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(1 << 16), 0.5)
        except asyncio.TimeoutError:
            continue
        except (ConnectionError, OSError):
            tally.disconnects += 1
            return
        if not data:
            tally.disconnects += 1
            return
        now = time.monotonic()
        buf += data
        *events, buf = buf.split(b"</event>")
        tally.received += len(events)
        for e in events:
            m, lat, typ = _UID.search(e), _LAT.search(e), _TYPE.search(e)
            if not (m and lat and typ) or not typ.group(1).startswith(b"a-f-"):
                continue
            i, seq = int(m.group(1)), round((float(lat.group(1)) - LAT0) / STEP)
            sent = tally.sent_at.get((i, seq))
            if sent is not None and (k, i, seq) not in tally.seen:
                tally.seen.add((k, i, seq))
                tally.latencies.append(now - sent)


async def sender(i: int, writer: asyncio.StreamWriter, tally: Tally, stop: asyncio.Event, t0: float) -> None:
    seq = 0
    await asyncio.sleep((i % 100) / 100 / HZ)  # spread the senders over the second
    while not stop.is_set():
        seq += 1
        tally.sent_at[(i, seq)] = time.monotonic()
        data = sa(i, seq)
        if seq % MARKER_EVERY == 0:
            data += marker(i, seq // MARKER_EVERY)
            tally.markers_sent += 1
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), 5)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            tally.disconnects += 1
            return
        tally.sa_sent += 1
        next_at = t0 + seq / HZ + (i % 100) / 100 / HZ
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def full_picture(port: int, needs_auth: bool, n: int, timeout: float = 20.0) -> tuple[float | None, int]:
    start = time.monotonic()
    reader, writer = await open_client(port, "LATE-JOINER", needs_auth)
    if not needs_auth:  # FTS registers a client from its first event
        writer.write(sa(999_999, 1))
        await writer.drain()
    have: set[int] = set()
    buf = b""
    try:
        while len(have) < n and time.monotonic() - start < timeout:
            try:
                data = await asyncio.wait_for(reader.read(1 << 16), 0.5)
            except asyncio.TimeoutError:
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


async def load(server: Server, n: int, seconds: float) -> dict[str, object]:
    tally, stop = Tally(), asyncio.Event()
    tasks: list[asyncio.Task] = []
    writers: list[asyncio.StreamWriter] = []
    connect_start = time.monotonic()
    for k in range(OBSERVERS):
        reader, writer = await open_client(server.port, f"OBSERVER-{k}", server.needs_auth)
        if not server.needs_auth:
            writer.write(sa(900_000 + k, 1))
            await writer.drain()
        writers.append(writer)
        tasks.append(asyncio.create_task(observe(k, reader, tally, stop)))
    senders: list[tuple[int, asyncio.StreamWriter]] = []
    failed = 0
    for i in range(n):
        try:
            reader, writer = await open_client(server.port, f"BENCH-{i}", server.needs_auth)
        except (OSError, asyncio.TimeoutError):
            failed += 1
            continue
        writers.append(writer)
        senders.append((i, writer))
        tasks.append(asyncio.create_task(drain_reader(reader, tally, stop)))
    connect_s = time.monotonic() - connect_start
    await asyncio.sleep(1.0)
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    received0 = tally.received
    send_stop = asyncio.Event()
    send_tasks = [asyncio.create_task(sender(i, w, tally, send_stop, t0)) for i, w in senders]
    await asyncio.sleep(seconds)
    send_stop.set()
    await asyncio.gather(*send_tasks, return_exceptions=True)
    await asyncio.sleep(3.0)  # in-flight deliveries
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / elapsed
    received = tally.received - received0
    rss = rss_mb(server.proc.pid)
    picture, have = await full_picture(server.port, server.needs_auth, len(senders))
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for w in writers:
        w.close()
    expected = tally.sa_sent * OBSERVERS
    lat = sorted(tally.latencies)
    return {"n": n, "connected": len(senders), "connect_failed": failed, "connect_s": connect_s,
            "sa_sent": tally.sa_sent, "markers": tally.markers_sent,
            "delivery": 100.0 * len(tally.seen) / expected if expected else 0.0,
            "p50": lat[len(lat) // 2] * 1000 if lat else None, "p99": lat[int(len(lat) * 0.99)] * 1000 if lat else None,
            "msgs_s": received / elapsed, "cpu": cpu, "rss": rss, "picture": picture, "picture_have": have,
            "disconnects": tally.disconnects}


def fmt(v: object, spec: str, none: str = "—") -> str:
    return none if v is None else format(v, spec)


def run_one(name: str, n: int, seconds: float, run: Path, isolated: bool) -> dict[str, object]:
    server = start_fossatum(run) if name == "fossatum" else start_fts(run, isolated)
    try:
        result = asyncio.run(asyncio.wait_for(load(server, n, seconds), seconds + 150))
    finally:
        server.stop()
        if name == "fts" and isolated:
            subprocess.run(["umount", "-l", "/opt/fts"], check=False)
    result["server"] = server.name
    return result


def report(results: list[dict[str, object]]) -> None:
    log("")
    log(f"{'server':<14} {'N':>4} {'conn':>5} {'SA sent':>8} {'delivery':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'msgs/s':>9} {'CPU':>5} {'RSS MB':>7} {'picture s':>10} {'disc':>5}")
    for r in results:
        picture = fmt(r["picture"], ".2f", f"no ({r['picture_have']}/{r['connected']})")
        log(f"{r['server']:<14} {r['n']:>4} {r['connected']:>5} {r['sa_sent']:>8} {r['delivery']:>8.1f}% "
            f"{fmt(r['p50'], '.1f'):>8} {fmt(r['p99'], '.1f'):>8} {r['msgs_s']:>9.0f} {r['cpu']:>5.2f} "
            f"{r['rss']:>7.0f} {picture:>10} {r['disconnects']:>5}")
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


def in_namespace() -> bool:
    return os.environ.get("TAK_BENCH_NAMESPACE") == "1"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", default="10,100,500", help="comma-separated N (default 10,100,500)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of load per run (default 20)")
    ap.add_argument("--servers", default="fossatum,fts", help="fossatum,fts")
    ap.add_argument("--no-unshare", action="store_true", help="do not isolate in a network namespace")
    args = ap.parse_args()
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
    DATA.mkdir(exist_ok=True)
    results = []
    for n in [int(x) for x in args.clients.split(",")]:
        for name in servers:
            run = Path(tempfile.mkdtemp(prefix=f"tak-{name}-{n}-", dir=DATA))
            log(f"… {name} N={n}: {args.seconds:.0f} s of load ({run.name})")
            try:
                results.append(run_one(name, n, args.seconds, run, isolated))
            except Exception as exc:  # one server failing must not lose the other's figures
                log(f"   {name} N={n} failed: {exc}")
            else:
                r = results[-1]
                log(f"   delivery {r['delivery']:.1f}%, p99 {fmt(r['p99'], '.1f')} ms, {r['msgs_s']:.0f} msgs/s")
            shutil.rmtree(run / "fossatum", ignore_errors=True)
    report(results)
    if why_not_fts:
        log(f"\nFreeTAKServer was not run: {why_not_fts}")


if __name__ == "__main__":
    main()
