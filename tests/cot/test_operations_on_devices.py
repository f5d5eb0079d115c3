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
