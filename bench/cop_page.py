"""COP page benchmark (issue 4): in headless Chromium against a real `fossatum serve`,

1. time from opening the page to a usable map with 10,000 reports in the last 24 h
   (logged-in session; the map has drawn its symbols and clusters), p50/p95 over N opens;
2. time from a report's submission (POST by one browser) to its symbol on a second
   browser's map (over the live websocket), p50/p95 over M reports.

Needs the built page (cd web && npm ci && npm run build), /usr/bin/chromium and Playwright
for Python (never `playwright install`). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, PASSWORD, build_node, fmt_ms, p50, percentile, report_input, server
from fossatum.schemas import ReportIn

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "src" / "fossatum" / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def make_node(folder: Path, n: int, seed: int) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    node = build_node(folder)
    users = {u.username: u for u in node.store.users()}
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for start in range(0, n, 1000):
        specs = [ReportIn.model_validate(report_input(rng, observed=now - timedelta(hours=23.5 * rng.random()),
                                                      report_id=str(uuid.UUID(int=rng.getrandbits(128), version=4))))
                 for _ in range(min(1000, n - start))]
        node.file_reports(actor=users["tn-gn-field0"], specs=specs)
    node.close()


def token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=10_000)
    ap.add_argument("--opens", type=int, default=7)
    ap.add_argument("--submissions", type=int, default=30)
    args = ap.parse_args()
    if not (DIST / "index.html").exists() or not Path(CHROMIUM).exists():
        print("needs the built page (cd web && npm ci && npm run build) and /usr/bin/chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    folder = DATA / "cop-page"
    t0 = time.perf_counter()
    make_node(folder, args.reports, seed=4)
    print(f"node with {args.reports:,} reports in the last 24 h built in {time.perf_counter() - t0:.0f} s")
    with server(folder) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        viewer = token(base, "tn-duty")

        def logged_in_page(tok: str):
            ctx = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
            ctx.add_init_script(f"sessionStorage.setItem('fossatum.token', '{tok}'); localStorage.setItem('fossatum.lang', 'en')")
            return ctx, ctx.new_page()

        opens: list[float] = []
        shown = 0
        for i in range(args.opens):
            ctx, page = logged_in_page(viewer)
            start = time.perf_counter()
            page.goto(base + "/")
            page.wait_for_function("Number(document.querySelector('#map')?.dataset.rendered) > 0 && !document.body.classList.contains('busy')",
                                   timeout=60_000, polling=10)
            opens.append(time.perf_counter() - start)
            shown = int(page.get_attribute("#map", "data-shown") or 0)
            if i == 0:
                # pan and zoom: one move's re-clustering of all reports
                t = time.perf_counter()
                page.evaluate("location.hash = '#at/35.5/8.3/9'")
                page.wait_for_timeout(50)
                print(f"  one zoom step (re-cluster {shown:,} reports): ~{(time.perf_counter() - t) * 1000:.0f} ms incl. 50 ms wait")
            ctx.close()
        print(f"open → usable map ({shown:,} reports shown)   p50 {fmt_ms(p50(opens))} ms   p95 {fmt_ms(percentile(opens, 0.95))} ms")

        # submission → symbol on a second browser's map
        filer_ctx, filer = logged_in_page(token(base, "tn-army-duty"))
        watch_ctx, watcher = logged_in_page(viewer)
        for pg in (filer, watcher):
            pg.goto(base + "/")
            pg.wait_for_function("document.querySelector('#status .dot.live') !== null", timeout=60_000)
        lat, lon = 36.8, 9.3
        watcher.evaluate(f"location.hash = '#at/{lat}/{lon}/13'")
        lags: list[float] = []
        for i in range(args.submissions):
            spec = {"type": "armed_group_sighting", "location": {"lat": lat + (i % 5) * 0.002, "lon": lon + (i // 5) * 0.002},
                    "audience": {"scope": "national", "partners": []}, "description": f"bench {i}"}
            start = time.perf_counter()
            rid = filer.evaluate("""async (spec) => {
                const r = await fetch('/api/v1/reports', {method: 'POST', headers: {'content-type': 'application/json',
                    authorization: 'Bearer ' + sessionStorage.getItem('fossatum.token')}, body: JSON.stringify(spec)});
                return (await r.json()).id; }""", spec)
            watcher.wait_for_selector(f"#map img.rep-sym[data-id='{rid}']", state="attached", timeout=10_000)
            lags.append(time.perf_counter() - start)
        print(f"submit → symbol on a 2nd browser ({args.submissions} reports)   p50 {fmt_ms(p50(lags))} ms   p95 {fmt_ms(percentile(lags, 0.95))} ms")
        filer_ctx.close()
        watch_ctx.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
