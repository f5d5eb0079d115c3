"""The live websocket pushes each viewer exactly what they may see, and alerts duty officers."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD, sighting
from fossatum.api.app import create_app
from fossatum.node import Node

pytestmark = pytest.mark.both_backends


def _token(client: TestClient, username: str) -> str:
    return client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["access_token"]


def _next(ws, kind: str, limit: int = 20) -> dict:
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


@pytest.fixture
def app_client(node: Node) -> TestClient:
    with TestClient(create_app(node)) as client:
        yield client


def test_a_validated_report_reaches_the_partner_viewer_and_not_the_third_country(app_client: TestClient) -> None:
    amira = {"Authorization": f"Bearer {_token(app_client, 'amira')}"}
    with app_client.websocket_connect("/api/v1/live") as karim_ws, app_client.websocket_connect("/api/v1/live") as omar_ws:
        karim_ws.send_json({"type": "auth", "token": _token(app_client, "karim")})
        omar_ws.send_json({"type": "auth", "token": _token(app_client, "omar")})
        assert _next(karim_ws, "hello")["user"]["username"] == "karim"
        assert _next(omar_ws, "hello")["user"]["username"] == "omar"
        national = app_client.post("/api/v1/reports", headers=amira, json=sighting(audience={"scope": "national"})).json()
        report = app_client.post("/api/v1/reports", headers=amira,
                                 json=sighting(audience={"scope": "partners", "partners": ["DZA"]})).json()
        app_client.post(f"/api/v1/reports/{report['id']}/validate", headers=amira)
        got = _next(karim_ws, "report")
        assert got["report"]["id"] == report["id"] and got["report"]["state"] == "validated"
        # Omar gets nothing about either report: the next thing he sees is a marker we send him.
        marker = app_client.post("/api/v1/reports", headers=amira, json=sighting(audience={"scope": "all_partners"})).json()
        app_client.post(f"/api/v1/reports/{marker['id']}/validate", headers=amira)
        first = _next(omar_ws, "report")
        assert first["report"]["id"] == marker["id"]
        assert national["id"] not in json.dumps(first)


def test_narrowing_sends_removed_to_who_saw_it(app_client: TestClient) -> None:
    amira = {"Authorization": f"Bearer {_token(app_client, 'amira')}"}
    report = app_client.post("/api/v1/reports", headers=amira, json=sighting(audience={"scope": "all_partners"})).json()
    app_client.post(f"/api/v1/reports/{report['id']}/validate", headers=amira)
    with app_client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"type": "auth", "token": _token(app_client, "karim")})
        _next(ws, "hello")
        app_client.patch(f"/api/v1/reports/{report['id']}", headers=amira, json={"audience": {"scope": "national"}})
        assert _next(ws, "report.removed")["id"] == report["id"]


def test_an_urgent_flag_alerts_every_duty_officer_who_may_see_it(app_client: TestClient) -> None:
    sami = {"Authorization": f"Bearer {_token(app_client, 'sami')}"}
    report = app_client.post("/api/v1/reports", headers=sami, json=sighting()).json()
    with app_client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"type": "auth", "token": _token(app_client, "youssef")})
        _next(ws, "hello")
        flagged = app_client.post(f"/api/v1/reports/{report['id']}/urgent", headers=sami,
                                  json={"urgent": True, "note": "shots heard"})
        assert flagged.status_code == 200 and flagged.json()["urgent"] is True
        alert = _next(ws, "alert")["alert"]
        assert alert["report_id"] == report["id"] and alert["note"] == "shots heard" and alert["by"] == "sami"


def test_triage_claim_shows_who_handles_a_report(app_client: TestClient) -> None:
    sami = {"Authorization": f"Bearer {_token(app_client, 'sami')}"}
    amira = {"Authorization": f"Bearer {_token(app_client, 'amira')}"}
    report = app_client.post("/api/v1/reports", headers=sami, json=sighting()).json()
    claimed = app_client.post(f"/api/v1/reports/{report['id']}/claim", headers=amira).json()
    assert claimed["handler"] == "amira"
    assert app_client.post(f"/api/v1/reports/{report['id']}/claim", headers=sami).status_code == 403
    assert app_client.post(f"/api/v1/reports/{report['id']}/unclaim", headers=amira).json()["handler"] is None


def test_a_socket_that_does_not_authenticate_is_closed(app_client: TestClient) -> None:
    with app_client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"type": "auth", "token": "forged"})
        message = ws.receive_json()
        assert message["type"] == "error"


def test_field_alerts_and_chat_go_live_to_exactly_who_may_see_them(node: Node, app_client: TestClient) -> None:
    from fossatum.domain.geo import Position

    sami = node.store.user("sami")
    here = Position(35.2, 8.6)
    with app_client.websocket_connect("/api/v1/live") as youssef_ws, \
            app_client.websocket_connect("/api/v1/live") as karim_ws:
        youssef_ws.send_json({"type": "auth", "token": _token(app_client, "youssef")})
        karim_ws.send_json({"type": "auth", "token": _token(app_client, "karim")})
        _next(youssef_ws, "hello")
        _next(karim_ws, "hello")
        node.post_chat(actor=sami, message_id="m1", room="GN patrols", text="agency only", position=here,
                       sender_uid="ANDROID-SAMI", callsign="GN-7")
        node.raise_alert(actor=sami, uid="gn-911", kind="911", position=here, callsign="GN-7")
        got = youssef_ws.receive_json()  # youssef (TN-ARMY) is not sent the TN-GN room's message
        assert got["type"] == "field_alert", got
        raised = got["alert"]
        assert (raised["uid"], raised["state"], raised["callsign"]) == ("gn-911", "raised", "GN-7")
        node.post_chat(actor=sami, message_id="m2", room="All Chat Rooms", text="for the country", position=here,
                       sender_uid="ANDROID-SAMI", callsign="GN-7")
        got = youssef_ws.receive_json()
        assert got["type"] == "chat" and got["message"]["text"] == "for the country", got
        node.cancel_alert(actor=sami, uid="gn-911")
        assert _next(youssef_ws, "field_alert")["alert"]["state"] == "cancelled"
        # Karim (Algerian liaison) was sent none of it: the first thing he gets is a report released to him.
        marker = app_client.post("/api/v1/reports", headers={"Authorization": f"Bearer {_token(app_client, 'amira')}"},
                                 json=sighting(audience={"scope": "partners", "partners": ["DZA"]})).json()
        node.transition(actor=node.store.user("amira"), report_id=marker["id"], action="validate")
        first = karim_ws.receive_json()
        assert first["type"] == "report" and first["report"]["id"] == marker["id"], first


def test_responses_and_the_live_handshake_name_the_serving_process(app_client: TestClient) -> None:
    """`X-Fossatum-Worker: <index>; pid=<pid>` (one process here: worker 1), for operators and tests."""
    import os

    named = f"1; pid={os.getpid()}"
    assert app_client.get("/api/v1/health").headers["x-fossatum-worker"] == named
    refused = app_client.get("/api/v1/reports")  # a problem response too
    assert refused.status_code == 401 and refused.headers["x-fossatum-worker"] == named
    with app_client.websocket_connect("/api/v1/live") as ws:
        assert (b"x-fossatum-worker", named.encode()) in [tuple(h) for h in ws.extra_headers or []]


def test_a_partner_viewer_hears_of_a_report_again_only_when_a_version_is_released(app_client: TestClient) -> None:
    """Findings 3 and 9 on the websocket: an amendment, an urgent note or a close reason of a
    report released to Algeria does not reach the Algerian liaison until a release decision."""
    amira = {"Authorization": f"Bearer {_token(app_client, 'amira')}"}
    youssef = {"Authorization": f"Bearer {_token(app_client, 'youssef')}"}
    report = app_client.post("/api/v1/reports", headers=amira,
                             json=sighting(audience={"scope": "partners", "partners": ["DZA"]})).json()
    app_client.post(f"/api/v1/reports/{report['id']}/validate", headers=amira)
    with app_client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"type": "auth", "token": _token(app_client, "karim")})
        _next(ws, "hello")
        rid = report["id"]
        app_client.patch(f"/api/v1/reports/{rid}", headers=amira, json={"description": "unreleased wadi text"})
        app_client.post(f"/api/v1/reports/{rid}/urgent", headers=youssef, json={"urgent": True, "note": "souk note"})
        app_client.post(f"/api/v1/reports/{rid}/close", headers=amira, json={"reason": "burned source"})
        released = app_client.post(f"/api/v1/reports/{rid}/release", headers=amira)
        assert released.status_code == 200, released.text
        got = _next(ws, "report")  # the first thing he hears of it: the released version
        assert got["report"]["version"] == released.json()["version"]
        assert got["report"]["closed_reason"] == "burned source"
