"""Joint patrols through the API at the Tunisian node (issue 12): shared with the countries taking
part, status changes along EMSI's transitions, units tasked only by whom may task them, and every
refused command leaving nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fossatum.node import Node
from fossatum.schemas import SectionIn
from operations_fixtures import AREA, operation_body, partners

pytestmark = pytest.mark.both_backends

Clients = Callable[[str], TestClient]


@pytest.fixture
def clients(node: Node, client_for: Clients) -> Clients:
    partners(node, "DZA", "LBY")
    node.add_section(actor=None, spec=SectionIn.model_validate(
        {"id": "TUN-DZA-07", "name": "Chaambi", "geometry": AREA, "audience": {"scope": "all_partners"}}),
        owner_agency="TN-GN")
    return client_for


ROUTE = [
    {"name": "Kasserine", "lat": 35.17, "lon": 8.83},
    {"name": "RV Bouchebka", "lat": 35.18, "lon": 8.45, "kind": "rendezvous", "countries": ["TUN", "DZA"],
     "at": "2026-12-07T07:00:00Z"},
    {"name": "Thala", "lat": 35.57, "lon": 8.67},
]


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"code": "JP-26-07", "name": "Patrouille conjointe Bouchebka", "route": ROUTE,
                            "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T11:00:00Z",
                            "countries": ["DZA"]}
    base.update(changes)
    return base


def create(client: TestClient, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/patrols", json=body(**changes))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_joint_patrol_is_shared_with_the_countries_taking_part(clients: Clients) -> None:
    amira, karim, omar = clients("amira"), clients("karim"), clients("omar")
    patrol = create(amira)
    assert patrol["countries"] == ["DZA", "TUN"] and patrol["status"] == "NST" and patrol["owner_country"] == "TUN"
    assert patrol["route"][1] == {**ROUTE[1], "countries": ["DZA", "TUN"], "at": "2026-12-07T07:00:00.000000Z"}
    assert karim.get(f"/api/v1/patrols/{patrol['id']}").json() == patrol
    assert omar.get(f"/api/v1/patrols/{patrol['id']}").status_code == 404
    assert omar.get("/api/v1/patrols").json()["items"] == []
    national = create(amira, countries=[], route=[ROUTE[0], ROUTE[2]])
    assert karim.get(f"/api/v1/patrols/{national['id']}").status_code == 404


def test_status_changes_follow_emsi_transitions(node: Node, clients: Clients) -> None:
    amira = clients("amira")
    patrol = create(amira)
    path = f"/api/v1/patrols/{patrol['id']}"
    before = node.store.log_size()
    answer = amira.patch(path, json={"status": "COM"})
    assert answer.status_code == 409 and "allowed from NST: CANCLD, IPR" in answer.json()["detail"]
    answer = amira.patch(path, json={"name": "Renamed", "status": "PAU"})
    assert answer.status_code == 409
    assert node.store.log_size() == before
    assert amira.get(path).json()["name"] == patrol["name"]
    for status in ("IPR", "PAU", "IPR", "COM"):
        assert amira.patch(path, json={"status": status}).json()["status"] == status
    assert amira.patch(path, json={"status": "IPR"}).status_code == 409
    assert amira.patch(path, json={"status": "ongoing"}).status_code == 422


def test_who_may_change_a_patrol(node: Node, clients: Clients) -> None:
    amira, karim, sami, youssef = clients("amira"), clients("karim"), clients("sami"), clients("youssef")
    patrol = create(amira)
    path = f"/api/v1/patrols/{patrol['id']}"
    before = node.store.log_size()
    answer = karim.patch(path, json={"status": "IPR"})  # the Algerian liaison at Tunis
    assert answer.status_code == 403 and "liaison" in answer.json()["detail"]
    assert karim.post("/api/v1/patrols", json=body()).status_code == 403
    assert sami.patch(path, json={"status": "IPR"}).status_code == 403  # a field user
    assert sami.post("/api/v1/patrols", json=body()).status_code == 403
    assert node.store.log_size() == before
    assert youssef.patch(path, json={"status": "IPR"}).status_code == 200  # a duty officer of the country


def test_units_are_tasked_by_whom_may_task_them(node: Node, clients: Clients) -> None:
    admin, amira, youssef = clients("admin"), clients("amira"), clients("youssef")
    unit = admin.post("/api/v1/units", json={"name": "GN Kasserine", "kind": "patrol", "agency": "TN-GN",
                                             "audience": {"scope": "national"}}).json()["id"]
    before = node.store.log_size()
    assert youssef.post("/api/v1/patrols", json=body(units=[unit])).status_code == 403
    assert node.store.log_size() == before
    patrol = create(amira, units=[unit])
    assert patrol["units"] == [unit]
    assert clients("karim").get(f"/api/v1/patrols/{patrol['id']}").json()["units"] == []  # a national unit
    assert youssef.patch(f"/api/v1/patrols/{patrol['id']}", json={"units": [unit, "unit-nowhere"]}).status_code == 422


def test_narrowing_the_countries_hides_it_and_a_rendezvous_keeps_its_countries(clients: Clients) -> None:
    amira, karim = clients("amira"), clients("karim")
    patrol = create(amira)
    path = f"/api/v1/patrols/{patrol['id']}"
    answer = amira.patch(path, json={"countries": []})  # the rendezvous names Algeria
    assert answer.status_code == 422 and answer.json()["field"] == "route.RV Bouchebka.countries"
    answer = amira.patch(path, json={"countries": [], "route": [ROUTE[0], ROUTE[2]]})
    assert answer.status_code == 200 and answer.json()["audience"]["scope"] == "national"
    assert karim.get(path).status_code == 404


def test_links_to_an_operation_and_checkpoints_must_be_visible(node: Node, clients: Clients) -> None:
    amira, youssef = clients("amira"), clients("youssef")
    op = amira.post("/api/v1/operations", json=operation_body(participants=[], sectors=[], command={})).json()
    cp = amira.post("/api/v1/checkpoints", json={"name": "Oued Hatab", "location": {"lat": 35.2, "lon": 8.6},
                                                 "section": "TUN-DZA-07", "operator": "TUN"}).json()
    route = [*ROUTE, {"name": "CP Oued Hatab", "lat": 35.2, "lon": 8.6, "kind": "checkpoint", "checkpoint": cp["id"]}]
    answer = amira.post("/api/v1/patrols", json=body(operation=op["id"], countries=[], route=[ROUTE[0], *route[2:]]))
    assert answer.status_code == 201, answer.text
    # Algeria does not take part in that operation
    answer = amira.post("/api/v1/patrols", json=body(operation=op["id"], route=route))
    assert answer.status_code == 422 and answer.json()["field"] == "countries"
    for changes, field in (({"operation": "op-nowhere"}, "operation"),
                           ({"route": [*ROUTE, {**route[-1], "checkpoint": "cp-nowhere"}]},
                            "route.CP Oued Hatab.checkpoint")):
        answer = youssef.post("/api/v1/patrols", json=body(**changes))
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


@pytest.mark.parametrize(("changes", "field"), [
    ({"route": [ROUTE[0]]}, "route"),
    ({"route": [ROUTE[0], {**ROUTE[0]}]}, "route"),  # a point name twice
    ({"route": [ROUTE[0], {**ROUTE[2], "lat": 91}]}, "route.Thala.lat"),
    ({"route": [ROUTE[0], {**ROUTE[1], "countries": ["TUN"]}]}, "route.RV Bouchebka.countries"),
    ({"route": [ROUTE[0], {**ROUTE[1], "countries": ["TUN", "LBY"]}]}, "route.RV Bouchebka.countries"),
    ({"route": [ROUTE[0], {**ROUTE[1], "at": "2026-12-08T07:00:00Z"}]}, "route.RV Bouchebka.at"),
    ({"route": [ROUTE[0], {**ROUTE[2], "kind": "checkpoint"}]}, "route.Thala.checkpoint"),
    ({"route": [ROUTE[0], {**ROUTE[2], "kind": "detour"}]}, "route.1.kind"),
    ({"planned_end": "2026-12-07T04:00:00Z"}, "planned_end"),
    ({"planned_start": "tomorrow"}, "planned_start"),
    ({"countries": ["MAR"]}, "countries"),
    ({"status": "IPR"}, "status"),  # a new patrol is not started
])
def test_bad_input_is_a_precise_problem(node: Node, clients: Clients, changes: dict[str, Any], field: str) -> None:
    before = node.store.log_size()
    answer = clients("amira").post("/api/v1/patrols", json=body(**changes))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field, answer.json()
    assert node.store.log_size() == before


def test_bad_requests_on_a_patrol(clients: Clients) -> None:
    amira = clients("amira")
    patrol = create(amira)
    path = f"/api/v1/patrols/{patrol['id']}"
    assert amira.patch(path, content=b"[", headers={"content-type": "application/json"}).status_code == 400
    assert amira.patch(path, json={}).status_code == 422
    assert amira.patch(path, json={"operation": "op-1"}).json()["field"] == "operation"
    assert amira.get("/api/v1/patrols/pa-nowhere").status_code == 404
    assert amira.patch("/api/v1/patrols/pa-nowhere", json={"status": "IPR"}).status_code == 404


def test_the_answers_are_the_documented_ones(clients: Clients) -> None:
    from fossatum.api import documents

    amira, karim = clients("amira"), clients("karim")
    patrol = create(amira)
    documents.Patrol.model_validate(patrol)
    documents.Patrol.model_validate(amira.patch(f"/api/v1/patrols/{patrol['id']}", json={"status": "IPR"}).json())
    for client in (amira, karim):
        documents.PatrolList.model_validate(client.get("/api/v1/patrols").json())
        documents.Patrol.model_validate(client.get(f"/api/v1/patrols/{patrol['id']}").json())
