"""The change feed (changes.py): each commit's changes are derived once, with the facts the
object had before and has now, and handed to every consumer (the live websocket hub, the TAK
fan-out) as the very same objects; a consumer that fails stops neither the others nor the commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import sighting
from fossatum.api.live import Connection, LiveHub
from fossatum.changes import Change
from fossatum.cot.fanout import Fanout
from fossatum.domain.audience import Scope
from fossatum.domain.geo import Position
from fossatum.node import Node
from fossatum.policy.visibility import Facts, may_view
from fossatum.schemas import ReportIn, ReportPatch

pytestmark = pytest.mark.both_backends


def _recorder(node: Node) -> list[Change]:
    changes: list[Change] = []
    node.changes.subscribe(changes.extend)
    return changes


def _validated(node: Node, users: dict, audience: dict, text: str = "seen") -> str:
    doc = node.file_report(actor=users["amira"], spec=ReportIn(**sighting(audience=audience, description=text)))
    node.transition(actor=users["amira"], report_id=doc["id"], action="validate")
    return str(doc["id"])


def _only(changes: list[Change]) -> Change:
    assert len(changes) == 1, changes
    return changes.pop()


def test_a_narrowing_carries_the_wide_facts_before_and_the_narrow_ones_now(node: Node, users) -> None:
    report_id = _validated(node, users, {"scope": "all_partners"})
    changes = _recorder(node)
    node.amend_report(actor=users["amira"], report_id=report_id,
                      patch=ReportPatch.model_validate({"audience": {"scope": "national"}}))
    change = _only(changes)
    assert (change.object_kind, change.object_id, change.removed) == ("report", report_id, False)
    assert change.facts_before is not None and change.facts_now is not None
    assert change.facts_before.scope is Scope.ALL_PARTNERS and change.facts_now.scope is Scope.NATIONAL
    karim = users["karim"]  # the Algerian liaison: saw it before, may not now
    assert may_view(karim, change.facts_before) and not may_view(karim, change.facts_now)
    assert change.doc is not None and change.doc["version"] == change.entry.payload["report"]["version"]


def test_a_new_report_has_no_facts_before(node: Node, users) -> None:
    changes = _recorder(node)
    node.file_report(actor=users["amira"], spec=ReportIn(**sighting()))
    change = _only(changes)
    assert change.facts_before is None and change.facts_now is not None and change.facts_now.state == "submitted"


def test_a_release_is_news_abroad_and_an_amendment_before_it_is_not(node: Node, users) -> None:
    report_id = _validated(node, users, {"scope": "partners", "partners": ["DZA"]})
    changes = _recorder(node)
    node.amend_report(actor=users["amira"], report_id=report_id,
                      patch=ReportPatch.model_validate({"description": "unreleased text"}))
    amended = _only(changes)
    assert amended.held_abroad  # a partner keeps the released version
    node.release_report(actor=users["amira"], report_id=report_id)
    released = _only(changes)
    assert not released.held_abroad
    assert released.facts_before == amended.facts_now  # the store's history: the amended version
    assert released.facts_now is not None and "DZA" in released.facts_now.releasable_to


def test_a_retraction_carries_the_released_facts_before(node: Node, users) -> None:
    report_id = _validated(node, users, {"scope": "partners", "partners": ["DZA"]})
    changes = _recorder(node)
    node.transition(actor=users["amira"], report_id=report_id, action="retract", reason="wrong")
    change = _only(changes)
    assert change.facts_before is not None and change.facts_now is not None
    assert (change.facts_before.state, change.facts_now.state) == ("validated", "retracted")
    assert may_view(users["karim"], change.facts_before) and not may_view(users["karim"], change.facts_now)


def test_an_alert_cancel_was_seen_by_whom_its_facts_name(node: Node, users) -> None:
    sami = users["sami"]
    here = Position(35.2, 8.6)
    changes = _recorder(node)
    node.raise_alert(actor=sami, uid="gn-911", kind="911", position=here, callsign="GN-7")
    raised = _only(changes)
    assert raised.object_kind == "alert" and raised.facts_before is None
    node.cancel_alert(actor=sami, uid="gn-911")
    cancelled = _only(changes)
    assert cancelled.object_id == raised.object_id and cancelled.doc is not None
    assert cancelled.doc["state"] == "cancelled"
    assert cancelled.facts_before == raised.facts_now == cancelled.facts_now
    assert may_view(users["youssef"], cancelled.facts_now) and not may_view(users["karim"], cancelled.facts_now)


def test_several_changes_of_one_object_in_a_commit_chain_their_facts(node: Node, users) -> None:
    unit_id = node.register_device(actor=users["sami"], uid="ANDROID-SAMI", callsign="GN-7")
    changes = _recorder(node)
    node.move_units(fixes=[(users["sami"], unit_id, Position(35.1 + k / 100, 8.6), f"2026-11-28T20:0{k}:00Z")
                           for k in range(3)])
    assert [c.object_id for c in changes] == [unit_id] * 3
    assert changes[0].facts_before is not None  # the unit's earlier entry, read from the log
    assert changes[1].facts_before == changes[0].facts_now and changes[2].facts_before == changes[1].facts_now


def test_a_purge_carries_the_facts_it_had_and_no_text(node: Node, users) -> None:
    report_id = _validated(node, users, {"scope": "partners", "partners": ["DZA"]})
    held = Facts("TN-GN", "TUN", Scope.PARTNERS, frozenset({"TUN", "DZA"}), "validated", True, "amira")
    changes = _recorder(node)
    with node.store.transaction() as tx:  # as federation/inbound.py records a partner's purge
        tx.purged.append((report_id, held))
        tx.purged.append(("unparsable-copy", None))
    removed, unknown = changes
    assert removed.removed and removed.object_id == report_id and removed.entry is None and removed.doc is None
    assert removed.facts_now is None and removed.facts_before == held
    assert may_view(users["karim"], removed.facts_before)
    assert unknown.removed and unknown.facts_before is None  # nobody is told (live), devices that hold it are


def test_both_consumers_get_the_same_changes_derived_once(node: Node, users) -> None:
    class Loop:
        def __init__(self) -> None:
            self.calls: list[tuple[Any, Sequence[Change]]] = []

        def call_soon_threadsafe(self, callback: Any, changes: Sequence[Change]) -> None:
            self.calls.append((callback, changes))

        def is_closed(self) -> bool:
            return False

    hub = LiveHub(node)
    fanout = Fanout(node, node.settings, list)
    hub.loop, fanout.loop = Loop(), Loop()  # type: ignore[assignment]
    hub.connections.add(Connection(users["karim"]))
    derived = node.changes.derived
    report_id = _validated(node, users, {"scope": "partners", "partners": ["DZA"]})
    assert node.changes.derived == derived + 2  # filed, validated: one derivation per commit
    # (the hub's loop also hears the session watcher's ticks: only the change deliveries count)
    live = [changes for callback, changes in hub.loop.calls if callback == hub._dispatch]  # type: ignore[attr-defined]
    tak = [changes for _, changes in fanout.loop.calls]  # type: ignore[attr-defined]
    assert len(live) == len(tak) == 2
    for seen_live, seen_tak in zip(live, tak):
        assert seen_live is seen_tak
        assert all(c.object_id == report_id for c in seen_live)
    [validated] = live[-1]
    assert validated.shown(users["karim"]) is validated.shown(users["karim"])  # one redaction per user


def test_nothing_is_derived_while_no_consumer_has_anyone_to_tell(node: Node, users) -> None:
    hub = LiveHub(node)  # no loop, no connection
    assert not hub.active()
    derived = node.changes.derived
    _validated(node, users, {"scope": "national"})
    assert node.changes.derived == derived


def test_a_failing_consumer_stops_neither_the_others_nor_the_commit(node: Node, users, caplog) -> None:
    def broken(changes: Sequence[Change]) -> None:
        raise RuntimeError("consumer bug")

    def broken_active() -> bool:
        raise RuntimeError("active bug")

    node.changes.subscribe(broken)
    node.changes.subscribe(lambda changes: None, active=broken_active)
    changes = _recorder(node)
    with caplog.at_level(logging.ERROR, logger="fossatum.changes"):
        doc = node.file_report(actor=users["amira"], spec=ReportIn(**sighting()))
    assert [c.object_id for c in changes] == [doc["id"]]
    assert node.report(viewer=users["amira"], report_id=doc["id"])  # committed
    assert "consumer bug" in caplog.text and "active bug" in caplog.text


def test_a_partners_purge_reaches_the_feed(tmp_path: Path, store_backend: str) -> None:
    if store_backend != "sqlite":
        pytest.skip("the purge path is the same on both; tests/test_notify_untrusted.py covers it across workers")
    from federation.cluster import build_template, open_cluster

    cluster = open_cluster(build_template(tmp_path / "template"), tmp_path / "nodes")
    try:
        doc = cluster.file("TUN", audience={"scope": "all_partners"})
        cluster.sync()
        libya = cluster.nodes["LBY"]
        changes = _recorder(libya)
        cluster.nodes["TUN"].amend_report(actor=cluster.officers["TUN"], report_id=doc["id"], patch=ReportPatch
                                          .model_validate({"audience": {"scope": "partners", "partners": ["DZA"]}}))
        cluster.sync()
        [purge] = [c for c in changes if c.removed]
        assert purge.object_id == doc["id"] and purge.facts_before is not None
        assert "LBY" in purge.facts_before.releasable_to and purge.doc is None
    finally:
        cluster.close()
