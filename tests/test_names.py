"""Names are one short line on the way in too (domain/text.py), so that a partner never has to
refuse what this node wrote (tests/federation/test_received_shapes.py): the API answers 422
naming the field; a TAK device's callsign, which nobody checks first, is made a valid name."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from fossatum.domain.text import NAME_MAX, name_problem
from fossatum.node import Node

pytestmark = pytest.mark.both_backends

SQUARE = {"type": "Polygon", "coordinates": [[[8.5, 35.1], [8.6, 35.1], [8.6, 35.2], [8.5, 35.2], [8.5, 35.1]]]}


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/sections", {"id": "s-ctrl", "name": "Kasserine\r\nX-Injected: 1", "geometry": SQUARE}, "name"),
    ("/sections", {"id": "s-bidi", "name": "ok", "terrain": "\u202egnol", "geometry": SQUARE}, "terrain"),
    ("/units", {"name": "P7", "kind": "patrol", "agency": "TN-GN", "callsign": "FAUCON\x1b[2J"}, "callsign"),
    ("/units", {"name": "x" * (NAME_MAX + 1), "kind": "patrol", "agency": "TN-GN"}, "name"),
])
def test_a_name_with_control_characters_is_refused(client_for: Callable[[str], TestClient], path: str,
                                                   body: dict[str, object], field: str) -> None:
    admin = client_for("admin")
    response = admin.post(f"/api/v1{path}", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


def test_markup_and_arabic_are_valid_names(client_for: Callable[[str], TestClient]) -> None:
    admin = client_for("admin")
    name = "<b>\u0648\u0627\u062f \u0633\u0648\u0641</b> \u200f"
    response = admin.post("/api/v1/sections", json={"id": "s-ok", "name": name, "geometry": SQUARE})
    assert response.status_code == 201, response.text
    assert admin.get("/api/v1/sections/s-ok").json()["name"] == name


def test_a_device_callsign_becomes_a_valid_unit_name(node: Node) -> None:
    user = node.store.user("amira")
    unit_id = node.register_device(actor=user, uid="ANDROID-NAMES-1", callsign="FAUCON\n\u202e7\x00" + "y" * 300)
    doc = node.store.unit_doc(user, unit_id)
    assert doc is not None
    unit = json.loads(doc)
    assert name_problem(unit["name"]) is None and name_problem(unit["callsign"]) is None
    assert unit["name"].startswith("FAUCON  7 y")
