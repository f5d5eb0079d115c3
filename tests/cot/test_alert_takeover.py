"""Finding 4: an emergency alert cannot be taken over or erased by another agency's device.

Replayed over real TAK sockets: a National Guard patrol raises a 911 alert (ATAK uid
`<device uid>-9-1-1`); the Algerian liaison's device and an army field device then raise
with that same uid and try to cancel it, by the uid they typed and by the id devices were
sent. Each raise makes a separate alert of the raiser's own; the original stays raised,
owned and placed as it was, on every Tunisian screen; only its raiser or a duty officer of
its agency cancels it.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from fossatum.node import Node

from .harness import PASSWORD, Device, event, eventually, has, start

pytestmark = pytest.mark.both_backends

SAMI_911 = "ANDROID-SAMI-9-1-1"
ORIGINAL = "ANDROID-SAMI/" + SAMI_911  # the alert's id: namespaced by the raising device
EMERGENCY = '<emergency type="911 Alert">GN-7</emergency>'
CANCEL = '<emergency cancel="true"/>'


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _alerts(node: Node) -> dict[str, dict]:
    rows = node.store.read("SELECT doc FROM alerts", system=True)
    return {d["uid"]: d for d in (json.loads(r[0]) for r in rows)}


@pytest.mark.parametrize("attacker", ["karim", "army.patrol"])
def test_raising_with_the_uid_of_a_live_alert_makes_a_separate_alert_and_cannot_cancel_it(
        node: Node, users, attacker: str) -> None:
    node.add_user(actor=None, username="army.patrol", agency="TN-ARMY", roles=["field"], password=PASSWORD)
    device_uid = f"ANDROID-{attacker.upper().replace('.', '-')}"

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            amira = await Device.connect(port, "amira", "ANDROID-AMIRA", callsign="OPS")
            hijacker = await Device.connect(port, attacker, device_uid, callsign="X-1")
            await sami.send(event(SAMI_911, "b-a-o-tbl", lat=35.2, lon=8.6, detail=EMERGENCY))
            await amira.wait_for(has('type="b-a-o-tbl"', f'uid="{ORIGINAL}"'))

            # The hijack: the same uid from another agency's device, elsewhere, then cancels.
            await hijacker.send(event(SAMI_911, "b-a-o-tbl", lat=36.9, lon=10.1, detail=EMERGENCY))
            await eventually(lambda: f"{device_uid}/{SAMI_911}" in _alerts(node))
            await hijacker.send(event(SAMI_911, "b-a-o-can", detail=CANCEL))     # its own copy only
            await hijacker.send(event(ORIGINAL, "b-a-o-can", detail=CANCEL))    # the id it was sent
            await eventually(lambda: server.ingest.counts["alert_refused"] >= 1)
            await amira.settle(0.5)
            assert not any(b'type="b-a-o-can"' in f and ORIGINAL.encode() in f for f in amira.events)

            original = _alerts(node)[ORIGINAL]
            assert original["state"] == "raised" and original["raised_by"] == "sami"
            assert original["owner_agency"] == "TN-GN" and original["position"]["lat"] == 35.2
            theirs = _alerts(node)[f"{device_uid}/{SAMI_911}"]
            assert theirs["owner_agency"] == {"karim": "DZ-GN", "army.patrol": "TN-ARMY"}[attacker]
            assert theirs["claimed_uid"] == SAMI_911 and theirs["state"] == "cancelled"
            # Still on every Tunisian duty officer's list (the API's read of alerts).
            for officer in ("amira", "youssef"):
                assert ORIGINAL in {json.loads(d)["uid"] for d in node.store.alerts(users[officer])}

            # Its agency's duty officer may cancel it from her device, by the id she was sent.
            await amira.send(event(ORIGINAL, "b-a-o-can", detail=CANCEL))
            await eventually(lambda: _alerts(node)[ORIGINAL]["state"] == "cancelled")
            assert _alerts(node)[ORIGINAL]["cancelled_by"] == "amira"
            for device in (sami, amira, hijacker):
                await device.close()
        finally:
            await server.stop()

    run(scenario())


def test_another_agencys_duty_officer_cannot_cancel_and_the_raiser_can(node: Node, users) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            youssef = await Device.connect(port, "youssef", "ANDROID-YOUSSEF", callsign="ARMY-OPS")
            await sami.send(event(SAMI_911, "b-a-o-tbl", detail=EMERGENCY))
            await youssef.wait_for(has('type="b-a-o-tbl"', f'uid="{ORIGINAL}"'))
            await youssef.send(event(ORIGINAL, "b-a-o-can", detail=CANCEL))
            await eventually(lambda: server.ingest.counts["alert_refused"] >= 1)
            assert _alerts(node)[ORIGINAL]["state"] == "raised"
            await sami.send(event(SAMI_911, "b-a-o-can", detail=CANCEL))  # the raiser, by its own uid
            await youssef.wait_for(has('type="b-a-o-can"', f'uid="{ORIGINAL}"'))
            assert _alerts(node)[ORIGINAL]["cancelled_by"] == "sami"
            await sami.close()
            await youssef.close()
        finally:
            await server.stop()

    run(scenario())


def test_device_uids_with_a_slash_cannot_forge_another_devices_alert_id() -> None:
    """The namespace is injective: device `A/B` raising `C` is not device `A` raising `B/C`."""
    assert Node.alert_id("A/B", "C") != Node.alert_id("A", "B/C")
    assert Node.alert_id("A%2FB", "C") != Node.alert_id("A/B", "C")
