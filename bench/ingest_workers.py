"""Ingest through several API workers: reports/s over HTTP with 1, 2 and 4 `fossatum serve` workers.

For each worker count: a fresh node in a PostgreSQL database (`<name>_bench_workers` beside
the one `--database-url` names, re-created), `fossatum serve --workers N` on 127.0.0.1,
then C concurrent clients (threads; each its own user and keep-alive connection — the kernel
spreads connections over the workers) POST `--reports` reports, one a request. The same on a
SQLite node with 1 worker is printed as the reference. Every run ends with `fossatum verify`
(the log must stay one gap-free signed chain). Prints reports/s and the ratio to 1 worker.

Writers of one node are serialised (an advisory lock around seq, hash, signature, insert,
projection and commit), so more workers help only with what is outside the lock: HTTP,
JSON, validation, authentication. Also printed: the time of one Ed25519 signature, the part
of the locked work that cannot move out (the signature covers the hash, which covers the
previous entry's hash, known only under the lock).

    .venv/bin/python bench/ingest_workers.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/ingest_workers.py --database-url … --workers 1,2,4 --clients 8 --reports 2000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, build_node, server
from fossatum.log.signing import NodeKey
from fossatum.store.postgres import sibling_database
from ingest import http_ingest, inputs


def all_workers_up(base: str, workers: int, timeout: float = 90.0) -> None:
    """Until a new connection has reached each worker (the header names the one that answered)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only workers {sorted(seen)} answered within {timeout:.0f} s")
        with httpx.Client(base_url=base, timeout=10) as c:
            seen.add(c.get("/api/v1/health").headers["X-Fossatum-Worker"].split(";")[0])


def verify(data: Path, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "fossatum.cli", "verify", "--data", str(data)],
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"verify failed: {done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[0]


def run(work: Path, label: str, workers: int, database_url: str | None, docs: list[dict], clients: int
        ) -> tuple[str, int, float, str]:
    data = work / f"{len(list(work.iterdir()))}-{label.replace(' ', '').replace(',', '-')}"
    build_node(data, database_url=database_url).close()
    env = {"FOSSATUM_WORKERS": str(workers), **({"FOSSATUM_DATABASE_URL": database_url} if database_url else {})}
    with server(data, env=env) as base:
        all_workers_up(base, workers)
        http_ingest(base, docs[:50], clients)  # warm-up: every worker's imports, pools, caches
        seconds = http_ingest(base, docs[50:], clients)
    return label, len(docs) - 50, seconds, verify(data, env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True, help="a database on the PostgreSQL (+PostGIS) server to use")
    ap.add_argument("--workers", default="1,2,4", help="worker counts to compare (default 1,2,4)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (default 8)")
    ap.add_argument("--reports", type=int, default=1000, help="reports POSTed per run (default 1000)")
    ap.add_argument("--no-sqlite", action="store_true", help="skip the SQLite reference run")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    counts = [int(n) for n in args.workers.split(",")]

    key = NodeKey.generate()
    t0 = time.perf_counter()
    for i in range(2000):
        key.sign(f"{i:064x}")
    sign_us = (time.perf_counter() - t0) / 2000 * 1e6

    work = DATA / f"ingest-workers-{int(time.time())}"
    work.mkdir(parents=True)
    docs = inputs(args.reports + 50, args.seed)
    rows = []
    try:
        if not args.no_sqlite:
            rows.append(run(work, "SQLite, 1 worker", 1, None, docs, args.clients))
            print(f"  {rows[-1]}")
        for n in counts:
            url = sibling_database(args.database_url, "_bench_workers", fresh=True)
            rows.append(run(work, f"PostgreSQL, {n} worker{'s' if n > 1 else ''}", n, url, docs, args.clients))
            print(f"  {rows[-1]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base_rate = next((count / s for label, count, s, _ in rows if label == "PostgreSQL, 1 worker"), None)
    print(f"\nHTTP ingest, {args.clients} concurrent clients, {args.reports} reports a run "
          f"(one Ed25519 signature: {sign_us:.0f} µs)\n")
    print(f"{'server':<24} {'reports':>8} {'seconds':>8} {'reports/s':>10} {'× 1 PG worker':>14}  verify")
    for label, count, seconds, verified in rows:
        rate = count / seconds
        ratio = f"{rate / base_rate:14.2f}" if base_rate else f"{'-':>14}"
        print(f"{label:<24} {count:>8,} {seconds:8.2f} {rate:10,.0f} {ratio}  {verified}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
