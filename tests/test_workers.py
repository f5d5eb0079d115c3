"""`fossatum serve --workers N`: several API processes of one PostgreSQL node behind one port.

A real supervisor with two spawned workers (and the TAK gateway in worker 1): live pushes
cross workers under need-to-know, concurrent writers through both keep one gap-free signed
chain, a killed worker is restarted, SIGTERM stops everything. Connections are steered to a
worker by reopening them until the `X-Fossatum-Worker` header names the one wanted.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conftest import PASSWORD, build_node, sighting
from federation.procs import FOSSATUM, Server, env, file_and_validate, free_port, wait_for
from federation.procs import build_node as build_partner
from pg_databases import PgDatabases

pytestmark = pytest.mark.slow

HEADER = "X-Fossatum-Worker"
TRIES = 80  # new connections tried to reach a given worker (the kernel picks one per connection)


@dataclass
class Served:
    server: Server
    url: str
    cot_port: int

    @property
    def log(self) -> str:
        return self.server.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def served(pg_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_two_workers(pg_databases, tmp_path_factory, "workers")


def serve_two_workers(pg_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory,
                      name: str, **settings: Any) -> Iterator[Served]:
    """A PostgreSQL node served by two workers, the TAK gateway in worker 1, until the module ends."""
    url = pg_databases.create(name)
    data = tmp_path_factory.mktemp(name) / "tun"
    build_node(data, database_url=url).close()
    cot_port = free_port()
    server = Server(data, free_port(), data.parent / "serve.log",
                    settings={"database_url": url, "workers": 2, "cot": f"tcp://127.0.0.1:{cot_port}", **settings})
    server.start()
    node = Served(server, url, cot_port)
    try:
        wait_for(lambda: "with 2 workers" in node.log, 60, what="both workers ready")
        yield node
    finally:
        server.stop()


def _index(header: str) -> int:
    return int(header.split(";")[0])


def _pid(header: str) -> int:
    return int(header.split("pid=")[1])


def client_on(node: Served | Server, worker: int, username: str = "amira") -> httpx.Client:
    """A logged-in client whose (kept-alive) connection is served by `worker`."""
    server = node.server if isinstance(node, Served) else node
    token = token_of(server, username)
    for _ in range(TRIES):
        client = httpx.Client(base_url=server.base, timeout=30.0, headers={"Authorization": f"Bearer {token}"})
        if _index(client.get("/api/v1/health").headers[HEADER]) == worker:
            return client
        client.close()
    raise AssertionError(f"no connection reached worker {worker} in {TRIES} tries")


def token_of(node: Served | Server, username: str) -> str:
    server = node.server if isinstance(node, Served) else node
    response = httpx.post(f"{server.base}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                          timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@dataclass
class Live:
    """A /api/v1/live connection on a known worker; a thread notes each message and when it came."""
    ws: ClientConnection
    worker: str
    got: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def start(self) -> Live:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        try:
            for raw in self.ws:
                self.got.append((time.monotonic(), json.loads(raw)))
        except ConnectionClosed:
            pass

    def report(self, report_id: str, timeout: float = 15.0) -> float:
        """When the report's message came (waits for it)."""
        def seen() -> float | None:
            return next((t for t, m in list(self.got) if m.get("type") == "report" and m["report"]["id"] == report_id),
                        None)
        return float(wait_for(seen, timeout, interval=0.005, what=f"report {report_id} on worker {self.worker}"))

    def text_before(self, report_id: str) -> str:
        """Every message received up to (and with) the one about `report_id`, as text."""
        out = []
        for _, message in list(self.got):
            out.append(json.dumps(message))
            if message.get("type") == "report" and message["report"]["id"] == report_id:
                break
        return "\n".join(out)


def live_on(stack: ExitStack, node: Served, worker: int, username: str) -> Live:
    token = token_of(node, username)
    for _ in range(TRIES):
        ws = stack.enter_context(connect(f"ws://127.0.0.1:{node.server.port}/api/v1/live", open_timeout=30))
        header = ws.response.headers[HEADER]  # on the handshake's response
        if _index(header) != worker:
            ws.close()
            continue
        ws.send(json.dumps({"type": "auth", "token": token}))
        hello = json.loads(ws.recv(timeout=30))
        assert hello["type"] == "hello" and hello["user"]["username"] == username, hello
        return Live(ws, header).start()
    raise AssertionError(f"no websocket reached worker {worker} in {TRIES} tries")


def test_a_report_filed_through_one_worker_is_pushed_by_both_under_need_to_know(served: Served) -> None:
    with ExitStack() as stack:
        on_1 = live_on(stack, served, 1, "youssef")   # TN-ARMY: another Tunisian agency
        on_2 = live_on(stack, served, 2, "amira")     # TN-GN, the author's agency
        karim = live_on(stack, served, 2, "karim")    # Algerian liaison officer
        omar = live_on(stack, served, 1, "omar")      # Libyan liaison officer
        amira_1 = stack.enter_context(closing(client_on(served, 1)))
        amira_2 = stack.enter_context(closing(client_on(served, 2)))
        # Agency-only, filed through worker 1: its own agency's viewer on worker 2 gets it.
        filed = amira_1.post("/api/v1/reports", json=sighting(audience={"scope": "agency"}))
        assert filed.status_code == 201 and _index(filed.headers[HEADER]) == 1, filed.text
        agency_only = filed.json()["id"]
        on_2.report(agency_only)
        # National, filed through worker 2 and timed: both Tunisian viewers, one per worker.
        sent = time.monotonic()
        national = amira_2.post("/api/v1/reports", json=sighting(audience={"scope": "national"}))
        assert national.status_code == 201 and _index(national.headers[HEADER]) == 2, national.text
        national_id = national.json()["id"]
        delays = {w.worker: w.report(national_id) - sent for w in (on_1, on_2)}
        # Marker to both partners, validated through worker 1: the last thing they get.
        marker = amira_2.post("/api/v1/reports", json=sighting(audience={"scope": "all_partners"})).json()["id"]
        assert amira_1.post(f"/api/v1/reports/{marker}/validate").status_code == 200
        for viewer in (karim, omar, on_1):
            viewer.report(marker)
    print(f"\nlive push across workers (filed through worker 2): {', '.join(f'worker {w}: {d * 1000:.0f} ms' for w, d in delays.items())}")
    # Absence: nobody outside TN-GN heard of the agency-only report, nor partners of the national one.
    assert agency_only not in on_1.text_before(marker)
    for viewer in (karim, omar):
        text = viewer.text_before(marker)
        assert agency_only not in text and national_id not in text


def _log_seqs(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        (origin,) = conn.execute("SELECT value FROM meta WHERE name = 'node_id'").fetchone()  # type: ignore[misc]
        return [r[0] for r in conn.execute("SELECT seq FROM log WHERE origin = %s ORDER BY seq", (origin,))]


def test_concurrent_writers_on_both_workers_keep_one_gap_free_chain(served: Served) -> None:
    before = len(_log_seqs(served.url))
    clients = [client_on(served, 1 + i % 2) for i in range(4)]
    answered: list[set[int]] = [set() for _ in clients]
    errors: list[str] = []

    def file(i: int) -> None:
        for n in range(50):
            response = clients[i].post("/api/v1/reports", json=sighting(description=f"writer {i} report {n}"))
            answered[i].add(_index(response.headers[HEADER]))
            if response.status_code != 201:
                errors.append(response.text)

    threads = [threading.Thread(target=file, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for c in clients:
        c.close()
    assert not errors, errors[:3]
    assert answered == [{1}, {2}, {1}, {2}]  # each writer's connection stayed on its worker
    seqs = _log_seqs(served.url)
    assert len(seqs) == before + 200 and seqs == list(range(1, len(seqs) + 1))
    checked = subprocess.run([*FOSSATUM, "verify", "--data", str(served.server.data)], capture_output=True,
                             text=True, timeout=120, env=env(database_url=served.url))
    assert checked.returncode == 0 and f"{len(seqs)} entries, ok" in checked.stdout, checked.stdout + checked.stderr


def _auth(username: str, uid: str) -> bytes:
    return f'<auth><cot username="{username}" password="{PASSWORD}" uid="{uid}" callsign="{uid}"/></auth>'.encode()


def test_a_report_validated_through_worker_2_reaches_devices_on_the_gateway_of_worker_1(served: Served) -> None:
    device = socket.create_connection(("127.0.0.1", served.cot_port), timeout=30)
    liaison = socket.create_connection(("127.0.0.1", served.cot_port), timeout=30)  # a Libyan officer's device
    try:
        device.sendall(_auth("sami", "ANDROID-workers-sami"))
        liaison.sendall(_auth("omar", "ANDROID-workers-omar"))
        with closing(client_on(served, 2)) as amira_2:
            national = amira_2.post("/api/v1/reports", json=sighting(audience={"scope": "national"})).json()["id"]
            validated = amira_2.post(f"/api/v1/reports/{national}/validate")
            assert validated.status_code == 200 and _index(validated.headers[HEADER]) == 2
            marker = amira_2.post("/api/v1/reports", json=sighting(audience={"scope": "all_partners"})).json()["id"]
            assert amira_2.post(f"/api/v1/reports/{marker}/validate").status_code == 200

        def read_until(sock: socket.socket, needle: str) -> str:
            data = b""
            deadline = time.monotonic() + 30
            while needle.encode() not in data:
                assert time.monotonic() < deadline, f"no {needle} on the device: {data[-500:]!r}"
                chunk = sock.recv(65536)
                assert chunk, f"the gateway closed the connection: {data[-500:]!r}"
                data += chunk
            return data.decode(errors="replace")

        assert f"fossatum.report.{national}" in read_until(device, f"fossatum.report.{marker}")
        assert national not in read_until(liaison, f"fossatum.report.{marker}")  # absence: national only
    finally:
        device.close()
        liaison.close()


def test_a_partner_notice_reaching_another_worker_wakes_the_federation_worker(served: Served) -> None:
    """A partner's POST /federation/notify may land on any worker; only worker 1 pulls."""
    from fossatum.federation.worker import Relay, Worker
    from fossatum.node import open_node

    federation_side = open_node(served.server.data, database_url=served.url)
    api_side = open_node(served.server.data, database_url=served.url)
    heard: list[tuple[str, Any]] = []
    try:
        worker = Worker(federation_side.federation, interval=3600)  # not started: its queue is looked at
        api_side.store.on_announce(lambda topic, value: heard.append((topic, value)))
        Relay(api_side.federation).notified("DZA")
        wait_for(lambda: "DZA" in worker._inbound_due, 10, what="the notice at the federation worker")
        time.sleep(0.3)
        assert heard == []  # a worker does not hear its own announcements
    finally:
        federation_side.close()
        api_side.close()


def test_a_node_served_by_two_workers_federates_both_ways_without_waiting_for_a_round(
        pg_databases: PgDatabases, tmp_path: Path) -> None:
    """TUN (PostgreSQL, 2 workers) and DZA (SQLite), federation rounds an hour apart: a report
    validated through TUN's worker 2 is released by worker 1 (it heard the commit) and pulled
    by DZA when notified; DZA's report is pulled by TUN when DZA notifies it, whichever worker
    the notice lands on."""
    from fossatum.node import open_node

    url = pg_databases.create("workers_federation")
    tun_data, dza_data = tmp_path / "tun", tmp_path / "dza"
    build_node(tun_data, database_url=url).close()
    build_partner(dza_data, "DZA")
    tun = Server(tun_data, free_port(), tmp_path / "tun.log", {"database_url": url, "workers": 2, "sync_interval": 3600})
    dza = Server(dza_data, free_port(), tmp_path / "dza.log", {"sync_interval": 3600})
    tun_node, dza_node = open_node(tun_data, database_url=url), open_node(dza_data)
    try:
        tun_node.federation.add_partner(country="DZA", url=dza.base, key=dza_node.key.public)
        dza_node.federation.add_partner(country="TUN", url=tun.base, key=tun_node.key.public)
    finally:
        tun_node.close()
        dza_node.close()
    try:
        dza.start()
        tun.start()
        wait_for(lambda: "with 2 workers" in tun.log.read_text(errors="replace"), 60, what="TUN's workers")
        with closing(client_on(tun, 2)) as amira_2, closing(dza.client("dza.officer")) as dza_officer:
            ours = amira_2.post("/api/v1/reports", json=sighting(audience={"scope": "partners", "partners": ["DZA"]}))
            assert ours.status_code == 201, ours.text
            validated = amira_2.post(f"/api/v1/reports/{ours.json()['id']}/validate")
            assert validated.status_code == 200 and _index(validated.headers[HEADER]) == 2
            wait_for(lambda: dza_officer.get(f"/api/v1/reports/{ours.json()['id']}").status_code == 200, 30,
                     what="TUN's report at DZA")
            theirs = file_and_validate(dza_officer, 1, scope="partners", partners=["TUN"])
            wait_for(lambda: amira_2.get(f"/api/v1/reports/{theirs}").status_code == 200, 30,
                     what="DZA's report at TUN")
    finally:
        tun.stop()
        dza.stop()


def test_a_killed_worker_is_restarted_and_requests_keep_succeeding(served: Served) -> None:
    with closing(client_on(served, 2)) as on_2:
        victim = _pid(on_2.get("/api/v1/health").headers[HEADER])
    os.kill(victim, 9)
    token = token_of(served, "amira")
    for i in range(20):  # new connections meanwhile: served by worker 1 (or the restarted 2)
        with httpx.Client(base_url=served.server.base, timeout=30.0, headers={"Authorization": f"Bearer {token}"}) as c:
            response = c.post("/api/v1/reports", json=sighting(description=f"during restart {i}"))
            assert response.status_code == 201, response.text
    wait_for(lambda: f"worker 2 (pid {victim}) was killed by signal 9; restarting it" in served.log, 30,
             what="the supervisor's log line")
    with closing(client_on(served, 2)) as again:
        header = again.get("/api/v1/health").headers[HEADER]
        assert _pid(header) != victim
        assert again.post("/api/v1/reports", json=sighting()).status_code == 201


def test_sigterm_stops_the_supervisor_and_every_worker(served: Served) -> None:
    with psycopg.connect(served.url) as conn:  # the DBA's view of the connections
        names = {r[0] for r in conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()")}
    assert {"fossatum-worker-1", "fossatum-worker-2"} <= names, names
    pids = set()
    for worker in (1, 2):
        with closing(client_on(served, worker)) as c:
            pids.add(_pid(c.get("/api/v1/health").headers[HEADER]))
    served.server.stop()  # SIGTERM to the supervisor
    assert served.server.proc is not None and served.server.proc.returncode == 0, served.log

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(lambda: all(gone(p) for p in pids), 15, what="the workers to exit")
    assert "Traceback" not in served.log, served.log


def test_several_workers_on_sqlite_or_none_are_refused_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "tun"
    build_node(data).close()
    for workers, expected in (("2", "--workers 2 needs PostgreSQL"), ("0", "--workers must be at least 1, got 0"),
                              ("many", "'many' is not a valid integer")):
        result = subprocess.run([*FOSSATUM, "serve", "--data", str(data), "--port", str(free_port()), "--workers",
                                 workers], capture_output=True, text=True, timeout=60, env=env())
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr, result.stderr


def test_a_port_in_use_or_a_bad_url_is_one_line(pg_databases: PgDatabases, tmp_path: Path) -> None:
    url = pg_databases.create("workers_errors")
    data = tmp_path / "tun"
    build_node(data, database_url=url).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            "cannot listen on 127.0.0.1": ["--port", str(port), "--database-url", url],
            "cannot connect to postgresql://": ["--port", str(free_port()), "--database-url",
                                                "postgresql://postgres@127.0.0.1:1/none"],
            f"cannot listen on 127.0.0.1:{port} for CoT": ["--port", str(free_port()), "--database-url", url,
                                                             "--cot", f"tcp://127.0.0.1:{port}"],
        }
        for expected, args in cases.items():
            result = subprocess.run([*FOSSATUM, "serve", "--data", str(data), "--workers", "2", *args],
                                    capture_output=True, text=True, timeout=90, env=env())
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 1 and len(lines) == 1 and expected in lines[0], (expected, result.stderr)

