"""Joint operations through the API at the Tunisian node (issue 12), tried as an attacker would:
a country that does not take part sees nothing, a visiting liaison writes nothing, an officer
of another agency tasks no unit they may not, and every refused command leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fossatum.node import Node
from operations_fixtures import AREA, EAST, OUTSIDE, WEST, operation_body, partners

pytestmark = pytest.mark.both_backends

Clients = Callable[[str], TestClient]


@pytest.fixture
def clients(node: Node, client_for: Clients) -> Clients:
    partners(node, "DZA", "LBY")
    return client_for


def _unit(admin: TestClient, agency: str, name: str = "GN Kasserine", scope: str = "national") -> str:
    answer = admin.post("/api/v1/units", json={"name": name, "kind": "patrol", "agency": agency,
                                               "audience": {"scope": scope}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _create(client: TestClient, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/operations", json=operation_body(**changes))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _log_size(node: Node) -> int:
    return node.store.log_size()


def test_a_duty_officer_plans_an_operation_led_by_their_country(clients: Clients) -> None:
    amira = clients("amira")
    op = _create(amira)
    assert op["lead_country"] == op["owner_country"] == "TUN" and op["status"] == "NST"
    assert op["participants"] == ["DZA", "TUN"] and op["owner_agency"] == "TN-GN"
    assert op["audience"]["scope"] == "partners" and op["audience"]["releasable_to"] == ["DZA", "TUN"]
    assert [s["id"] for s in op["sectors"]] == ["s-east", "s-west"]
    assert amira.get(f"/api/v1/operations/{op['id']}").json() == op
    assert [o["id"] for o in amira.get("/api/v1/operations").json()["items"]] == [op["id"]]


def test_a_country_that_does_not_take_part_sees_nothing(clients: Clients) -> None:
    amira, karim, omar = clients("amira"), clients("karim"), clients("omar")
    op = _create(amira)
    amira.post(f"/api/v1/operations/{op['id']}/journal", json={"kind": "note", "text": "cordon in place at 05:10"})
    # the Algerian liaison (a participant) sees it, its sectors and its journal
    assert karim.get(f"/api/v1/operations/{op['id']}").status_code == 200
    assert len(karim.get(f"/api/v1/operations/{op['id']}/journal").json()["items"]) == 1
    # the Libyan one: as if it did not exist, on every read path
    assert omar.get("/api/v1/operations").json()["items"] == []
    for path in ("", "/journal", "/sectors"):
        answer = omar.get(f"/api/v1/operations/{op['id']}{path}")
        assert answer.status_code == 404, (path, answer.text)
        assert "Cordon" not in answer.text
    # nor can it write into it (not found, not a 403 that would tell it exists)
    assert omar.post(f"/api/v1/operations/{op['id']}/journal", json={"kind": "note", "text": "x"}).status_code == 404


def test_a_national_operation_stays_with_the_lead_country(clients: Clients) -> None:
    amira, karim, youssef = clients("amira"), clients("karim"), clients("youssef")
    op = _create(amira, participants=[], sectors=[], command={})
    assert op["audience"]["scope"] == "national"
    assert youssef.get(f"/api/v1/operations/{op['id']}").status_code == 200  # another Tunisian agency
    assert karim.get(f"/api/v1/operations/{op['id']}").status_code == 404


def test_an_invalid_status_change_is_a_409_naming_the_allowed_ones(node: Node, clients: Clients) -> None:
    amira = clients("amira")
    op = _create(amira)
    before = _log_size(node)
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"status": "PAU"})
    assert answer.status_code == 409
    assert answer.json()["field"] == "status"
    assert "from NST to PAU" in answer.json()["detail"] and "allowed from NST: CANCLD, IPR" in answer.json()["detail"]
    assert _log_size(node) == before  # nothing written
    # a status change with another field: nothing half-applied either
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"name": "Renamed", "status": "COM"})
    assert answer.status_code == 409
    assert amira.get(f"/api/v1/operations/{op['id']}").json()["name"] == "Cordon Chaambi"
    assert _log_size(node) == before


def test_a_status_change_is_journaled_and_final_states_stay_final(clients: Clients) -> None:
    amira = clients("amira")
    op = _create(amira)
    for status in ("IPR", "PAU", "IPR", "COM"):
        answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"status": status})
        assert answer.status_code == 200 and answer.json()["status"] == status
    lines = amira.get(f"/api/v1/operations/{op['id']}/journal").json()["items"]
    assert [(x["kind"], x["details"]) for x in lines] == [
        ("status_change", {"from": "NST", "to": "IPR"}), ("status_change", {"from": "IPR", "to": "PAU"}),
        ("status_change", {"from": "PAU", "to": "IPR"}), ("status_change", {"from": "IPR", "to": "COM"})]
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"status": "IPR"})
    assert answer.status_code == 409 and "none: it is final" in answer.json()["detail"]


def test_cancelling_keeps_the_operation_at_the_lead_only(clients: Clients) -> None:
    amira, karim = clients("amira"), clients("karim")
    op = _create(amira)
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"status": "CANCLD"})
    assert answer.status_code == 200
    assert answer.json()["audience"]["scope"] == "national"
    assert karim.get(f"/api/v1/operations/{op['id']}").status_code == 404
    assert karim.get(f"/api/v1/operations/{op['id']}/journal").status_code == 404
    # a cancelled operation is final: nothing re-widens it
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"participants": ["DZA", "LBY"]})
    assert answer.status_code == 409
    assert amira.post(f"/api/v1/operations/{op['id']}/journal", json={"kind": "note", "text": "x"}).status_code == 409
    assert karim.get(f"/api/v1/operations/{op['id']}").status_code == 404


def test_a_sector_outside_the_area_is_a_422_naming_it_and_nothing_changes(node: Node, clients: Clients) -> None:
    amira = clients("amira")
    op = _create(amira)
    before = _log_size(node)
    sectors = [{"id": "s-east", "name": "Est", "polygon": EAST, "country": "TUN"},
               {"id": "s-north", "name": "Nord", "polygon": OUTSIDE, "country": "DZA"}]
    answer = amira.put(f"/api/v1/operations/{op['id']}/sectors", json={"sectors": sectors})
    assert answer.status_code == 422
    assert answer.json()["field"] == "sectors.s-north.polygon"
    assert "sector 's-north' is not inside the operation area" in answer.json()["detail"]
    assert _log_size(node) == before
    assert [s["id"] for s in amira.get(f"/api/v1/operations/{op['id']}/sectors").json()["items"]] == \
        ["s-east", "s-west"]
    # at creation too
    body = operation_body(sectors=sectors)
    answer = amira.post("/api/v1/operations", json=body)
    assert answer.status_code == 422 and "s-north" in answer.json()["detail"]


def test_sectors_are_replaced_as_a_whole(clients: Clients) -> None:
    amira, karim = clients("amira"), clients("karim")
    op = _create(amira)
    answer = amira.put(f"/api/v1/operations/{op['id']}/sectors",
                       json={"sectors": [{"id": "all", "name": "Tout", "polygon": AREA, "country": "DZA"}]})
    assert answer.status_code == 200, answer.text
    assert [s["id"] for s in answer.json()["items"]] == ["all"]
    assert [s["id"] for s in karim.get(f"/api/v1/operations/{op['id']}/sectors").json()["items"]] == ["all"]
    # a sector of a country that does not take part
    answer = amira.put(f"/api/v1/operations/{op['id']}/sectors",
                       json={"sectors": [{"id": "ly", "name": "Libye", "polygon": WEST, "country": "LBY"}]})
    assert answer.status_code == 422 and answer.json()["field"] == "sectors.ly.country"


def test_a_visiting_liaison_changes_nothing_at_the_lead_s_node(node: Node, clients: Clients) -> None:
    amira, karim = clients("amira"), clients("karim")
    op = _create(amira)
    before = _log_size(node)
    path = f"/api/v1/operations/{op['id']}"
    for answer in (karim.patch(path, json={"name": "Algerian name"}),
                   karim.patch(path, json={"status": "IPR"}),
                   karim.put(f"{path}/sectors", json={"sectors": []}),
                   karim.post(f"{path}/journal", json={"kind": "note", "text": "written at Tunis by Algiers"}),
                   karim.post("/api/v1/operations", json=operation_body())):
        assert answer.status_code == 403, answer.text
        assert "liaison" in answer.json()["detail"]
    assert _log_size(node) == before


def test_only_commanders_and_duty_officers_plan(node: Node, clients: Clients) -> None:
    for user in ("sami", "leila", "admin"):  # field, analyst, node administrator
        assert clients(user).post("/api/v1/operations", json=operation_body()).status_code == 403, user
    op = _create(clients("amira"))
    assert clients("sami").patch(f"/api/v1/operations/{op['id']}", json={"name": "x"}).status_code == 403
    # an analyst keeps the journal; a field user does not write it
    assert clients("leila").post(f"/api/v1/operations/{op['id']}/journal",
                                 json={"kind": "note", "text": "pattern of movement"}).status_code == 201
    assert clients("sami").post(f"/api/v1/operations/{op['id']}/journal",
                                json={"kind": "note", "text": "x"}).status_code == 403


def test_another_agency_s_officer_cannot_task_a_unit(node: Node, clients: Clients) -> None:
    admin, amira, youssef = clients("admin"), clients("amira"), clients("youssef")
    gn_unit = _unit(admin, "TN-GN")
    op = _create(amira)
    before = _log_size(node)
    # the army's duty officer assigns the national guard's unit: refused, nothing written
    answer = youssef.post(f"/api/v1/operations/{op['id']}/journal",
                          json={"kind": "assignment", "details": {"unit": gn_unit, "sector": "s-east"}})
    assert answer.status_code == 403 and "task" in answer.json()["detail"]
    answer = youssef.patch(f"/api/v1/operations/{op['id']}", json={"units": [gn_unit]})
    assert answer.status_code == 403
    answer = youssef.post("/api/v1/operations", json=operation_body(units=[gn_unit]))
    assert answer.status_code == 403
    assert _log_size(node) == before
    assert amira.get(f"/api/v1/operations/{op['id']}").json()["units"] == []
    # its own agency's duty officer may
    answer = amira.post(f"/api/v1/operations/{op['id']}/journal",
                        json={"kind": "assignment", "details": {"unit": gn_unit, "sector": "s-east"}})
    assert answer.status_code == 201, answer.text
    sectors = {s["id"]: s["units"] for s in amira.get(f"/api/v1/operations/{op['id']}/sectors").json()["items"]}
    assert sectors == {"s-east": [gn_unit], "s-west": []}


def test_a_country_assigns_its_units_to_its_own_sectors_only(clients: Clients) -> None:
    admin, amira = clients("admin"), clients("amira")
    gn_unit = _unit(admin, "TN-GN")
    # an Algerian unit registered at the Tunisian centre, shown to every partner
    dz_unit = _unit(admin, "DZ-GN", "GN Tebessa", scope="all_partners")
    op = _create(amira)
    answer = amira.post(f"/api/v1/operations/{op['id']}/journal",
                        json={"kind": "assignment", "details": {"unit": gn_unit, "sector": "s-west"}})
    assert answer.status_code == 422 and "only DZA assigns" in answer.json()["detail"]
    answer = amira.post(f"/api/v1/operations/{op['id']}/journal",
                        json={"kind": "assignment", "details": {"unit": dz_unit, "sector": "s-east"}})
    assert answer.status_code == 403
    answer = amira.post(f"/api/v1/operations/{op['id']}/journal",
                        json={"kind": "assignment", "details": {"unit": "unit-nowhere", "sector": "s-east"}})
    assert answer.status_code == 422 and answer.json()["field"] == "details.unit"


def test_the_lead_document_lists_units_the_actor_may_task(clients: Clients) -> None:
    admin, amira = clients("admin"), clients("amira")
    gn_unit = _unit(admin, "TN-GN")
    sectors = [{"id": "s-east", "name": "Est", "polygon": EAST, "country": "TUN", "units": [gn_unit]}]
    op = _create(amira, units=[gn_unit], sectors=sectors)
    assert op["units"] == [gn_unit] and op["sectors"][0]["units"] == [gn_unit]
    # a unit in a sector that does not take part in the operation
    answer = amira.put(f"/api/v1/operations/{op['id']}/sectors",
                       json={"sectors": [{**sectors[0], "units": ["unit-other"]}]})
    assert answer.status_code == 422


def test_narrowing_refuses_to_orphan_a_sector_and_applies_nothing(node: Node, clients: Clients) -> None:
    amira, karim = clients("amira"), clients("karim")
    op = _create(amira)
    before = _log_size(node)
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"participants": []})
    assert answer.status_code == 422 and "s-west" in answer.json()["detail"]
    assert _log_size(node) == before
    amira.put(f"/api/v1/operations/{op['id']}/sectors", json={"sectors": []})
    amira.patch(f"/api/v1/operations/{op['id']}", json={"command": {}})
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"participants": []})
    assert answer.status_code == 200 and answer.json()["participants"] == ["TUN"]
    assert karim.get(f"/api/v1/operations/{op['id']}").status_code == 404


def test_linked_reports_must_be_visible_and_are_shown_only_to_who_may_see_them(clients: Clients) -> None:
    from conftest import sighting

    amira, karim = clients("amira"), clients("karim")
    national = amira.post("/api/v1/reports", json=sighting()).json()["id"]
    op = _create(amira, reports=[national])
    assert op["reports"] == [national]
    assert karim.get(f"/api/v1/operations/{op['id']}").json()["reports"] == []  # not released to Algeria
    answer = amira.patch(f"/api/v1/operations/{op['id']}", json={"reports": [national, "r-unknown"]})
    assert answer.status_code == 422 and answer.json()["field"] == "reports"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"kind": "raid"}, 422, "kind"),
    ({"extra": 1}, 422, "extra"),
    ({"participants": ["dza"]}, 422, "participants.0"),
    ({"participants": ["MAR"]}, 422, "participants"),  # not on the roster
    ({"area": {"type": "Point", "coordinates": [8.5, 35.1]}}, 422, "area"),
    ({"area": {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.8, 35.0], [8.4, 35.0]]]}}, 422, "area"),
    ({"area": {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.8, 35.0], [8.8, 95.0], [8.4, 35.0]]]}}, 422,
     "area"),
    ({"area": {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.8, 35.0], [8.8, 35.4], [8.4, 35.4]]]}}, 422,
     "area"),  # not closed
    ({"phases": [{"name": "p", "planned_start": "2026-12-07T09:00:00Z", "planned_end": "2026-12-07T05:00:00Z"}]},
     422, "phases.p.planned_end"),
    ({"command": {"LBY": {"commander": "x"}}}, 422, "command"),
    ({"name": "two\nlines"}, 422, "name"),
    ({"sectors": [{"id": "a b", "name": "x", "polygon": AREA, "country": "TUN"}]}, 422, "sectors.0.id"),
])
def test_bad_input_is_a_precise_problem(node: Node, clients: Clients, body: dict[str, Any], status: int,
                                        field: str) -> None:
    before = _log_size(node)
    answer = clients("amira").post("/api/v1/operations", json=operation_body(**body))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field, answer.json()
    assert _log_size(node) == before


def test_bad_requests_on_an_operation(clients: Clients) -> None:
    amira = clients("amira")
    op = _create(amira)
    path = f"/api/v1/operations/{op['id']}"
    malformed = amira.patch(path, content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert amira.patch(path, json={"status": "STARTED"}).json()["field"] == "status"
    assert amira.patch(path, json={"status": "STARTED"}).status_code == 422
    assert amira.patch(path, json={}).status_code == 422
    assert amira.patch(path, json={"area": AREA}).json()["field"] == "area"  # not a field of PATCH
    assert amira.put(f"{path}/sectors", json=[]).status_code == 422
    for body, field in (({"kind": "status_change", "text": "x"}, "kind"),
                        ({"kind": "note", "text": ""}, "text"),
                        ({"kind": "note", "text": "x", "details": {"unit": "u"}}, "details.unit"),
                        ({"kind": "assignment", "details": {"unit": "u"}}, "details"),
                        ({"kind": "report_link", "details": {"report": "r-nowhere"}}, "details.report")):
        answer = amira.post(f"{path}/journal", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.text)
    assert amira.get("/api/v1/operations/op-nowhere").status_code == 404
    assert amira.patch("/api/v1/operations/op-nowhere", json={"name": "x"}).status_code == 404


def test_the_answers_are_the_documented_ones(clients: Clients) -> None:
    from pydantic import BaseModel

    from fossatum.api import documents

    def valid(model: type[BaseModel], answer: Any) -> None:
        assert answer.status_code < 300, answer.text
        model.model_validate(answer.json())  # extra="forbid": an undeclared field fails too

    amira, karim = clients("amira"), clients("karim")
    created = amira.post("/api/v1/operations", json=operation_body())
    valid(documents.Operation, created)
    path = f"/api/v1/operations/{created.json()['id']}"
    valid(documents.JournalLine, amira.post(f"{path}/journal", json={"kind": "decision", "text": "seal the pass"}))
    valid(documents.Operation, amira.patch(path, json={"status": "IPR"}))
    valid(documents.SectorList, amira.put(f"{path}/sectors", json={"sectors": operation_body()["sectors"]}))
    for client in (amira, karim):
        valid(documents.OperationList, client.get("/api/v1/operations"))
        valid(documents.Operation, client.get(path))
        valid(documents.JournalList, client.get(f"{path}/journal"))
        valid(documents.SectorList, client.get(f"{path}/sectors"))


def test_the_tables_are_views_of_the_log(node: Node, clients: Clients) -> None:
    """Rebuilding from the log gives back the same operations, journals, patrols and checkpoints."""
    from fossatum.schemas import SectionIn

    node.add_section(actor=None, spec=SectionIn.model_validate({"id": "S-1", "name": "Chaambi", "geometry": AREA}),
                     owner_agency="TN-GN")
    amira = clients("amira")
    op = _create(amira)
    amira.post(f"/api/v1/operations/{op['id']}/journal", json={"kind": "note", "text": "cordon in place"})
    amira.patch(f"/api/v1/operations/{op['id']}", json={"status": "IPR"})
    cp = amira.post("/api/v1/checkpoints", json={"name": "CP", "location": {"lat": 35.2, "lon": 8.6},
                                                 "section": "S-1", "operator": "TUN"}).json()
    amira.post(f"/api/v1/checkpoints/{cp['id']}/status", json={"status": "closed", "reason": "flood"})
    amira.post("/api/v1/patrols", json={"code": "P", "name": "Patrol", "planned_start": "2026-12-07T05:00:00Z",
                                        "planned_end": "2026-12-07T11:00:00Z",
                                        "route": [{"name": "A", "lat": 35.1, "lon": 8.5},
                                                  {"name": "B", "lat": 35.2, "lon": 8.6}]})
    tables = ("operations", "operation_journal", "patrols", "checkpoints")

    def rows() -> dict[str, list[tuple[Any, ...]]]:
        return {t: sorted(tuple(r) for r in node.store.read(f"SELECT * FROM {t}", system=True)) for t in tables}

    before = rows()
    assert all(before.values())
    node.store.rebuild()
    assert rows() == before
