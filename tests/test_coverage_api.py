"""GET /api/v1/sections/{id}/coverage (issue 12): coverage gaps computed only from the unit
positions the viewer may see, on both store backends; precise 4xx for bad parameters; the store
reads a time window and a box, not every track."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from fossatum.api import documents
from fossatum.domain.geo import Position
from fossatum.domain.org import User
from fossatum.domain.timeutil import to_text
from fossatum.node import Node
from fossatum.schemas import SectionIn, UnitIn

pytestmark = pytest.mark.both_backends

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
LAT = 35.5
WEST, EAST = 8.30, 8.40  # the section: 9.07 km along the parallel 35.5° N
LINE = {"type": "LineString", "coordinates": [[WEST, LAT], [EAST, LAT]]}


def _unit(node: Node, unit_id: str, audience: dict[str, object]) -> None:
    node.add_unit(actor=None, spec=UnitIn.model_validate({
        "id": unit_id, "name": unit_id, "kind": "patrol", "agency": "TN-GN", "callsign": unit_id.upper(),
        "audience": audience}))


def _drive(node: Node, actor: User, unit_id: str, lon0: float, lon1: float, start: datetime) -> None:
    """Fixes every 2 minutes, about 450 m apart, along the section from lon0 to lon1."""
    steps = round(abs(lon1 - lon0) / 0.005)
    node.move_units(fixes=[(actor, unit_id, Position(LAT, round(lon0 + (lon1 - lon0) * i / steps, 7)),
                            to_text(start + timedelta(minutes=2 * i))) for i in range(steps + 1)])


@pytest.fixture
def ground(node: Node, users: dict[str, User]) -> Node:
    """A section every partner sees; a national unit that drove the west half three hours ago
    and crossed the middle 30 hours ago; a unit released to Algeria that drove the east quarter."""
    node.clock = lambda: NOW
    node.add_section(actor=None, owner_agency="TN-GN", spec=SectionIn.model_validate(
        {"id": "TUN-DZA-50", "name": "Bouchebka", "geometry": LINE, "audience": {"scope": "all_partners"}}))
    node.add_section(actor=None, owner_agency="TN-GN", spec=SectionIn.model_validate(
        {"id": "TUN-ONLY", "name": "Interne", "geometry": LINE, "audience": {"scope": "national"}}))
    _unit(node, "u-national", {"scope": "national"})
    _unit(node, "u-shared", {"scope": "partners", "partners": ["DZA"]})
    amira = users["amira"]
    _drive(node, amira, "u-national", 8.30, 8.35, NOW - timedelta(hours=3))
    node.move_unit(actor=amira, unit_id="u-national", position=Position(LAT, 8.36), at=to_text(NOW - timedelta(hours=30)))
    _drive(node, amira, "u-shared", 8.375, 8.40, NOW - timedelta(hours=2))
    return node


def _gaps(answer: dict[str, object]) -> list[tuple[float, float, str | None]]:
    return [(g["from_m"], g["to_m"], g["since"]) for g in answer["gaps"]]  # type: ignore[attr-defined, index]


def test_each_viewer_sees_the_gaps_left_by_the_positions_it_may_see(
        ground: Node, client_for: Callable[[str], TestClient]) -> None:
    owner = client_for("amira").get("/api/v1/sections/TUN-DZA-50/coverage")
    assert owner.status_code == 200, owner.text
    doc = owner.json()
    documents.SectionCoverage.model_validate(doc)  # the documented answer, nothing undeclared
    assert (doc["section"], doc["hours"], doc["distance_m"]) == ("TUN-DZA-50", 24, 500)
    assert doc["from"] == "2026-12-06T06:00:00.000000Z" and doc["to"] == "2026-12-07T06:00:00.000000Z"
    km = doc["length_m"] / 10  # a tenth of a degree of longitude: 0.005° is km / 20
    # Covered: west half (+500 m), east quarter (-500 m before it); the gap between, last crossed
    # (at 8.36, 30 h ago, within 500 m of the gap's west part) by the national unit.
    [(start, end, since)] = _gaps(doc)
    assert start == pytest.approx(5 * km + 500, abs=1) and end == pytest.approx(7.5 * km - 500, abs=1)
    assert since == "2026-12-06T00:00:00.000000Z"
    # The Algerian liaison officer does not see the national unit: its ground is a gap to him,
    # and nothing tells him it was ever there.
    liaison = client_for("karim").get("/api/v1/sections/TUN-DZA-50/coverage").json()
    [(start, end, since)] = _gaps(liaison)
    assert start == 0.0 and end == pytest.approx(7.5 * km - 500, abs=1) and since is None
    assert liaison["covered_m"] == pytest.approx(2.5 * km + 500, abs=1)
    # The Libyan officer sees the section and no unit: all of it is a gap.
    libyan = client_for("omar").get("/api/v1/sections/TUN-DZA-50/coverage").json()
    assert _gaps(libyan) == [(0.0, pytest.approx(doc["length_m"], abs=0.2), None)] and libyan["covered_fraction"] == 0


def test_the_window_and_the_distance_are_the_asked_ones(ground: Node,
                                                        client_for: Callable[[str], TestClient]) -> None:
    amira = client_for("amira")
    # Two hours back, only the east quarter (driven from 2 h ago) is covered.
    short = amira.get("/api/v1/sections/TUN-DZA-50/coverage", params={"hours": 2}).json()
    [(start, end, since)] = _gaps(short)
    assert start == 0.0 and end == pytest.approx(short["length_m"] * 0.75 - 500, abs=1)
    assert since is not None and since.startswith("2026-12-07T03:")  # the west half, 3 h ago
    # 2 km around the positions: the 2.5 km between the west half and the east quarter close.
    wide = amira.get("/api/v1/sections/TUN-DZA-50/coverage", params={"distance_m": 2000}).json()
    assert wide["distance_m"] == 2000 and wide["gaps"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("hours=0", "hours"), ("hours=169", "hours"), ("hours=1.5", "hours"), ("hours=x", "hours"),
    ("distance_m=49", "distance_m"), ("distance_m=5001", "distance_m"), ("distance_m=", "distance_m"),
])
def test_bad_parameters_are_a_precise_problem(ground: Node, client_for: Callable[[str], TestClient], query: str,
                                              field: str) -> None:
    answer = client_for("amira").get(f"/api/v1/sections/TUN-DZA-50/coverage?{query}")
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field


def test_a_section_the_viewer_may_not_see_is_not_found(ground: Node, client_for: Callable[[str], TestClient]) -> None:
    for path in ("/api/v1/sections/TUN-ONLY/coverage", "/api/v1/sections/NOWHERE/coverage"):
        answer = client_for("karim").get(path)
        assert answer.status_code == 404 and answer.json()["detail"] in ("no section TUN-ONLY", "no section NOWHERE")
    assert client_for("amira").get("/api/v1/sections/TUN-ONLY/coverage").status_code == 200


def test_the_store_reads_a_window_and_a_box_of_the_positions_the_viewer_may_see(
        ground: Node, users: dict[str, User]) -> None:
    amira, karim = users["amira"], users["karim"]
    box = (8.33, 35.49, 8.38, 35.51)
    window = {"since": to_text(NOW - timedelta(hours=24)), "until": to_text(NOW)}
    rows = ground.store.unit_fixes(amira, bbox=box, **window)
    national = [r for r in rows if r[0] == "u-national"]
    # Inside the box, and the last fix before it (its leg ends inside); never the 30-hour-old one.
    assert [r[2] for r in national] == [8.325, 8.33, 8.335, 8.34, 8.345, 8.35]
    assert national[0][4:] == (national[1][1], 8.33, LAT) and national[-1][4:] == (None, None, None)
    assert {r[0] for r in ground.store.unit_fixes(karim, bbox=box, **window)} == {"u-shared"}
    earlier = {"since": to_text(NOW - timedelta(hours=48)), "until": to_text(NOW - timedelta(hours=24))}
    assert [r[1:4] for r in ground.store.unit_fixes(amira, bbox=box, **earlier)] == [
        (to_text(NOW - timedelta(hours=30)), 8.36, LAT)]
    assert ground.store.unit_fixes(karim, bbox=box, **earlier) == []


def test_a_nul_in_the_section_id_is_a_422(ground: Node, client_for: Callable[[str], TestClient]) -> None:
    answer = client_for("amira").get("/api/v1/sections/a%00b/coverage")
    assert answer.status_code == 422 and answer.json()["field"] == "path", answer.text


def test_the_store_reads_the_positions_of_given_units_whole(ground: Node, users: dict[str, User]) -> None:
    window = {"since": to_text(NOW - timedelta(hours=48)), "until": to_text(NOW)}
    rows = ground.store.unit_fixes(users["amira"], units=["u-national"], **window)
    assert {r[0] for r in rows} == {"u-national"} and len(rows) == 12  # the old fix and the 11 of the drive
    assert [r[4] for r in rows[:-1]] == [r[1] for r in rows[1:]]  # each with the next, in time order
    assert ground.store.unit_fixes(users["karim"], units=["u-national"], **window) == []
    assert ground.store.unit_fixes(users["amira"], units=[], **window) == []
    assert {r[0] for r in ground.store.unit_fixes(users["karim"], **window)} == {"u-shared"}
