"""Random participant sets, statuses and viewers at one node, on both backends: every read path of
an operation (list, document, journal, sectors) and of a checkpoint answers exactly what
need-to-know allows (issue 12). The node's roster holds TUN, DZA and LBY (it has their agencies)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fossatum.domain.org import Role, User
from fossatum.errors import NotFound
from fossatum.node import Node
from fossatum.schemas import JournalIn, OperationIn, OperationPatch
from operations_fixtures import operation_body

pytestmark = pytest.mark.both_backends

PARTNERS = ["DZA", "LBY"]
AGENCY = {"TUN": "TN-ARMY", "DZA": "DZ-GN", "LBY": "LY-BG"}
viewers = st.tuples(st.sampled_from(["TUN", *PARTNERS]), st.sets(st.sampled_from(list(Role)), min_size=1),
                    st.booleans())
plans = st.tuples(st.sets(st.sampled_from(PARTNERS)), st.sampled_from(["NST", "IPR", "CANCLD"]),
                  st.lists(viewers, min_size=1, max_size=5))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans)
def test_every_read_answers_exactly_what_need_to_know_allows(node: Node, users: dict[str, User], plan: Any) -> None:
    participants, status, people = plan
    amira = users["amira"]
    op = node.create_operation(actor=amira, spec=OperationIn.model_validate(
        operation_body(participants=sorted(participants), sectors=[], command={})))
    node.write_journal(actor=amira, operation_id=op["id"], spec=JournalIn(kind="note", text="cordon in place"))
    if status != "NST":
        node.update_operation(actor=amira, operation_id=op["id"], patch=OperationPatch(status=status))
    audience = {"TUN"} if status == "CANCLD" else {"TUN", *participants}
    for n, (country, roles, active) in enumerate(people):
        viewer = User(f"viewer{n}", AGENCY[country], country, frozenset(roles), "", active)
        may = active and country in audience
        assert (op["id"] in {o["id"] for o in node.operations(viewer=viewer)}) == may, viewer
        if may:
            assert node.operation(viewer=viewer, operation_id=op["id"])["id"] == op["id"]
            lines = node.journal(viewer=viewer, operation_id=op["id"])
            assert lines and all(x["operation"] == op["id"] for x in lines)
            assert node.sectors(viewer=viewer, operation_id=op["id"]) == []
        else:
            for read in (node.operation, node.journal, node.sectors):
                with pytest.raises(NotFound):
                    read(viewer=viewer, operation_id=op["id"])


checkpoint_plans = st.tuples(st.sampled_from(["TUN", "DZA", "LBY", "joint"]), st.sets(st.sampled_from(PARTNERS)),
                             st.one_of(st.none(), st.sets(st.sampled_from(PARTNERS))),
                             st.lists(viewers, min_size=1, max_size=5))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=checkpoint_plans)
def test_a_checkpoint_is_seen_exactly_by_the_countries_it_is_shared_with(node: Node, users: dict[str, User],
                                                                         plan: Any) -> None:
    from fossatum.schemas import CheckpointIn, CheckpointPatch, SectionIn
    from operations_fixtures import AREA

    if not node.sections(viewer=users["amira"]):
        node.add_section(actor=None, spec=SectionIn.model_validate(
            {"id": "S-1", "name": "Chaambi", "geometry": AREA, "audience": {"scope": "all_partners"}}),
            owner_agency="TN-GN")
    operator, named, narrowed, people = plan
    if operator == "joint" and not named:
        named = {"DZA"}
    amira = users["amira"]
    cp = node.create_checkpoint(actor=amira, spec=CheckpointIn.model_validate(
        {"name": "track", "location": {"lat": 35.2, "lon": 8.5}, "section": "S-1", "operator": operator,
         "partners": sorted(named)}))
    if narrowed is not None and not (operator == "joint" and not narrowed):
        node.update_checkpoint(actor=amira, checkpoint_id=cp["id"], patch=CheckpointPatch(partners=sorted(narrowed)))
        named = narrowed
    audience = {"TUN", *named, *([operator] if operator in PARTNERS else [])}
    for n, (country, roles, active) in enumerate(people):
        viewer = User(f"viewer{n}", AGENCY[country], country, frozenset(roles), "", active)
        may = active and country in audience
        assert (cp["id"] in {c["id"] for c in node.checkpoints(viewer=viewer)}) == may, viewer
        if not may:
            with pytest.raises(NotFound):
                node.checkpoint(viewer=viewer, checkpoint_id=cp["id"])


patrol_plans = st.tuples(st.sets(st.sampled_from(PARTNERS)), st.one_of(st.none(), st.sets(st.sampled_from(PARTNERS))),
                         st.lists(viewers, min_size=1, max_size=5))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=patrol_plans)
def test_a_patrol_is_seen_exactly_by_its_countries(node: Node, users: dict[str, User], plan: Any) -> None:
    from fossatum.schemas import PatrolIn, PatrolPatch

    countries, narrowed, people = plan
    route = [{"name": "A", "lat": 35.1, "lon": 8.5}, {"name": "B", "lat": 35.2, "lon": 8.6}]
    patrol = node.create_patrol(actor=users["amira"], spec=PatrolIn.model_validate(
        {"code": "P", "name": "Patrol", "route": route, "countries": sorted(countries),
         "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T11:00:00Z"}))
    if narrowed is not None:
        node.update_patrol(actor=users["amira"], patrol_id=patrol["id"],
                           patch=PatrolPatch(countries=sorted(narrowed)))
        countries = narrowed
    for n, (country, roles, active) in enumerate(people):
        viewer = User(f"viewer{n}", AGENCY[country], country, frozenset(roles), "", active)
        may = active and country in {"TUN", *countries}
        assert (patrol["id"] in {p["id"] for p in node.patrols(viewer=viewer)}) == may, viewer
        if not may:
            with pytest.raises(NotFound):
                node.patrol(viewer=viewer, patrol_id=patrol["id"])
