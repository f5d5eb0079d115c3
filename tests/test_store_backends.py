"""The store contract that differs by backend: placeholders, errors, migrations, concurrent writers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from fossatum.errors import Conflict, FossatumError, StoreUnavailable
from fossatum.log.chain import verify_chain
from fossatum.node import Node, open_node, open_store

pytestmark = pytest.mark.both_backends


def test_portable_placeholders_become_psycopg_ones_and_quoted_text_is_kept() -> None:
    from fossatum.store.postgres import to_pg

    assert to_pg("SELECT a FROM t WHERE b = ? AND c LIKE ?") == "SELECT a FROM t WHERE b = %s AND c LIKE %s"
    assert to_pg("SELECT '?', 'it''s ?', \"q?\" FROM t WHERE d = ?") == "SELECT '?', 'it''s ?', \"q?\" FROM t WHERE d = %s"
    assert to_pg("SELECT 5 % 2, x LIKE '50%' FROM t") == "SELECT 5 %% 2, x LIKE '50%%' FROM t"


def test_a_duplicate_row_is_a_conflict_and_nothing_of_the_transaction_stays(node: Node) -> None:
    before = node.store.log_size()
    with pytest.raises(Conflict), node.store.transaction() as tx:
        tx.append(ts="2026-11-29T00:00:00.000000Z", author="test", kind="roster.added",
                  payload={"country": "MAR"}, audience={"scope": "agency", "owner_agency": "",
                                                        "owner_country": "TUN", "local": True})
        tx.execute("INSERT INTO agencies (code, name, country) VALUES (?, ?, ?)", ("TN-GN", "again", "TUN"))
    assert node.store.log_size() == before
    assert "MAR" not in node.store.roster()


def test_migrations_are_recorded_and_safe_to_run_twice(node: Node) -> None:
    version = node.store.migrate()
    assert node.store.migrate() == version
    rows = node.store.read("SELECT version FROM schema_migrations ORDER BY version")
    # Every declared version, once (a backend may skip a number: 7 is PostgreSQL's space-time
    # index, which SQLite's R*Tree already is).
    from fossatum.store import pg_schema, schema

    declared = pg_schema.PG_MIGRATIONS if node.store.backend == "postgres" else schema.MIGRATIONS
    assert [r[0] for r in rows] == sorted(v for v, _, _ in declared)
    assert version == max(v for v, _, _ in declared)


def test_the_log_stays_one_gap_free_chain_under_concurrent_writers(node: Node, tmp_path: Path) -> None:
    """Two 'workers' (stores) on one database, four threads each, all appending at once."""
    data_dir = Path(node.store.path).parent
    url = getattr(node.store, "url", None)
    other = open_node(data_dir, database_url=url)
    errors: list[BaseException] = []

    def write(n: Node, worker: int) -> None:
        try:
            for _ in range(15):
                with n.store.transaction() as tx:
                    tx.append(ts="2026-11-29T00:00:00.000000Z", author=f"w{worker}", kind="roster.added",
                              payload={"country": "TUN"}, audience={"scope": "agency", "owner_agency": "",
                                                                    "owner_country": "TUN", "local": True})
        except BaseException as exc:
            errors.append(exc)

    before = node.store.log_size()
    threads = [threading.Thread(target=write, args=(n, i)) for i, n in enumerate([node, other] * 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert not errors
    own = list(node.store.entries(node.node_id))
    assert len(own) == before + 8 * 15
    assert [e.seq for e in own] == list(range(1, len(own) + 1))
    assert verify_chain(node.node_id, node.key.public, own).ok


def test_an_unreachable_server_or_a_wrong_url_fails_with_one_line(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreUnavailable) as down:
        open_store(tmp_path, "postgresql://postgres@127.0.0.1:1/nothing")
    assert "cannot connect to postgresql://postgres@127.0.0.1:1/nothing" in str(down.value)
    assert "\n" not in str(down.value)
    with pytest.raises(FossatumError) as wrong:
        open_store(tmp_path, "mysql://root@localhost/db")
    assert "FOSSATUM_DATABASE_URL" in str(wrong.value)


def test_the_cli_runs_a_node_on_postgresql(pg_databases, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fossatum.cli import cli

    url = pg_databases.create("cli")
    data = str(tmp_path / "tun")
    runner = CliRunner()
    outputs = []
    for args in (["init", "--country", "TUN", "--name", "Tunisia NCC"], ["verify"], ["rebuild"], ["export"]):
        result = runner.invoke(cli, [*args, "--data", data, "--database-url", url], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert f"(database {url})" in outputs[0]
    assert sorted(p.name for p in (tmp_path / "tun").iterdir()) == ["node.key"]
    again = runner.invoke(cli, ["init", "--country", "TUN", "--name", "x", "--data", str(tmp_path / "b"),
                                "--database-url", url])
    assert isinstance(again.exception, Conflict)


def test_a_database_of_the_previous_schema_version_is_upgraded_on_open(store_backend: str, tmp_path: Path,
                                                                       request: pytest.FixtureRequest,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from fossatum.node import init_node
    from fossatum.store import postgres, sqlite

    module, name = (sqlite, "MIGRATIONS") if store_backend == "sqlite" else (postgres, "PG_MIGRATIONS")
    current = getattr(module, name)
    # Helpers append migrations out of order: the previous schema lacks the newest version.
    previous = [m for m in current if m[0] != max(v for v, _, _ in current)]
    url = request.getfixturevalue("pg_databases").create("upgrade") if store_backend == "postgres" else None
    with monkeypatch.context() as old:
        old.setattr(module, name, previous)
        node = init_node(tmp_path / "tun", country="TUN", name="Tunisia NCC", database_url=url)
        node.add_agency(actor=None, code="TN-GN", name="Garde nationale", country="TUN")
        versions = [r[0] for r in node.store.read("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == sorted(v for v, _, _ in previous)
        node.close()
    node = open_node(tmp_path / "tun", database_url=url)
    try:
        versions = [r[0] for r in node.store.read("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == sorted(v for v, _, _ in current)
        assert node.store.agency("TN-GN") is not None
        assert all(r.ok for r in node.verify())
    finally:
        node.close()


def test_the_demo_runs_on_postgresql_with_a_database_per_node(pg_databases, tmp_path: Path) -> None:
    from fossatum import demo
    from fossatum.store.postgres import PostgresStore

    base = pg_databases.create("demo")
    ready = demo.ensure(tmp_path / "demo", database_url=base)
    try:
        for country, node in ready.nodes.items():
            assert isinstance(node.store, PostgresStore)
            assert node.store.url.endswith(f"_demo_{country.lower()}")
            pg_databases.created.append(node.store.url.rsplit("/", 1)[1])  # dropped with the session's
            assert all(r.ok for r in node.verify())
        tun, dza = ready.nodes["TUN"], ready.nodes["DZA"]
        released = dza.store.read("SELECT id FROM reports WHERE origin = ?", (tun.node_id,), system=True)
        assert released  # the Tunisian node released reports to Algeria, and they arrived
    finally:
        ready.close()
    again = demo.ensure(tmp_path / "demo", database_url=base)  # reused, not rebuilt
    again.close()
    fresh = demo.ensure(tmp_path / "demo", database_url=base, fresh=True)
    fresh.close()


def test_a_commit_of_another_worker_reaches_the_listeners_that_ask_for_it(node: Node, store_backend: str) -> None:
    if store_backend == "sqlite":
        pytest.skip("a SQLite node is served by one process")
    from conftest import sighting
    from fossatum.schemas import ReportIn

    other = open_node(Path(node.store.path).parent, database_url=node.store.url)  # a second worker
    seen: list[object] = []
    arrived = threading.Event()

    def listener(tx: object) -> None:
        seen.append(tx)
        arrived.set()

    other.store.on_commit(listener, other_workers=True)
    try:
        amira = node.store.user("amira")
        doc = node.file_report(actor=amira, spec=ReportIn.model_validate(sighting()))
        assert arrived.wait(2.0)
        [committed] = seen
        assert [e.kind for e in committed.appended] == ["report.filed"]  # type: ignore[attr-defined]
        assert committed.appended[0].payload["report"]["id"] == doc["id"]  # type: ignore[attr-defined]
    finally:
        other.close()


def test_two_workers_push_a_new_report_to_clients_of_both(node: Node, store_backend: str) -> None:
    """A report filed through one worker reaches live clients connected to either worker."""
    if store_backend == "sqlite":
        pytest.skip("a SQLite node is served by one process")
    from fastapi.testclient import TestClient

    from conftest import PASSWORD, sighting
    from fossatum.api.app import create_app

    other = open_node(Path(node.store.path).parent, database_url=node.store.url)
    got: dict[str, dict] = {}
    try:
        with TestClient(create_app(node)) as one, TestClient(create_app(other)) as two:
            def token(client: TestClient, username: str) -> str:
                return client.post("/api/v1/auth/token",
                                   json={"username": username, "password": PASSWORD}).json()["access_token"]

            with one.websocket_connect("/api/v1/live") as ws1, two.websocket_connect("/api/v1/live") as ws2:
                for ws, client, who in ((ws1, one, "youssef"), (ws2, two, "leila")):
                    ws.send_json({"type": "auth", "token": token(client, who)})
                    assert ws.receive_json()["type"] == "hello"

                def wait_report(name: str, ws: object) -> None:
                    for _ in range(20):
                        message = ws.receive_json()  # type: ignore[attr-defined]
                        if message["type"] == "report":
                            got[name] = message["report"]
                            return

                readers = [threading.Thread(target=wait_report, args=(n, ws), daemon=True)
                           for n, ws in (("one", ws1), ("two", ws2))]
                for t in readers:
                    t.start()
                amira = {"Authorization": f"Bearer {token(one, 'amira')}"}
                report = one.post("/api/v1/reports", headers=amira, json=sighting(audience={"scope": "national"})).json()
                for t in readers:
                    t.join(timeout=1.0)
                assert got.get("one", {}).get("id") == report["id"]
                assert got.get("two", {}).get("id") == report["id"]
    finally:
        other.close()


def test_a_connection_lost_mid_transaction_is_a_503_and_the_store_reconnects(node: Node, store_backend: str) -> None:
    if store_backend == "sqlite":
        pytest.skip("no server connection to lose")
    import psycopg

    before = node.store.log_size()
    with pytest.raises(StoreUnavailable) as lost, node.store.transaction() as tx:
        tx.append(ts="2026-11-29T00:00:00.000000Z", author="test", kind="roster.added",
                  payload={"country": "MAR"}, audience={"scope": "agency", "owner_agency": "",
                                                        "owner_country": "TUN", "local": True})
        (pid,) = tx.execute("SELECT pg_backend_pid()").fetchone()
        with psycopg.connect(node.store.url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        tx.execute("SELECT 1")
    assert lost.value.status == 503 and "\n" not in str(lost.value)
    assert node.store.log_size() == before and "MAR" not in node.store.roster()
    node.add_agency(actor=None, code="TN-DOUANE", name="Douane", country="TUN")  # reconnected by itself
    assert node.store.agency("TN-DOUANE") is not None


def test_the_cop_query_is_exact_at_the_edges_of_the_box_and_of_the_window(node: Node) -> None:
    """Box edges are inclusive, the window is [since, until): the same ids on both backends,
    though each finds its candidates through a float32 index that is widened around the box."""
    from conftest import sighting
    from fossatum.schemas import ReportIn
    from fossatum.store.query import ReportQuery

    amira, youssef = node.store.user("amira"), node.store.user("youssef")
    assert amira is not None and youssef is not None
    box = (8.0, 35.0, 8.5, 35.5)
    since, until = "2026-11-20T00:00:00.000000Z", "2026-11-21T00:00:00.000000Z"
    noon = "2026-11-20T12:00:00.000000Z"
    eps = 1e-7  # the finest step a stored position keeps (7 decimals), well inside the index's widening
    places = {  # name: (lon, lat, observed_at, in the answer)
        "centre": (8.25, 35.25, noon, True),
        "west-edge": (8.0, 35.25, noon, True), "east-edge": (8.5, 35.25, noon, True),
        "south-edge": (8.25, 35.0, noon, True), "north-edge": (8.25, 35.5, noon, True),
        "sw-corner": (8.0, 35.0, noon, True), "ne-corner": (8.5, 35.5, noon, True),
        "west-out": (8.0 - eps, 35.25, noon, False), "east-out": (8.5 + eps, 35.25, noon, False),
        "south-out": (8.25, 35.0 - eps, noon, False), "north-out": (8.25, 35.5 + eps, noon, False),
        "at-since": (8.25, 35.25, since, True), "before-since": (8.25, 35.25, "2026-11-19T23:59:59.999999Z", False),
        "before-until": (8.25, 35.25, "2026-11-20T23:59:59.999999Z", True), "at-until": (8.25, 35.25, until, False),
        "a-week-later": (8.25, 35.25, "2026-11-27T12:00:00.000000Z", False),
    }
    ids = {}
    for name, (lon, lat, at, _) in places.items():
        doc = node.file_report(actor=amira, spec=ReportIn.model_validate(sighting(
            location={"lon": lon, "lat": lat}, observed_at=at, description=name)))
        assert (doc["location"]["lon"], doc["location"]["lat"], doc["observed_at"]) == (lon, lat, at)
        ids[doc["id"]] = name
    hidden = node.file_report(actor=youssef, spec=ReportIn.model_validate(sighting(
        location={"lon": 8.25, "lat": 35.25}, observed_at=noon, audience={"scope": "agency"})))

    expected = {n for n, (_, _, _, inside) in places.items() if inside}
    query = ReportQuery(bbox=box, since=since, until=until, limit=100)
    got = [ids.get(json.loads(d)["id"], json.loads(d)["id"]) for d in node.store.list_reports(amira, query)]
    assert set(got) == expected and len(got) == len(expected)
    assert hidden["id"] not in got  # another agency's report, inside box and window, is not amira's to see
    assert node.store.count_reports(amira, query) == {"total": len(expected)}
    assert hidden["id"] in {json.loads(d)["id"] for d in node.store.list_reports(youssef, query)}
    # open-ended windows and no window at all keep the same edges
    only_since = {ids.get(json.loads(d)["id"]) for d in node.store.list_reports(amira, ReportQuery(bbox=box, since=since))}
    assert only_since == expected | {"at-until", "a-week-later"}
    only_until = {ids.get(json.loads(d)["id"]) for d in node.store.list_reports(amira, ReportQuery(bbox=box, until=until))}
    assert only_until == expected | {"before-since"}
    no_window = {ids.get(json.loads(d)["id"]) for d in node.store.list_reports(amira, ReportQuery(bbox=box))}
    assert no_window == expected | {"at-until", "a-week-later", "before-since"}


def test_a_request_whose_connection_is_cut_mid_transaction_gets_a_503_problem_and_stores_nothing(
        node: Node, store_backend: str) -> None:
    """Through the API: the request's transaction is waiting for the writer lock (held here)
    when its server connection is terminated; the client gets a 503 problem, nothing of it is
    stored, and the next request succeeds on a new connection without a restart."""
    if store_backend == "sqlite":
        pytest.skip("no server connection to lose")
    import time

    import psycopg
    from fastapi.testclient import TestClient

    from conftest import PASSWORD, sighting
    from fossatum.api.app import create_app
    from fossatum.store.postgres import WRITER_LOCK

    with TestClient(create_app(node)) as client:
        token = client.post("/api/v1/auth/token", json={"username": "amira", "password": PASSWORD}).json()
        amira = {"Authorization": f"Bearer {token['access_token']}"}
        before = (node.store.log_size(), node.store.read_one("SELECT COUNT(*) FROM reports"))
        answered: dict[str, object] = {}
        with psycopg.connect(node.store.url, autocommit=True) as admin:
            admin.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
            request = threading.Thread(target=lambda: answered.update(
                response=client.post("/api/v1/reports", headers=amira, json=sighting(description="cut off"))))
            request.start()
            waiting = None
            for _ in range(600):  # the request's transaction, blocked on the lock
                waiting = admin.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
                    (WRITER_LOCK,)).fetchone()
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting is not None, "the request never waited for the writer lock"
            admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0],))
            admin.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
            request.join(60)
        response = answered["response"]
        assert response.status_code == 503, response.text  # type: ignore[attr-defined]
        assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
        problem = response.json()  # type: ignore[attr-defined]
        assert problem["status"] == 503 and "unavailable" in problem["detail"] and "\n" not in problem["detail"]
        assert (node.store.log_size(), node.store.read_one("SELECT COUNT(*) FROM reports")) == before
        again = client.post("/api/v1/reports", headers=amira, json=sighting(description="after the cut"))
        assert again.status_code == 201, again.text
        assert node.store.log_size() == before[0] + 1


def test_the_demo_databases_are_made_beside_a_named_database_that_does_not_exist(
        store_backend: str, request: pytest.FixtureRequest) -> None:
    """`fossatum demo --database-url postgresql://…/fossatum_demo` on a server without that
    database: its nodes' databases are created from the maintenance database."""
    if store_backend != "postgres":
        pytest.skip("PostgreSQL's databases")
    from urllib.parse import urlsplit

    from fossatum.store.postgres import sibling_database

    psycopg = pytest.importorskip("psycopg")
    databases = request.getfixturevalue("pg_databases")
    absent = urlsplit(databases.admin_url)._replace(path=f"/{databases.prefix}_absent").geturl()
    made = sibling_database(absent, "_tun")
    databases.created.append(f"{databases.prefix}_absent_tun")  # dropped with the session's
    assert urlsplit(made).path == f"/{databases.prefix}_absent_tun"
    with psycopg.connect(made) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (f"{databases.prefix}_absent_tun",)
