"""Joint operations on the live websocket (issue 12): each viewer is pushed exactly what they may
see — an operation, its journal lines (only with the operation), patrols and checkpoints — and
told when they lose it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD
from fossatum.api.app import create_app
from fossatum.domain.org import User
from fossatum.log import kinds
from fossatum.node import Node
from fossatum.schemas import OperationIn, SectionIn
from operations_fixtures import AREA, operation_body

pytestmark = pytest.mark.both_backends


def _token(client: TestClient, username: str) -> str:
    return str(client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
               .json()["access_token"])


def _next(ws, kind: str, limit: int = 30) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == kind:
            return dict(message)
    raise AssertionError(f"no {kind} message")


def _until(ws, kind: str, object_id: str, limit: int = 30) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every message up to the first `kind` message about `object_id` (a marker), that one included."""
    seen = []
    for _ in range(limit):
        message = ws.receive_json()
        seen.append(message)
        if message["type"] == kind and object_id in json.dumps(message):
            return seen
    raise AssertionError(f"no {kind} message about {object_id}")


@pytest.fixture
def app_client(node: Node) -> Iterator[TestClient]:
    node.add_section(actor=None, spec=SectionIn.model_validate(
        {"id": "TUN-DZA-07", "name": "Chaambi", "geometry": AREA, "audience": {"scope": "all_partners"}}),
        owner_agency="TN-GN")
    with TestClient(create_app(node)) as client:
        yield client


def test_an_operation_and_its_journal_reach_the_participants_live_and_no_one_else(app_client: TestClient) -> None:
    amira = {"Authorization": f"Bearer {_token(app_client, 'amira')}"}
    with app_client.websocket_connect("/api/v1/live") as karim_ws, app_client.websocket_connect("/api/v1/live") as omar_ws:
        karim_ws.send_json({"type": "auth", "token": _token(app_client, "karim")})
        omar_ws.send_json({"type": "auth", "token": _token(app_client, "omar")})
        _next(karim_ws, "hello")
        _next(omar_ws, "hello")
        op = app_client.post("/api/v1/operations", headers=amira, json=operation_body()).json()
        assert _next(karim_ws, "operation")["operation"]["id"] == op["id"]
        line = app_client.post(f"/api/v1/operations/{op['id']}/journal", headers=amira,
                               json={"kind": "note", "text": "cordon in place"}).json()
        got = _next(karim_ws, "journal")["entry"]
        assert got["id"] == line["id"] and got["text"] == "cordon in place"
        # Libya hears nothing of it: the first thing it gets is a checkpoint shared with it
        marker = app_client.post("/api/v1/checkpoints", headers=amira, json={
            "name": "Marker", "location": {"lat": 35.2, "lon": 8.6}, "section": "TUN-DZA-07", "operator": "TUN",
            "partners": ["LBY"]}).json()
        seen = _until(omar_ws, "checkpoint", marker["id"])
        assert op["id"] not in json.dumps(seen) and "cordon in place" not in json.dumps(seen)
        # cancelling: Algeria is told it lost the operation, and does not get the status line
        app_client.patch(f"/api/v1/operations/{op['id']}", headers=amira, json={"status": "CANCLD"})
        seen = _until(karim_ws, "operation.removed", op["id"])
        assert not [m for m in seen if m["type"] == "journal"]


def test_a_journal_line_is_never_pushed_wider_than_its_operation(node: Node, app_client: TestClient,
                                                                  users: dict[str, User]) -> None:
    amira = users["amira"]
    national = node.create_operation(actor=amira, spec=OperationIn.model_validate(
        operation_body(participants=[], sectors=[], command={})))
    with app_client.websocket_connect("/api/v1/live") as karim_ws:
        karim_ws.send_json({"type": "auth", "token": _token(app_client, "karim")})
        _next(karim_ws, "hello")
        # a line whose own audience names Algeria, in an operation Algeria may not see (written
        # under the service: the push must hold on containment alone)
        audience = {"owner_agency": "TN-GN", "owner_country": "TUN", "scope": "partners", "partners": ["DZA"],
                    "releasable_to": ["DZA", "TUN"], "tlp": "AMBER"}
        doc = {"id": "j-stray", "operation": national["id"], "kind": "note", "author": "amira", "country": "TUN",
               "at": "2026-12-06T06:00:00.000000Z", "text": "should stay home", "details": {},
               "owner_agency": "TN-GN", "owner_country": "TUN", "audience": audience}
        with node.store.transaction() as tx:
            tx.append(ts=doc["at"], author="amira", kind=kinds.JOURNAL_WRITTEN, payload=doc, audience=audience)
        marker = app_client.post("/api/v1/operations", headers={"Authorization": f"Bearer {_token(app_client, 'amira')}"},
                                 json=operation_body()).json()
        seen = _until(karim_ws, "operation", marker["id"])
        assert "should stay home" not in json.dumps(seen)
    # and no read path shows it either
    karim = users["karim"]
    assert node.operations(viewer=karim) == [node.operation(viewer=karim, operation_id=marker["id"])]


def test_patrols_and_checkpoints_go_live_and_narrowing_removes_them(app_client: TestClient) -> None:
    amira = {"Authorization": f"Bearer {_token(app_client, 'amira')}"}
    with app_client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"type": "auth", "token": _token(app_client, "karim")})
        _next(ws, "hello")
        patrol = app_client.post("/api/v1/patrols", headers=amira, json={
            "code": "JP", "name": "Joint patrol", "countries": ["DZA"],
            "route": [{"name": "A", "lat": 35.1, "lon": 8.5}, {"name": "B", "lat": 35.2, "lon": 8.6}],
            "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T11:00:00Z"}).json()
        assert _next(ws, "patrol")["patrol"]["id"] == patrol["id"]
        app_client.patch(f"/api/v1/patrols/{patrol['id']}", headers=amira, json={"countries": []})
        assert _next(ws, "patrol.removed")["id"] == patrol["id"]
        cp = app_client.post("/api/v1/checkpoints", headers=amira, json={
            "name": "Oued Hatab", "location": {"lat": 35.2, "lon": 8.6}, "section": "TUN-DZA-07", "operator": "DZA"})
        assert _next(ws, "checkpoint")["checkpoint"]["id"] == cp.json()["id"]
