"""The COP query: bbox + 24 h window over N reports, under need-to-know.

Measures on the same data, in one run:
  (a) raw SQLite — the R*Tree bbox + time range SELECT of the doc column, no visibility
      filter, straight on the database file (the floor);
  (b) the store call `node.store.list_reports(viewer, ReportQuery(...))` for a partner
      viewer (Algerian liaison officer) and an owner-country viewer (Tunisian duty officer);
  (c) the HTTP API `GET /api/v1/reports?bbox=…&since=…&until=…&limit=…` through a real
      uvicorn server (`fossatum serve`) on 127.0.0.1, with httpx.
It prints p50/p95 and the ratios (b)/(a), (c)/(a) against the goal line.

The data (N reports filed through the signed log, 60 % validated) is generated once and
cached under bench/.data/cop-<N>/; the generation time is printed as an ingest figure.

    .venv/bin/python bench/cop_query.py                    # 1,000,000 reports (first run: long)
    .venv/bin/python bench/cop_query.py --reports 50000    # while developing
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sqlite3
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    AUTHORS,
    DATA,
    DAYS,
    DRAFT_SHARE,
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    T_END,
    T_START,
    VALIDATED_SHARE,
    VALIDATOR,
    build_node,
    fmt_ms,
    login,
    p50,
    percentile,
    report_input,
    server,
)
from fossatum.domain import report as rules
from fossatum.domain.timeutil import to_text
from fossatum.node import open_node
from fossatum.policy.predicate import visible_sql
from fossatum.schemas import ReportIn
from fossatum.store.projector import days
from fossatum.store.query import ReportQuery, report_filters
from fossatum.store.sqlite import DB_FILE, SQLiteStore

PARTNER_VIEWER = "dz-liaison"
OWNER_VIEWER = "tn-duty"

RAW_SQL = (
    # The best plain query for "box + time window, newest first" without the visibility
    # predicate: the (lon, lat, time) R*Tree hits become a sorted rowid list, read in rowid
    # (disk) order, then the exact time filter and the sort.
    "SELECT r.doc FROM reports r "
    "WHERE r.rid IN (SELECT rid FROM reports_space_time WHERE min_lon <= ? AND max_lon >= ? "
    "AND min_lat <= ? AND max_lat >= ? AND max_t >= ? AND min_t <= ?) "
    "AND r.observed_at >= ? AND r.observed_at < ? "
    "ORDER BY r.observed_at DESC, r.id DESC LIMIT ?"
)


def raw_params(q: Any, limit: int) -> tuple[Any, ...]:
    (min_lon, min_lat, max_lon, max_lat), since, until = q
    return (max_lon, min_lon, max_lat, min_lat, days(since), days(until), since, until, limit + 1)


# --- data --------------------------------------------------------------------------------

def generate(n: int, folder: Path, *, batch: int, seed: int) -> dict[str, Any]:
    """File n reports through the signed log in batches (one transaction each), then
    validate ~60 % of them (one transaction per batch), spreading time over DAYS days."""
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    now = [T_START]
    node = build_node(tmp, clock=lambda: now[0])
    users = {u.username: u for u in node.store.users()}
    rng = random.Random(seed)
    batches = math.ceil(n / batch)
    span = (T_END - T_START) / batches
    validate_share = VALIDATED_SHARE / (1 - DRAFT_SHARE)
    filing = validating = 0.0
    filed_total = validated_total = 0
    started = time.perf_counter()
    for b in range(batches):
        lo = T_START + span * b
        count = min(batch, n - b * batch)
        author = users[AUTHORS[rng.randrange(len(AUTHORS))]]
        t0 = time.perf_counter()
        specs = [ReportIn.model_validate(report_input(rng, observed=lo + span * rng.random(),
                                                      report_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                                      owner_country=author.country))
                 for i in range(count)]
        now[0] = lo + span + timedelta(minutes=rng.uniform(1, 30))  # reported after observed
        filed, _ = node.file_reports(actor=author, specs=specs)
        t1 = time.perf_counter()
        validator = users[VALIDATOR[author.agency]]
        now[0] += timedelta(minutes=rng.uniform(1, 30))
        ids = [s.id for s in specs if s.state == "submitted" and rng.random() < validate_share]
        with node.store.transaction() as tx:  # what Node.transition does, one transaction per batch
            for report_id in ids:
                report = node._load_for_change(tx, validator, report_id)
                node._record(tx, rules.validate(report, actor=validator, now=now[0]), "report.validated", {})
        t2 = time.perf_counter()
        filing += t1 - t0
        validating += t2 - t1
        filed_total += filed
        validated_total += len(ids)
        if (b + 1) % 20 == 0 or b + 1 == batches:
            el = time.perf_counter() - started
            print(f"  generated {filed_total:>9,} reports ({validated_total:,} validated) in {el:6.0f} s",
                  file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    entries = node.store.log_size()
    node.close()
    meta = {"reports": filed_total, "validated": validated_total, "entries": entries, "seconds": total,
            "filing_seconds": filing, "validating_seconds": validating, "batch": batch, "seed": seed}
    (tmp / "bench.json").write_text(json.dumps(meta, indent=1))
    tmp.rename(folder)
    return meta


def ensure_data(n: int, *, batch: int, seed: int, fresh: bool) -> tuple[Path, dict[str, Any], bool]:
    folder = DATA / f"cop-{n}"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if (folder / "bench.json").exists():
        return folder, json.loads((folder / "bench.json").read_text()), False
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"generating {n:,} reports into {folder} (cached for later runs) …", file=sys.stderr, flush=True)
    return folder, generate(n, folder, batch=batch, seed=seed), True


# --- queries -----------------------------------------------------------------------------

def make_queries(count: int, *, size: float, seed: int) -> list[tuple[tuple[float, float, float, float], str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        w = size * rng.uniform(0.8, 1.2)
        h = size * rng.uniform(0.8, 1.2)
        min_lon = rng.uniform(LON_MIN, LON_MAX - w)
        min_lat = rng.uniform(LAT_MIN, LAT_MAX - h)
        since = T_START + timedelta(seconds=rng.uniform(0, (DAYS - 1) * 86400))
        bbox = (round(min_lon, 4), round(min_lat, 4), round(min_lon + w, 4), round(min_lat + h, 4))
        out.append((bbox, to_text(since), to_text(since + timedelta(hours=24))))
    return out


def timed(fn: Any, warm: list[Any], queries: list[Any]) -> tuple[list[float], list[int]]:
    """Run `warm` untimed, then time each of `queries`; returns (seconds, rows) per query."""
    for q in warm:
        fn(q)
    times, rows = [], []
    for q in queries:
        t0 = time.perf_counter()
        out = fn(q)
        times.append(time.perf_counter() - t0)
        # an HTTP body: count its report documents (one "visible_to" key each), untimed
        rows.append(out if isinstance(out, int) else out.count(b'"visible_to":'))
    return times, rows


def store_sql(viewer: Any, query: ReportQuery) -> tuple[str, list[Any]]:
    """The SQL that SQLiteStore.list_reports runs (rebuilt from the same pieces)."""
    where, params = visible_sql(viewer, "r")
    filters, fparams = report_filters(query, alias="r", spatial=SQLiteStore._bbox_sql)
    return (f"SELECT r.doc FROM reports r WHERE {where}{filters} ORDER BY r.observed_at DESC, r.id DESC LIMIT ?",
            [*params, *fparams, query.limit + 1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", type=int, default=1_000_000, help="number of reports (default 1,000,000)")
    ap.add_argument("--queries", type=int, default=200, help="timed queries per method (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed queries first (default 20)")
    ap.add_argument("--bbox", type=float, default=0.5, help="bbox side in degrees (±20 %%; default 0.5)")
    ap.add_argument("--limit", type=int, default=1000, help="page size (default 1000)")
    ap.add_argument("--batch", type=int, default=5000, help="reports per transaction when generating")
    ap.add_argument("--seed", type=int, default=20260301)
    ap.add_argument("--fresh", action="store_true", help="regenerate the cached data")
    ap.add_argument("--no-http", action="store_true", help="skip (c), the HTTP API")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    folder, meta, generated = ensure_data(args.reports, batch=args.batch, seed=args.seed, fresh=args.fresh)
    db = folder / DB_FILE
    queries = make_queries(args.queries + args.warmup, size=args.bbox, seed=args.seed + 1)
    warm, timed_q = queries[: args.warmup], queries[args.warmup:]

    print(f"\nCOP query benchmark — {meta['reports']:,} reports ({meta['validated']:,} validated), "
          f"{meta['entries']:,} log entries, {db.stat().st_size / 2**30:.2f} GiB")
    print(f"generation{' (this run)' if generated else ' (cached)'}: {meta['seconds']:.0f} s = "
          f"{meta['entries'] / meta['seconds']:,.0f} entries/s through the signed log "
          f"(filing {meta['reports'] / meta['filing_seconds']:,.0f} reports/s in batches of {meta['batch']:,}; "
          f"validating {meta['validated'] / max(meta['validating_seconds'], 1e-9):,.0f}/s)")
    print(f"{args.queries} queries: bbox ~{args.bbox}°×{args.bbox}° in lon {LON_MIN}–{LON_MAX}, lat {LAT_MIN}–{LAT_MAX}; "
          f"24 h window in {DAYS} days; limit {args.limit}; {args.warmup} warm-up queries first\n")

    # (a) raw SQLite floor
    raw = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    raw.execute("PRAGMA cache_size=-65536")

    def run_raw(q: Any) -> int:
        return len(raw.execute(RAW_SQL, raw_params(q, args.limit)).fetchall())

    results: list[tuple[str, list[float], list[int]]] = []
    t, r = timed(run_raw, warm, timed_q)
    results.append(("(a) raw SQLite: R*Tree + time, no filter", t, r))

    # (b) the store call
    node = open_node(folder)
    viewers = {name: node.store.user(name) for name in (PARTNER_VIEWER, OWNER_VIEWER)}

    def run_store(viewer: Any, sliced: bool) -> Any:
        def run(q: Any) -> int:
            bbox, since, until = q
            return len(node.store.list_reports(viewer, ReportQuery(bbox=bbox, since=since, until=until, limit=args.limit),
                                               sliced=sliced))
        return run

    for name, label in ((PARTNER_VIEWER, "DZA liaison"), (OWNER_VIEWER, "TUN duty officer")):
        for how, sliced in (("one query", False), ("time slices", True)):
            t, r = timed(run_store(viewers[name], sliced), warm, timed_q)
            results.append((f"(b) store.list_reports, {label}, {how}", t, r))

    # the plan the store query gets (and the raw floor's), for the report
    bbox, since, until = timed_q[0]
    sql, params = store_sql(viewers[PARTNER_VIEWER], ReportQuery(bbox=bbox, since=since, until=until, limit=args.limit))
    store_plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
    raw_plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + RAW_SQL, raw_params(timed_q[0], args.limit))]
    where, wparams = visible_sql(viewers[PARTNER_VIEWER], "r")
    (total,) = raw.execute("SELECT COUNT(*) FROM reports").fetchone()
    (visible,) = raw.execute(f"SELECT COUNT(*) FROM reports r WHERE {where}", wparams).fetchone()

    # (c) the HTTP API (and, as its fixed cost, an authenticated GET /api/v1/me)
    http_fixed: tuple[float, float] | None = None
    if not args.no_http:
        with server(folder) as base:
            for name, label in ((PARTNER_VIEWER, "DZA liaison"), (OWNER_VIEWER, "TUN duty officer")):
                client = login(base, name)
                sizes: list[int] = []

                def run_http(q: Any, client: Any = client, sizes: list[int] = sizes) -> bytes:
                    (a, b_, c, d), since, until = q
                    resp = client.get("/api/v1/reports", params={
                        "bbox": f"{a},{b_},{c},{d}", "since": since, "until": until, "limit": args.limit})
                    if resp.status_code != 200:
                        raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:300]}")
                    sizes.append(len(resp.content))
                    return resp.content

                t, r = timed(run_http, warm, timed_q)
                kib = sum(sizes[len(warm):]) / max(len(sizes) - len(warm), 1) / 1024
                results.append((f"(c) HTTP GET /reports, {label} ({kib:.0f} KiB)", t, r))
                if http_fixed is None:
                    t, _ = timed(lambda q, client=client: client.get("/api/v1/me").content, warm, timed_q)
                    http_fixed = (p50(t), percentile(t, 0.95))
                client.close()
    raw.close()
    node.close()

    # --- table ---------------------------------------------------------------------------
    def stats(times: list[float]) -> tuple[float, float]:
        return p50(times), percentile(times, 0.95)

    floor50, floor95 = stats(results[0][1])
    print(f"{'method':<46} {'p50 ms':>8} {'p95 ms':>8} {'p50/a':>6} {'p95/a':>6} {'rows':>7}")
    for label, times, rows in results:
        m50, m95 = stats(times)
        print(f"{label:<46} {fmt_ms(m50)} {fmt_ms(m95)} {m50 / floor50:6.2f} {m95 / floor95:6.2f} "
              f"{sum(rows) / len(rows):7.0f}")
    if http_fixed is not None:
        print(f"{'    HTTP fixed cost: GET /api/v1/me (auth only)':<46} {fmt_ms(http_fixed[0])} {fmt_ms(http_fixed[1])}")
    print("\ngoal: p95 < 50 ms and < 2x raw floor")
    for label, times, _ in results[1:]:
        _, m95 = stats(times)
        ok = m95 < 0.050 and m95 < 2 * floor95
        print(f"  {label.split(' (')[0] if label.startswith('(c)') else label:<46} p95 {m95 * 1000:7.1f} ms = "
              f"{m95 / floor95:5.2f}x floor: {'met' if ok else 'NOT met'}")
    print(f"\nvisible to {PARTNER_VIEWER}: {visible:,} of {total:,} reports ({visible / total:.0%})")
    print("plan of the store query:  " + " | ".join(store_plan))
    print("plan of the raw floor:    " + " | ".join(raw_plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
