"""GET /api/v1/operations/{id}.emsi at the Tunisian node (issue 12): the operation as an EMSI
message that validates against standards/emsi.schema.json, holding only what the viewer may see.
A country that does not take part gets the same 404 as for an operation that does not exist; a
participant gets the patrols and units released to it and nothing of the others."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from fossatum.node import Node
from fossatum.schemas import SectionIn
from fossatum.standards import emsi
from operations_fixtures import AREA, operation_body, partners

pytestmark = pytest.mark.both_backends

Clients = Callable[[str], TestClient]
VALIDATOR = Draft202012Validator(json.loads((Path(emsi.__file__).parent / "emsi.schema.json").read_text()))


@pytest.fixture
def clients(node: Node, client_for: Clients) -> Clients:
    partners(node, "DZA", "LBY")
    node.add_section(actor=None, spec=SectionIn.model_validate(
        {"id": "TUN-DZA-07", "name": "Chaambi", "geometry": AREA, "audience": {"scope": "all_partners"}}),
        owner_agency="TN-GN")
    return client_for


def _checkpoint(amira: TestClient, name: str, lat: float, lon: float, partners: list[str]) -> str:
    answer = amira.post("/api/v1/checkpoints", json={"name": name, "location": {"lat": lat, "lon": lon},
                                                     "section": "TUN-DZA-07", "operator": "TUN",
                                                     "partners": partners})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _unit(admin: TestClient, name: str, audience: dict[str, Any], lat: float, lon: float) -> str:
    answer = admin.post("/api/v1/units", json={"name": name, "kind": "patrol", "agency": "TN-GN",
                                               "callsign": name.upper().replace(" ", "-"), "audience": audience,
                                               "location": {"lat": lat, "lon": lon}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _patrol(amira: TestClient, operation_id: str, name: str, units: list[str], countries: list[str]) -> str:
    """A national guard patrol of the operation, through the API (its write rules), joint with
    `countries`: a joint one has a border rendezvous, a national one a plain waypoint."""
    second = ({"name": f"RV {name}", "lat": 35.20, "lon": 8.60, "kind": "rendezvous", "countries": ["DZA", "TUN"],
               "at": "2026-12-07T06:00:00Z"} if countries else {"name": f"WP {name}", "lat": 35.2, "lon": 8.61})
    answer = amira.post("/api/v1/patrols", json={
        "code": name.upper().replace(" ", "-")[:20], "name": name, "operation": operation_id,
        "route": [{"name": "Bouchebka", "lat": 35.17, "lon": 8.62}, second],
        "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T09:00:00Z",
        "countries": countries, "units": units})
    assert answer.status_code == 201, answer.text
    patrol_id = str(answer.json()["id"])
    answer = amira.patch(f"/api/v1/patrols/{patrol_id}", json={"status": "IPR"})
    assert answer.status_code == 200, answer.text
    return patrol_id


@pytest.fixture
def cordon(clients: Clients) -> dict[str, Any]:
    """A Tunisian-Algerian cordon led from Tunis: one national guard patrol released to Algeria
    (on a joint patrol), one kept national (on a national patrol), and the TN sector holding both."""
    admin, amira = clients("admin"), clients("amira")
    shared = _unit(admin, "Faucon 1", {"scope": "partners", "partners": ["DZA"]}, 35.19, 8.62)
    national = _unit(admin, "Faucon 9", {"scope": "national"}, 35.25, 8.70)
    body = operation_body(units=[shared, national])
    body["sectors"][0]["units"] = [shared, national]
    answer = amira.post("/api/v1/operations", json=body)
    assert answer.status_code == 201, answer.text
    op = dict(answer.json())
    assert amira.patch(f"/api/v1/operations/{op['id']}", json={"status": "IPR"}).status_code == 200
    joint = _patrol(amira, op["id"], "Patrouille mixte borne 212", [shared], ["DZA"])
    alone = _patrol(amira, op["id"], "Patrouille GN Semmama", [national], [])
    shared_cp = _checkpoint(amira, "Oued Hatab", 35.21, 8.55, ["DZA"])
    national_cp = _checkpoint(amira, "Col de Semmama", 35.3, 8.7, [])
    _checkpoint(amira, "Kasserine nord", 35.6, 8.9, ["DZA"])  # outside the area, on no route: not the operation's
    answer = amira.post(f"/api/v1/checkpoints/{shared_cp}/status", json={"status": "reinforced",
                                                                          "reason": "armed group 2 km north"})
    assert answer.status_code == 200, answer.text
    return {"id": op["id"], "shared": shared, "national": national, "shared_cp": shared_cp,
            "national_cp": national_cp, "joint": joint, "alone": alone}


def _emsi(client: TestClient, operation_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/operations/{operation_id}.emsi")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    doc = dict(answer.json())
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]
    assert problems == []
    return doc


def test_the_lead_exports_the_whole_operation_as_valid_emsi(clients: Clients, cordon: dict[str, Any]) -> None:
    doc = _emsi(clients("amira"), cordon["id"])
    assert doc["CONTEXT"]["MODE"] == "ACTUAL" and doc["CONTEXT"]["ORIGIN"]["ORG_ID"] == "tn.tn-gn"
    assert doc["CONTEXT"]["ORIGIN"]["USER_ID"] == "amira" and doc["EVENT"]["STATUS"] == "IPR"
    assert doc["EVENT"]["ID"] == cordon["id"] and doc["EVENT"]["EGEO"][0]["TYPE"] == "GEN/CORDON"
    missions = {m["ID"]: m for m in doc["MISSION"]}
    assert set(missions) == {cordon["id"], f"{cordon['id']}/s-east", f"{cordon['id']}/s-west", cordon["joint"],
                             cordon["alone"]}
    assert missions[f"{cordon['id']}/s-east"]["RESOURCE_ID"] == sorted([cordon["shared"], cordon["national"]])
    assert {r["ID"]: r["STATUS"] for r in doc["RESOURCE"]} == {cordon["shared"]: "IN_USE/MOBILE",
                                                              cordon["national"]: "IN_USE/MOBILE"}
    assert all(r["RGEO"][0]["TYPE"] == "CUR" and r["NATIONALITY"] == "TN" for r in doc["RESOURCE"])
    checkpoints = {e["POSITION"]["LOC_ID"]: e["FREETEXT"] for e in doc["EVENT"]["EGEO"] if e["TYPE"] == "GEN/CKPGEN"}
    assert checkpoints == {cordon["shared_cp"]: "checkpoint reinforced: armed group 2 km north; operated by TUN",
                           cordon["national_cp"]: "checkpoint open; operated by TUN"}
    # each export is a message of its own
    assert _emsi(clients("amira"), cordon["id"])["CONTEXT"]["ID"] != doc["CONTEXT"]["ID"]
    # the operation's own route is still the operation's
    assert clients("amira").get(f"/api/v1/operations/{cordon['id']}").json()["id"] == cordon["id"]


def test_a_participant_gets_only_what_was_released_to_it(clients: Clients, cordon: dict[str, Any]) -> None:
    doc = _emsi(clients("karim"), cordon["id"])  # the Algerian liaison
    assert doc["CONTEXT"]["ORIGIN"]["ORG_ID"] == "dz.dz-gn"
    assert [r["ID"] for r in doc["RESOURCE"]] == [cordon["shared"]]
    assert {m["ID"] for m in doc["MISSION"]} == {cordon["id"], f"{cordon['id']}/s-east", f"{cordon['id']}/s-west",
                                                 cordon["joint"]}
    text = json.dumps(doc, ensure_ascii=False)
    for hidden in (cordon["national"], "Faucon 9", "FAUCON-9", cordon["alone"], "Semmama", "WP ",
                   cordon["national_cp"]):
        assert hidden not in text, hidden
    assert [e["POSITION"]["LOC_ID"] for e in doc["EVENT"]["EGEO"] if e["TYPE"] == "GEN/CKPGEN"] == [
        cordon["shared_cp"]]


def test_a_country_that_does_not_take_part_gets_a_404_like_for_nothing(clients: Clients,
                                                                       cordon: dict[str, Any]) -> None:
    omar = clients("omar")  # the Libyan liaison
    answer = omar.get(f"/api/v1/operations/{cordon['id']}.emsi")
    nothing = omar.get("/api/v1/operations/op-nowhere.emsi")
    assert answer.status_code == nothing.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["title"] == nothing.json()["title"]
    for trace in ("Cordon", "CHAAMBI", cordon["shared"], cordon["joint"]):
        assert trace not in answer.text
    assert clients("amira").get("/api/v1/operations/op-nowhere.emsi").status_code == 404


def test_an_exercise_is_exported_in_mode_exercs(clients: Clients) -> None:
    amira = clients("amira")
    answer = amira.post("/api/v1/operations", json=operation_body(code="CHAAMBI-EX-26", exercise=True))
    assert answer.status_code == 201, answer.text
    doc = _emsi(amira, answer.json()["id"])
    assert doc["CONTEXT"]["MODE"] == "EXERCS" and doc["EVENT"]["STATUS"] == "NST"
    assert _emsi(clients("karim"), answer.json()["id"])["CONTEXT"]["MODE"] == "EXERCS"


def test_a_cancelled_operation_is_a_cancel_message_at_the_lead_and_gone_elsewhere(
        clients: Clients, cordon: dict[str, Any]) -> None:
    amira, karim = clients("amira"), clients("karim")
    assert amira.patch(f"/api/v1/operations/{cordon['id']}", json={"status": "CANCLD"}).status_code == 200
    doc = _emsi(amira, cordon["id"])
    assert doc["CONTEXT"]["MSGTYPE"] == "CANCEL" and doc["MISSION"][0]["STATUS"] == "CANCLD"
    assert karim.get(f"/api/v1/operations/{cordon['id']}.emsi").status_code == 404


def test_without_a_session_nothing_is_exported(client_for: Clients, cordon: dict[str, Any], node: Node) -> None:
    from fossatum.api.app import create_app

    with TestClient(create_app(node)) as anonymous:
        assert anonymous.get(f"/api/v1/operations/{cordon['id']}.emsi").status_code == 401
