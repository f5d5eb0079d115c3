"""Real `fossatum serve` processes for the federation tests: nodes built on disk, partners
registered through the CLI as a newcomer would, servers started, waited for and killed.

Every wait is bounded; servers bind 127.0.0.1 only; `Server.stop()` always SIGKILLs
what is left, so a failing test cannot leave a process behind.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fossatum.node import init_node

FOSSATUM = [sys.executable, "-m", "fossatum.cli"]
PASSWORD = "correct-horse-1"
START_TIMEOUT = 30.0
AGENCY = {"TUN": "TN-GN", "DZA": "DZ-GN", "LBY": "LY-BG"}


def env(**settings: object) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FOSSATUM_")}
    base.update({f"FOSSATUM_{k.upper()}": str(v) for k, v in settings.items()})
    return base


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FOSSATUM, *args], capture_output=True, text=True, timeout=timeout, env=env())


def cli_ok(*args: str) -> str:
    result = cli(*args)
    assert result.returncode == 0, f"fossatum {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def build_node(data: Path, country: str) -> None:
    """A node with its national agency and users: <c>.officer (duty officer), <c>.admin, <c>.field."""
    node = init_node(data, country=country, name=f"{country} NCC")
    try:
        agency = AGENCY[country]
        node.add_agency(actor=None, code=agency, name=f"{country} border agency", country=country)
        c = country.lower()
        node.add_user(actor=None, username=f"{c}.officer", agency=agency, roles=["duty_officer"], password=PASSWORD)
        node.add_user(actor=None, username=f"{c}.admin", agency=agency, roles=["admin"], password=PASSWORD)
        node.add_user(actor=None, username=f"{c}.field", agency=agency, roles=["field"], password=PASSWORD)
    finally:
        node.close()


def public_key(data: Path) -> str:
    """`fossatum key show`: the key alone on the first line."""
    first = cli_ok("key", "show", "--data", str(data)).splitlines()[0]
    assert first.strip() == first and " " not in first and len(first) == 44, first
    return first


def partner_add(data: Path, country: str, url: str, key: str, *options: str) -> None:
    out = cli_ok("partner", "add", "--data", str(data), "--country", country, "--url", url, "--key", key, *options)
    assert f"added partner {country}" in out, out


def sync_status(data: Path) -> dict[str, dict[str, str]]:
    """`fossatum sync status`, parsed: country -> {sent, acked, lag, received, error}."""
    result = cli("sync", "status", "--data", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    rows: dict[str, dict[str, str]] = {}
    for line in result.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            rows[parts[0]] = {"sent": parts[1], "acked": parts[2], "lag": parts[3], "received": parts[4],
                              "line": line}
    return rows


def verify(data: Path) -> subprocess.CompletedProcess[str]:
    return cli("verify", "--data", str(data), timeout=120)


def db_rows(data: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read a node's database from outside (WAL: safe beside a running server)."""
    conn = sqlite3.connect(f"file:{data / 'fossatum.db'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def report_ids(data: Path) -> set[str]:
    return {r[0] for r in db_rows(data, "SELECT id FROM reports")}


def partner_report_ids(data: Path) -> set[str]:
    """Reports this node holds that another node originated."""
    (own,) = db_rows(data, "SELECT value FROM meta WHERE name = 'node_id'")[0]
    return {r[0] for r in db_rows(data, "SELECT id FROM reports WHERE origin != ?", (own,))}


def released_to(data: Path, country: str) -> set[str]:
    """The sender's own reports whose current version is released to `country`."""
    (own,) = db_rows(data, "SELECT value FROM meta WHERE name = 'node_id'")[0]
    rows = db_rows(data, "SELECT id, releasable_to FROM reports WHERE origin = ? AND released = 1 "
                         "AND scope IN ('partners', 'all_partners') AND state != 'draft'", (own,))
    return {rid for rid, countries in rows if f",{country}," in (countries or "")}


def wait_for(check: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


@dataclass
class Server:
    data: Path
    port: int
    log: Path
    settings: dict[str, object] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def tls(self) -> bool:
        return self.settings.get("tls") == "auto" or bool(self.settings.get("tls_cert"))

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Server:
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*FOSSATUM, "serve", "--data", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=env(**self.settings))
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log.read_text(errors='replace')}")
            try:
                # the test is no partner: it does not check the node's certificate
                if httpx.get(f"{self.base}/api/v1/health", timeout=1.0, verify=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"server did not start in {START_TIMEOUT} s:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """A clean stop (SIGTERM), SIGKILL if it takes too long."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.proc.wait(timeout=10)
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def client(self, username: str) -> httpx.Client:
        response = httpx.post(f"{self.base}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                              timeout=10, verify=False)
        assert response.status_code == 200, response.text
        return httpx.Client(base_url=self.base, timeout=10.0, verify=False,
                            headers={"Authorization": f"Bearer {response.json()['access_token']}"})


def report_body(i: int = 0, **audience: Any) -> dict[str, Any]:
    return {"type": "armed_group_sighting", "observed_at": "2026-11-28T22:15:00Z",
            "location": {"lat": 35.2 + (i % 100) / 1000, "lon": 8.68}, "uncertainty_m": 250,
            "salute": {"size": 6, "activity": "moving west", "unit": "", "equipment": ""},
            "grade": {"source": "B", "info": 2}, "audience": audience or {"scope": "all_partners"},
            "tlp": "AMBER", "description": f"report {i}"}


def file_and_validate(client: httpx.Client, i: int = 0, **audience: Any) -> str:
    filed = client.post("/api/v1/reports", json=report_body(i, **audience))
    assert filed.status_code == 201, filed.text
    rid = filed.json()["id"]
    validated = client.post(f"/api/v1/reports/{rid}/validate")
    assert validated.status_code == 200, validated.text
    return rid
