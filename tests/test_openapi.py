"""The OpenAPI document: its committed copy (web/openapi.json, from which the COP page's TypeScript
types are generated) is what the app describes now, and the answers it describes are the real ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from conftest import sighting
from fossatum.api import documents, openapi
from fossatum.domain.geo import Position
from fossatum.domain.org import User
from fossatum.node import Node

COMMITTED = Path(__file__).resolve().parents[1] / "web" / "openapi.json"


def test_the_committed_openapi_document_is_the_app_s() -> None:
    assert COMMITTED.read_text() == openapi.text(), (
        f"web/openapi.json differs from the API's OpenAPI document: regenerate it and the page's types "
        f"with `{openapi.REGENERATE}`, from the repository root")


def test_the_document_is_the_same_every_time() -> None:
    assert openapi.text() == openapi.text()


def _valid(model: type[BaseModel], answer: Any) -> None:
    assert answer.status_code < 300, answer.text
    model.model_validate(answer.json())  # extra="forbid": an undeclared field fails too


def test_the_answers_are_the_documented_ones(node: Node, users: dict[str, User],
                                              client_for: Callable[[str], TestClient]) -> None:
    admin, amira, karim = client_for("admin"), client_for("amira"), client_for("karim")
    here = {"lat": 35.2, "lon": 8.6}
    _valid(documents.Unit, admin.post("/api/v1/units", json={"name": "Patrol Chaambi", "kind": "patrol", "agency": "TN-GN",
                                                             "callsign": "GN-7", "location": here,
                                                             "audience": {"scope": "all_partners"}}))
    square = {"type": "Polygon", "coordinates": [[[8.5, 35.1], [8.7, 35.1], [8.7, 35.3], [8.5, 35.3], [8.5, 35.1]]]}
    section = admin.post("/api/v1/sections", json={"id": "TUN-DZA-99", "name": "Chaambi", "geometry": square,
                                                    "audience": {"scope": "all_partners"}})
    _valid(documents.Section, section)
    _valid(documents.Section, amira.post("/api/v1/sections/TUN-DZA-99/impact", json={"impact": "high", "reason": "clash"}))
    national = amira.post("/api/v1/reports", json=sighting(impact="high"))
    _valid(documents.Report, national)
    shared = amira.post("/api/v1/reports", json=sighting(grade=None, audience={"scope": "partners", "partners": ["DZA"]}))
    report_id = shared.json()["id"]
    for action, body in (("urgent", {"urgent": True, "note": "moving"}), ("claim", None), ("validate", None)):
        _valid(documents.Report, amira.post(f"/api/v1/reports/{report_id}/{action}", json=body))
    node.raise_alert(actor=users["sami"], uid="gn-911", kind="911", position=Position(35.2, 8.6), callsign="GN-7",
                     text="under fire")
    node.raise_alert(actor=users["sami"], uid="gn-old", kind="troops_in_contact", position=Position(35.2, 8.6))
    node.cancel_alert(actor=users["sami"], uid="gn-old")
    node.post_chat(actor=users["sami"], message_id="m1", room="All Chat Rooms", text="road blocked",
                   position=Position(35.2, 8.6), sender_uid="ANDROID-SAMI", callsign="GN-7")
    for client in (amira, karim):  # the owner country's officer, and a partner's liaison officer
        _valid(documents.Me, client.get("/api/v1/me"))
        _valid(documents.NodeInfo, client.get("/api/v1/node"))
        _valid(documents.Taxonomy, client.get("/api/v1/taxonomy"))
        _valid(documents.AgencyList, client.get("/api/v1/agencies"))
        _valid(documents.UnitList, client.get("/api/v1/units"))
        _valid(documents.SectionList, client.get("/api/v1/sections"))
        _valid(documents.FieldAlertList, client.get("/api/v1/alerts?all=1"))
        _valid(documents.ChatList, client.get("/api/v1/chat"))
        _valid(documents.ReportPage, client.get("/api/v1/reports?limit=1"))
        _valid(documents.Report, client.get(f"/api/v1/reports/{report_id}"))
        _valid(documents.ReportList, client.get(f"/api/v1/reports/{report_id}/versions"))
    assert [len(client_for(u).get("/api/v1/alerts?all=1").json()["items"]) for u in ("amira", "karim")] == [2, 0]
    assert len(karim.get("/api/v1/reports").json()["items"]) == 1  # the partner's copy was validated
    _valid(documents.Token, TestClient(amira.app).post("/api/v1/auth/token",
                                                        json={"username": "amira", "password": "correct-horse-1"}))
