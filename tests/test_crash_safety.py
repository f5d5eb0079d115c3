"""Crash safety: a 201 survives `kill -9`, and `fossatum verify` finds a tampered log.

The server runs as a real `fossatum serve` process; every wait is bounded and the process
is killed in a `finally`, so a failure can never hang the suite.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import PASSWORD, build_node, sighting
from fossatum.node import open_node
from fossatum.schemas import ReportIn

FOSSATUM = [sys.executable, "-m", "fossatum.cli"]
START_TIMEOUT = 30.0
KILL_AFTER = 1.5


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FOSSATUM_")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verify(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FOSSATUM, "verify", "--data", str(data)], capture_output=True, text=True,
                          timeout=120, env=_env())


@contextmanager
def server(data: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `fossatum serve` process, up and answering /health; SIGKILLed on the way out."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([*FOSSATUM, "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=_env())
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start in {START_TIMEOUT} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def login(base: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/token", json={"username": "amira", "password": PASSWORD}, timeout=10)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class Poster(threading.Thread):
    """Posts reports as fast as it can until the server goes away (or a bounded count)."""

    def __init__(self, base: str, headers: dict[str, str], round_no: int, limit: int = 100_000) -> None:
        super().__init__(daemon=True)
        self.base, self.headers, self.round_no, self.limit = base, headers, round_no, limit
        self.accepted: list[str] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=5.0) as client:
            for i in range(self.limit):
                if self.stop.is_set():
                    return
                body = sighting(description=f"round {self.round_no} report {i}",
                                salute={"size": i % 50, "activity": "crossing", "unit": "", "equipment": ""})
                try:
                    response = client.post("/api/v1/reports", json=body)
                except httpx.HTTPError:
                    return  # the server died under us
                if response.status_code == 201:
                    self.accepted.append(response.json()["id"])
                else:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")


@pytest.mark.slow
def test_every_201_survives_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "tun"
    build_node(data).close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    accepted: list[str] = []

    for round_no in range(2):
        with server(data, port, log) as proc:
            poster = Poster(base, login(base), round_no)
            poster.start()
            time.sleep(KILL_AFTER)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            poster.stop.set()
            poster.join(timeout=15)
            assert not poster.is_alive(), "the posting thread did not stop"
        assert poster.errors == []
        assert len(poster.accepted) >= 5, "too few reports got through to make the test meaningful"
        accepted += poster.accepted

        with server(data, port, log):
            headers = login(base)
            with httpx.Client(base_url=base, headers=headers, timeout=10.0) as client:
                missing = [i for i in accepted if client.get(f"/api/v1/reports/{i}").status_code != 200]
                assert missing == [], f"{len(missing)} of {len(accepted)} acknowledged reports lost"
                listed = client.get("/api/v1/reports", params={"limit": 10_000}).json()["items"]
                assert set(accepted) <= {r["id"] for r in listed}
        result = verify(data)
        assert result.returncode == 0, result.stdout + result.stderr

    # The log and its projections agree after the crashes: one report.filed entry a report.
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        filed = conn.execute("SELECT COUNT(*) FROM log WHERE kind = 'report.filed'").fetchone()[0]
        reports = conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    finally:
        conn.close()
    assert filed == reports >= len(accepted)


# --- tampering ------------------------------------------------------------------------------

@pytest.fixture
def filed(tmp_path: Path) -> tuple[Path, str, int]:
    """A node with three reports; returns (data dir, origin, seq of the middle report's entry)."""
    data = tmp_path / "tun"
    node = build_node(data)
    try:
        amira = node.store.user("amira")
        assert amira is not None
        for i in range(3):
            node.file_report(actor=amira, spec=ReportIn.model_validate(sighting(description=f"Groupe armé {i}")))
        origin = node.node_id
    finally:
        node.close()
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM log WHERE kind = 'report.filed' ORDER BY seq")]
    finally:
        conn.close()
    assert verify(data).returncode == 0
    return data, origin, seqs[1]


def _tamper(data: Path, sql: str, params: tuple[object, ...]) -> None:
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        with conn:
            assert conn.execute(sql, params).rowcount == 1
    finally:
        conn.close()


def _payload(data: Path, origin: str, seq: int) -> str:
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        return conn.execute("SELECT payload FROM log WHERE origin = ? AND seq = ?", (origin, seq)).fetchone()[0]
    finally:
        conn.close()


def _assert_names(result: subprocess.CompletedProcess[str], where: str) -> None:
    """stderr has a line naming the entry at fault (the exit code is checked separately,
    in test_verify_exits_1_when_the_log_was_tampered_with)."""
    assert "Traceback" not in result.stderr
    assert "problem" in result.stdout, result.stdout
    assert any(where in line for line in result.stderr.splitlines()), result.stderr


def _change_one_byte(data: Path, origin: str, seq: int) -> None:
    payload = _payload(data, origin, seq)
    at = payload.index("Groupe armé 1") + len("Groupe armé ")
    changed = payload[:at] + "7" + payload[at + 1:]  # one byte: the digit 1 becomes 7
    assert len(changed.encode()) == len(payload.encode())
    _tamper(data, "UPDATE log SET payload = ? WHERE origin = ? AND seq = ?", (changed, origin, seq))


def _change_signature(data: Path, origin: str, seq: int) -> None:
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        sig = conn.execute("SELECT sig FROM log WHERE origin = ? AND seq = ?", (origin, seq)).fetchone()[0]
    finally:
        conn.close()
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    _tamper(data, "UPDATE log SET sig = ? WHERE origin = ? AND seq = ?", (flipped, origin, seq))


def _delete_entry(data: Path, origin: str, seq: int) -> None:
    _tamper(data, "DELETE FROM log WHERE origin = ? AND seq = ?", (origin, seq))


def test_one_changed_byte_in_a_payload_fails_verify_naming_origin_and_sequence(filed: tuple[Path, str, int]) -> None:
    data, origin, seq = filed
    _change_one_byte(data, origin, seq)
    result = verify(data)
    _assert_names(result, f"{origin}#{seq}")
    assert f"{origin}#{seq}: content does not match its hash" in result.stderr
    # Only the tampered entry is named: the chain links (prev = stored hash) still hold.
    assert result.stderr.count("#") == 1, result.stderr
    assert "1 problem" in result.stdout


@pytest.mark.parametrize("tamper", [_change_one_byte, _change_signature, _delete_entry],
                         ids=["payload-byte", "signature", "deleted-entry"])
def test_verify_exits_1_when_the_log_was_tampered_with(filed: tuple[Path, str, int], tamper: Any) -> None:
    data, origin, seq = filed
    tamper(data, origin, seq)
    result = verify(data)
    assert result.returncode == 1, result.stdout + result.stderr


def test_a_payload_byte_that_breaks_the_json_still_names_the_entry(filed: tuple[Path, str, int]) -> None:
    data, origin, seq = filed
    payload = _payload(data, origin, seq)
    _tamper(data, "UPDATE log SET payload = ? WHERE origin = ? AND seq = ?", ("[" + payload[1:], origin, seq))
    _assert_names(verify(data), f"{origin}#{seq}")


def test_a_changed_signature_fails_verify(filed: tuple[Path, str, int]) -> None:
    data, origin, seq = filed
    _change_signature(data, origin, seq)
    result = verify(data)
    _assert_names(result, f"{origin}#{seq}: bad signature")


def test_a_deleted_entry_fails_verify(filed: tuple[Path, str, int]) -> None:
    data, origin, seq = filed
    _delete_entry(data, origin, seq)
    result = verify(data)
    _assert_names(result, f"{origin}#{seq + 1}")
    assert "expected sequence" in result.stderr and "previous-hash link broken" in result.stderr


def test_verify_passes_after_rebuild_and_reopen(filed: tuple[Path, str, int]) -> None:
    data, _, _ = filed
    result = subprocess.run([*FOSSATUM, "rebuild", "--data", str(data)], capture_output=True, text=True,
                            timeout=120, env=_env())
    assert result.returncode == 0, result.stderr
    assert verify(data).returncode == 0
    node = open_node(data)
    try:
        amira = node.store.user("amira")
        assert amira is not None
        token, _, _ = node.login(username="amira", password=PASSWORD)
        assert token
    finally:
        node.close()
