"""Finding 14: the workers' notification channel is no longer trusted.

Any PostgreSQL login, even one without a single grant, may `NOTIFY` and `LISTEN` on any
channel of a database it can connect to. Here such a role (created for the test) forges,
replays and garbles notices between two workers of one node (two `Node`s on one database,
as `fossatum serve --workers 2` opens them), while liaisons watch the live websocket of
worker 2 and reports are filed through worker 1. Afterwards workers still deliver live
updates, a narrowed report is not re-sent to the liaison, no removal is forged, and what
the role hears on `LISTEN` holds no content. A real purge (a partner narrowed a report)
still reaches the other worker, read from the store.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from conftest import PASSWORD, sighting
from federation.cluster import COUNTRIES, build_template, open_cluster
from fossatum.api.app import create_app
from fossatum.node import Node, open_node
from fossatum.policy.visibility import Facts
from fossatum.schemas import ReportPatch
from fossatum.store.pg_notices import ANNOUNCE, COMMITS
from pg_databases import ENV, PgDatabases, _as, owner_url

NOBODY = "fossatum_test_nobody"  # a login role with no grant on anything
WAIT = 15.0


@pytest.fixture
def store_backend() -> str:
    return "postgres"  # the channel exists on PostgreSQL only (a SQLite node has one process)


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def nobody(pg_databases: PgDatabases) -> str:
    with psycopg.connect(os.environ[ENV], autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (NOBODY,)).fetchone() is None:
            try:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOINHERIT").format(sql.Identifier(NOBODY)))
            except psycopg.errors.DuplicateObject:
                pass
    return NOBODY


def as_nobody(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(_as(url, os.environ[ENV], user=NOBODY), autocommit=True)
    # No grants indeed: it cannot read a single row of the node.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT payload FROM log LIMIT 1")
    return conn


def forge(conn: psycopg.Connection[Any], channel: str, payload: str) -> None:
    conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


@dataclass
class Live:
    """A liaison's websocket on a worker; a thread notes every message."""
    ws: Any
    got: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> Live:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        try:
            while True:
                self.got.append(self.ws.receive_json())
        except Exception:
            return

    def until(self, kind: str, report_id: str) -> list[dict[str, Any]]:
        """Every message up to (and with) the first `kind` about `report_id`."""
        def upto() -> list[dict[str, Any]] | None:
            seen = list(self.got)
            for n, m in enumerate(seen):
                if m.get("type") == kind and (m.get("id") or m.get("report", {}).get("id")) == report_id:
                    return seen[:n + 1]
            return None
        return wait_for(upto, f"{kind} {report_id}")


@dataclass
class Workers:
    one: Node
    two: Node
    api_one: TestClient
    api_two: TestClient
    amira: dict[str, str]
    sockets: list[Any] = field(default_factory=list)

    def live(self, username: str) -> Live:
        ws = self.api_two.websocket_connect("/api/v1/live").__enter__()
        self.sockets.append(ws)
        ws.send_json({"type": "auth", "token": token(self.api_two, username)})
        assert ws.receive_json()["type"] == "hello"
        return Live(ws).start()

    def file(self, **body: Any) -> str:
        """A report filed and validated through worker 1."""
        report = self.api_one.post("/api/v1/reports", headers=self.amira, json=sighting(**body))
        assert report.status_code == 201, report.text
        rid = str(report.json()["id"])
        assert self.api_one.post(f"/api/v1/reports/{rid}/validate", headers=self.amira).status_code == 200
        return rid


def token(client: TestClient, username: str) -> str:
    answer = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    return str(answer.json()["access_token"])


@pytest.fixture
def workers(node: Node, tmp_path: Path) -> Iterator[Workers]:
    two = open_node(tmp_path / "tun", database_url=node.store.url)  # type: ignore[attr-defined]
    try:
        with TestClient(create_app(node, worker=1)) as api_one, TestClient(create_app(two, worker=2)) as api_two:
            w = Workers(node, two, api_one, api_two, {"Authorization": f"Bearer {token(api_one, 'amira')}"})
            try:
                yield w
            finally:
                for ws in w.sockets:
                    ws.__exit__(None, None, None)
    finally:
        two.close()


def test_a_login_without_grants_hears_nothing_of_content_on_listen(workers: Workers, nobody: str) -> None:
    spy = as_nobody(workers.one.store.url)  # type: ignore[attr-defined]
    spy.execute(f"LISTEN {COMMITS}")
    spy.execute(f"LISTEN {ANNOUNCE}")
    secret = "informant Salah, phone +216 98 000 111"
    rid = workers.file(audience={"scope": "all_partners"}, description=secret)
    workers.api_one.patch(f"/api/v1/reports/{rid}", headers=workers.amira, json={"audience": {"scope": "national"}})
    workers.one.store.announce("federation.notified", "DZA")
    heard = list(spy.notifies(timeout=2.0))
    spy.close()
    assert any(n.channel == COMMITS for n in heard)
    for note in heard:
        assert note.payload == "" if note.channel == COMMITS else json.loads(note.payload)["value"] == "DZA"
        assert rid not in note.payload and "Salah" not in note.payload and "lsn" not in note.payload


def test_forged_replayed_and_garbled_notices_change_nothing_and_live_updates_go_on(
        workers: Workers, nobody: str) -> None:
    karim = workers.live("karim")   # Algerian liaison, on worker 2
    wide = workers.file(audience={"scope": "all_partners"}, description="first, wide text")
    karim.until("report", wide)
    # Narrowed through worker 1: the liaison is told it is gone, through worker 2.
    narrowed = workers.api_one.patch(f"/api/v1/reports/{wide}", headers=workers.amira,
                                     json={"audience": {"scope": "national"}, "description": "now national only"})
    assert narrowed.status_code == 200, narrowed.text
    karim.until("report.removed", wide)
    kept = workers.file(audience={"scope": "all_partners"})
    karim.until("report", kept)

    url = workers.one.store.url  # type: ignore[attr-defined]
    with psycopg.connect(owner_url(url)) as owner:
        span = owner.execute("SELECT MIN(lsn), MAX(lsn) FROM log WHERE object_id = %s", (wide,)).fetchone()
        doc = owner.execute("SELECT doc FROM reports WHERE id = %s", (kept,)).fetchone()[0]
    attacker = as_nobody(url)
    # Replays of the old notice format: the wide version's log range, and a "purge" of a report
    # the liaison may see; replays of a genuine (empty) hint; garbage of every shape.
    forge(attacker, COMMITS, json.dumps({"from": "forged", "span": list(span), "purged": []}))
    forge(attacker, COMMITS, json.dumps({"from": "forged", "span": [], "purged": [[kept, doc]]}))
    forge(attacker, COMMITS, json.dumps({"from": "forged", "span": [0, 10 ** 12], "purged": [[kept, None]]}))
    for _ in range(20):
        forge(attacker, COMMITS, "")
    for garbage in ("{not json", "[]", "null", '{"span": "x"}', '{"span": [1]}', "\u00e9" * 3900, "9" * 4000):
        forge(attacker, COMMITS, garbage)
        forge(attacker, ANNOUNCE, garbage)
    forge(attacker, ANNOUNCE, json.dumps({"from": "forged", "topic": "federation.notified", "value": ["DZA"]}))
    attacker.close()
    listener = workers.two.store.notifier  # type: ignore[attr-defined]
    wait_for(lambda: listener.ignored >= 16, "the malformed notices to be counted")

    # Worker 2 still delivers, and nothing forged came before the next report.
    marker = workers.file(audience={"scope": "all_partners"})
    got = karim.until("report", marker)
    after = got[next(n for n, m in enumerate(got) if m.get("type") == "report" and m["report"]["id"] == kept) + 1:]
    assert [m for m in after if m.get("type") != "ping"] == [{"type": "report", "report": after[-1]["report"]}]
    # The wide version reached him once, when it was released to him; the national one never.
    assert json.dumps(got).count("first, wide text") == 1 and "now national only" not in json.dumps(got)
    assert listener.alive and listener.restarts == 0


def test_the_listener_comes_back_when_its_connection_or_thread_fails(workers: Workers, nobody: str) -> None:
    karim = workers.live("karim")
    listener = workers.two.store.notifier  # type: ignore[attr-defined]
    url = workers.one.store.url  # type: ignore[attr-defined]
    # Its connection killed by the server (or a failover): it listens again and catches up.
    with psycopg.connect(owner_url(url), autocommit=True) as owner:
        killed = owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND query LIKE 'LISTEN%'").fetchall()
    assert killed
    first = workers.file(audience={"scope": "all_partners"})
    karim.until("report", first)
    # A fault inside the listener (as the malformed notice that used to kill it): it survives.
    real = listener._hear
    calls = {"n": 0}

    def faulty(note: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated fault")
        return real(note)

    listener._hear = faulty
    second = workers.file(audience={"scope": "all_partners"})
    karim.until("report", second)
    assert calls["n"] >= 1 and listener.alive


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the test
def test_a_listener_thread_that_dies_is_started_again(workers: Workers, nobody: str) -> None:
    karim = workers.live("karim")
    listener = workers.two.store.notifier  # type: ignore[attr-defined]
    real = listener._session

    def dying() -> None:
        listener._session = real
        raise SystemExit("simulated death of the listener thread")  # past every `except Exception`

    listener._session = dying
    with psycopg.connect(owner_url(workers.one.store.url), autocommit=True) as owner:  # type: ignore[attr-defined]
        owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND query LIKE 'LISTEN%'")
    wait_for(lambda: listener.restarts == 1 and listener.alive, "the watchdog to start the listener again")
    report = workers.file(audience={"scope": "all_partners"})
    karim.until("report", report)


@pytest.fixture
def pg_cluster(pg_databases: PgDatabases, tmp_path: Path) -> Iterator[Any]:
    urls = {c: pg_databases.create(f"notify_{c.lower()}") for c in COUNTRIES}
    build_template(tmp_path / "template", urls)
    cluster = open_cluster(tmp_path / "template", tmp_path / "nodes", urls)
    try:
        yield cluster
    finally:
        cluster.close()


def test_a_partner_purge_reaches_the_other_worker_from_the_store_and_no_text_on_the_wire(
        pg_cluster: Any, nobody: str) -> None:
    tun, dza = pg_cluster.nodes["TUN"], pg_cluster.nodes["DZA"]
    doc = pg_cluster.file("TUN", audience={"scope": "all_partners"}, description="a text DZA must forget")
    pg_cluster.sync()
    url = dza.store.url
    worker_two = open_node(Path(dza.store.path).parent, database_url=url)
    heard: list[Any] = []
    worker_two.store.on_commit(heard.append, other_workers=True)
    spy = as_nobody(url)
    spy.execute(f"LISTEN {COMMITS}")
    try:
        tun.amend_report(actor=pg_cluster.officers["TUN"], report_id=doc["id"],
                         patch=ReportPatch.model_validate({"audience": {"scope": "partners", "partners": ["LBY"]}}))
        pg_cluster.sync()
        assert not dza.store.read("SELECT 1 FROM reports WHERE id = ?", (doc["id"],), system=True)
        purged = wait_for(lambda: [p for c in list(heard) for p in c.purged], "the purge on worker 2")
        assert purged[0][0] == doc["id"]
        facts = purged[0][1]
        assert isinstance(facts, Facts) and facts.owner_country == "TUN" and "DZA" in facts.releasable_to
        notes = list(spy.notifies(timeout=1.0))
        assert notes and all(n.payload == "" for n in notes)
        # The purges table keeps who could see it, never what it said.
        with psycopg.connect(owner_url(url)) as owner:
            rows = owner.execute("SELECT object_id, facts FROM purges").fetchall()
        assert rows and "forget" not in json.dumps(rows)
    finally:
        spy.close()
        worker_two.close()
