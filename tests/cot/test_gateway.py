"""Devices into the node and the picture out to devices, over real loopback sockets."""

from __future__ import annotations

import asyncio
import json

import pytest

from fossatum.node import Node
from fossatum.store.query import ReportQuery

from .harness import Device, event, eventually, has, start

pytestmark = pytest.mark.both_backends


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_self_sa_moves_the_unit_and_a_hostile_marker_files_a_report(node: Node, users) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-PATROL-7")
            await sami.wait_for(has('type="t-x-takp-v"'))
            await sami.send(event("ANDROID-SAMI", "a-f-G-U-C", 35.21, 8.68, callsign="GN-PATROL-7"))
            await sami.send(event("marker-1", "a-h-G", 35.25, 8.70, remarks="six armed men moving west"))
            await eventually(lambda: server.ingest.counts["marker"] == 1 and server.ingest.counts["position"] == 1)
            await sami.close()
        finally:
            await server.stop()

    run(scenario())
    device = node.store.device("ANDROID-SAMI")
    assert device is not None and device["username"] == "sami"
    unit = json.loads(node.store.unit_doc(users["amira"], device["unit_id"]))
    assert unit["position"]["lat"] == 35.21 and unit["owner_agency"] == "TN-GN"
    page = node.reports(viewer=users["amira"], query=ReportQuery())
    docs = [json.loads(d) for d in page.items]
    assert [(d["type"], d["state"], d["author"]) for d in docs] == [("armed_group_sighting", "submitted", "sami")]
    assert "six armed men" in docs[0]["description"]


def _file(node: Node, users, scope: dict, text: str) -> str:
    from conftest import sighting
    from fossatum.schemas import ReportIn

    doc = node.file_report(actor=users["amira"], spec=ReportIn(**sighting(audience=scope, description=text)))
    node.transition(actor=users["amira"], report_id=doc["id"], action="validate")
    return doc["id"]


def test_devices_see_what_their_users_may_see_and_nothing_more(node: Node, users) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            youssef = await Device.connect(port, "youssef", "ANDROID-YOU", callsign="ARMY-2")
            karim = await Device.connect(port, "karim", "ANDROID-KARIM", callsign="DZ-LIAISON")
            for d in (sami, youssef, karim):
                await d.wait_for(has('type="t-x-takp-v"'))
            await sami.send(event("ANDROID-SAMI", "a-f-G-U-C", 35.21, 8.68, callsign="GN-7"))
            # same country, other agency: gets the patrol's position (unit audience: national)
            await youssef.wait_for(has('callsign="GN-7"', 'type="a-f-G-U-U-L"'))
            national = await asyncio.to_thread(_file, node, users, {"scope": "national"}, "national only")
            shared = await asyncio.to_thread(_file, node, users, {"scope": "partners", "partners": ["DZA"]}, "for DZA")
            await youssef.wait_for(has(f"fossatum.report.{national}"))
            await youssef.wait_for(has(f"fossatum.report.{shared}"))
            await karim.wait_for(has(f"fossatum.report.{shared}", "for DZA"))
            await karim.settle(0.5)
            assert f"fossatum.report.{national}" not in karim.uids()
            assert not any(u.startswith("fossatum.unit.") for u in karim.uids())
            assert not any(b"GN-7" in f for f in karim.events)
            # a new device gets the latest state at once, filtered the same way
            late = await Device.connect(port, "omar", "ANDROID-OMAR")
            await late.wait_for(has('type="t-x-takp-v"'))
            await late.settle(0.5)
            assert not any(u.startswith("fossatum.") for u in late.uids())
            late2 = await Device.connect(port, "leila", "ANDROID-LEILA")
            await late2.wait_for(has(f"fossatum.report.{national}"))
            await late2.wait_for(has('callsign="GN-7"'))
            # retraction: who was shown the report is told to delete it
            await asyncio.to_thread(node.transition, actor=users["amira"], report_id=shared, action="retract",
                                    reason="wrong")
            await karim.wait_for(has('type="t-x-d-d"', f"fossatum.report.{shared}"))
            for d in (sami, youssef, karim, late, late2):
                await d.close()
        finally:
            await server.stop()

    run(scenario())


def test_ping_alert_and_chat(node: Node, users) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            amira = await Device.connect(port, "amira", "ANDROID-AMIRA", callsign="OPS")
            await sami.send(event("ANDROID-SAMI-ping", "t-x-c-t"))
            await sami.wait_for(has('type="t-x-c-t-r"', 'uid="takPong"'))
            await sami.send(event("ANDROID-SAMI-9-1-1", "b-a-o-tbl", detail='<emergency type="911 Alert">GN-7</emergency>'))
            # Relayed under an id namespaced by the raising device (no uid can take it over).
            await amira.wait_for(has('type="b-a-o-tbl"', 'uid="ANDROID-SAMI/ANDROID-SAMI-9-1-1"'))
            chat = ('<__chat parent="RootContactGroup" groupOwner="false" messageId="m1" chatroom="All Chat Rooms" '
                    'id="All Chat Rooms" senderCallsign="GN-7"/><remarks>need support</remarks>')
            await sami.send(event("GeoChat.ANDROID-SAMI.All Chat Rooms.m1", "b-t-f", detail=chat))
            await amira.wait_for(has('type="b-t-f"', "need support"))
            await sami.send(event("ANDROID-SAMI-9-1-1", "b-a-o-can", detail='<emergency cancel="true"/>'))
            await amira.wait_for(has('type="b-a-o-can"'))
            await sami.close()
            await amira.close()
        finally:
            await server.stop()

    run(scenario())
    assert [json.loads(d)["text"] for d in node.store.chat(users["youssef"])] == ["need support"]
    assert node.store.chat(users["karim"]) == []
    assert node.store.alerts(users["amira"]) == []  # cancelled
    assert json.loads(node.store.alerts(users["amira"], active_only=False)[0])["state"] == "cancelled"


def test_protocol_v1_after_negotiation(node: Node, users) -> None:
    from fossatum.cot.framing import ProtoFramer, to_proto

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            await sami.wait_for(has('type="t-x-takp-v"'))
            request = event("ANDROID-SAMI", "t-x-takp-q", detail='<TakControl><TakRequest version="1"/></TakControl>')
            await sami.send(request)
            await sami.wait_for(has('type="t-x-takp-r"', 'status="true"'))
            sami._buf = b""  # from here on, the server speaks protobuf
            await sami.send(to_proto(event("ANDROID-SAMI", "a-f-G-U-C", 35.3, 8.7, callsign="GN-7")))
            await sami.send(to_proto(event("ANDROID-SAMI-ping", "t-x-c-t")))
            framer = ProtoFramer(100_000)
            got: list[bytes] = []
            while not any(b"t-x-c-t-r" in g for g in got):
                framer.feed(await asyncio.wait_for(sami.reader.read(65536), 5))
                while (frame := framer.next()) is not None:
                    got.append(frame)
            await eventually(lambda: server.ingest.counts["position"] == 1)
            assert server.status()["devices"][0]["protocol"] == "protobuf"
            await sami.close()
        finally:
            await server.stop()

    run(scenario())
    unit = json.loads(node.store.unit_doc(users["sami"], node.store.device("ANDROID-SAMI")["unit_id"]))
    assert unit["position"]["lat"] == 35.3
