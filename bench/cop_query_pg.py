"""The COP query on PostgreSQL + PostGIS: bbox + 24 h window over N reports, under need-to-know.

A first cut beside bench/cop_query.py (SQLite): the reports are generated straight into the
`reports` table with SQL (the COP query never reads the log, so the signed log is skipped to
make 1 M rows take seconds), in the same space (lon 7.5–9.5, lat 34.5–37) and 30 days.
Measures p50/p95 of
  (a) raw SQL: GiST box + time window, newest first, no visibility filter (the floor);
  (b) `store.list_reports(viewer, ReportQuery(bbox, since, until))` for a partner viewer and
      an owner-country viewer (need-to-know predicate inside the SQL), the store connected as
      the role `fossatum_bench_app` (created if absent): not the owner, so the row-level-security
      policies apply on top (the viewer declared in each read's transaction).
The HTTP layer and the SQLite comparison are in bench/cop_query.py.

    FOSSATUM_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/cop_query_pg.py --reports 1000000
It creates the database fossatum_bench_cop_<N> (kept for the next run; --fresh rebuilds it).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from _common import DAYS, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, T_END, T_START, fmt_ms, p50, percentile  # noqa: E402

from fossatum.domain.org import Role, User  # noqa: E402
from fossatum.domain.timeutil import to_text  # noqa: E402
from fossatum.store.postgres import PostgresStore  # noqa: E402
from fossatum.store.query import ReportQuery  # noqa: E402

APP_ROLE = "fossatum_bench_app"
PARTNER = User("dz-liaison", "DZ-GN", "DZA", frozenset({Role.DUTY_OFFICER}))
OWNER = User("tn-duty", "TN-GN", "TUN", frozenset({Role.DUTY_OFFICER}))

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
"""

RAW = ("SELECT r.doc FROM reports r WHERE r.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
       "AND r.observed_at >= %s AND r.observed_at < %s ORDER BY r.observed_at DESC, r.id DESC LIMIT %s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--bbox", type=float, default=0.5)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--fresh", action="store_true")
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
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(APP_ROLE)))
    parts = urlsplit(url)
    app_url = parts._replace(netloc=f"{APP_ROLE}@{parts.hostname}:{parts.port or 5432}").geturl()
    # The admin URL's role owns and migrates (and fills below); the store reads as the app role.
    store = PostgresStore(app_url, Path(tempfile.gettempdir()), owner_url=url, rls="enforce")
    try:
        if store.read_one("SELECT COUNT(*) FROM reports", system=True)[0] != args.reports:  # type: ignore[index]
            started = time.perf_counter()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DELETE FROM reports")
                conn.execute(FILL, {"n": args.reports, "lat_min": LAT_MIN, "lat_max": LAT_MAX, "lon_min": LON_MIN,
                                    "lon_max": LON_MAX, "t_start": T_START.isoformat(), "days": DAYS})
                conn.execute("ANALYZE reports")
            print(f"generated {args.reports:,} reports in {time.perf_counter() - started:.1f} s (SQL, no log)")
        rng = random.Random(7)
        queries = []
        for _ in range(args.queries + 20):
            side = args.bbox * rng.uniform(0.8, 1.2)
            lon = rng.uniform(LON_MIN, LON_MAX - side)
            lat = rng.uniform(LAT_MIN, LAT_MAX - side)
            end = T_START + timedelta(hours=24 + rng.uniform(0, (DAYS - 1) * 24))
            queries.append(((lon, lat, lon + side, lat + side), to_text(end - timedelta(hours=24)), to_text(end)))

        def timed(run: object) -> list[float]:
            out = []
            for i, q in enumerate(queries):
                t = time.perf_counter()
                run(q)  # type: ignore[operator]
                if i >= 20:  # warm-up first
                    out.append(time.perf_counter() - t)
            return out

        with psycopg.connect(url) as raw:
            floor = timed(lambda q: raw.execute(RAW, (*q[0], q[1], q[2], args.limit)).fetchall())
        results = {"raw SQL (no visibility filter)": floor}
        for label, viewer in (("store, partner viewer (DZA)", PARTNER), ("store, owner-country viewer (TUN)", OWNER)):
            results[label] = timed(lambda q, v=viewer: store.list_reports(
                v, ReportQuery(bbox=q[0], since=q[1], until=q[2], limit=args.limit)))
        print(f"{args.reports:,} reports; {args.queries} queries: bbox ~{args.bbox}° square, 24 h window in {DAYS} days, "
              f"limit {args.limit}")
        base = p50(floor)
        for label, values in results.items():
            print(f"  {label:<36} p50 {fmt_ms(p50(values))} ms  p95 {fmt_ms(percentile(values, 0.95))} ms  "
                  f"p50 ratio to raw {p50(values) / base:5.2f}")
    finally:
        store.close()


if __name__ == "__main__":
    main()
