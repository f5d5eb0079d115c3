"""The signed log is the truth: it verifies, it detects tampering, and the tables rebuild from it."""

from __future__ import annotations

import json

import pytest

from conftest import sighting
from fossatum.domain.org import User
from fossatum.log.chain import verify_chain
from fossatum.log.entry import GENESIS, Entry
from fossatum.log.signing import NodeKey
from fossatum.node import Node
from fossatum.schemas import ReportIn, ReportPatch
from fossatum.store.query import ReportQuery

pytestmark = pytest.mark.both_backends


def _signed_chain(key: NodeKey, n: int) -> list[Entry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        draft = Entry("TUN-x", seq, f"2026-11-29T00:00:0{seq}.000000Z", "amira", "report.filed",
                      {"n": seq, "text": "مجموعة"}, {"scope": "national"}, prev)
        digest = draft.compute_hash()
        entries.append(Entry(**{**{f: getattr(draft, f) for f in Entry.__slots__}, "hash": digest, "sig": key.sign(digest)}))
        prev = digest
    return entries


def test_an_intact_chain_verifies() -> None:
    key = NodeKey.generate()
    assert verify_chain("TUN-x", key.public, _signed_chain(key, 5)).ok


def test_a_changed_payload_a_gap_and_a_foreign_signature_are_each_reported() -> None:
    key, other = NodeKey.generate(), NodeKey.generate()
    chain = _signed_chain(key, 5)
    tampered = list(chain)
    tampered[1] = Entry(**{**{f: getattr(chain[1], f) for f in Entry.__slots__}, "payload": {"n": 99}})
    assert any("does not match its hash" in p for p in verify_chain("TUN-x", key.public, tampered).problems)
    gap = chain[:2] + chain[3:]
    assert any("expected sequence 3" in p for p in verify_chain("TUN-x", key.public, gap).problems)
    assert any("bad signature" in p for p in verify_chain("TUN-x", other.public, chain).problems)


def test_entries_travel_as_json_and_still_verify() -> None:
    key = NodeKey.generate()
    travelled = [Entry.from_doc(json.loads(json.dumps(e.to_doc()))) for e in _signed_chain(key, 3)]
    assert verify_chain("TUN-x", key.public, travelled).ok


def _snapshot(node: Node) -> dict[str, object]:
    out: dict[str, object] = {}
    for user in node.store.users():
        out[user.username] = (
            node.store.list_reports(user, ReportQuery(limit=1000)),
            node.store.list_reports(user, ReportQuery(bbox=(8.5, 35.0, 8.9, 35.4), since="2026-11-28T00:00:00.000000Z", limit=1000)),
            node.store.count_reports(user, ReportQuery(), "state"),
            node.store.units(user), node.store.sections(user),
        )
    return out


def test_rebuild_yields_exactly_the_same_query_results(node: Node, users: dict[str, User]) -> None:
    a = node.file_report(actor=users["sami"], spec=ReportIn.model_validate(sighting(audience={"scope": "all_partners"})))
    node.transition(actor=users["amira"], report_id=a["id"], action="validate")
    node.file_report(actor=users["youssef"], spec=ReportIn.model_validate(sighting(audience={"scope": "agency"}, state="draft")))
    b = node.file_report(actor=users["amira"], spec=ReportIn.model_validate(sighting(location={"lat": 35.3, "lon": 8.6})))
    node.amend_report(actor=users["amira"], report_id=b["id"], patch=ReportPatch.model_validate({"impact": "high"}))
    node.transition(actor=users["amira"], report_id=b["id"], action="return", reason="check the time")
    before = _snapshot(node)
    assert any(before[u][0] for u in before)
    node.store.rebuild()
    assert _snapshot(node) == before
    assert all(r.ok for r in node.verify())


def test_every_change_is_one_signed_entry(node: Node, users: dict[str, User]) -> None:
    size = node.store.log_size()
    report = node.file_report(actor=users["sami"], spec=ReportIn.model_validate(sighting()))
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    assert node.store.log_size() == size + 2
    last = list(node.store.entries(node.node_id, after_seq=0))[-2:]
    assert [e.kind for e in last] == ["report.filed", "report.validated"]
    assert last[1].prev == last[0].hash
    assert last[1].payload["report"]["validated_by"] == "amira"
