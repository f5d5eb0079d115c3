"""The store contract that differs by backend: placeholders, errors, migrations, concurrent writers."""

from __future__ import annotations

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
    with pytest.raises(Conflict):
        with node.store.transaction() as tx:
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
    assert [r[0] for r in rows] == list(range(1, version + 1))


def test_the_log_stays_one_gap_free_chain_under_concurrent_writers(node: Node, tmp_path: Path) -> None:
    """Two 'workers' (stores) on one database, four threads each, all appending at once."""
    data_dir = Path(node.store.path).parent
    url = getattr(node.store, "url", None)
    other = open_node(data_dir, database_url=url)
    errors: list[BaseException] = []

    def write(n: Node, worker: int) -> None:
        try:
            for i in range(15):
                with n.store.transaction() as tx:
                    tx.append(ts="2026-11-29T00:00:00.000000Z", author=f"w{worker}", kind="roster.added",
                              payload={"country": "TUN"}, audience={"scope": "agency", "owner_agency": "",
                                                                    "owner_country": "TUN", "local": True})
        except BaseException as exc:  # noqa: BLE001 - reported below
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
    url = request.getfixturevalue("pg_databases").create("upgrade") if store_backend == "postgres" else None
    with monkeypatch.context() as old:
        old.setattr(module, name, current[:-1])
        node = init_node(tmp_path / "tun", country="TUN", name="Tunisia NCC", database_url=url)
        node.add_agency(actor=None, code="TN-GN", name="Garde nationale", country="TUN")
        versions = [r[0] for r in node.store.read("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [v for v, _, _ in current[:-1]]
        node.close()
    node = open_node(tmp_path / "tun", database_url=url)
    try:
        versions = [r[0] for r in node.store.read("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [v for v, _, _ in current]
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
        released = dza.store.read("SELECT id FROM reports WHERE origin = ?", (tun.node_id,))
        assert released  # the Tunisian node released reports to Algeria, and they arrived
    finally:
        ready.close()
    again = demo.ensure(tmp_path / "demo", database_url=base)  # reused, not rebuilt
    again.close()
    fresh = demo.ensure(tmp_path / "demo", database_url=base, fresh=True)
    fresh.close()
