"""Joint patrols and checkpoints as frozen domain types (domain/patrol.py, domain/checkpoint.py):
documents round-trip exactly, a rendezvous names two taking-part countries within the schedule,
and a checkpoint's status changes carry a reason and land in its history in order."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fossatum.domain.checkpoint import JOINT, Checkpoint, CheckpointStatus, StatusChange
from fossatum.domain.operation import TRANSITIONS, MissionStatus
from fossatum.domain.patrol import Patrol, Waypoint, WaypointKind
from fossatum.errors import Conflict, InvalidInput

START, END = "2026-12-07T04:00:00.000000Z", "2026-12-07T10:00:00.000000Z"
ROUTE = (Waypoint("Haidra", 8.45, 35.57), Waypoint("BR-1", 8.30, 35.50, WaypointKind.RENDEZVOUS, ("TUN", "DZA"),
                                                   at="2026-12-07T06:00:00.000000Z"),
         Waypoint("CP Bouchebka", 8.39, 35.17, WaypointKind.CHECKPOINT, checkpoint="cp1"))


def patrol(**changes: Any) -> Patrol:
    base: dict[str, Any] = {
        "id": "p1", "code": "JP-26-07", "name": "Patrouille mixte Haidra", "operation": "op1", "route": ROUTE,
        "planned_start": START, "planned_end": END, "status": MissionStatus.NOT_STARTED, "countries": ("TUN", "DZA"),
        "units": ("u-tn-1", "u-dz-1"), "owner_agency": "TN-GN", "owner_country": "TUN",
        "audience": {"scope": "partners", "partners": ["DZA"]}, "created_by": "lt.x", "updated_at": START,
    }
    base.update(changes)
    return Patrol(**base)


def checkpoint(**changes: Any) -> Checkpoint:
    base: dict[str, Any] = {
        "id": "cp1", "name": "Bouchebka", "point": {"type": "Point", "coordinates": [8.39, 35.17]}, "section": "s1",
        "operator": JOINT, "status": CheckpointStatus.OPEN, "reason": "", "history": (), "units": ("u-tn-1",),
        "owner_agency": "TN-GN", "owner_country": "TUN", "audience": {"scope": "national"}, "created_by": "lt.x",
        "updated_at": START,
    }
    base.update(changes)
    return Checkpoint(**base)


_minutes = st.integers(min_value=0, max_value=359).map(lambda m: f"2026-12-07T{4 + m // 60:02d}:{m % 60:02d}:00.000000Z")
_coords = st.tuples(st.floats(-180, 180, allow_nan=False), st.floats(-90, 90, allow_nan=False))


@st.composite
def patrols(draw: st.DrawFn) -> Patrol:
    points = []
    for i, (lon, lat) in enumerate(draw(st.lists(_coords, min_size=2, max_size=6))):
        kind = draw(st.sampled_from(list(WaypointKind)))
        points.append(Waypoint(f"w{i}", lon, lat, kind, ("DZA", "TUN") if kind is WaypointKind.RENDEZVOUS else (),
                               f"cp{i}" if kind is WaypointKind.CHECKPOINT else None,
                               draw(st.sampled_from([None, draw(_minutes)])) if kind is WaypointKind.RENDEZVOUS
                               else None))
    return patrol(route=tuple(points), status=draw(st.sampled_from(list(MissionStatus))),
                  units=tuple(draw(st.permutations(sorted(draw(st.sets(st.text("abc123", min_size=1), max_size=4)))))),
                  extra=draw(st.sampled_from([{}, {"later": [1]}])))


@given(patrols())
def test_a_patrol_round_trips_exactly(p: Patrol) -> None:
    doc = p.to_doc()
    assert Patrol.from_doc(doc) == p and Patrol.from_doc(doc).to_doc() == doc
    assert p.line()["coordinates"] == [[w["lon"], w["lat"]] for w in doc["route"]]  # driving order kept


def test_a_rendezvous_names_two_taking_part_countries_within_the_schedule() -> None:
    with pytest.raises(InvalidInput, match="names the two countries"):
        Waypoint("BR", 8.3, 35.5, WaypointKind.RENDEZVOUS, ("TUN",))
    lby = (ROUTE[0], Waypoint("BR", 8.3, 35.5, WaypointKind.RENDEZVOUS, ("TUN", "LBY")))
    with pytest.raises(InvalidInput, match="names LBY, which does not take part") as c:
        patrol(route=lby)
    assert c.value.field == "route.BR.countries"
    late = (ROUTE[0], Waypoint("BR", 8.3, 35.5, WaypointKind.RENDEZVOUS, ("TUN", "DZA"), at="2026-12-07T11:00:00Z"))
    with pytest.raises(InvalidInput, match="outside the patrol's schedule"):
        patrol(route=late)
    assert patrol().rendezvous() == (ROUTE[1],)


def test_a_patrol_refuses_what_makes_no_sense() -> None:
    with pytest.raises(InvalidInput, match="at least two points"):
        patrol(route=ROUTE[:1])
    with pytest.raises(InvalidInput, match=r"ends \(.*\) before it starts"):
        patrol(planned_start=END, planned_end=START)
    with pytest.raises(InvalidInput, match="owner country LBY does not take part"):
        patrol(owner_country="LBY")
    with pytest.raises(InvalidInput, match="names its checkpoint id"):
        Waypoint("CP", 8.3, 35.5, WaypointKind.CHECKPOINT)
    with pytest.raises(InvalidInput, match="out of range"):
        Waypoint("X", 8.3, 95.0)


@pytest.mark.parametrize(("current", "new"), [(a, b) for a in MissionStatus for b in MissionStatus])
def test_patrol_status_follows_the_emsi_table(current: MissionStatus, new: MissionStatus) -> None:
    p = patrol(status=current)
    if new in TRANSITIONS[current]:
        assert p.with_status(new.value, now=END).status is new
    else:
        with pytest.raises(Conflict, match="patrol"):
            p.with_status(new.value, now=END)


@given(st.lists(st.tuples(st.sampled_from(list(CheckpointStatus)), st.sampled_from(["", "flood", "threat"])),
                max_size=6), st.permutations(["u1", "u2", "u3"]))
def test_a_checkpoint_round_trips_exactly_through_its_changes(changes: list[Any], units: list[str]) -> None:
    cp = checkpoint(units=tuple(units))
    for i, (status, reason) in enumerate(changes):
        try:
            cp = cp.with_status(status.value, reason, by="lt.x", at=f"2026-12-07T05:{i:02d}:00Z")
        except (InvalidInput, Conflict):
            continue
    doc = cp.to_doc()
    assert Checkpoint.from_doc(doc) == cp and Checkpoint.from_doc(doc).to_doc() == doc
    assert doc["units"] == ["u1", "u2", "u3"]


def test_a_checkpoint_status_change_has_a_reason_and_a_history() -> None:
    cp = checkpoint()
    with pytest.raises(InvalidInput, match="a checkpoint closed needs a reason") as c:
        cp.with_status("closed", " ", by="lt.x", at="2026-12-07T05:00:00Z")
    assert c.value.field == "history.reason"
    closed = cp.with_status("closed", "flooded wadi", by="lt.x", at="2026-12-07T05:00:00Z")
    reinforced = closed.with_status("reinforced", "armed convoy reported", by="cdt.y", at="2026-12-07T06:00:00Z")
    assert [h.status for h in reinforced.history] == [CheckpointStatus.CLOSED, CheckpointStatus.REINFORCED]
    assert reinforced.status is CheckpointStatus.REINFORCED and reinforced.updated_at == "2026-12-07T06:00:00.000000Z"
    with pytest.raises(Conflict, match="already reinforced"):
        reinforced.with_status("reinforced", "armed convoy reported", by="cdt.y", at="2026-12-07T07:00:00Z")
    with pytest.raises(Conflict, match="after 2026-12-07T05:30"):
        reinforced.with_status("open", "", by="cdt.y", at="2026-12-07T05:30:00Z")
    with pytest.raises(InvalidInput, match="unknown value 'shut'"):
        cp.with_status("shut", "x", by="lt.x", at="2026-12-07T05:00:00Z")


def test_a_checkpoint_refuses_what_makes_no_sense() -> None:
    with pytest.raises(InvalidInput, match="ISO 3166"):
        checkpoint(operator="both")
    assert checkpoint(operator="DZA").operator == "DZA"
    with pytest.raises(InvalidInput, match="GeoJSON Point"):
        checkpoint(point={"type": "Point", "coordinates": [8.39]})
    with pytest.raises(InvalidInput, match="last change is not the current status"):
        checkpoint(history=(StatusChange(CheckpointStatus.CLOSED, "flood", "lt.x", START),))
    with pytest.raises(InvalidInput, match="order things happened"):
        checkpoint(status="closed", reason="b", history=(StatusChange(CheckpointStatus.CLOSED, "a", "x", END),
                                                         StatusChange(CheckpointStatus.CLOSED, "b", "x", START)))
