"""The COP query on PostgreSQL + PostGIS: bbox + 24 h window over N reports, under need-to-know.

Beside bench/cop_query.py (SQLite). The reports are generated straight into the `reports`
projection table by one server-side `INSERT … SELECT generate_series` (no client round
trips; the COP query never reads the signed log, so the log is not built: 10 M rows load in
minutes, not the hours that filing and signing them would take), in the same space (lon
7.5–9.5, lat 34.5–37) and 30 days, inserted in order of observation as a node projects them
(reports are filed and received near the time they were observed). For the bulk load the secondary indexes of `reports` are
dropped and rebuilt afterwards from their own definitions (the schema's), then `ANALYZE`.
Measures p50/p95 of
  (a) raw SQL: the space-time GiST (migration 7) box + window, newest first, no visibility
      filter (the floor), and for comparison the query of schema 1–6 (2-D GiST box AND the
      observed_at btree);
  (b) `store.list_reports(viewer, ReportQuery(bbox, since, until))` for a partner viewer and
      an owner-country viewer (need-to-know predicate inside the SQL);
and the ratio of each to (a). `--explain` prints the plan of one store query.

    FOSSATUM_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/cop_query_pg.py --reports 10000000 --keep
It builds the database fossatum_bench_cop_<N> and drops it at the end, unless --keep (then
the next run reuses it; --fresh rebuilds it). 10 M reports take ~5 GB of disk.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from psycopg import sql

from _common import DAYS, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, T_START, fmt_ms, p50, percentile
from fossatum.domain.org import Role, User
from fossatum.domain.timeutil import to_text
from fossatum.policy.predicate import visible_sql
from fossatum.store.postgres import PostgresStore
from fossatum.store.projector import days
from fossatum.store.query import ReportQuery, TimeSlices, report_filters

APP_ROLE = "fossatum_bench_app"
PARTNER = User("dz-liaison", "DZ-GN", "DZA", frozenset({Role.DUTY_OFFICER}))
OWNER = User("tn-duty", "TN-GN", "TUN", frozenset({Role.DUTY_OFFICER}))
Query = tuple[tuple[float, float, float, float], str, str]

FILL = """
INSERT INTO reports (id, origin, owner_agency, owner_country, scope, releasable_to, tlp, state, released, author,
                     type, layer, observed_at, reported_at, updated_at, lat, lon, version, doc)
SELECT 'r' || g, 'TUN-bench', CASE WHEN g %% 3 = 0 THEN 'TN-ARMY' ELSE 'TN-GN' END, 'TUN',
       CASE WHEN g %% 4 = 0 THEN 'national' WHEN g %% 4 = 1 THEN 'partners' ELSE 'all_partners' END,
       CASE WHEN g %% 4 = 1 THEN ',DZA,TUN,' WHEN g %% 4 = 0 THEN ',TUN,' ELSE ',DZA,LBY,TUN,' END,
       'AMBER', CASE WHEN g %% 20 = 0 THEN 'draft' WHEN g %% 5 < 3 THEN 'validated' ELSE 'submitted' END,
       CASE WHEN g %% 5 < 3 AND g %% 20 <> 0 THEN 1 ELSE 0 END, 'author' || (g %% 50),
       'smuggling_fuel', 'smuggling', t, t, t, lat, lon, 1,
       '{"id":"r' || g || '","type":"smuggling_fuel","observed_at":"' || t || '"}'
FROM (SELECT g, %(lat_min)s + random() * (%(lat_max)s - %(lat_min)s) AS lat,
             %(lon_min)s + random() * (%(lon_max)s - %(lon_min)s) AS lon,
             to_char((%(t_start)s::timestamptz + random() * make_interval(days => %(days)s)) AT TIME ZONE 'UTC',
                     'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
      FROM generate_series(1, %(n)s) AS g) AS s
ORDER BY t
"""

RAW = ("SELECT r.doc FROM reports r "
       "WHERE r.geom_t &&& ST_3DMakeBox(ST_MakePoint(%s, %s, %s), ST_MakePoint(%s, %s, %s)) "
       "AND r.lon BETWEEN %s AND %s AND r.lat BETWEEN %s AND %s "
       "AND r.observed_at COLLATE \"C\" >= %s AND r.observed_at COLLATE \"C\" < %s "
       "ORDER BY r.observed_at DESC, r.id DESC LIMIT %s")
RAW_2D = ("SELECT r.doc FROM reports r WHERE r.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
          "AND r.lon BETWEEN %s AND %s AND r.lat BETWEEN %s AND %s "
          "AND r.observed_at >= %s AND r.observed_at < %s ORDER BY r.observed_at DESC, r.id DESC LIMIT %s")


def raw_params(q: Query, limit: int) -> tuple[object, ...]:
    (x0, y0, x1, y1), since, until = q
    return (x0, y0, days(since) - 0.01, x1, y1, days(until) + 0.01, x0, x1, y0, y1, since, until, limit)


def raw_2d_params(q: Query, limit: int) -> tuple[object, ...]:
    (x0, y0, x1, y1), since, until = q
    return (x0, y0, x1, y1, x0, x1, y0, y1, since, until, limit)


def load(url: str, n: int) -> None:
    """Fill `reports` with n generated rows: indexes dropped, rows inserted, indexes rebuilt."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("TRUNCATE reports")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'reports' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'reports'::regclass)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        conn.execute(FILL, {"n": n, "lat_min": LAT_MIN, "lat_max": LAT_MAX, "lon_min": LON_MIN,
                            "lon_max": LON_MAX, "t_start": T_START.isoformat(), "days": DAYS})
        print(f"  inserted {n:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
        for name, definition in indexes:
            t = time.perf_counter()
            conn.execute(definition)
            print(f"  index {name} built in {time.perf_counter() - t:.0f} s", flush=True)
        conn.execute("VACUUM ANALYZE reports")
    print(f"generated {n:,} reports in {time.perf_counter() - started:.0f} s (SQL, no log)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--bbox", type=float, default=0.5)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--fresh", action="store_true", help="rebuild the bench database even if it holds N reports")
    ap.add_argument("--keep", action="store_true", help="keep the bench database for the next run")
    ap.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of one store query")
    ap.add_argument("--no-v1", action="store_true", help="skip the raw SQL of schema 1-6 (seconds per query at 10 M)")
    ap.add_argument("--load-only", action="store_true", help="build (or check) the bench database, measure nothing")
    args = ap.parse_args()
    admin = os.environ.get("FOSSATUM_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"fossatum_bench_cop_{args.reports}"
    url = urlsplit(admin)._replace(path=f"/{name}").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and args.fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(APP_ROLE)))
    parts = urlsplit(url)
    app_url = parts._replace(netloc=f"{APP_ROLE}@{parts.hostname}:{parts.port or 5432}").geturl()
    try:
        # The admin URL's role owns, migrates (all migrations) and fills; the store reads as the app role.
        store = PostgresStore(app_url, Path(tempfile.gettempdir()), owner_url=url, rls="enforce")
        try:
            if store.read_one("SELECT COUNT(*) FROM reports", system=True)[0] != args.reports:  # type: ignore[index]
                load(url, args.reports)
            if not args.load_only:
                measure(store, url, args)
        finally:
            store.close()
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def measure(store: PostgresStore, url: str, args: argparse.Namespace) -> None:
    rng = random.Random(7)
    queries: list[Query] = []
    for _ in range(args.queries + 20):
        side = args.bbox * rng.uniform(0.8, 1.2)
        lon = rng.uniform(LON_MIN, LON_MAX - side)
        lat = rng.uniform(LAT_MIN, LAT_MAX - side)
        end = T_START + timedelta(hours=24 + rng.uniform(0, (DAYS - 1) * 24))
        queries.append(((lon, lat, lon + side, lat + side), to_text(end - timedelta(hours=24)), to_text(end)))

    def timed(run: Callable[[Query], object]) -> list[float]:
        out = []
        for i, q in enumerate(queries):
            t = time.perf_counter()
            run(q)
            if i >= 20:  # warm-up first
                out.append(time.perf_counter() - t)
        return out

    def store_query(q: Query) -> ReportQuery:
        return ReportQuery(bbox=q[0], since=q[1], until=q[2], limit=args.limit)

    if args.explain:
        where, params = visible_sql(PARTNER, "r")
        filters, fparams = report_filters(store_query(queries[0]), alias="r", spatial=store._bbox_sql)
        text = (f"EXPLAIN (ANALYZE, BUFFERS) SELECT r.doc FROM reports r WHERE {where}{filters} "
                "ORDER BY r.observed_at DESC, r.id DESC LIMIT ?")
        for (line,) in store.read(text, (*params, *fparams, args.limit + 1)):
            print("  " + line)

    results: dict[str, list[float]] = {}
    with psycopg.connect(url) as raw:
        results["(a) raw SQL, space-time GiST, no filter"] = timed(
            lambda q: raw.execute(RAW, raw_params(q, args.limit)).fetchall())
        if not args.no_v1:
            results["raw SQL, 2-D GiST + observed_at (v1-6)"] = timed(
                lambda q: raw.execute(RAW_2D, raw_2d_params(q, args.limit)).fetchall())
    rows: dict[str, list[int]] = {}
    slices = [0]
    plain_next = TimeSlices.next

    def counted(plan: TimeSlices, found: int) -> tuple[str, str] | None:
        nxt = plain_next(plan, found)
        slices[0] += nxt is not None
        return nxt

    TimeSlices.next = counted  # type: ignore[method-assign]  # to print slices per query
    for who, viewer in (("partner viewer (DZA)", PARTNER), ("owner-country viewer (TUN)", OWNER)):
        for how, sliced in (("one query", False), ("time slices", True)):
            label = f"(b) store, {who}, {how}"
            counts: list[int] = []
            rows[label] = counts
            slices[0] = 0
            results[label] = timed(lambda q, v=viewer, c=counts, s=sliced: c.append(
                len(store.list_reports(v, store_query(q), sliced=s))))
            if sliced:
                print(f"  {label}: {1 + slices[0] / len(queries):.2f} slices per query")
    print(f"{args.reports:,} reports; {args.queries} queries: bbox ~{args.bbox}° square, 24 h window in {DAYS} days, "
          f"limit {args.limit}")
    base50 = p50(results["(a) raw SQL, space-time GiST, no filter"])
    base95 = percentile(results["(a) raw SQL, space-time GiST, no filter"], 0.95)
    for label, values in results.items():
        mean_rows = f"  rows ~{sum(rows[label]) / len(rows[label]):.0f}" if label in rows else ""
        print(f"  {label:<56} p50 {fmt_ms(p50(values))} ms  p95 {fmt_ms(percentile(values, 0.95))} ms  "
              f"ratio to (a) p50 {p50(values) / base50:5.2f}  p95 {percentile(values, 0.95) / base95:5.2f}{mean_rows}")


if __name__ == "__main__":
    main()
