"""Finding 12 (sections): a border section shown to partners names no unit they may not see
and carries no impact reason.

The Tunisian node adds a section (all partners) whose responsible units include a national
patrol, a patrol released to Algeria and a note written by hand; an analyst raises its impact
with a reason that comes from an informant. Before: the section entry carried both to every
partner node, and the Algerian liaison at the Tunisian centre read them. Now the notes are
node-internal entries: the Algerian node never receives them, and the read paths (REST,
websocket) show them only to whom they concern (policy/redact.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fossatum.api.app import create_app
from fossatum.node import Node
from fossatum.schemas import SectionIn, UnitIn

from .cluster import Cluster

pytestmark = pytest.mark.both_backends

PASSWORD = "correct-horse-1"
REASON = "informant Abu Salem: convoy expected Thursday"
HAND_NOTE = "post 17, Bir el Ater"
LINE = {"type": "LineString", "coordinates": [[8.30, 35.10], [8.45, 35.30]]}


def _setup(cluster: Cluster) -> dict[str, str]:
    tun = cluster.nodes["TUN"]
    tun.add_agency(actor=None, code="DZ-GN", name="Gendarmerie nationale", country="DZA")
    tun.add_user(actor=None, username="karim", agency="DZ-GN", roles=["duty_officer"], password=PASSWORD)
    tun.add_user(actor=None, username="leila", agency="TN-ARMY", roles=["analyst"], password=PASSWORD)
    national = tun.add_unit(actor=None, spec=UnitIn(name="GN patrol 7", kind="patrol", agency="TN-GN"))["id"]
    shared = tun.add_unit(actor=None, spec=UnitIn.model_validate(
        {"name": "GN patrol 9", "kind": "patrol", "agency": "TN-GN",
         "audience": {"scope": "partners", "partners": ["DZA"]}}))["id"]
    tun.add_section(actor=None, owner_agency="TN-GN", spec=SectionIn.model_validate(
        {"id": "TUN-DZA-04", "name": "Chaambi west", "geometry": LINE, "impact": "medium",
         "responsible": {"TUN": [national, shared, HAND_NOTE]}}))
    tun.set_section_impact(actor=cluster.officers["TUN"], section_id="TUN-DZA-04", impact="high", reason=REASON)
    return {"national": national, "shared": shared}


@pytest.fixture
def app(cluster: Cluster) -> Iterator[TestClient]:
    with TestClient(create_app(cluster.nodes["TUN"])) as client:
        yield client


def _login(app: TestClient, username: str) -> dict[str, str]:
    token = app.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_partner_node_never_receives_the_reason_or_the_units(cluster: Cluster) -> None:
    units = _setup(cluster)
    cluster.sync()
    dza: Node = cluster.nodes["DZA"]
    sections = [json.loads(d) for d in dza.store.sections(cluster.officers["DZA"])]
    assert [s["id"] for s in sections] == ["TUN-DZA-04"] and sections[0]["impact"] == "high"
    assert sections[0]["impact_reason"] == "" and sections[0]["responsible"] == {}
    received = " ".join(r[0] for r in dza.store.read("SELECT payload FROM log WHERE origin = ?",
                                                      (cluster.nodes["TUN"].node_id,), system=True))
    for secret in (REASON, HAND_NOTE, units["national"]):  # (the patrol released to Algeria arrives as itself)
        assert secret not in received


def test_the_liaison_at_the_centre_sees_neither_the_reason_nor_hidden_units(cluster: Cluster, app: TestClient) -> None:
    units = _setup(cluster)
    karim = app.get("/api/v1/sections/TUN-DZA-04", headers=_login(app, "karim")).json()
    assert karim["impact"] == "high" and karim["impact_reason"] == ""
    assert karim["responsible"] == {"TUN": [units["shared"]]}  # the one unit released to Algeria
    listed = app.get("/api/v1/sections", headers=_login(app, "karim")).text
    for secret in (REASON, HAND_NOTE, units["national"]):
        assert secret not in listed
    leila = app.get("/api/v1/sections/TUN-DZA-04", headers=_login(app, "leila")).json()
    assert leila["impact_reason"] == REASON
    assert leila["responsible"] == {"TUN": [units["national"], units["shared"], HAND_NOTE]}


def test_the_websocket_gives_the_reason_to_the_owner_country_only(cluster: Cluster, app: TestClient) -> None:
    _setup(cluster)
    with app.websocket_connect("/api/v1/live") as karim_ws, app.websocket_connect("/api/v1/live") as leila_ws:
        karim_ws.send_json({"type": "auth", "token": _login(app, "karim")["Authorization"][7:]})
        leila_ws.send_json({"type": "auth", "token": _login(app, "leila")["Authorization"][7:]})
        assert karim_ws.receive_json()["type"] == "hello" and leila_ws.receive_json()["type"] == "hello"
        answer = app.post("/api/v1/sections/TUN-DZA-04/impact", headers=_login(app, "leila"),
                          json={"impact": "critical", "reason": "second source: " + REASON})
        assert answer.status_code == 200 and answer.json()["impact_reason"].startswith("second source")
        got = {}
        for name, ws in (("karim", karim_ws), ("leila", leila_ws)):
            for _ in range(20):
                message = ws.receive_json()
                if message["type"] == "section":
                    got[name] = message["section"]
                    break
        assert got["karim"]["impact"] == "critical" and got["karim"]["impact_reason"] == ""
        assert got["leila"]["impact_reason"] == "second source: " + REASON


def test_an_old_section_entry_with_notes_is_withheld(cluster: Cluster) -> None:
    """Entries written before the notes moved out (they carry the reason) never cross."""
    _setup(cluster)
    tun = cluster.nodes["TUN"]
    doc = json.loads(tun.store.read_one("SELECT doc FROM sections WHERE id = 'TUN-DZA-04'", system=True)[0])
    with tun.store.transaction() as tx:
        tx.append(ts="2026-11-30T00:00:00.000000Z", author="leila", kind="section.impact_set",
                  payload={**doc, "impact": "low", "impact_reason": REASON}, audience=doc["audience"])
    cluster.sync()
    dza = cluster.nodes["DZA"]
    # Not sent: the partner loses its copy (a revocation) until the next clean entry, never sees the reason.
    assert all(REASON not in d for d in dza.store.sections(cluster.officers["DZA"]))
    assert not any(REASON in r[0] for r in dza.store.read("SELECT payload FROM log", system=True))
    rules = {a["rule"] for a in tun.federation.audit() if a["object_id"] == "TUN-DZA-04"}
    assert any("node-internal notes" in r for r in rules)


def test_tak_devices_get_the_reason_in_the_owner_country_only(cluster: Cluster) -> None:
    """The CoT section event's remarks carried the reason to every device that saw the section."""
    import asyncio

    from cot.harness import Device, has, start

    _setup(cluster)
    tun = cluster.nodes["TUN"]

    async def scenario() -> None:
        server, port = await start(tun)
        try:
            karim = await Device.connect(port, "karim", "ANDROID-KARIM", password=PASSWORD)
            leila = await Device.connect(port, "leila", "ANDROID-LEILA", password=PASSWORD)
            # On connect: the picture as each may see it.
            await leila.wait_for(has("fossatum.section.TUN-DZA-04", REASON))
            await karim.wait_for(has("fossatum.section.TUN-DZA-04"))
            # Pushed on change.
            await asyncio.to_thread(tun.set_section_impact, actor=cluster.officers["TUN"], section_id="TUN-DZA-04",
                                    impact="critical", reason="second source: " + REASON)
            await leila.wait_for(has("fossatum.section.TUN-DZA-04", "second source"))
            await karim.wait_for(has("fossatum.section.TUN-DZA-04", "critical"))
            await karim.settle(0.5)
            assert not any(REASON.encode() in frame for frame in karim.events)
            for device in (karim, leila):
                await device.close()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60))
