"""Admission, fan-out decisions and the per-device queue, driven step by step (no sockets,
no timing).

A device's snapshot is read off the writer thread while the fan-out already serves it; what
the fan-out decided meanwhile is newer than the snapshot's copy and must win. The fan-out
decides visibility once per user for all that user's devices in one batch. The queue keeps
every state for a device that keeps up, coalesces for one that falls behind, and a withdrawal
replaces whatever was still queued.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from conftest import sighting
from fossatum.changes import Change
from fossatum.cot.server import KEEP_STATES, KEEP_WHILE_QUEUED, Client, CotServer
from fossatum.domain.geo import Position
from fossatum.domain.timeutil import to_text
from fossatum.node import Node
from fossatum.schemas import ReportIn, ReportPatch

from .harness import settings


def _recorder(node: Node) -> list[Change]:
    """Every change committed from now on (what the fan-out is handed)."""
    changes: list[Change] = []
    node.changes.subscribe(changes.extend)
    return changes


def _client(server: CotServer, user, *, unit_id: str | None = None, device_uid: str | None = None,
            admitting: bool = False) -> Client:
    client = Client(peer="test", limit=100, user=user, unit_id=unit_id, device_uid=device_uid)
    client.fresh = set() if admitting else None
    server.clients.add(client)
    return client


def _queued(client: Client) -> dict[str, bytes]:
    return {uid: b"".join(messages) for uid, (messages, _switch) in client.queue.items()}


def _move(node: Node, user, unit_id: str, lat: float, minutes_ago: int) -> None:
    at = to_text(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    [result] = node.move_units(fixes=[(user, unit_id, Position(lat, 8.6), at)])
    assert isinstance(result, dict), result


def _validated(node: Node, users, audience: dict, text: str) -> str:
    doc = node.file_report(actor=users["amira"], spec=ReportIn(**sighting(audience=audience, description=text)))
    node.transition(actor=users["amira"], report_id=doc["id"], action="validate")
    return f"fossatum.report.{doc['id']}"


def test_a_snapshot_read_before_a_move_does_not_overwrite_the_newer_position(node: Node, users) -> None:
    server = CotServer(node, settings=settings())
    unit_id = node.register_device(actor=users["sami"], uid="ANDROID-SAMI", callsign="GN-7")
    _move(node, users["sami"], unit_id, 35.1, minutes_ago=5)
    youssef = _client(server, users["youssef"], admitting=True)  # same country, other agency: sees the unit
    uid = f"fossatum.unit.{unit_id}"
    snapshot = server.fanout.snapshot(users["youssef"], own_unit=None)
    assert b'lat="35.1000000"' in dict(snapshot)[uid]
    changes = _recorder(node)
    _move(node, users["sami"], unit_id, 35.2, minutes_ago=1)  # committed while the snapshot is "in flight"
    server.fanout.dispatch(changes)
    assert youssef.take_snapshot(snapshot) == len(snapshot) - 1
    assert b'lat="35.2000000"' in _queued(youssef)[uid]
    assert youssef.fresh is None and uid in youssef.sent
    # a device admitted later (nothing decided meanwhile) takes its whole snapshot
    later = _client(server, users["youssef"], admitting=True)
    fresh_snapshot = server.fanout.snapshot(users["youssef"], own_unit=None)
    assert later.take_snapshot(fresh_snapshot) == len(fresh_snapshot)
    assert b'lat="35.2000000"' in _queued(later)[uid]


def test_a_report_withdrawn_while_the_snapshot_is_read_is_never_shown(node: Node, users) -> None:
    server = CotServer(node, settings=settings())
    shared = _validated(node, users, {"scope": "partners", "partners": ["DZA"]}, "for DZA")
    kept = _validated(node, users, {"scope": "partners", "partners": ["DZA"]}, "still for DZA")
    karim = _client(server, users["karim"], admitting=True)  # the Algerian liaison officer
    snapshot = server.fanout.snapshot(users["karim"], own_unit=None)
    assert {shared, kept} <= set(dict(snapshot))
    changes = _recorder(node)
    node.transition(actor=users["amira"], report_id=shared.rsplit(".", 1)[1], action="retract", reason="wrong")
    server.fanout.dispatch(changes)
    karim.take_snapshot(snapshot)
    assert shared not in karim.sent and shared not in _queued(karim)
    assert not any(b"for DZA<" in m or shared.encode() in m for m in _queued(karim).values() if b"still" not in m)
    assert kept in _queued(karim) and kept in karim.sent


def test_one_batch_reaches_each_device_as_its_own_user_may_see_it(node: Node, users) -> None:
    server = CotServer(node, settings=settings())
    unit_a = node.register_device(actor=users["sami"], uid="ANDROID-SAMI-A", callsign="GN-7A")
    unit_b = node.register_device(actor=users["sami"], uid="ANDROID-SAMI-B", callsign="GN-7B")
    sami_a = _client(server, users["sami"], unit_id=unit_a, device_uid="ANDROID-SAMI-A")
    # another login of the same user: an equal, distinct User object
    sami_b = _client(server, dataclasses.replace(users["sami"]), unit_id=unit_b, device_uid="ANDROID-SAMI-B")
    karim = _client(server, users["karim"], device_uid="ANDROID-KARIM")
    changes = _recorder(node)
    _move(node, users["sami"], unit_a, 35.3, minutes_ago=1)
    national = _validated(node, users, {"scope": "national"}, "national only")
    shared = _validated(node, users, {"scope": "partners", "partners": ["DZA"]}, "for DZA")
    server.fanout.dispatch(changes)  # one batch, three devices, two users
    unit_a_uid = f"fossatum.unit.{unit_a}"
    assert {national, shared} <= set(_queued(sami_a)) and unit_a_uid not in _queued(sami_a)  # not its own position
    assert {national, shared, unit_a_uid} <= set(_queued(sami_b))  # its sibling device's unit
    assert shared in _queued(karim)
    assert national not in _queued(karim) and national not in karim.sent
    assert not any(uid.startswith("fossatum.unit.") for uid in _queued(karim))
    assert not any(b"GN-7" in m or b"national only" in m for m in _queued(karim).values())


def test_a_device_that_keeps_up_gets_every_state_in_order() -> None:
    client = Client(peer="test", limit=100)
    client.send("X", b"x1")
    client.send("Y", b"y1")
    client.send("X", b"x2")  # several fixes of one unit committed in one batch
    assert list(client.queue.items()) == [("X", ([b"x1", b"x2"], False)), ("Y", ([b"y1"], False))]
    assert client.coalesced == 0 and client.dropped == 0


def test_one_item_keeps_at_most_keep_states_and_always_the_newest() -> None:
    client = Client(peer="test", limit=100)
    for k in range(3 * KEEP_STATES + 1):
        client.send("X", b"x%d" % k)
    messages, _ = client.queue["X"]
    assert 1 <= len(messages) <= KEEP_STATES and messages[-1] == b"x%d" % (3 * KEEP_STATES)
    assert client.coalesced + len(messages) == 3 * KEEP_STATES + 1


def test_a_busy_device_gets_the_latest_state_only_and_the_bound_drops_the_oldest() -> None:
    client = Client(peer="test", limit=KEEP_WHILE_QUEUED + 5)
    for k in range(KEEP_WHILE_QUEUED):  # a long queue: this device is busy
        client.send(f"K{k}", b"old%d" % k)
    client.send("K0", b"new0")
    assert client.queue["K0"] == ([b"new0"], False) and list(client.queue)[-1] == "K0"
    assert client.coalesced == 1
    for k in range(KEEP_WHILE_QUEUED, KEEP_WHILE_QUEUED + 6):
        client.send(f"K{k}", b"m%d" % k)
    assert len(client.queue) == KEEP_WHILE_QUEUED + 5 and "K1" not in client.queue and client.dropped == 1


def test_a_withdrawal_replaces_the_states_still_queued(node: Node, users) -> None:
    server = CotServer(node, settings=settings())
    karim = _client(server, users["karim"], device_uid="ANDROID-KARIM")
    changes = _recorder(node)
    shared = _validated(node, users, {"scope": "partners", "partners": ["DZA"]}, "released by mistake")
    node.transition(actor=users["amira"], report_id=shared.rsplit(".", 1)[1], action="retract", reason="mistake")
    server.fanout.dispatch(changes)  # released and retracted in one batch, nothing written yet
    [(messages, _)] = [karim.queue[shared]]
    assert len(messages) == 1 and b'type="t-x-d-d"' in messages[0]
    assert not any(b"released by mistake" in m for ms, _ in karim.queue.values() for m in ms)


def test_cached_renderings_follow_each_viewers_rights_and_each_change(node: Node, users) -> None:
    server = CotServer(node, settings=settings())
    unit_id = node.register_device(actor=users["sami"], uid="ANDROID-SAMI", callsign="GN-7")
    _move(node, users["sami"], unit_id, 35.1, minutes_ago=5)
    national = _validated(node, users, {"scope": "national"}, "national only")
    uid = f"fossatum.unit.{unit_id}"
    seen = dict(server.fanout.snapshot(users["youssef"], own_unit=None))  # renders and caches both
    assert uid in seen and national in seen
    # the Algerian liaison officer is served from the same cache: still nothing he may not see
    karim = dict(server.fanout.snapshot(users["karim"], own_unit=None))
    assert uid not in karim and national not in karim
    assert not any(b"GN-7" in m or b"national only" in m for m in karim.values())
    # a changed object is a new stored text: rendered again, never the cached old state
    _move(node, users["sami"], unit_id, 35.4, minutes_ago=1)
    again = dict(server.fanout.snapshot(users["youssef"], own_unit=None))
    assert b'lat="35.4000000"' in again[uid] and b'lat="35.1000000"' not in again[uid]
    assert again[national] == seen[national]  # unchanged: the cached rendering
    assert uid not in dict(server.fanout.snapshot(users["sami"], own_unit=unit_id))  # its own unit


def test_a_long_batch_fans_out_the_newest_fix_of_each_unit_and_a_short_one_every_fix(node: Node, users) -> None:
    from fossatum.cot.fanout import COALESCE_BATCH

    server = CotServer(node, settings=settings())
    unit_id = node.register_device(actor=users["sami"], uid="ANDROID-SAMI", callsign="GN-7")
    youssef = _client(server, users["youssef"], device_uid="ANDROID-YOU")
    uid = f"fossatum.unit.{unit_id}"
    changes = _recorder(node)
    base = datetime.now(UTC) - timedelta(minutes=30)
    fixes = [(users["sami"], unit_id, Position(35 + k / 1000, 8.6), to_text(base + timedelta(seconds=k)))
             for k in range(COALESCE_BATCH + 1)]
    node.move_units(fixes=fixes[:3])
    server.fanout.dispatch(list(changes))  # a short batch: every fix, in order
    messages, _ = youssef.queue.pop(uid)
    assert [b'lat="35.%07d"' % (k * 10_000) in m for k, m in enumerate(messages)] == [True] * 3
    changes.clear()
    node.move_units(fixes=fixes)  # a gateway behind: one long batch
    server.fanout.dispatch(list(changes))
    messages, _ = youssef.queue[uid]
    assert len(messages) == 1 and b'lat="35.%07d"' % (COALESCE_BATCH * 10_000) in messages[0]
    assert len(node.store.unit_track(users["sami"], unit_id, limit=1000)) == COALESCE_BATCH + 1  # every fix kept


def test_a_partners_device_keeps_the_released_version_until_the_next_release(node: Node, users) -> None:
    """Finding 9 on the TAK fan-out: an amendment of a report released to Algeria reaches the
    Algerian liaison's device only with the next release decision."""
    server = CotServer(node, settings=settings())
    karim = _client(server, users["karim"], device_uid="ANDROID-KARIM")
    youssef = _client(server, users["youssef"], device_uid="ANDROID-YOUSSEF")
    changes = _recorder(node)
    shared = _validated(node, users, {"scope": "partners", "partners": ["DZA"]}, "first text")
    server.fanout.dispatch(list(changes))
    assert b"first text" in _queued(karim)[shared]
    karim.queue.clear()
    youssef.queue.clear()
    changes.clear()
    report_id = shared.rsplit(".", 1)[1]
    node.amend_report(actor=users["amira"], report_id=report_id,
                      patch=ReportPatch.model_validate({"description": "unreleased second text"}))
    server.fanout.dispatch(list(changes))
    assert b"unreleased second text" in _queued(youssef)[shared]   # at home: the current version
    assert shared not in karim.queue                               # abroad: nothing new, nothing withdrawn
    changes.clear()
    node.release_report(actor=users["amira"], report_id=report_id)
    server.fanout.dispatch(list(changes))
    assert b"unreleased second text" in _queued(karim)[shared]
