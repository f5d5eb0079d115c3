"""Joint operations as frozen domain types (domain/operation.py, domain/polygon.py): documents
round-trip exactly, the EMSI status table is enforced, and an operation refuses what would not
make sense on the ground (a sector outside its area, a sector of a country not taking part)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fossatum.domain.operation import (
    TRANSITIONS,
    Command,
    JournalEntry,
    JournalKind,
    MissionStatus,
    Operation,
    OperationKind,
    Phase,
    Sector,
    check_transition,
)
from fossatum.errors import Conflict, InvalidInput

# The Chaambi massif, roughly: a square of 0.4° with Tunisian and Algerian halves.
AREA = {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.8, 35.0], [8.8, 35.4], [8.4, 35.4], [8.4, 35.0]]]}
TUN_SECTOR = {"type": "Polygon", "coordinates": [[[8.6, 35.0], [8.8, 35.0], [8.8, 35.4], [8.6, 35.4], [8.6, 35.0]]]}
DZA_SECTOR = {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.6, 35.0], [8.6, 35.4], [8.4, 35.4], [8.4, 35.0]]]}


def _square(lon: float, lat: float, size: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                [lon, lat + size], [lon, lat]]]}


def operation(**changes: Any) -> Operation:
    base: dict[str, Any] = {
        "id": "op1", "code": "CHAAMBI-26-01", "name": "Cordon Chaambi", "kind": OperationKind.CORDON_AND_SEARCH,
        "status": MissionStatus.NOT_STARTED, "lead_country": "TUN", "participants": ("TUN", "DZA"), "area": AREA,
        "sectors": (Sector("s-tun", "Est", TUN_SECTOR, "TUN", ("u-tn-1",)), Sector("s-dza", "Ouest", DZA_SECTOR, "DZA",
                                                                                  ("u-dz-1",))),
        "phases": (Phase("cordon", "2026-12-07T05:00:00Z", "2026-12-07T09:00:00Z"),),
        "units": ("u-tn-1", "u-dz-1"), "reports": (), "command": (Command("TUN", "col.hamdi", "cdt.trabelsi"),),
        "owner_agency": "TN-ARMY", "audience": {"scope": "partners", "partners": ["DZA"]}, "created_by": "col.hamdi",
        "updated_at": "2026-12-06T20:00:00.000000Z",
    }
    base.update(changes)
    return Operation(**base)


# -- round trips -------------------------------------------------------------------------------------

_countries = st.sampled_from(["TUN", "DZA", "LBY"])
_instants = st.integers(min_value=0, max_value=10_000).map(
    lambda m: f"2026-12-{7 + m // 1440:02d}T{m % 1440 // 60:02d}:{m % 60:02d}:00.000000Z")
_ids = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8)


@st.composite
def operations(draw: st.DrawFn) -> Operation:
    participants = draw(st.sets(_countries, min_size=1))
    lead = draw(st.sampled_from(sorted(participants)))
    units = draw(st.sets(_ids, max_size=5))
    sectors = []
    for i, (lon, lat) in enumerate(draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=4,
                                                 unique=True))):
        sectors.append(Sector(f"s{i}", f"Sector {i}", _square(8.4 + lon * 0.1, 35.0 + lat * 0.1, 0.1),
                              draw(st.sampled_from(sorted(participants))),
                              tuple(draw(st.sets(st.sampled_from(sorted(units)), max_size=2))) if units else ()))
    phases = []
    for i, (a, b) in enumerate(draw(st.lists(st.tuples(_instants, _instants), max_size=3))):
        start, end = sorted((a, b))
        actual = draw(st.sampled_from([(None, None), (start, None), (start, end)]))
        phases.append(Phase(f"phase {i}", start, end, *actual))
    command = [Command(c, f"cmd.{c.lower()}", draw(st.sampled_from([None, f"dep.{c.lower()}"])))
               for c in draw(st.sets(st.sampled_from(sorted(participants))))]
    return operation(lead_country=lead, participants=tuple(draw(st.permutations(sorted(participants)))),
                     sectors=tuple(draw(st.permutations(sectors))), phases=tuple(draw(st.permutations(phases))),
                     units=tuple(draw(st.permutations(sorted(units)))), reports=tuple(draw(st.sets(_ids))),
                     command=tuple(command), status=draw(st.sampled_from(list(MissionStatus))),
                     kind=draw(st.sampled_from(list(OperationKind))), exercise=draw(st.booleans()))


@given(operations())
def test_an_operation_round_trips_exactly(op: Operation) -> None:
    doc = op.to_doc()
    again = Operation.from_doc(doc)
    assert again == op
    assert again.to_doc() == doc


@given(operations(), st.randoms())
def test_the_order_of_unordered_lists_does_not_change_the_document(op: Operation, rnd: Any) -> None:
    doc = op.to_doc()
    shuffled = {**doc, "participants": rnd.sample(doc["participants"], len(doc["participants"])),
                "units": rnd.sample(doc["units"], len(doc["units"])),
                "sectors": rnd.sample(doc["sectors"], len(doc["sectors"])),
                "phases": rnd.sample(doc["phases"], len(doc["phases"]))}
    assert Operation.from_doc(shuffled).to_doc() == doc


def test_keys_a_node_does_not_know_are_kept() -> None:
    doc = {**operation().to_doc(), "later_field": {"x": [1]}}
    assert Operation.from_doc(doc).to_doc() == doc


def test_an_exercise_is_marked_in_its_document_and_a_live_operation_is_as_before() -> None:
    live = operation().to_doc()
    assert "exercise" not in live  # a document written before the marker existed reads the same
    assert Operation.from_doc(live).exercise is False
    drill = operation(exercise=True).to_doc()
    assert drill["exercise"] is True and Operation.from_doc(drill).exercise is True
    assert Operation.from_doc(drill).to_doc() == drill


def test_the_exercise_marker_is_a_boolean() -> None:
    with pytest.raises(InvalidInput) as err:
        Operation.from_doc({**operation().to_doc(), "exercise": "yes"})
    assert err.value.field == "exercise"


@given(st.sampled_from(list(JournalKind)), _instants)
def test_a_journal_entry_round_trips_exactly(kind: Any, at: str) -> None:
    details = {"status_change": {"from": "NST", "to": "IPR"}, "assignment": {"unit": "u-tn-1", "sector": "s-tun"},
               "report_link": {"report": "r1"}}.get(kind.value, {})
    entry = JournalEntry("j1", "op1", kind, "lt.ben-ali", "TUN", at, "text", details)
    assert JournalEntry.from_doc(entry.to_doc()) == entry
    assert JournalEntry.from_doc(entry.to_doc()).to_doc() == entry.to_doc()


# -- status -------------------------------------------------------------------------------------------

ALLOWED = [(a, b) for a in MissionStatus for b in MissionStatus if b in TRANSITIONS[a]]
REFUSED = [(a, b) for a in MissionStatus for b in MissionStatus if b not in TRANSITIONS[a]]


def test_the_emsi_table() -> None:
    assert [s.value for s in MissionStatus] == ["NST", "IPR", "PAU", "COM", "CANCLD"]
    assert set(ALLOWED) == {("NST", "IPR"), ("NST", "CANCLD"), ("IPR", "PAU"), ("IPR", "COM"), ("IPR", "CANCLD"),
                            ("PAU", "IPR"), ("PAU", "COM"), ("PAU", "CANCLD")}


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_every_allowed_transition(current: MissionStatus, new: MissionStatus) -> None:
    changed = operation(status=current).with_status(new.value, now="2026-12-07T05:00:00.000000Z")
    assert changed.status is new and changed.updated_at == "2026-12-07T05:00:00.000000Z"


@pytest.mark.parametrize(("current", "new"), REFUSED)
def test_every_refused_transition(current: MissionStatus, new: MissionStatus) -> None:
    op = operation(status=current)
    with pytest.raises(Conflict) as caught:
        op.with_status(new.value, now="t")
    if current == new:
        assert "already" in caught.value.message
    else:
        assert f"from {current.value} to {new.value}" in caught.value.message
    assert caught.value.field == "status"


def test_an_unknown_status_is_invalid_not_a_conflict() -> None:
    with pytest.raises(InvalidInput, match="unknown value 'DONE'"):
        check_transition(MissionStatus.IN_PROGRESS, "DONE")


# -- what an operation refuses ------------------------------------------------------------------------

def test_the_lead_must_take_part() -> None:
    with pytest.raises(InvalidInput, match=r"lead country LBY is not among the participants \(DZA, TUN\)") as c:
        operation(lead_country="LBY")
    assert c.value.field == "lead_country"


def test_a_sector_of_a_country_not_taking_part_is_refused() -> None:
    with pytest.raises(InvalidInput, match="sector 's-lby' is assigned to LBY, which does not take part") as c:
        operation(sectors=(Sector("s-lby", "Sud", TUN_SECTOR, "LBY"),))
    assert c.value.field == "sectors.s-lby.country"


def test_a_sector_with_a_vertex_outside_is_refused() -> None:
    outside = {"type": "Polygon", "coordinates": [[[8.7, 35.3], [8.9, 35.3], [8.9, 35.5], [8.7, 35.3]]]}
    with pytest.raises(InvalidInput, match=r"sector 'x' is not inside the operation area: vertex \[8\.9, 35\.3\] lies ou") as c:
        operation(sectors=(Sector("x", "X", outside, "TUN"),))
    assert c.value.field == "sectors.x.polygon"


def test_a_sector_wholly_outside_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"vertex .* lies outside it"):
        operation(sectors=(Sector("x", "X", _square(9.5, 36.0, 0.1), "TUN"),))


def test_a_sector_edge_crossing_a_concave_area_is_refused() -> None:
    # A U-shaped area: every corner of the sector is inside, but its top edge crosses the notch.
    u_area = {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3],
                                                  [0, 0]]]}
    bridge = {"type": "Polygon", "coordinates": [[[0.5, 2], [2.5, 2], [2.5, 2.5], [0.5, 2.5], [0.5, 2]]]}
    with pytest.raises(InvalidInput, match=r"edge from \[0\.5, 2\] to \[2\.5, 2\] crosses its boundary"):
        operation(area=u_area, sectors=(Sector("x", "X", bridge, "TUN"),), units=())
    # The same with the notch off-centre: the middle of each long edge lies on the notch's side,
    # so only cutting the edge where it meets the boundary finds the piece that runs outside.
    off_centre = {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [1.5, 3], [1.5, 1], [1, 1], [1, 3],
                                                      [0, 3], [0, 0]]]}
    with pytest.raises(InvalidInput, match=r"edge from \[0\.5, 2\] to \[2\.5, 2\] crosses its boundary"):
        operation(area=off_centre, sectors=(Sector("x", "X", bridge, "TUN"),), units=())


def test_a_sector_edge_that_only_touches_the_boundary_but_runs_outside_is_refused() -> None:
    # A V-shaped notch with its point at (2, 2): the top edge of the triangle goes from one arm of
    # the notch to the other. Both ends are on the boundary, no edge is crossed properly, and
    # yet the whole edge runs through the notch, outside the area.
    v_area = {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [2, 2], [0, 4], [0, 0]]]}
    triangle = {"type": "Polygon", "coordinates": [[[1, 3], [3, 3], [2, 1], [1, 3]]]}
    with pytest.raises(InvalidInput, match=r"edge from \[1, 3\] to \[3, 3\] crosses its boundary"):
        operation(area=v_area, units=(), sectors=(Sector("x", "X", triangle, "TUN"),))
    below = {"type": "Polygon", "coordinates": [[[1, 1], [3, 1], [2, 2], [1, 1]]]}  # touches the notch's point
    assert operation(area=v_area, units=(), sectors=(Sector("x", "X", below, "TUN"),)).sector("x") is not None


def test_sectors_on_the_area_boundary_are_inside() -> None:
    op = operation(sectors=(Sector("whole", "All", AREA, "TUN", ("u-tn-1",)),))
    assert op.sector("whole") is not None


def test_phase_time_order() -> None:
    with pytest.raises(InvalidInput, match=r"ends .* before it starts") as c:
        Phase("cordon", "2026-12-07T09:00:00Z", "2026-12-07T05:00:00Z")
    assert c.value.field == "phases.cordon.planned_end"
    with pytest.raises(InvalidInput, match=r"ends .* before it starts"):
        Phase("cordon", "2026-12-07T05:00:00Z", "2026-12-07T09:00:00Z", "2026-12-07T06:00:00Z",
              "2026-12-07T05:59:59Z")
    with pytest.raises(InvalidInput, match="cannot end before it has started"):
        Phase("cordon", "2026-12-07T05:00:00Z", "2026-12-07T09:00:00Z", None, "2026-12-07T06:00:00Z")
    with pytest.raises(InvalidInput, match="time zone"):
        Phase("cordon", "2026-12-07T05:00:00", "2026-12-07T09:00:00Z")
    same = Phase("cordon", "2026-12-07T05:00:00+01:00", "2026-12-07T04:00:00Z")  # equal instants: allowed
    assert same.planned_start == same.planned_end == "2026-12-07T04:00:00.000000Z"


def test_units_of_a_sector_must_take_part() -> None:
    with pytest.raises(InvalidInput, match="not taking part: u-dz-1"):
        operation(units=("u-tn-1",))


def test_command_only_for_participants_and_deputy_differs() -> None:
    with pytest.raises(InvalidInput, match="countries not taking part: LBY"):
        operation(command=(Command("LBY", "x.y"),))
    with pytest.raises(InvalidInput, match="deputy must be another person"):
        Command("TUN", "col.hamdi", "col.hamdi")


def test_journal_entries_are_checked_against_their_operation() -> None:
    op = operation()
    assign = JournalEntry("j1", "op1", "assignment", "lt.x", "DZA", "2026-12-07T05:00:00Z", "",
                          {"unit": "u-dz-2", "sector": "s-tun"})
    with pytest.raises(InvalidInput, match="sector 's-tun' is TUN's: only TUN assigns"):
        assign.check_for(op)
    dataclasses.replace(assign, country="TUN").check_for(op)
    with pytest.raises(InvalidInput, match="LBY does not take part"):
        JournalEntry("j2", "op1", "note", "lt.x", "LBY", "2026-12-07T05:00:00Z", "hello").check_for(op)
    with pytest.raises(Conflict, match="from COM to IPR"):
        JournalEntry("j3", "op1", "status_change", "lt.x", "TUN", "2026-12-07T05:00:00Z", "",
                     {"from": "COM", "to": "IPR"})
    with pytest.raises(InvalidInput, match="names its report"):
        JournalEntry("j4", "op1", "report_link", "lt.x", "TUN", "2026-12-07T05:00:00Z", "", {})
