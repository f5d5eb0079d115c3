"""Ingest: how fast reports get into a node, against a raw SQLite floor.

  (a) HTTP API: POST /api/v1/reports, one report a request, through a real uvicorn server
      (`fossatum serve`, 127.0.0.1, random port) — one sequential client, then C concurrent
      clients (threads, each its own keep-alive connection and user);
  (b) `fossatum import` as a subprocess: a JSON-lines file of N reports (one transaction);
  (c) log rebuild: `node.store.rebuild()` (every projection emptied and replayed) — entries/s;
  (d) floor: raw sqlite3 INSERTs of the same report rows into a plain table (no index, no
      log, no signature) in one transaction, same pragmas (WAL, synchronous=FULL).
Prints rates and how many times slower than the floor each path is.

    .venv/bin/python bench/ingest.py                      # defaults: ~1-2 minutes
    .venv/bin/python bench/ingest.py --import-reports 100000 --http-reports 5000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import AUTHORS, DATA, build_node, login, report_input, server
from fossatum.domain.timeutil import utcnow
from fossatum.node import open_node
from fossatum.store.sqlite import DB_FILE


def inputs(n: int, seed: int) -> list[dict]:
    """n report inputs observed during the last 30 days (never in the future)."""
    rng = random.Random(seed)
    end = utcnow() - timedelta(minutes=1)
    return [report_input(rng, observed=end - timedelta(seconds=rng.uniform(0, 30 * 86400))) for _ in range(n)]


def http_ingest(base: str, docs: list[dict], clients: int) -> float:
    """POST every doc, spread over `clients` threads; returns elapsed seconds."""
    sessions = [login(base, AUTHORS[i % len(AUTHORS)]) for i in range(clients)]
    errors: list[str] = []

    def worker(client, chunk: list[dict]) -> None:
        for doc in chunk:
            r = client.post("/api/v1/reports", json=doc)
            if r.status_code != 201:
                errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                return

    chunks = [docs[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=worker, args=(s, c)) for s, c in zip(sessions, chunks)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for s in sessions:
        s.close()
    if errors:
        raise RuntimeError(errors[0])
    return elapsed


def cli(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fossatum.cli", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def floor_insert(src_db: Path, dst_db: Path) -> tuple[int, float]:
    """Copy the report rows of src into a plain table of a new database, one transaction."""
    src = sqlite3.connect(f"file:{src_db}?mode=ro", uri=True)
    cols = [r[1] for r in src.execute("PRAGMA table_info(reports)") if r[1] != "rid"]
    rows = src.execute(f"SELECT {', '.join(cols)} FROM reports").fetchall()
    src.close()
    dst = sqlite3.connect(dst_db, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=FULL")
    dst.execute(f"CREATE TABLE plain ({', '.join(cols)})")
    sql = f"INSERT INTO plain ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    t0 = time.perf_counter()
    dst.execute("BEGIN IMMEDIATE")
    dst.executemany(sql, rows)
    dst.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    dst.close()
    return len(rows), elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--http-reports", type=int, default=2000, help="reports POSTed in each HTTP run (default 2000)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (default 4)")
    ap.add_argument("--import-reports", type=int, default=20_000, help="reports in the import file (default 20,000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the scratch nodes under bench/.data/ingest-*")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    work = DATA / f"ingest-{int(time.time())}"
    work.mkdir(parents=True)
    rows: list[tuple[str, int, float, str]] = []  # (method, count, seconds, unit)
    try:
        # (a) HTTP API
        http_node = work / "http"
        build_node(http_node).close()
        docs = inputs(args.http_reports * 2, args.seed)
        with server(http_node) as base:
            http_ingest(base, docs[:50], 1)  # warm-up (imports, first connection, caches)
            seq = http_ingest(base, docs[: args.http_reports], 1)
            rows.append(("(a) HTTP POST, 1 sequential client", args.http_reports, seq, "reports"))
            conc = http_ingest(base, docs[args.http_reports:], args.clients)
            rows.append((f"(a) HTTP POST, {args.clients} concurrent clients", args.http_reports, conc, "reports"))

        # (b) fossatum import (CLI subprocess)
        import_node = work / "import"
        build_node(import_node).close()
        source = work / "reports.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for doc in inputs(args.import_reports, args.seed + 1):
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        startup = min(cli("--version") for _ in range(3))
        took = cli("import", "--data", str(import_node), "--as", AUTHORS[0], str(source))
        rows.append((f"(b) fossatum import (CLI, incl. {startup:.2f} s start-up)", args.import_reports, took, "reports"))

        # (c) rebuild (in process) of the import node's log
        node = open_node(import_node)
        entries = node.store.log_size()
        t0 = time.perf_counter()
        replayed = node.store.rebuild()
        rebuilt = time.perf_counter() - t0
        node.close()
        assert replayed == entries
        rows.append(("(c) log rebuild, store.rebuild()", entries, rebuilt, "entries"))

        # (d) floor
        n, floor_s = floor_insert(import_node / DB_FILE, work / "floor.db")
        floor_rate = n / floor_s
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nIngest benchmark (floor: raw sqlite3 INSERT of the same {n:,} report rows into a plain table, "
          f"one transaction: {floor_rate:,.0f} rows/s)\n")
    print(f"{'method':<54} {'count':>7} {'seconds':>8} {'rate/s':>9} {'x slower than floor':>20}")
    for label, count, seconds, unit in rows:
        rate = count / seconds
        print(f"{label:<54} {count:>7,} {seconds:8.2f} {rate:9,.0f} {floor_rate / rate:20,.0f}   ({unit}/s)")
    print(f"{'(d) floor: raw sqlite3 INSERT, one transaction':<54} {n:>7,} {floor_s:8.2f} {floor_rate:9,.0f} "
          f"{1:20,.0f}   (rows/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
