"""A partner's operation on the devices at its own node (issue 12): the TAK gateway of a
participating country shows the lead's operation to its users' devices, and when the operation
is narrowed or cancelled and the partner's node purges it, those devices are told to delete it
(t-x-d-d) — the purge leaves nothing on the ground. Fan-out driven step by step (no sockets)."""

from __future__ import annotations

import pytest

from fossatum.changes import Change
from fossatum.cot import operations as ops
from fossatum.cot.server import Client, CotServer
from fossatum.schemas import OperationPatch
from fossatum.settings import load

from .cluster import Cluster
from .test_operations_replication import create

pytestmark = pytest.mark.both_backends


def _device(cluster: Cluster, country: str) -> tuple[CotServer, Client, list[Change]]:
    """A gateway at `country`'s node with its duty officer's device admitted, and a recorder of
    every change committed there from now on."""
    node = cluster.nodes[country]
    server = CotServer(node, settings=load({}))
    client = Client(peer="test", limit=1000, user=cluster.officers[country])
    client.fresh = set()
    server.clients.add(client)
    client.take_snapshot(server.fanout.snapshot(client.user, own_unit=None))
    changes: list[Change] = []
    node.changes.subscribe(changes.extend)
    return server, client, changes


def _queued(client: Client) -> dict[str, bytes]:
    return {uid: b"".join(messages) for uid, (messages, _) in client.queue.items()}


def _deleted(client: Client) -> set[str]:
    return {uid for uid, message in _queued(client).items() if b'type="t-x-d-d"' in message}


def test_narrowing_deletes_the_operation_on_the_devices_of_the_country_that_loses_it(cluster: Cluster) -> None:
    op = create(cluster, ["DZA", "LBY"])
    cluster.sync()
    uids = {ops.operation_uid(op["id"]), *(ops.sector_uid(op["id"], s["id"]) for s in op["sectors"])}
    lby_server, lby, lby_changes = _device(cluster, "LBY")
    dza_server, dza, dza_changes = _device(cluster, "DZA")
    assert uids <= lby.sent and uids <= dza.sent
    for message in _queued(lby).values():
        if ops.operation_uid(op["id"]).encode() in message:
            assert b'<dest mission="CHAAMBI-26-01"/>' in message
    lby.queue.clear()
    dza.queue.clear()
    cluster.nodes["TUN"].update_operation(actor=cluster.officers["TUN"], operation_id=op["id"],
                                          patch=OperationPatch(participants=["DZA"]))
    cluster.sync()
    assert any(c.removed and c.object_id == op["id"] for c in lby_changes)  # the purge is on the feed
    lby_server.fanout.dispatch(lby_changes)
    dza_server.fanout.dispatch(dza_changes)
    assert _deleted(lby) == uids and not lby.sent & uids
    for uid in uids:
        assert f'<link uid="{uid}" relation="none" type="u-d-f"/><__forcedelete/>'.encode() in _queued(lby)[uid]
    assert not _deleted(dza) and uids <= dza.sent  # Algeria still takes part


def test_cancelling_deletes_it_on_every_partner_device(cluster: Cluster) -> None:
    op = create(cluster, ["DZA"])
    cluster.sync()
    uids = {ops.operation_uid(op["id"]), *(ops.sector_uid(op["id"], s["id"]) for s in op["sectors"])}
    server, dza, changes = _device(cluster, "DZA")
    assert uids <= dza.sent
    dza.queue.clear()
    tun = cluster.nodes["TUN"]
    tun.set_operation_status(actor=cluster.officers["TUN"], operation_id=op["id"], status="IPR")
    tun.set_operation_status(actor=cluster.officers["TUN"], operation_id=op["id"], status="CANCLD")
    cluster.sync()
    server.fanout.dispatch(changes)
    assert _deleted(dza) == uids and not dza.sent & uids
    # and a device admitted afterwards gets nothing of it
    _, later, _ = _device(cluster, "DZA")
    assert not later.sent & uids


def test_a_partners_assignment_updates_its_sector_on_the_leads_devices(cluster: Cluster) -> None:
    from fossatum.schemas import JournalIn, UnitIn

    dza = cluster.nodes["DZA"]
    unit = dza.add_unit(actor=None, spec=UnitIn(name="GN Tebessa", kind="patrol", agency="DZ-GN"))
    op = create(cluster, ["DZA"])
    cluster.sync()
    server, tun, changes = _device(cluster, "TUN")
    sector = ops.sector_uid(op["id"], "s-dza")
    assert b"0 units assigned" in _queued(tun)[sector]
    tun.queue.clear()
    dza.write_journal(actor=cluster.officers["DZA"], operation_id=op["id"],
                      spec=JournalIn.model_validate({"kind": "assignment",
                                                     "details": {"unit": unit["id"], "sector": "s-dza"}}))
    cluster.sync()
    server.fanout.dispatch(changes)
    assert b"1 unit assigned" in _queued(tun)[sector]  # as the snapshot and the API show it
    # a note changes no sector: nothing re-sent
    tun.queue.clear()
    dza.write_journal(actor=cluster.officers["DZA"], operation_id=op["id"],
                      spec=JournalIn.model_validate({"kind": "note", "text": "in position"}))
    cluster.sync()
    server.fanout.dispatch(changes[-1:])
    assert not _queued(tun)


def test_narrowed_patrols_and_checkpoints_leave_the_partners_devices(cluster: Cluster) -> None:
    from fossatum.schemas import CheckpointPatch, PatrolPatch

    from .test_checkpoints_patrols_replication import checkpoint, patrol

    route, cp = patrol(cluster, ["LBY"]), checkpoint(cluster, partners=["DZA", "LBY"])
    cluster.sync()
    server, lby, changes = _device(cluster, "LBY")
    uids = {ops.patrol_uid(route["id"]): "b-m-r", ops.checkpoint_uid(cp["id"]): "b-m-p-c"}
    assert set(uids) <= lby.sent
    lby.queue.clear()
    tun, officer = cluster.nodes["TUN"], cluster.officers["TUN"]
    tun.update_patrol(actor=officer, patrol_id=route["id"], patch=PatrolPatch(countries=[]))
    tun.update_checkpoint(actor=officer, checkpoint_id=cp["id"], patch=CheckpointPatch(partners=["DZA"]))
    cluster.sync()
    server.fanout.dispatch(changes)
    assert _deleted(lby) == set(uids) and not lby.sent & set(uids)
    for uid, type_ in uids.items():
        assert f'<link uid="{uid}" relation="none" type="{type_}"/>'.encode() in _queued(lby)[uid]


def test_a_checkpoint_leaves_the_mission_of_an_operation_purged_around_it(cluster: Cluster) -> None:
    from .test_checkpoints_patrols_replication import checkpoint

    cp = checkpoint(cluster)  # shared with Algeria, inside the cordon's area
    op = create(cluster, ["DZA"])
    cluster.sync()
    server, dza, changes = _device(cluster, "DZA")
    uid = ops.checkpoint_uid(cp["id"])
    assert b'<dest mission="CHAAMBI-26-01"/>' in _queued(dza)[uid]
    dza.queue.clear()
    tun = cluster.nodes["TUN"]
    tun.set_operation_status(actor=cluster.officers["TUN"], operation_id=op["id"], status="CANCLD")
    cluster.sync()
    server.fanout.dispatch(changes)
    again = _queued(dza)[uid]
    assert b'type="b-m-p-c"' in again and b"<marti>" not in again  # still shown, in no mission
