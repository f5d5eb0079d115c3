"""Checkpoints through the API at the Tunisian node (issue 12): on a border section the actor may
see, shared with exactly the partners named, status changes kept in the history, and every
refused command leaving nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fossatum.node import Node
from fossatum.schemas import SectionIn
from operations_fixtures import AREA, partners

pytestmark = pytest.mark.both_backends

Clients = Callable[[str], TestClient]


@pytest.fixture
def clients(node: Node, client_for: Clients) -> Clients:
    partners(node, "DZA", "LBY")
    node.add_section(actor=None, spec=SectionIn.model_validate(
        {"id": "TUN-DZA-07", "name": "Chaambi", "geometry": AREA, "audience": {"scope": "all_partners"}}),
        owner_agency="TN-GN")
    # the army's own section, seen by the army only
    node.add_section(actor=None, spec=SectionIn.model_validate(
        {"id": "TUN-ARMY-1", "name": "Zone militaire", "geometry": AREA, "audience": {"scope": "agency"}}),
        owner_agency="TN-ARMY")
    return client_for


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "Oued Hatab track", "location": {"lat": 35.21, "lon": 8.55},
                            "section": "TUN-DZA-07", "operator": "TUN", "partners": ["DZA"]}
    base.update(changes)
    return base


def create(client: TestClient, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/checkpoints", json=body(**changes))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_checkpoint_is_shared_with_the_partners_named(clients: Clients) -> None:
    amira, karim, omar = clients("amira"), clients("karim"), clients("omar")
    cp = create(amira)
    assert cp["point"] == {"type": "Point", "coordinates": [8.55, 35.21]}
    assert cp["status"] == "open" and [h["status"] for h in cp["history"]] == ["open"]
    assert cp["audience"]["releasable_to"] == ["DZA", "TUN"] and cp["owner_agency"] == "TN-GN"
    assert karim.get(f"/api/v1/checkpoints/{cp['id']}").status_code == 200
    assert omar.get(f"/api/v1/checkpoints/{cp['id']}").status_code == 404
    assert omar.get("/api/v1/checkpoints").json()["items"] == []
    assert [c["id"] for c in karim.get("/api/v1/checkpoints").json()["items"]] == [cp["id"]]
    # an Algerian-manned checkpoint is shared with Algeria even if not named; a joint one names its partners
    dz = create(amira, operator="DZA", partners=[])
    assert dz["audience"]["releasable_to"] == ["DZA", "TUN"]
    national = create(amira, partners=[])
    assert karim.get(f"/api/v1/checkpoints/{national['id']}").status_code == 404
    answer = amira.post("/api/v1/checkpoints", json=body(operator="joint", partners=[]))
    assert answer.status_code == 422 and answer.json()["field"] == "partners"


def test_status_changes_are_kept_in_the_history(clients: Clients) -> None:
    amira, karim = clients("amira"), clients("karim")
    cp = create(amira)
    path = f"/api/v1/checkpoints/{cp['id']}/status"
    answer = amira.post(path, json={"status": "reinforced", "reason": "armed group seen 2 km north"})
    assert answer.status_code == 200, answer.text
    amira.post(path, json={"status": "closed", "reason": "flash flood"})
    amira.post(path, json={"status": "open"})
    seen = karim.get(f"/api/v1/checkpoints/{cp['id']}").json()
    assert [(h["status"], h["reason"], h["by"]) for h in seen["history"]] == [
        ("open", "", "amira"), ("reinforced", "armed group seen 2 km north", "amira"), ("closed", "flash flood", "amira"),
        ("open", "", "amira")]
    assert seen["status"] == "open"
    # the same status again is a conflict; closing needs a reason; an unknown status is refused
    assert amira.post(path, json={"status": "open"}).status_code == 409
    answer = amira.post(path, json={"status": "closed", "reason": " "})
    assert answer.status_code == 422 and "reason" in answer.json()["detail"]
    answer = amira.post(path, json={"status": "half-open", "reason": "x"})
    assert answer.status_code == 422 and answer.json()["field"] == "status"


def test_the_team_at_the_checkpoint_sets_its_status_but_others_do_not(node: Node, clients: Clients) -> None:
    amira, sami, leila, karim = clients("amira"), clients("sami"), clients("leila"), clients("karim")
    cp = create(amira)
    path = f"/api/v1/checkpoints/{cp['id']}/status"
    assert sami.post(path, json={"status": "closed", "reason": "vehicle on fire"}).status_code == 200  # field, TN-GN
    before = node.store.log_size()
    assert leila.post(path, json={"status": "open"}).status_code == 403  # an army analyst
    answer = karim.post(path, json={"status": "open"})  # the Algerian liaison at Tunis
    assert answer.status_code == 403 and "liaison" in answer.json()["detail"]
    assert karim.patch(f"/api/v1/checkpoints/{cp['id']}", json={"name": "x"}).status_code == 403
    assert karim.post("/api/v1/checkpoints", json=body()).status_code == 403
    assert sami.patch(f"/api/v1/checkpoints/{cp['id']}", json={"name": "x"}).status_code == 403
    assert node.store.log_size() == before


def test_the_section_must_exist_and_be_visible_to_the_actor(node: Node, clients: Clients) -> None:
    amira, youssef = clients("amira"), clients("youssef")
    before = node.store.log_size()
    for section in ("TUN-NOWHERE", "TUN-ARMY-1"):  # unknown; the army's own, not the guard's
        answer = amira.post("/api/v1/checkpoints", json=body(section=section))
        assert answer.status_code == 422 and answer.json()["field"] == "section", answer.text
        assert "TUN-ARMY-1" not in answer.json()["detail"] or section == "TUN-ARMY-1"
    assert node.store.log_size() == before
    assert youssef.post("/api/v1/checkpoints", json=body(section="TUN-ARMY-1")).status_code == 201


def test_units_are_tasked_by_whom_may_task_them(node: Node, clients: Clients) -> None:
    admin, amira, youssef = clients("admin"), clients("amira"), clients("youssef")
    unit = admin.post("/api/v1/units", json={"name": "GN Fériana", "kind": "checkpoint", "agency": "TN-GN",
                                             "audience": {"scope": "national"}}).json()["id"]
    before = node.store.log_size()
    assert youssef.post("/api/v1/checkpoints", json=body(units=[unit])).status_code == 403
    assert node.store.log_size() == before
    cp = create(amira, units=[unit])
    assert cp["units"] == [unit]
    assert clients("karim").get(f"/api/v1/checkpoints/{cp['id']}").json()["units"] == []  # a national unit
    assert youssef.patch(f"/api/v1/checkpoints/{cp['id']}", json={"units": []}).status_code == 200  # removing
    assert youssef.patch(f"/api/v1/checkpoints/{cp['id']}", json={"units": [unit]}).status_code == 403


def test_narrowing_the_partners_hides_it(clients: Clients) -> None:
    amira, karim = clients("amira"), clients("karim")
    cp = create(amira)
    answer = amira.patch(f"/api/v1/checkpoints/{cp['id']}", json={"partners": []})
    assert answer.status_code == 200 and answer.json()["audience"]["scope"] == "national"
    assert karim.get(f"/api/v1/checkpoints/{cp['id']}").status_code == 404


@pytest.mark.parametrize(("changes", "field"), [
    ({"operator": "tunisia"}, "operator"),
    ({"location": {"lat": 95, "lon": 8.5}}, "location.lat"),
    ({"location": {"mgrs": "not a grid"}}, "location.mgrs"),
    ({"status": "ajar"}, "status"),
    ({"status": "closed"}, "reason"),
    ({"partners": ["MAR"]}, "partners"),
    ({"operator": "MAR", "partners": []}, "partners"),
    ({"colour": "red"}, "colour"),
    ({"section": "a b"}, "section"),
])
def test_bad_input_is_a_precise_problem(node: Node, clients: Clients, changes: dict[str, Any], field: str) -> None:
    before = node.store.log_size()
    answer = clients("amira").post("/api/v1/checkpoints", json=body(**changes))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field, answer.json()
    assert node.store.log_size() == before


def test_bad_requests_on_a_checkpoint(clients: Clients) -> None:
    amira = clients("amira")
    cp = create(amira)
    path = f"/api/v1/checkpoints/{cp['id']}"
    assert amira.post(f"{path}/status", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert amira.patch(path, json={}).status_code == 422
    assert amira.patch(path, json={"status": "closed"}).json()["field"] == "status"  # status has its own command
    assert amira.get("/api/v1/checkpoints/cp-nowhere").status_code == 404
    assert amira.post("/api/v1/checkpoints/cp-nowhere/status", json={"status": "open"}).status_code == 404


def test_the_answers_are_the_documented_ones(clients: Clients) -> None:
    from fossatum.api import documents

    amira, karim = clients("amira"), clients("karim")
    cp = create(amira)
    documents.Checkpoint.model_validate(cp)
    answer = amira.post(f"/api/v1/checkpoints/{cp['id']}/status", json={"status": "closed", "reason": "flood"})
    documents.Checkpoint.model_validate(answer.json())
    documents.Checkpoint.model_validate(amira.patch(f"/api/v1/checkpoints/{cp['id']}", json={"name": "y"}).json())
    for client in (amira, karim):
        documents.CheckpointList.model_validate(client.get("/api/v1/checkpoints").json())
        documents.Checkpoint.model_validate(client.get(f"/api/v1/checkpoints/{cp['id']}").json())
