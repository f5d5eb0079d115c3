"""Shared pieces of the benchmarks: a Tunisian node with partner liaison officers, a
deterministic report generator, a real uvicorn server on loopback, and timing helpers.

Nothing here is imported by the package or the tests; the benchmarks print figures and
ratios and never assert them.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from fossatum.domain.timeutil import to_text
from fossatum.node import Node, init_node

BENCH = Path(__file__).resolve().parent
DATA = BENCH / ".data"
PASSWORD = "bench-password-1"

# The region of the COP queries: the Tunisia–Algeria border strip.
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 7.5, 9.5, 34.5, 37.0
# Reports are observed over DAYS days ending at T_END (fixed, so cached data stays valid).
DAYS = 30
T_END = datetime(2026, 3, 1, tzinfo=UTC)
T_START = T_END - timedelta(days=DAYS)

AGENCIES = [
    ("TN-GN", "Garde nationale", "TUN"),
    ("TN-ARMY", "Armée nationale", "TUN"),
    ("TN-DOUANE", "Douane tunisienne", "TUN"),
    ("DZ-GN", "Gendarmerie nationale", "DZA"),
    ("LY-BG", "Libyan border guard", "LBY"),
]
# (username, agency, roles). Field users author reports; duty officers validate them.
USERS = [
    *[(f"tn-gn-field{i}", "TN-GN", ["field"]) for i in range(4)],
    *[(f"tn-army-field{i}", "TN-ARMY", ["field"]) for i in range(3)],
    *[(f"tn-douane-field{i}", "TN-DOUANE", ["field"]) for i in range(2)],
    ("dz-gn-field0", "DZ-GN", ["field"]),     # an Algerian team reporting through the Tunisian centre
    ("tn-duty", "TN-GN", ["duty_officer"]),   # owner-country viewer of the COP
    ("tn-army-duty", "TN-ARMY", ["duty_officer"]),
    ("tn-douane-duty", "TN-DOUANE", ["duty_officer"]),
    ("dz-liaison", "DZ-GN", ["duty_officer"]),  # Algerian liaison officer: the partner viewer
    ("ly-liaison", "LY-BG", ["analyst"]),
]
AUTHORS = [u for u, _, roles in USERS if roles == ["field"]]
# Validator by agency: a duty officer of the same agency also sees agency-only reports.
VALIDATOR = {"TN-GN": "tn-duty", "TN-ARMY": "tn-army-duty", "TN-DOUANE": "tn-douane-duty", "DZ-GN": "dz-liaison"}

TYPES = ["armed_group_sighting", "armed_group_movement", "clash", "explosive_device", "smuggling_weapons",
         "smuggling_fuel", "smuggling_drugs", "smuggling_goods", "seizure", "arrest", "illegal_crossing",
         "suspicious_vehicle"]
# (weight, scope, partners)
AUDIENCES = [(15, "agency", []), (25, "national", []), (20, "partners", ["DZA"]), (10, "partners", ["LBY"]),
             (30, "all_partners", [])]
DRAFT_SHARE, VALIDATED_SHARE = 0.05, 0.60


def build_node(path: Path, *, clock: Any = None, database_url: str | None = None) -> Node:
    """A Tunisian node with agencies of TUN, DZA and LBY and the users above (SQLite, or the
    PostgreSQL database `database_url`)."""
    kwargs = {"clock": clock} if clock else {}
    node = init_node(path, country="TUN", name="Tunisia NCC (bench)", database_url=database_url, **kwargs)
    for code, name, country in AGENCIES:
        node.add_agency(actor=None, code=code, name=name, country=country)
    for username, agency, roles in USERS:
        node.add_user(actor=None, username=username, agency=agency, roles=roles, password=PASSWORD)
    return node


def position(rng: random.Random) -> tuple[float, float]:
    """70 % along the border (a line from (8.6, 37.0) to (7.9, 34.5), ±0.3°), 30 % anywhere in the region."""
    lat = rng.uniform(LAT_MIN, LAT_MAX)
    if rng.random() < 0.7:
        border = 7.9 + (lat - LAT_MIN) / (LAT_MAX - LAT_MIN) * 0.7
        lon = min(LON_MAX, max(LON_MIN, border + rng.uniform(-0.3, 0.3)))
    else:
        lon = rng.uniform(LON_MIN, LON_MAX)
    return round(lon, 6), round(lat, 6)


def report_input(rng: random.Random, *, observed: datetime, report_id: str | None = None,
                 owner_country: str = "TUN") -> dict[str, Any]:
    """One report in the API's input shape (by an author of `owner_country`)."""
    lon, lat = position(rng)
    _, scope, partners = rng.choices(AUDIENCES, weights=[a[0] for a in AUDIENCES])[0]
    if owner_country in partners:  # "partners: DZA" by a DZA author: release to Tunisia instead
        partners = [p if p != owner_country else "TUN" for p in partners]
    doc: dict[str, Any] = {
        "type": rng.choice(TYPES),
        "observed_at": to_text(observed),
        "location": {"lat": lat, "lon": lon},
        "uncertainty_m": rng.choice([10.0, 50.0, 200.0, 1000.0]),
        "salute": {"size": rng.randint(1, 40), "activity": "moving north-east on foot", "unit": "unknown",
                   "equipment": rng.choice(["small arms", "4x4 pick-up", "fuel jerrycans", "none seen"])},
        "grade": {"source": rng.choice("ABCDEF"), "info": rng.randint(1, 6)},
        "description": f"bench report {rng.getrandbits(32):08x}",
        "audience": {"scope": scope, "partners": partners},
        "tlp": rng.choice(["CLEAR", "GREEN", "AMBER", "AMBER"]),
        "state": "draft" if rng.random() < DRAFT_SHARE else "submitted",
    }
    if report_id:
        doc["id"] = report_id
    return doc


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(data_dir: Path, *, env: dict[str, str] | None = None) -> Iterator[str]:
    """`fossatum serve` in a subprocess on 127.0.0.1 and a random free port; yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "fossatum.cli", "serve", "--data", str(data_dir), "--host", "127.0.0.1",
           "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def login(base: str, username: str) -> httpx.Client:
    """A keep-alive client with a bearer token of `username`."""
    client = httpx.Client(base_url=base, timeout=60)
    r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"
