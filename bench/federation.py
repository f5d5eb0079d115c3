"""Federation: catch-up after an outage (against the receiving store's insert floor) and
the live latency of a report from Tunis to Algiers.

1. Catch-up. A Tunisian node holds N reports filed and validated (2N log entries), every
   one released to Algeria (70 % `all_partners`, 30 % `partners: [DZA]`), so N stream
   items wait for DZA, whose node was unreachable. The link comes up; measured:
     (ii) in-process over `LocalTransport` (no HTTP; pages still round-trip through JSON):
          `federation.release_all()` at TUN (deciding, sealing and signing the stream),
          then `federation.pull()` at DZA (verifying and storing), each timed;
     (i)  over loopback HTTP between two `fossatum serve` processes
          (FOSSATUM_SYNC_INTERVAL=1): with the outbox already built (a running node
          releases during the outage), and cold (release included; optional);
   the floor: the same entries (read back from DZA's log) inserted with
   `tx.insert_received(entry)` into a fresh copy of DZA's initial store, 500 per
   transaction, no verification, no network.
2. Live latency. The two processes with the link up: a TUN duty officer files and
   validates a report (HTTP); a DZA officer listens on DZA's websocket `/api/v1/live`;
   measured from the validate response to the report's arrival at DZA.

The TUN/DZA template is generated once and cached under bench/.data/fed-<N>/; every run
works on copies under bench/.data/fed-run-<time>/ (deleted at the end unless --keep).

    .venv/bin/python bench/federation.py                   # 100,000 items (first run: generation)
    .venv/bin/python bench/federation.py --entries 5000    # quick
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DATA,
    PASSWORD,
    T_END,
    T_START,
    VALIDATOR,
    build_node,
    free_port,
    p50,
    percentile,
    report_input,
)
from fossatum.domain import report as rules
from fossatum.federation.transport import LocalTransport
from fossatum.node import Node, init_node, open_node
from fossatum.schemas import ReportIn
from fossatum.store.rows import row_entry
from fossatum.store.sqlite import DB_FILE

TUN_AUTHORS = [f"tn-gn-field{i}" for i in range(4)] + [f"tn-army-field{i}" for i in range(3)] + \
              [f"tn-douane-field{i}" for i in range(2)]
TUN_OFFICER = "tn-duty"        # files and validates the live-latency reports (TN-GN)
DZA_OFFICER = "dz-officer"     # the Algerian user who sees them arrive
FLOOR_BATCH = 500              # entries per transaction for the floor (= the federation page)
LOG_COLS = "origin, seq, ts, author, kind, payload, audience, prev, hash, sig"
# --index-fix: the proposed index, added to the receiving copies only (src/ is untouched).
# Without it, inbound's `SELECT MAX(seq) FROM log WHERE origin = ? AND object_id = ?` is
# planned on the UNIQUE (origin, seq) index and walks every entry of that origin: O(n) per
# received entry, O(n^2) per catch-up.
INDEX_FIX = "CREATE INDEX IF NOT EXISTS log_origin_object ON log (origin, object_id, seq)"


# --- data ---------------------------------------------------------------------------------

def generate(n: int, folder: Path, *, batch: int, seed: int) -> dict[str, Any]:
    """TUN: n reports filed (batches of `batch`, one transaction each) and all validated
    (one transaction per batch), all released to DZA. DZA: an empty node with one officer."""
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    now = [T_START]
    node = build_node(tmp / "TUN", clock=lambda: now[0])
    users = {u.username: u for u in node.store.users()}
    rng = random.Random(seed)
    batches = math.ceil(n / batch)
    span = (T_END - T_START) / batches
    started = time.perf_counter()
    filed_total = validated_total = 0
    for b in range(batches):
        lo = T_START + span * b
        count = min(batch, n - b * batch)
        author = users[TUN_AUTHORS[rng.randrange(len(TUN_AUTHORS))]]
        specs = []
        for _ in range(count):
            doc = report_input(rng, observed=lo + span * rng.random(),
                               report_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            doc["state"] = "submitted"
            doc["audience"] = ({"scope": "all_partners", "partners": []} if rng.random() < 0.7
                               else {"scope": "partners", "partners": ["DZA"]})
            specs.append(ReportIn.model_validate(doc))
        now[0] = lo + span + timedelta(minutes=rng.uniform(1, 30))
        filed, _ = node.file_reports(actor=author, specs=specs)
        validator = users[VALIDATOR[author.agency]]
        now[0] += timedelta(minutes=rng.uniform(1, 30))
        with node.store.transaction() as tx:  # what Node.transition does, one transaction per batch
            for spec in specs:
                report = node._load_for_change(tx, validator, spec.id)
                node._record(tx, rules.validate(report, actor=validator, now=now[0]), "report.validated", {})
        filed_total += filed
        validated_total += len(specs)
        if (b + 1) % 5 == 0 or b + 1 == batches:
            print(f"  generated {filed_total:>8,} reports (all validated) in {time.perf_counter() - started:5.0f} s",
                  file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    entries = node.store.log_size()
    node.close()
    dza = init_node(tmp / "DZA", country="DZA", name="Algeria NCC (bench)")
    dza.add_agency(actor=None, code="DZ-GN", name="Gendarmerie nationale", country="DZA")
    dza.add_user(actor=None, username=DZA_OFFICER, agency="DZ-GN", roles=["duty_officer"], password=PASSWORD)
    dza.close()
    meta = {"reports": filed_total, "validated": validated_total, "entries": entries, "seconds": seconds,
            "batch": batch, "seed": seed}
    (tmp / "bench.json").write_text(json.dumps(meta, indent=1))
    tmp.rename(folder)
    return meta


def ensure_data(n: int, *, batch: int, seed: int, fresh: bool) -> tuple[Path, dict[str, Any], bool]:
    folder = DATA / f"fed-{n}"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if (folder / "bench.json").exists():
        return folder, json.loads((folder / "bench.json").read_text()), False
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"generating {n:,} validated reports into {folder} (cached for later runs) …", file=sys.stderr, flush=True)
    return folder, generate(n, folder, batch=min(batch, n), seed=seed), True


def copy_node(src: Path, dst: Path, *, index_fix: bool = False) -> Path:
    shutil.copytree(src, dst)
    if index_fix:
        conn = sqlite3.connect(dst / DB_FILE)
        conn.execute(INDEX_FIX)
        conn.close()
    return dst


def db_value(data: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """One value read from a node's database from outside (read-only; WAL: safe beside a server)."""
    conn = sqlite3.connect(f"file:{data / DB_FILE}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def node_id(data: Path) -> str:
    return db_value(data, "SELECT value FROM meta WHERE name = 'node_id'")


def outbox_last(tun: Path) -> int:
    return int(db_value(tun, "SELECT COALESCE(MAX(stream_seq), 0) FROM outbox WHERE partner = 'DZA'") or 0)


def inbound_cursor(dza: Path, origin: str) -> int:
    return int(db_value(dza, "SELECT stream_seq FROM inbound WHERE origin = ?", (origin,)) or 0)


# --- processes ----------------------------------------------------------------------------

FOSSATUM = [sys.executable, "-m", "fossatum.cli"]


def env(**settings: object) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FOSSATUM_")}
    base.update({f"FOSSATUM_{k.upper()}": str(v) for k, v in settings.items()})
    return base


def cli(*args: str) -> str:
    result = subprocess.run([*FOSSATUM, *args], capture_output=True, text=True, timeout=300, env=env())
    if result.returncode != 0:
        raise RuntimeError(f"fossatum {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout


class Proc:
    """`fossatum serve` on 127.0.0.1:<port>, FOSSATUM_SYNC_INTERVAL=1; always stopped."""

    def __init__(self, data: Path, port: int, log: Path) -> None:
        self.data, self.port, self.log = data, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*FOSSATUM, "serve", "--data", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=env(sync_interval=1))

    def wait_healthy(self, timeout: float = 120.0) -> float:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=1.0).status_code == 200:
                    return time.perf_counter()
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in {timeout:.0f} s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None


@contextmanager
def serving(*procs: Proc) -> Iterator[float]:
    """Spawn all, wait until all answer; yields the spawn time (perf_counter). Stops them all."""
    try:
        t0 = time.perf_counter()
        for p in procs:
            p.spawn()
        yield t0
    finally:
        for p in procs:
            p.stop()


def partner_up(data: Path, country: str, url: str, key: str, *, replace: bool = False) -> None:
    """Register a partner through the CLI (`partner remove` first to re-point it)."""
    if replace:
        cli("partner", "remove", "--data", str(data), "--country", country)
    cli("partner", "add", "--data", str(data), "--country", country, "--url", url, "--key", key)


def public_key(data: Path) -> str:
    return cli("key", "show", "--data", str(data)).splitlines()[0].strip()


def wait_synced(dza: Path, origin: str, target: int, *, timeout: float, label: str) -> float:
    """Poll DZA's `inbound` cursor (read-only, every 50 ms) until it reaches `target`."""
    deadline = time.monotonic() + timeout
    last_print = time.monotonic()
    while True:
        try:
            cursor = inbound_cursor(dza, origin)
        except sqlite3.OperationalError:  # the database is being created/migrated: try again
            cursor = 0
        if cursor >= target:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: DZA at #{cursor} of {target} after {timeout:.0f} s")
        if time.monotonic() - last_print > 15:
            print(f"  {label}: DZA at #{cursor:,} of {target:,}", file=sys.stderr, flush=True)
            last_print = time.monotonic()
        time.sleep(0.05)


# --- catch-up -----------------------------------------------------------------------------

def profiled(prof: cProfile.Profile | None, fn: Any) -> Any:
    if prof is None:
        return fn()
    prof.enable()
    try:
        return fn()
    finally:
        prof.disable()


def print_profile(prof: cProfile.Profile, title: str, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    start = text.find("   ncalls")
    print(f"\n--- cProfile {title}: top {top} by own time ---")
    print(text[start:].rstrip() if start >= 0 else text)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top + 10)
    text = out.getvalue()
    start = text.find("   ncalls")
    print(f"--- cProfile {title}: top {top + 10} by cumulative time ---")
    print(text[start:].rstrip() if start >= 0 else text)


def in_process(run: Path, template: Path, *, profile: bool, top: int, index_fix: bool) -> dict[str, Any]:
    """(ii): release at TUN, then pull at DZA over a LocalTransport, each timed."""
    tun_dir = copy_node(template / "TUN", run / "TUN")
    dza_dir = copy_node(template / "DZA", run / "DZA-local", index_fix=index_fix)
    tun, dza = open_node(tun_dir), open_node(dza_dir)
    nodes: dict[str, Node] = {"TUN": tun, "DZA": dza}
    try:
        tun.federation.add_partner(country="DZA", url="https://dza.invalid", key=dza.key.public)
        dza.federation.add_partner(country="TUN", url="https://tun.invalid", key=tun.key.public)

        def serve(caller: str, partner: str, after: int, limit: int) -> dict[str, Any]:
            return nodes[partner].federation.serve_stream(nodes[caller].node_id, after=after, limit=limit)

        dza.federation.transport = LocalTransport("DZA", serve)
        prof_release = cProfile.Profile() if profile else None
        prof_pull = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        released = profiled(prof_release, tun.federation.release_all)
        t1 = time.perf_counter()
        applied = profiled(prof_pull, lambda: dza.federation.pull(dza.federation.partner("TUN")))
        t2 = time.perf_counter()
        if applied.rejected:
            raise RuntimeError(f"DZA rejected: {applied.rejected}")
        last = tun.federation._outbox_last("DZA")
        cursor = dza.federation.cursor(dza.federation.partner("TUN"))
        if cursor != last:
            raise RuntimeError(f"in-process: DZA at #{cursor}, TUN's outbox at #{last}")
        if prof_release is not None and prof_pull is not None:
            print_profile(prof_release, "release_all() at TUN", top)
            print_profile(prof_pull, "pull() at DZA over LocalTransport", top)
        return {"released": released, "stored": applied.stored, "last": last,
                "release_s": t1 - t0, "pull_s": t2 - t1, "tun": tun_dir, "dza": dza_dir,
                "origin": tun.node_id, "tun_key": tun.key.public, "dza_key": dza.key.public}
    finally:
        tun.close()
        dza.close()


def floor(run: Path, template: Path, received_from: Path, origin: str, *, index_fix: bool) -> dict[str, Any]:
    """The exact entries DZA received, inserted into a fresh copy of DZA's initial store with
    `tx.insert_received`, FLOOR_BATCH per transaction (no verification, no network)."""
    conn = sqlite3.connect(f"file:{received_from / DB_FILE}?mode=ro", uri=True)
    rows = conn.execute(f"SELECT {LOG_COLS} FROM log WHERE origin = ? ORDER BY seq", (origin,)).fetchall()
    conn.close()
    entries = [row_entry(r) for r in rows]
    dza = open_node(copy_node(template / "DZA", run / "DZA-floor", index_fix=index_fix))
    try:
        t0 = time.perf_counter()
        for i in range(0, len(entries), FLOOR_BATCH):
            with dza.store.transaction() as tx:
                for entry in entries[i:i + FLOOR_BATCH]:
                    tx.insert_received(entry)
        seconds = time.perf_counter() - t0
    finally:
        dza.close()
    return {"entries": len(entries), "seconds": seconds}


def over_http(run: Path, tun_dir: Path, template: Path, *, origin: str, tun_key: str, dza_key: str,
              target: int, cold: bool, timeout: float, live: int, gap: float, index_fix: bool) -> dict[str, Any]:
    """(i): TUN and a fresh DZA as `fossatum serve` processes, partners (re)registered through
    the CLI; from the spawn until DZA's inbound cursor reaches `target`. If `live`, measure
    the live latency on the same two processes afterwards (link up)."""
    tag = "cold" if cold else "warm"
    dza_dir = copy_node(template / "DZA", run / f"DZA-http-{tag}", index_fix=index_fix)
    tun_p = Proc(tun_dir, free_port(), run / f"TUN-{tag}.log")
    dza_p = Proc(dza_dir, free_port(), run / f"DZA-{tag}.log")
    partner_up(tun_dir, "DZA", dza_p.base, dza_key, replace=not cold)  # warm: re-point the in-process partner
    partner_up(dza_dir, "TUN", tun_p.base, tun_key)
    out: dict[str, Any] = {}
    with serving(tun_p, dza_p) as t0:
        healthy = max(tun_p.wait_healthy(), dza_p.wait_healthy())
        released_at = None
        if cold:  # also note when TUN's release is complete (its outbox reaches the target)
            deadline = time.monotonic() + timeout
            while outbox_last(tun_dir) < target:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cold: TUN's outbox at #{outbox_last(tun_dir)} of {target}")
                time.sleep(0.05)
            released_at = time.perf_counter()
        done = wait_synced(dza_dir, origin, target, timeout=timeout, label=f"HTTP {tag}")
        out = {"seconds": done - t0, "startup": healthy - t0, "from_up": done - healthy,
               "released": None if released_at is None else released_at - t0,
               "stored": int(db_value(dza_dir, "SELECT COUNT(*) FROM log WHERE origin = ?", (origin,)))}
        if live:
            out["live"] = live_latency(tun_p.base, dza_p.base, live, gap=gap)
    return out


# --- live latency -------------------------------------------------------------------------

def token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def live_body(i: int, rng: random.Random) -> dict[str, Any]:
    audience = {"scope": "all_partners"} if i % 2 else {"scope": "partners", "partners": ["DZA"]}
    return {"type": "armed_group_sighting", "observed_at": "2026-02-28T22:15:00Z",
            "location": {"lat": round(35.0 + rng.random() * 0.5, 5), "lon": round(8.3 + rng.random() * 0.5, 5)},
            "uncertainty_m": 250, "grade": {"source": "B", "info": 2}, "audience": audience, "tlp": "AMBER",
            "description": f"live latency {i}"}


class Arrivals:
    """Report ids seen at DZA with their arrival time: a websocket on /api/v1/live (the
    `websockets` package), else GET /api/v1/reports/{id} polled every 5 ms."""

    def __init__(self, base: str, tok: str) -> None:
        self.base, self.tok = base, tok
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self.ws: Any = None
        self.method = "GET /api/v1/reports/{id}, every 5 ms"
        try:
            from websockets.sync.client import connect
        except ImportError:
            return
        ws_url = base.replace("http://", "ws://") + "/api/v1/live"
        self.ws = connect(ws_url, open_timeout=10, max_size=None).__enter__()
        self.ws.send(json.dumps({"type": "auth", "token": tok}))
        hello = json.loads(self.ws.recv(timeout=10))
        if hello.get("type") != "hello":
            raise RuntimeError(f"live: {hello}")
        self.method = "websocket /api/v1/live"
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        try:
            for raw in self.ws:
                at = time.perf_counter()
                msg = json.loads(raw)
                if msg.get("type") == "report":
                    with self.cond:
                        self.seen.setdefault(msg["report"]["id"], at)
                        self.cond.notify_all()
        except Exception:  # closed at the end
            return

    def wait(self, report_id: str, timeout: float, client: httpx.Client) -> float | None:
        deadline = time.perf_counter() + timeout
        if self.ws is None:
            while time.perf_counter() < deadline:
                if client.get(f"/api/v1/reports/{report_id}").status_code == 200:
                    return time.perf_counter()
                time.sleep(0.005)
            return None
        with self.cond:
            while report_id not in self.seen:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.seen[report_id]

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


def live_latency(tun_base: str, dza_base: str, count: int, *, gap: float) -> dict[str, Any]:
    rng = random.Random(7)
    t = httpx.Client(base_url=tun_base, timeout=30, headers={"Authorization": f"Bearer {token(tun_base, TUN_OFFICER)}"})
    dza_tok = token(dza_base, DZA_OFFICER)
    d = httpx.Client(base_url=dza_base, timeout=30, headers={"Authorization": f"Bearer {dza_tok}"})
    arrivals = Arrivals(dza_base, dza_tok)
    latencies: list[float] = []
    lost = 0
    try:
        for i in range(count):
            filed = t.post("/api/v1/reports", json=live_body(i, rng))
            if filed.status_code != 201:
                raise RuntimeError(f"file: {filed.status_code} {filed.text[:300]}")
            rid = filed.json()["id"]
            validated = t.post(f"/api/v1/reports/{rid}/validate")
            accepted = time.perf_counter()
            if validated.status_code != 200:
                raise RuntimeError(f"validate: {validated.status_code} {validated.text[:300]}")
            seen = arrivals.wait(rid, 10.0, d)
            if seen is None:
                lost += 1
            else:
                latencies.append(seen - accepted)
            time.sleep(rng.uniform(0, gap))
    finally:
        arrivals.close()
        t.close()
        d.close()
    return {"latencies": latencies, "lost": lost, "method": arrivals.method}


# --- main ---------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=100_000,
                    help="stream items queued for DZA = validated reports at TUN (default 100,000)")
    ap.add_argument("--batch", type=int, default=5000, help="reports per transaction when generating")
    ap.add_argument("--seed", type=int, default=20260301)
    ap.add_argument("--fresh", action="store_true", help="regenerate the cached template")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP catch-up and the live latency")
    ap.add_argument("--cold", action="store_true",
                    help="also the HTTP catch-up with TUN's outbox not yet built (release included)")
    ap.add_argument("--live", type=int, default=200, help="reports for the live latency (0: skip; default 200)")
    ap.add_argument("--gap", type=float, default=0.05, help="random pause 0..GAP s between live reports")
    ap.add_argument("--profile", action="store_true",
                    help="run the in-process catch-up under cProfile and print the top costs (slows it)")
    ap.add_argument("--top", type=int, default=25, help="rows of the cProfile listings")
    ap.add_argument("--index-fix", action="store_true",
                    help="experiment: add index log(origin, object_id, seq) to DZA's copies (the proposed fix)")
    ap.add_argument("--keep", action="store_true", help="keep the run folder bench/.data/fed-run-<time>/")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    template, meta, generated = ensure_data(args.entries, batch=args.batch, seed=args.seed, fresh=args.fresh)
    run = DATA / f"fed-run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run.mkdir(parents=True)
    timeout = max(600.0, args.entries / 20)
    try:
        print(f"\nFederation benchmark — TUN: {meta['reports']:,} reports filed and validated = "
              f"{meta['entries']:,} log entries; {meta['validated']:,} released to DZA")
        if args.index_fix:
            print(f"EXPERIMENT --index-fix: DZA's copies (floor included) have {INDEX_FIX.split(' IF NOT EXISTS ')[1]}")
        print(f"template generation{' (this run)' if generated else ' (cached)'}: {meta['seconds']:.0f} s = "
              f"{meta['entries'] / meta['seconds']:,.0f} entries/s through the signed log")

        print("  (ii) in-process: release_all at TUN, then pull at DZA over LocalTransport …", file=sys.stderr, flush=True)
        ip = in_process(run, template, profile=args.profile, top=args.top, index_fix=args.index_fix)
        n = ip["last"]
        print("  floor: insert_received into a fresh DZA store …", file=sys.stderr, flush=True)
        fl = floor(run, template, ip["dza"], ip["origin"], index_fix=args.index_fix)
        warm = cold = None
        if not args.no_http:
            print("  (i) HTTP, outbox already built …", file=sys.stderr, flush=True)
            warm = over_http(run, ip["tun"], template, origin=ip["origin"], tun_key=ip["tun_key"],
                             dza_key=ip["dza_key"], target=n, cold=False, timeout=timeout,
                             live=args.live, gap=args.gap, index_fix=args.index_fix)
            if args.cold:
                print("  (i) HTTP, cold (release included) …", file=sys.stderr, flush=True)
                tun_cold = copy_node(template / "TUN", run / "TUN-cold")
                cold = over_http(run, tun_cold, template, origin=ip["origin"], tun_key=ip["tun_key"],
                                 dza_key=ip["dza_key"], target=n, cold=True, timeout=timeout, live=0, gap=0,
                                 index_fix=args.index_fix)

        floor_rate = fl["entries"] / fl["seconds"]
        rows: list[tuple[str, int, float, bool]] = []  # label, entries, seconds, is a catch-up figure
        tag = " (under cProfile)" if args.profile else ""
        rows.append((f"(ii) in-process: release_all at TUN{tag}", n, ip["release_s"], False))
        rows.append((f"(ii) in-process: pull at DZA (LocalTransport){tag}", ip["stored"], ip["pull_s"], False))
        rows.append((f"(ii) in-process: release + pull{tag}", n, ip["release_s"] + ip["pull_s"], True))
        if warm:
            rows.append(("(i) HTTP, outbox built: pull, from spawn", n, warm["seconds"], False))
            rows.append(("(i) HTTP: in-process release + HTTP pull", n, ip["release_s"] + warm["seconds"], True))
        if cold:
            rows.append(("(i) HTTP cold: release + pull, from spawn", n, cold["seconds"], True))
        rows.append((f"floor: insert_received, {FLOOR_BATCH}/tx, no verification", fl["entries"], fl["seconds"], False))

        print(f"\ncatch-up of {n:,} stream items TUN → DZA (released: {ip['released']:,}; floor entries: {fl['entries']:,})")
        print(f"{'path':<52} {'entries':>8} {'seconds':>8} {'entries/s':>10} {'x floor':>8}")
        for label, count, seconds, _ in rows:
            rate = count / seconds
            print(f"{label:<52} {count:>8,} {seconds:8.1f} {rate:10,.0f} {rate / floor_rate:8.2f}")
        share = ip["release_s"] / (ip["release_s"] + ip["pull_s"])
        print(f"release share of the in-process catch-up: {share:.0%}")
        if warm:
            print(f"HTTP (outbox built): processes answering after {warm['startup']:.1f} s; "
                  f"synced {warm['from_up']:.1f} s after that ({n / warm['from_up']:,.0f} entries/s); "
                  f"DZA holds {warm['stored']:,} TUN entries")
            print(f"HTTP vs in-process pull: {warm['seconds'] / ip['pull_s']:.2f}x the time")
        if cold:
            print(f"HTTP cold: startup {cold['startup']:.1f} s, TUN's outbox complete at {cold['released']:.1f} s, "
                  f"DZA in sync at {cold['seconds']:.1f} s (DZA holds {cold['stored']:,})")
        print("\ngoal: catch-up >= 0.5x floor")
        for label, count, seconds, is_catch_up in rows:
            if is_catch_up:
                ratio = count / seconds / floor_rate
                print(f"  {label:<52} {ratio:5.2f}x floor: {'met' if ratio >= 0.5 else 'NOT met'}")

        if warm and warm.get("live"):
            lv = warm["live"]
            lat = lv["latencies"]
            print(f"\nlive latency TUN → DZA, validate accepted → visible to a DZA user "
                  f"({len(lat)} reports, {lv['lost']} not seen within 10 s; {lv['method']}; "
                  f"DZA already holds {n:,} TUN reports)")
            print(f"{'':<10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
            print(f"{'latency':<10} {p50(lat) * 1000:8.1f} {percentile(lat, 0.9) * 1000:8.1f} "
                  f"{percentile(lat, 0.99) * 1000:8.1f} {max(lat) * 1000 if lat else float('nan'):8.1f}")
            ok = lat and lv["lost"] == 0 and percentile(lat, 0.99) < 1.0
            print(f"goal: p99 < 1 s on loopback: {'met' if ok else 'NOT met'}")
    finally:
        if args.keep:
            print(f"\nrun folder kept: {run}")
        else:
            shutil.rmtree(run, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
