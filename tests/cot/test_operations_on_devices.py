"""Joint operations on TAK devices (issue 12), over real loopback sockets: the devices of a
participating country's users get the area and sectors as CoT in the operation's mission, on
connect and live; a non-participant's device gets nothing; each device gets the operation as its
own user may see it; a device loses it (t-x-d-d) when the operation is narrowed or cancelled."""

from __future__ import annotations

import asyncio
from typing import Any

import defusedxml.ElementTree as safe_xml
import pytest

from fossatum.cot import operations as ops
from fossatum.node import Node
from fossatum.schemas import OperationIn, OperationPatch, SectorIn, UnitIn
from operations_fixtures import EAST, WEST, operation_body, partners

from .harness import Device, has, start
from .test_gateway import run
from .test_pytak import first, pytak_device

pytestmark = pytest.mark.both_backends


def _create(node: Node, users, **changes: Any) -> dict[str, Any]:
    body = operation_body(**changes)
    return node.create_operation(actor=users["amira"], spec=OperationIn.model_validate(body))


def _items(device: Device, operation_id: str) -> dict[str, bytes]:
    """The latest event the device got for each item of the operation (a delete included)."""
    out: dict[str, bytes] = {}
    group = ops.operation_uid(operation_id)
    for frame in device.events:
        root = safe_xml.fromstring(frame)
        link = root.find("detail/link")
        uid = link.get("uid") if root.get("type") == "t-x-d-d" and link is not None else root.get("uid")
        if uid and ops.group_of(uid) == group:
            out[uid] = frame
    return out


def _shown(device: Device, operation_id: str) -> set[str]:
    return {uid for uid, frame in _items(device, operation_id).items() if b'type="t-x-d-d"' not in frame}


def _removed(device: Device, operation_id: str) -> set[str]:
    return {uid for uid, frame in _items(device, operation_id).items() if b'type="t-x-d-d"' in frame}


def test_participants_devices_get_the_operation_in_its_mission_and_lose_it_when_narrowed_or_cancelled(
        node: Node, users) -> None:
    partners(node, "DZA", "LBY")
    # A national-guard unit only its own agency may see, in the Tunisian sector.
    gn = node.add_unit(actor=None, spec=UnitIn(name="GN Kasserine", kind="patrol", agency="TN-GN",
                                                audience={"scope": "agency"}))["id"]
    sectors = [{"id": "s-east", "name": "Est", "polygon": EAST, "country": "TUN", "units": [gn]},
               {"id": "s-west", "name": "Ouest", "polygon": WEST, "country": "DZA"}]
    op = _create(node, users, units=[gn], sectors=sectors)
    area, east, west = (ops.operation_uid(op["id"]), ops.sector_uid(op["id"], "s-east"),
                        ops.sector_uid(op["id"], "s-west"))

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")        # TN-GN
            youssef = await Device.connect(port, "youssef", "ANDROID-YOU", callsign="ARMY-2")  # TN-ARMY
            karim = await Device.connect(port, "karim", "ANDROID-KARIM", callsign="DZ-1")     # DZA liaison
            omar = await Device.connect(port, "omar", "ANDROID-OMAR", callsign="LY-1")        # LBY: not taking part
            devices = (sami, youssef, karim, omar)
            # On connect: the area and both sectors, each in the operation's mission.
            for d in (sami, youssef, karim):
                await d.wait_for(has(f'uid="{west}"'))
                assert _shown(d, op["id"]) == {area, east, west}
                for frame in _items(d, op["id"]).values():
                    assert b'<marti><dest mission="CHAAMBI-26-01"/></marti>' in frame
                    assert b'type="u-d-f"' in frame
            # Each as its own user may see it: the agency-only unit counts for the guard only.
            assert b"1 unit assigned" in _items(sami, op["id"])[east]
            assert b"0 units assigned" in _items(youssef, op["id"])[east]
            await omar.settle(0.5)
            assert not any(b"CHAAMBI" in f or b"fossatum.operation." in f for f in omar.events)

            # Live: the west sector is dropped; who had it is told to delete it.
            await asyncio.to_thread(node.set_sectors, actor=users["amira"], operation_id=op["id"],
                                    sectors=[SectorIn.model_validate(sectors[0])])
            for d in (sami, youssef, karim):
                await d.wait_for(has('type="t-x-d-d"', f'uid="{west}"'))
                assert _removed(d, op["id"]) == {west} and _shown(d, op["id"]) == {area, east}
                assert b'relation="none" type="u-d-f"' in _items(d, op["id"])[west]
            # Live: the operation starts; the area's remarks say so, under the same uid.
            await asyncio.to_thread(node.update_operation, actor=users["amira"], operation_id=op["id"],
                                    patch=OperationPatch(status="IPR"))
            await sami.wait_for(lambda f: f'uid="{area}"'.encode() in f and b"status IPR" in f)
            await karim.wait_for(lambda f: f'uid="{area}"'.encode() in f and b"status IPR" in f)

            # Algeria is taken off the operation: its liaison's device loses all of it.
            await asyncio.to_thread(node.update_operation, actor=users["amira"], operation_id=op["id"],
                                    patch=OperationPatch(participants=[], command={}))
            await karim.wait_for(has('type="t-x-d-d"', f'uid="{area}"'))
            await karim.wait_for(has('type="t-x-d-d"', f'uid="{east}"'))
            assert _shown(karim, op["id"]) == set()
            await sami.settle(0.3)
            assert _shown(sami, op["id"]) == {area, east}

            # Cancelled: every device that had it loses it.
            await asyncio.to_thread(node.update_operation, actor=users["amira"], operation_id=op["id"],
                                    patch=OperationPatch(status="CANCLD"))
            for d in (sami, youssef):
                await d.wait_for(has('type="t-x-d-d"', f'uid="{area}"'))
                await d.wait_for(has('type="t-x-d-d"', f'uid="{east}"'))
                assert _shown(d, op["id"]) == set()
            # A device connecting now gets nothing of it.
            late = await Device.connect(port, "amira", "ANDROID-AMIRA", callsign="OPS")
            await late.wait_for(has('type="t-x-takp-v"'))
            await late.settle(0.5)
            assert not _items(late, op["id"])
            assert not any(b"CHAAMBI" in f for f in omar.events)
            for d in (*devices, late):
                await d.close()
        finally:
            await server.stop()

    run(scenario())


def test_a_third_party_tak_client_gets_the_operation_grouped_by_its_mission(node: Node, users) -> None:
    partners(node, "DZA")
    op = _create(node, users)

    async def scenario() -> None:
        server, port = await start(node)
        try:
            _tx, rx, tasks, writer = await pytak_device(port, "karim", "ANDROID-PYTAK-DZ", "DZ-PY-1")
            got = [await first(rx, f'uid="{uid}"'.encode()) for uid in ops.operation_uids(_operation(node, users, op))]
            for frame in got:
                root = safe_xml.fromstring(frame)
                assert root.get("type") == "u-d-f"
                assert [d.get("mission") for d in root.findall("detail/marti/dest")] == ["CHAAMBI-26-01"]
                links = root.findall("detail/link")
                assert links[0].get("point") == links[-1].get("point")  # closed
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()
        finally:
            await server.stop()

    run(scenario())


def _operation(node: Node, users, op: dict[str, Any]) -> Any:
    found = ops.operation_of(node.operation(viewer=users["amira"], operation_id=op["id"]))
    assert found is not None
    return found


def test_the_mission_name_is_escaped_on_the_wire(node: Node, users) -> None:
    op = _create(node, users, code='OP "A" <&>', participants=[], sectors=[], command={})

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI")
            frame = await sami.wait_for(has(f'uid="{ops.operation_uid(op["id"])}"'))
            # Escaped (quoteattr: single quotes around a value with double quotes), read back as typed.
            assert b"<&>" not in frame
            dest = safe_xml.fromstring(frame).find("detail/marti/dest")
            assert dest is not None and dest.get("mission") == 'OP "A" <&>'
            await sami.close()
        finally:
            await server.stop()

    run(scenario())


ROUTE = [
    {"name": "Kasserine", "lat": 35.17, "lon": 8.83},
    {"name": "RV Bouchebka", "lat": 35.18, "lon": 8.45, "kind": "rendezvous", "countries": ["TUN", "DZA"],
     "at": "2026-12-07T07:00:00Z"},
    {"name": "CP Oued Hatab", "lat": 35.21, "lon": 8.55, "kind": "checkpoint"},
    {"name": "Thala", "lat": 35.57, "lon": 8.67},
]


def _frames(device: Device, uid: str) -> list[bytes]:
    """Every event the device got about item `uid` (itself or its delete), oldest first."""
    out = []
    for frame in device.events:
        root = safe_xml.fromstring(frame)
        link = root.find("detail/link")
        about = link.get("uid") if root.get("type") == "t-x-d-d" and link is not None else root.get("uid")
        if about == uid:
            out.append(frame)
    return out


def _missions(frame: bytes) -> list[str]:
    return [d.get("mission", "") for d in safe_xml.fromstring(frame).findall("detail/marti/dest")]


def test_patrol_routes_and_checkpoints_reach_the_devices_of_who_may_see_them(node: Node, users) -> None:
    from fossatum.schemas import CheckpointIn, PatrolIn, PatrolPatch, SectionIn

    partners(node, "DZA", "LBY")
    node.add_section(actor=None, spec=SectionIn.model_validate(
        {"id": "TUN-DZA-07", "name": "Chaambi", "geometry": operation_body()["area"],
         "audience": {"scope": "all_partners"}}), owner_agency="TN-GN")
    amira = users["amira"]
    op = _create(node, users)
    shared = node.create_checkpoint(actor=amira, spec=CheckpointIn.model_validate(
        {"name": "Oued Hatab", "location": {"lat": 35.21, "lon": 8.55}, "section": "TUN-DZA-07",
         "operator": "TUN", "partners": ["DZA"]}))
    national = node.create_checkpoint(actor=amira, spec=CheckpointIn.model_validate(
        {"name": "Thala nord", "location": {"lat": 35.6, "lon": 8.7}, "section": "TUN-DZA-07", "operator": "TUN"}))
    route = [{**w, "checkpoint": shared["id"]} if w.get("kind") == "checkpoint" else w for w in ROUTE]
    patrol = node.create_patrol(actor=amira, spec=PatrolIn.model_validate(
        {"code": "JP-26-07", "name": "Patrouille conjointe", "operation": op["id"], "route": route,
         "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T11:00:00Z", "countries": ["DZA"]}))
    route_uid, shared_uid, national_uid = (ops.patrol_uid(patrol["id"]), ops.checkpoint_uid(shared["id"]),
                                           ops.checkpoint_uid(national["id"]))

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            karim = await Device.connect(port, "karim", "ANDROID-KARIM", callsign="DZ-1")
            omar = await Device.connect(port, "omar", "ANDROID-OMAR", callsign="LY-1")
            for d in (sami, karim):
                frame = await d.wait_for(has(f'uid="{route_uid}"'))
                root = safe_xml.fromstring(frame)
                assert root.get("type") == "b-m-r" and _missions(frame) == ["CHAAMBI-26-01"]
                assert [(link.get("type"), link.get("callsign")) for link in root.findall("detail/link")] == [
                    ("b-m-p-w", "Kasserine"), ("b-m-p-c", "RV Bouchebka"), ("b-m-p-c", "CP Oued Hatab"),
                    ("b-m-p-w", "Thala")]
                frame = await d.wait_for(has(f'uid="{shared_uid}"'))
                assert b'type="b-m-p-c"' in frame and b"OPEN" in frame
                assert _missions(frame) == ["CHAAMBI-26-01"]  # in the area, and on the operation's patrol
            await sami.wait_for(has(f'uid="{national_uid}"'))
            assert _missions(_frames(sami, national_uid)[-1]) == []  # outside the area, on no route
            await karim.settle(0.3)
            assert not _frames(karim, national_uid)  # Tunisia's own checkpoint
            # Live: the shared checkpoint is closed; both sides see why, under the same uid.
            await asyncio.to_thread(node.set_checkpoint_status, actor=amira, checkpoint_id=shared["id"],
                                    status="closed", reason="flash flood on the track")
            for d in (sami, karim):
                await d.wait_for(lambda f: f'uid="{shared_uid}"'.encode() in f and b"CLOSED" in f
                                 and b"flash flood on the track" in f)
            # The patrol is completed: its route leaves the devices that had it.
            await asyncio.to_thread(node.update_patrol, actor=amira, patrol_id=patrol["id"],
                                    patch=PatrolPatch(status="IPR"))
            await asyncio.to_thread(node.update_patrol, actor=amira, patrol_id=patrol["id"],
                                    patch=PatrolPatch(status="COM"))
            for d in (sami, karim):
                frame = await d.wait_for(has('type="t-x-d-d"', f'uid="{route_uid}"'))
                assert b'relation="none" type="b-m-r"' in frame
            await omar.settle(0.3)
            assert not any(b"fossatum.patrol." in f or b"fossatum.checkpoint." in f or b"CHAAMBI" in f
                           for f in omar.events)
            for d in (sami, karim, omar):
                await d.close()
        finally:
            await server.stop()

    run(scenario())


def test_an_operation_that_ends_takes_its_patrols_routes_with_it(node: Node, users) -> None:
    from fossatum.schemas import PatrolIn

    partners(node, "DZA")
    amira = users["amira"]
    op = _create(node, users)
    patrol = node.create_patrol(actor=amira, spec=PatrolIn.model_validate(
        {"code": "JP-26-08", "name": "Patrouille est", "operation": op["id"], "route": [ROUTE[0], ROUTE[3]],
         "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T11:00:00Z", "countries": ["DZA"]}))
    route_uid = ops.patrol_uid(patrol["id"])

    async def scenario() -> None:
        server, port = await start(node)
        try:
            karim = await Device.connect(port, "karim", "ANDROID-KARIM", callsign="DZ-1")
            await karim.wait_for(has(f'uid="{route_uid}"'))
            await asyncio.to_thread(node.update_operation, actor=amira, operation_id=op["id"],
                                    patch=OperationPatch(status="CANCLD"))
            await karim.wait_for(has('type="t-x-d-d"', f'uid="{ops.operation_uid(op["id"])}"'))
            await karim.wait_for(has('type="t-x-d-d"', f'uid="{route_uid}"'))  # the patrol itself still runs
            late = await Device.connect(port, "sami", "ANDROID-SAMI")
            await late.wait_for(has('type="t-x-takp-v"'))
            await late.settle(0.5)
            assert not _frames(late, route_uid)
            for d in (karim, late):
                await d.close()
        finally:
            await server.stop()

    run(scenario())


def test_a_device_speaking_tak_protocol_v1_gets_the_same_items(node: Node, users) -> None:
    from fossatum.cot.framing import ProtoFramer

    from .harness import event

    partners(node, "DZA")

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            await sami.wait_for(has('type="t-x-takp-v"'))
            await sami.send(event("ANDROID-SAMI", "t-x-takp-q", detail='<TakControl><TakRequest version="1"/></TakControl>'))
            await sami.wait_for(has('type="t-x-takp-r"', 'status="true"'))
            sami._buf = b""  # from here on, the server speaks protobuf
            op = await asyncio.to_thread(_create, node, users)
            wanted = set(ops.operation_uids(_operation(node, users, op)))
            framer, got = ProtoFramer(1 << 20), {}

            async def until(done) -> None:
                while not done():
                    framer.feed(await asyncio.wait_for(sami.reader.read(65536), 5))
                    while (frame := framer.next()) is not None:
                        root = safe_xml.fromstring(frame)
                        link = root.find("detail/link")
                        uid = link.get("uid") if root.get("type") == "t-x-d-d" and link is not None else root.get("uid")
                        got[uid] = root

            await until(lambda: wanted <= set(got))
            for uid in wanted:
                root = got[uid]
                assert root.get("type") == "u-d-f"
                assert [d.get("mission") for d in root.findall("detail/marti/dest")] == ["CHAAMBI-26-01"]
                links = root.findall("detail/link")
                assert len(links) == 5 and links[0].get("point") == links[-1].get("point")
                assert root.find("detail/strokeColor") is not None
            await asyncio.to_thread(node.update_operation, actor=users["amira"], operation_id=op["id"],
                                    patch=OperationPatch(status="CANCLD"))
            await until(lambda: all(got[uid].get("type") == "t-x-d-d" for uid in wanted))
            for uid in wanted:
                link = got[uid].find("detail/link")
                assert link is not None and (link.get("relation"), link.get("type")) == ("none", "u-d-f")
                assert got[uid].find("detail/__forcedelete") is not None
            await sami.close()
        finally:
            await server.stop()

    run(scenario())


def test_a_checkpoint_follows_the_operations_drawn_around_it(node: Node, users) -> None:
    from fossatum.schemas import CheckpointIn, SectionIn

    partners(node, "DZA")
    node.add_section(actor=None, spec=SectionIn.model_validate(
        {"id": "TUN-DZA-07", "name": "Chaambi", "geometry": operation_body()["area"],
         "audience": {"scope": "all_partners"}}), owner_agency="TN-GN")
    amira = users["amira"]
    checkpoint = node.create_checkpoint(actor=amira, spec=CheckpointIn.model_validate(
        {"name": "Oued Hatab", "location": {"lat": 35.21, "lon": 8.55}, "section": "TUN-DZA-07",
         "operator": "joint", "partners": ["DZA"]}))
    uid = ops.checkpoint_uid(checkpoint["id"])

    async def scenario() -> None:
        server, port = await start(node)
        try:
            karim = await Device.connect(port, "karim", "ANDROID-KARIM", callsign="DZ-1")
            frame = await karim.wait_for(has(f'uid="{uid}"'))
            assert _missions(frame) == [] and b"operator joint" in frame
            op = await asyncio.to_thread(_create, node, users)  # a cordon drawn around it
            await karim.wait_for(lambda f: f'uid="{uid}"'.encode() in f and b"CHAAMBI-26-01" in f)
            assert _missions(_frames(karim, uid)[-1]) == ["CHAAMBI-26-01"]
            count = len(_frames(karim, uid))
            await asyncio.to_thread(node.update_operation, actor=amira, operation_id=op["id"],
                                    patch=OperationPatch(status="IPR"))  # the same missions: not re-sent
            await karim.wait_for(has('status IPR'))
            await asyncio.to_thread(node.update_operation, actor=amira, operation_id=op["id"],
                                    patch=OperationPatch(status="COM"))
            await karim.wait_for(has('type="t-x-d-d"', f'uid="{ops.operation_uid(op["id"])}"'))
            frames = await _eventually_more(karim, uid, count)
            assert _missions(frames[-1]) == [] and b'type="b-m-p-c"' in frames[-1]  # still shown, in no mission
            assert len(frames) == count + 1
            await karim.close()
        finally:
            await server.stop()

    run(scenario())


async def _eventually_more(device: Device, uid: str, count: int) -> list[bytes]:
    await device.wait_for(lambda f: len(_frames(device, uid)) > count)
    await device.settle(0.3)
    return _frames(device, uid)


def test_a_sector_dropped_while_the_snapshot_is_read_is_never_shown(node: Node, users) -> None:
    # Step by step, no sockets (as tests/cot/test_admission.py): the fan-out decided the whole
    # operation after the snapshot was read, so none of the snapshot's copy of it is queued.
    from fossatum.changes import Change
    from fossatum.cot.server import Client, CotServer

    from .harness import settings

    partners(node, "DZA")
    op = _create(node, users)
    server = CotServer(node, settings=settings())
    karim = Client(peer="test", limit=100, user=users["karim"])
    karim.fresh = set()
    server.clients.add(karim)
    snapshot = server.fanout.snapshot(users["karim"], own_unit=None)
    west, east = ops.sector_uid(op["id"], "s-west"), ops.sector_uid(op["id"], "s-east")
    assert {west, east, ops.operation_uid(op["id"])} <= set(dict(snapshot))
    changes: list[Change] = []
    node.changes.subscribe(changes.extend)
    east_only = [SectorIn.model_validate(s) for s in operation_body()["sectors"] if s["id"] == "s-east"]
    node.set_sectors(actor=users["amira"], operation_id=op["id"], sectors=east_only)
    server.fanout.dispatch(changes)
    karim.take_snapshot(snapshot)
    queued = {uid: b"".join(m) for uid, (m, _) in karim.queue.items()}
    assert west not in karim.sent and west not in queued
    assert east in karim.sent and queued[east].count(b"<event ") == 1  # the live copy only
