"""Random agencies, users, audiences and reports: every read path of the store returns
exactly what `policy.may_view` allows — nothing more, nothing less."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fossatum.domain import report as rules
from fossatum.domain.audience import Scope
from fossatum.domain.org import Role, User
from fossatum.errors import Forbidden, NotFound
from fossatum.node import Node, init_node
from fossatum.policy.visibility import Facts, may_release, may_view
from fossatum.schemas import ReportIn, ReportPatch, SectionIn, UnitIn
from fossatum.store.query import ReportQuery

pytestmark = pytest.mark.both_backends

COUNTRIES = ["TUN", "DZA", "LBY", "MAR"]
SCOPES = ["agency", "national", "partners", "all_partners", None]
PATHS = ["draft", "submitted", "validated", "returned", "closed", "validated_then_closed", "narrowed"]

agencies_st = st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=5)
users_st = st.lists(
    st.tuples(st.integers(0, 4), st.sets(st.sampled_from(["field", "duty_officer", "analyst"]), min_size=1),
              st.booleans()),
    min_size=1, max_size=6,
)
reports_st = st.lists(
    st.tuples(
        st.integers(0, 5),                       # author index
        st.sampled_from(SCOPES),
        st.sets(st.sampled_from(COUNTRIES), max_size=3),
        st.sampled_from(PATHS),
        st.floats(34.5, 36.9), st.floats(7.5, 9.5),  # position
        st.integers(0, 47),                      # hours ago observed
    ),
    max_size=14,
)


def _add_user(node: Node, username: str, agency: str, country: str, roles: set[str], active: bool) -> None:
    """Accounts without passwords: the property is about reads, and argon2 would only slow it."""
    user = User(username, agency, country, frozenset(Role(r) for r in roles), "", active)
    with node.store.transaction() as tx:
        tx.append(ts="2026-11-01T00:00:00.000000Z", author="test", kind="user.added", payload=user.to_doc(),
                  audience={"scope": "agency", "owner_agency": "", "owner_country": "TUN", "local": True})


def _officer(node: Node, country: str) -> User | None:
    for u in node.store.users():
        if u.country == country and u.has(Role.DUTY_OFFICER) and u.active:
            return u
    return None


def _populate(node: Node, agencies: list[str], users: list, reports: list) -> None:
    for i, country in enumerate(agencies):
        node.add_agency(actor=None, code=f"AG{i}", name=f"agency {i}", country=country)
    for i, (agency_index, roles, active) in enumerate(users):
        a = agency_index % len(agencies)
        _add_user(node, f"user{i}", f"AG{a}", agencies[a], roles, active)
    people = list(node.store.users())
    roster = set(node.store.roster())
    for author_index, scope, partners, path, lat, lon, hours in reports:
        author = people[author_index % len(people)]
        if not author.active:
            continue
        body: dict = {"type": "smuggling_fuel", "location": {"lat": lat, "lon": lon},
                      "observed_at": f"2026-11-{27 + (47 - hours) // 24:02d}T{(47 - hours) % 24:02d}:00:00Z",
                      "state": "draft" if path == "draft" else "submitted"}
        listed = sorted((partners & roster) - {author.country})
        if scope == "partners":
            if not listed:
                continue
            body["audience"] = {"scope": scope, "partners": listed}
        elif scope is not None:
            body["audience"] = {"scope": scope}
        doc = node.file_report(actor=author, spec=ReportIn.model_validate(body))
        officer = _officer(node, author.country)
        try:
            if path in ("validated", "validated_then_closed", "narrowed") and officer:
                node.transition(actor=officer, report_id=doc["id"], action="validate")
                if path == "validated_then_closed":
                    node.transition(actor=officer, report_id=doc["id"], action="close", reason="done")
                if path == "narrowed":
                    node.amend_report(actor=officer, report_id=doc["id"],
                                      patch=ReportPatch.model_validate({"audience": {"scope": "national"}}))
            elif path == "returned" and officer:
                node.transition(actor=officer, report_id=doc["id"], action="return", reason="check grid")
            elif path == "closed" and officer:
                node.transition(actor=officer, report_id=doc["id"], action="close", reason="did not happen")
        except (Forbidden, NotFound):
            pass  # e.g. an officer of another agency, who may not see an agency-only report


def _all_reports(node: Node) -> list[rules.Report]:
    rows = node.store.read("SELECT doc FROM reports", system=True)
    return [rules.from_doc(json.loads(r[0])) for r in rows]


def _unfiltered(node: Node, viewer: User, sql: str) -> set[str] | None:
    """Ids a query without any viewer filter returns to `viewer` — on PostgreSQL, where
    row-level security is the wall under the filter (None on SQLite, which has none)."""
    if node.store.backend != "postgres":
        return None
    return {r[0] for r in node.store.read(sql, viewer=viewer)}


# No "explain" phase: it replays a failure thousands of times and adds nothing here.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]


@settings(max_examples=60, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])
@given(agencies=agencies_st, users=users_st, reports=reports_st,
       box=st.tuples(st.floats(7.5, 9.0), st.floats(34.5, 36.0), st.floats(0.1, 1.5), st.floats(0.1, 1.5)),
       window=st.tuples(st.integers(0, 47), st.integers(1, 48)))
def test_every_read_path_returns_exactly_what_the_policy_allows(fresh_database, agencies, users, reports, box,
                                                              window) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node = init_node(Path(tmp) / "n", country="TUN", name="t", database_url=fresh_database())
        try:
            _populate(node, agencies, users, reports)
            everything = _all_reports(node)
            bbox = (box[0], box[1], box[0] + box[2], box[1] + box[3])
            for viewer in node.store.users():
                allowed = {r.id for r in everything if may_view(viewer, Facts.of_report(r))}
                listed = {json.loads(d)["id"] for d in node.store.list_reports(viewer, ReportQuery(limit=1000))}
                assert listed == allowed
                for raw in ("SELECT id FROM reports", "SELECT DISTINCT report_id FROM report_versions"):
                    assert _unfiltered(node, viewer, raw) in (None, allowed), raw
                assert node.store.count_reports(viewer, ReportQuery())["total"] == len(allowed)
                assert node.store.visible_report_ids(viewer, [r.id for r in everything]) == allowed
                for r in everything:
                    assert (node.store.report_doc(viewer, r.id) is not None) == (r.id in allowed)
                    assert bool(node.store.report_versions(viewer, r.id)) == (r.id in allowed)
                in_box = {r.id for r in everything if r.id in allowed
                          and bbox[0] <= r.content.position.lon <= bbox[2]
                          and bbox[1] <= r.content.position.lat <= bbox[3]}
                boxed = {json.loads(d)["id"] for d in node.store.list_reports(viewer, ReportQuery(bbox=bbox, limit=1000))}
                assert boxed == in_box
                # box and time window together (the space-time index), edges included exactly
                since = f"2026-11-{27 + window[0] // 24:02d}T{window[0] % 24:02d}:00:00.000000Z"
                end = min(window[0] + window[1], 47)
                until = f"2026-11-{27 + end // 24:02d}T{end % 24:02d}:00:00.000000Z"
                in_window = {r.id for r in everything if r.id in in_box and since <= r.content.observed_at < until}
                windowed = node.store.list_reports(viewer, ReportQuery(bbox=bbox, since=since, until=until, limit=1000))
                assert {json.loads(d)["id"] for d in windowed} == in_window
                windowed_count = node.store.count_reports(viewer, ReportQuery(bbox=bbox, since=since, until=until))
                assert windowed_count["total"] == len(in_window)
                for start, stop in ((since, None), (None, until)):  # a window open at one end
                    expect = {r.id for r in everything if r.id in in_box and (start is None or start <= r.content.observed_at)
                              and (stop is None or r.content.observed_at < stop)}
                    half = node.store.list_reports(viewer, ReportQuery(bbox=bbox, since=start, until=stop, limit=1000))
                    assert {json.loads(d)["id"] for d in half} == expect
                by_type = node.store.count_reports(viewer, ReportQuery(), "type")
                assert sum(by_type.values()) == len(allowed)
        finally:
            node.close()


@settings(max_examples=40, deadline=None, phases=PHASES)
@given(agencies=agencies_st, users=users_st, reports=reports_st)
def test_a_report_released_to_a_country_is_visible_there_and_nowhere_else(fresh_database, agencies, users, reports) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node = init_node(Path(tmp) / "n", country="TUN", name="t", database_url=fresh_database())
        try:
            _populate(node, agencies, users, reports)
            for r in _all_reports(node):
                facts = Facts.of_report(r)
                for viewer in node.store.users():
                    if viewer.country == r.audience.owner_country or not viewer.active:
                        continue
                    # A viewer of another country sees a report exactly when it may be released there.
                    assert may_view(viewer, facts) == may_release(facts, viewer.country)
                    if may_view(viewer, facts):
                        assert r.released and viewer.country in r.audience.releasable_to
        finally:
            node.close()


@settings(max_examples=40, deadline=None, phases=PHASES)
@given(agencies=agencies_st, users=users_st,
       units=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(SCOPES), st.sets(st.sampled_from(COUNTRIES), max_size=2)),
                      max_size=8))
def test_units_and_sections_follow_the_same_rule(fresh_database, agencies, users, units) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node = init_node(Path(tmp) / "n", country="TUN", name="t", database_url=fresh_database())
        try:
            _populate(node, agencies, users, [])
            roster = set(node.store.roster())
            for i, (agency_index, scope, partners) in enumerate(units):
                a = agency_index % len(agencies)
                spec: dict = {"id": f"unit-{i}", "name": f"unit {i}", "kind": "patrol", "agency": f"AG{a}",
                              "location": {"lat": 35.0, "lon": 8.5}}
                listed = sorted((partners & roster) - {agencies[a]})
                if scope == "partners" and listed:
                    spec["audience"] = {"scope": scope, "partners": listed}
                elif scope not in (None, "partners"):
                    spec["audience"] = {"scope": scope}
                node.add_unit(actor=None, spec=UnitIn.model_validate(spec))
            tunisian = [i for i, c in enumerate(agencies) if c == "TUN"]
            if tunisian:
                node.add_section(actor=None, owner_agency=f"AG{tunisian[0]}", spec=SectionIn.model_validate(
                    {"id": "TUN-S1", "name": "s", "geometry": {"type": "LineString", "coordinates": [[8.4, 35.0], [8.5, 35.2]]},
                     "audience": {"scope": "national"}}))
            rows = node.store.read(
                "SELECT id, owner_agency, owner_country, scope, releasable_to, 'units' FROM units UNION ALL "
                "SELECT id, owner_agency, owner_country, scope, releasable_to, 'sections' FROM sections", system=True)
            for viewer in node.store.users():
                allowed = {(table, oid) for oid, agency, country, scope, rel, table in rows
                           if may_view(viewer, Facts(agency, country, Scope(scope), frozenset(rel.strip(",").split(",")),
                                                     "active", True, ""))}
                got = {("units", json.loads(d)["id"]) for d in node.store.units(viewer)}
                got |= {("sections", json.loads(d)["id"]) for d in node.store.sections(viewer)}
                assert got == allowed
                raw = _unfiltered(node, viewer, "SELECT 'units:' || id FROM units UNION ALL SELECT 'sections:' || id FROM sections")
                assert raw is None or raw == {f"{table}:{oid}" for table, oid in allowed}
                for table, oid, *_ in ((r[5], r[0]) for r in rows):
                    fetch = node.store.unit_doc if table == "units" else node.store.section_doc
                    assert (fetch(viewer, oid) is not None) == ((table, oid) in allowed)
        finally:
            node.close()
