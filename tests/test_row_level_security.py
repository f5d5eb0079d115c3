"""PostgreSQL row-level security: the second wall under the viewer filter.

The node connects as a role that neither owns the tables nor bypasses RLS (tests/pg_databases.py);
a query that forgets `visible_sql` still returns only what `policy.may_view` allows its viewer.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import sighting
from fossatum.domain import report as rules
from fossatum.domain.org import User
from fossatum.errors import FossatumError
from fossatum.node import Node
from fossatum.policy.predicate import session_values
from fossatum.policy.visibility import Facts, may_view
from fossatum.schemas import ReportIn, ReportPatch

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.both_backends


@pytest.fixture
def pg_node(node: Node, store_backend: str) -> Node:
    if store_backend == "sqlite":
        pytest.skip("row-level security is PostgreSQL's")
    return node


def _file(node: Node, actor: User, **body: Any) -> str:
    return node.file_report(actor=actor, spec=ReportIn.model_validate(sighting(**body)))["id"]


@pytest.fixture
def mixed(pg_node: Node, users: dict[str, User]) -> dict[str, str]:
    """Reports of every audience and state: agency-only, national, a named partner, all
    partners (validated or not), drafts, narrowed after release, TLP markings."""
    n, amira, sami, youssef = pg_node, users["amira"], users["sami"], users["youssef"]
    ids = {
        "agency": _file(n, sami, audience={"scope": "agency"}, tlp="RED"),
        "national": _file(n, sami, audience={"scope": "national"}),
        "draft": _file(n, sami, state="draft", audience={"scope": "all_partners"}),
        "dza_submitted": _file(n, sami, audience={"scope": "partners", "partners": ["DZA"]}),
        "dza_validated": _file(n, sami, audience={"scope": "partners", "partners": ["DZA"]}, tlp="AMBER+STRICT"),
        "all_validated": _file(n, youssef, audience={"scope": "all_partners"}, tlp="GREEN"),
        "army_agency": _file(n, youssef, audience={"scope": "agency"}),
        "narrowed": _file(n, sami, audience={"scope": "all_partners"}, tlp="CLEAR"),
    }
    for key in ("dza_validated", "narrowed"):
        n.transition(actor=amira, report_id=ids[key], action="validate")
    n.transition(actor=youssef, report_id=ids["all_validated"], action="validate")
    n.amend_report(actor=amira, report_id=ids["narrowed"],
                   patch=ReportPatch.model_validate({"audience": {"scope": "national"}}))
    return ids


def _allowed(node: Node, viewer: User) -> set[str]:
    docs = node.store.read("SELECT doc FROM reports", system=True)
    return {r.id for r in (rules.from_doc(json.loads(d)) for (d,) in docs) if may_view(viewer, Facts.of_report(r))}


@pytest.fixture
def app_conn(pg_node: Node) -> Iterator[Any]:
    """A connection of the node's own role (not the owner), outside the store."""
    with psycopg.connect(pg_node.store.url, autocommit=True) as conn:
        yield conn


def _as_viewer(conn: Any, viewer: User | None, sql: str) -> list[tuple[Any, ...]]:
    with conn.transaction():
        values = session_values(viewer)
        for name, value in values.items():
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        return conn.execute(sql).fetchall()


def test_a_query_that_forgets_the_viewer_filter_returns_only_what_the_viewer_may_see(
        pg_node: Node, users: dict[str, User], mixed: dict[str, str], app_conn: Any) -> None:
    everything = {r[0] for r in pg_node.store.read("SELECT id FROM reports", system=True)}
    assert set(mixed.values()) <= everything
    seen_by: dict[str, set[str]] = {}
    for name, viewer in users.items():
        allowed = _allowed(pg_node, viewer)
        # No WHERE: through the store, and on a bare connection of the node's role.
        through_store = {r[0] for r in pg_node.store.read("SELECT id FROM reports", viewer=viewer)}
        bare = {r[0] for r in _as_viewer(app_conn, viewer, "SELECT doc::jsonb ->> 'id' FROM reports")}
        versions = {r[0] for r in _as_viewer(app_conn, viewer, "SELECT DISTINCT report_id FROM report_versions")}
        assert through_store == bare == versions == allowed, name
        seen_by[name] = allowed
    # The rule is not vacuous here: each kind of viewer sees something, and not everything.
    assert seen_by["karim"] == {mixed["dza_validated"], mixed["all_validated"]}
    assert seen_by["omar"] == {mixed["all_validated"]}
    assert mixed["draft"] in seen_by["sami"] and mixed["draft"] not in seen_by["amira"]
    assert mixed["agency"] not in seen_by["youssef"] and mixed["army_agency"] not in seen_by["amira"]
    assert mixed["narrowed"] not in seen_by["karim"] | seen_by["omar"]
    assert all(seen < everything for seen in seen_by.values())


def test_without_a_declared_viewer_the_node_role_reads_nothing_and_cannot_lift_the_wall(
        pg_node: Node, mixed: dict[str, str], app_conn: Any) -> None:
    from pg_databases import owner_url

    for table in ("reports", "report_versions", "units", "sections", "unit_positions"):
        assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
        assert _as_viewer(app_conn, None, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert pg_node.store.read("SELECT id FROM reports") == []
    with psycopg.connect(owner_url(pg_node.store.url)) as owner:  # the rows are there
        assert owner.execute("SELECT count(*) FROM reports").fetchone()[0] >= len(mixed)
    for statement in ("ALTER TABLE reports DISABLE ROW LEVEL SECURITY",
                      "ALTER TABLE reports NO FORCE ROW LEVEL SECURITY",
                      "DROP POLICY fossatum_viewer ON reports",
                      "ALTER TABLE report_versions DISABLE ROW LEVEL SECURITY"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_conn.execute(statement)
    assert app_conn.execute("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)


def test_a_viewer_declared_transaction_cannot_write_what_only_the_node_may(
        pg_node: Node, users: dict[str, User], mixed: dict[str, str], app_conn: Any) -> None:
    karim = users["karim"]
    with app_conn.transaction():
        for name, value in session_values(karim).items():
            app_conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        widened = app_conn.execute("UPDATE reports SET scope = 'all_partners', releasable_to = ',DZA,LBY,TUN,', "
                                   "released = 1 WHERE id = %s", (mixed["national"],))
        assert widened.rowcount == 0
        deleted = app_conn.execute("DELETE FROM reports WHERE id = %s", (mixed["dza_validated"],))
        assert deleted.rowcount == 0  # visible to him, yet not his to delete
    doc = pg_node.store.report_doc(users["amira"], mixed["national"])
    assert doc is not None and json.loads(doc)["audience"]["scope"] == "national"
    assert pg_node.store.report_doc(karim, mixed["dza_validated"]) is not None


def test_the_node_refuses_to_start_as_a_role_the_wall_does_not_hold(pg_node: Node, caplog: pytest.LogCaptureFixture,
                                                                    tmp_path: Path, pg_databases: Any) -> None:
    from fossatum.store.postgres import PostgresStore
    from pg_databases import owner_url

    superuser = owner_url(pg_node.store.url)
    with pytest.raises(FossatumError) as refused:
        PostgresStore(superuser, tmp_path, rls="enforce")
    assert "a superuser: row-level security is no wall" in str(refused.value)
    assert "FOSSATUM_DATABASE_RLS=warn" in str(refused.value) and "\n" not in str(refused.value)
    with caplog.at_level(logging.WARNING, logger="fossatum.store"):
        PostgresStore(superuser, tmp_path, rls="warn").close()
    assert "a superuser: row-level security is no wall" in caplog.text
    with pytest.raises(FossatumError, match="FOSSATUM_DATABASE_RLS must be one of auto, enforce, warn, got 'off'"):
        PostgresStore(pg_node.store.url, tmp_path, rls="off")
    unmigrated = pg_databases.create("mismatch")
    with pytest.raises(FossatumError, match=r"OWNER_URL names the database postgres, .*: they must name the same one"):
        PostgresStore(unmigrated, tmp_path, rls="enforce", owner_url=superuser.rsplit("/", 1)[0] + "/postgres")


def test_by_default_a_superuser_url_migrates_and_the_node_works_as_a_role_the_wall_holds(
        pg_node: Node, users: dict[str, User], mixed: dict[str, str], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """`auto` (the default): one superuser URL, no owner URL — what a newcomer types. The node
    still starts, and its pooled connections work as NODE_ROLE: a forgotten filter is filtered."""
    from fossatum.store import postgres
    from fossatum.store.postgres import NODE_ROLE, PostgresStore
    from pg_databases import owner_url

    postgres._warned_roles.clear()  # said once per process: this test wants to hear it
    with caplog.at_level(logging.WARNING, logger="fossatum.store"):
        store = PostgresStore(owner_url(pg_node.store.url), tmp_path, rls="auto", owner_url="")
    try:
        assert f"the node works as role {NODE_ROLE}" in caplog.text
        assert store.read("SELECT current_user, session_user") == [(NODE_ROLE, "postgres")]
        assert store.read("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user") == [(False,)]
        karim, omar = users["karim"], users["omar"]
        assert store.read("SELECT id FROM reports") == []
        for viewer in (karim, omar):
            assert {r[0] for r in store.read("SELECT id FROM reports", viewer=viewer)} == _allowed(pg_node, viewer)
        assert mixed["agency"] not in {r[0] for r in store.read("SELECT id FROM reports", viewer=omar)}
    finally:
        store.close()


def test_the_table_owner_is_refused_too_and_the_wall_still_holds_it(pg_node: Node, users: dict[str, User],
                                                                    mixed: dict[str, str], tmp_path: Path) -> None:
    """A node run as the owner (FORCE ROW LEVEL SECURITY): refused by default; allowed with
    `warn`, where a forgotten filter is still filtered."""
    from fossatum.store.postgres import PostgresStore
    from pg_databases import owner_url

    owner_role = f"fossatum_test_owner_{os.getpid()}"
    with psycopg.connect(owner_url(pg_node.store.url), autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {owner_role}")
        admin.execute(f"CREATE ROLE {owner_role} LOGIN")
        admin.execute(f"ALTER TABLE reports OWNER TO {owner_role}")
        try:
            as_owner = owner_url(pg_node.store.url).replace("postgres@", f"{owner_role}@", 1)
            with pytest.raises(FossatumError, match="the owner of the tables"):
                PostgresStore(as_owner, tmp_path, rls="enforce")
            store = PostgresStore(as_owner, tmp_path, rls="warn")
            try:
                karim = users["karim"]
                assert {r[0] for r in store.read("SELECT id FROM reports", viewer=karim)} == _allowed(pg_node, karim)
                assert store.read("SELECT id FROM reports") == []
            finally:
                store.close()
        finally:
            admin.execute("ALTER TABLE reports OWNER TO postgres")
            admin.execute(f"DROP OWNED BY {owner_role}")  # the grants its opening received
            admin.execute(f"DROP ROLE {owner_role}")


def test_every_table_of_visible_objects_is_under_forced_row_level_security(pg_node: Node, app_conn: Any) -> None:
    from fossatum.store.pg_schema import RLS_CHILDREN, RLS_TABLES

    tables = [*RLS_TABLES, *(child for child, _ in RLS_CHILDREN)]
    rows = app_conn.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
        "array(SELECT policyname FROM pg_policies p WHERE p.tablename = c.relname ORDER BY 1) "
        "FROM pg_class c WHERE c.relname = ANY(%s) AND c.relkind = 'r'", (tables,)).fetchall()
    assert sorted(rows) == sorted((t, True, True, ["fossatum_system", "fossatum_viewer"]) for t in tables)


def test_the_cop_query_keeps_its_spatial_index_under_the_policies(pg_node: Node, users: dict[str, User],
                                                                 caplog: pytest.LogCaptureFixture,
                                                                 tmp_path: Path) -> None:
    """PostGIS's `&&` must be LEAKPROOF to drive the GiST index under RLS; without it the node warns."""
    from fossatum.policy.predicate import visible_sql
    from fossatum.store.pg_schema import BBOX_OPERATOR
    from fossatum.store.postgres import PostgresStore
    from fossatum.store.query import ReportQuery, report_filters
    from pg_databases import owner_url

    karim = users["karim"]
    where, params = visible_sql(karim, "r", "%s")
    filters, fparams = report_filters(ReportQuery(bbox=(8.0, 35.0, 9.0, 36.0)), alias="r",
                                      spatial=pg_node.store._bbox_sql)
    explain = f"EXPLAIN SELECT r.doc FROM reports r WHERE {where}{filters.replace('?', '%s')}"

    def plan() -> str:
        with psycopg.connect(pg_node.store.url) as conn:  # one transaction: the settings hold
            conn.execute("SET LOCAL enable_seqscan = off")  # a few rows: make the index the choice
            for name, value in session_values(karim).items():
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            return "\n".join(r[0] for r in conn.execute(explain, (*params, *fparams)).fetchall())

    assert "reports_geom" in plan()
    # With a time window the COP query runs on the space-time index (`&&&`), leakproof as well.
    filters, fparams = report_filters(ReportQuery(bbox=(8.0, 35.0, 9.0, 36.0), since="2026-01-01T00:00:00Z",
                                                  until="2026-01-02T00:00:00Z"), alias="r",
                                      spatial=pg_node.store._bbox_sql)
    explain = f"EXPLAIN SELECT r.doc FROM reports r WHERE {where}{filters.replace('?', '%s')}"
    assert "reports_geom_t" in plan()
    filters, fparams = report_filters(ReportQuery(bbox=(8.0, 35.0, 9.0, 36.0)), alias="r",
                                      spatial=pg_node.store._bbox_sql)
    explain = f"EXPLAIN SELECT r.doc FROM reports r WHERE {where}{filters.replace('?', '%s')}"
    with psycopg.connect(owner_url(pg_node.store.url), autocommit=True) as admin:
        admin.execute(f"ALTER FUNCTION {BBOX_OPERATOR} NOT LEAKPROOF")
        try:
            assert "reports_geom" not in plan()  # the reason for the mark
            with caplog.at_level(logging.WARNING, logger="fossatum.store"):
                PostgresStore(pg_node.store.url, tmp_path, rls="enforce").close()
            assert f"ALTER FUNCTION {BBOX_OPERATOR} LEAKPROOF" in caplog.text
        finally:
            admin.execute(f"ALTER FUNCTION {BBOX_OPERATOR} LEAKPROOF")


def test_alerts_and_chat_behind_the_same_wall(pg_node: Node, users: dict[str, User]) -> None:
    from fossatum.domain.geo import Position

    sami, here = users["sami"], Position(35.2, 8.7)
    pg_node.raise_alert(actor=sami, uid="alert-national", kind="911", position=here)
    # An alert is at least national (an emergency); the agency-only object here is a chat room.
    pg_node.raise_alert(actor=sami, uid="alert-contact", kind="troops-in-contact", position=here)
    pg_node.post_chat(actor=sami, message_id="m1", room="All Chat Rooms", text="national", position=here, sender_uid="d1")
    pg_node.post_chat(actor=sami, message_id="m2", room="TN-GN ops", text="agency only", position=here, sender_uid="d1")
    seen = {}
    for name in ("sami", "amira", "youssef", "karim", "omar"):
        viewer = users[name]
        raw_alerts = {r[0] for r in pg_node.store.read("SELECT uid FROM alerts", viewer=viewer)}
        raw_chat = {r[0] for r in pg_node.store.read("SELECT id FROM chat", viewer=viewer)}
        # The filtered reads (the predicate) and the unfiltered ones (the policy) agree.
        assert raw_alerts == {json.loads(d)["uid"] for d in pg_node.store.alerts(viewer)}, name
        assert raw_chat == {json.loads(d)["id"] for d in pg_node.store.chat(viewer)}, name
        seen[name] = (raw_alerts, raw_chat)
    assert seen["amira"] == ({"alert-national", "alert-contact"}, {"d1:m1", "d1:m2"})
    assert seen["youssef"] == ({"alert-national", "alert-contact"}, {"d1:m1"})  # another Tunisian agency
    assert seen["karim"] == seen["omar"] == (set(), set())       # other countries: nothing


def test_a_version_read_without_the_filter_shows_only_its_own_audience_and_release(
        pg_node: Node, users: dict[str, User], app_conn: Any) -> None:
    """Finding 2's second wall: the agency-only first text of a report later released to
    Algeria stays in its agency even for a query on report_versions that forgets the filter."""
    amira = users["amira"]
    rid = _file(pg_node, amira, audience={"scope": "agency"}, tlp="RED", description="informant +216 98 765 432")
    pg_node.amend_report(actor=amira, report_id=rid, patch=ReportPatch.model_validate(
        {"description": "clean", "tlp": "AMBER", "audience": {"scope": "partners", "partners": ["DZA"]}}))
    pg_node.transition(actor=amira, report_id=rid, action="validate")  # releases version 3
    pg_node.amend_report(actor=amira, report_id=rid, patch=ReportPatch.model_validate({"description": "later"}))

    def versions(name: str) -> list[int]:
        rows = _as_viewer(app_conn, users[name],
                          f"SELECT version FROM report_versions WHERE report_id = '{rid}' ORDER BY version")
        return [r[0] for r in rows]

    assert versions("amira") == [1, 2, 3, 4]
    assert versions("youssef") == [2, 3, 4]
    assert versions("karim") == [3]
    assert versions("omar") == []
    texts = _as_viewer(app_conn, users["karim"], "SELECT doc FROM report_versions")
    assert not any("informant" in t or "later" in t for (t,) in texts)
