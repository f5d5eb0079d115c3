"""A partner that misbehaves: forged, tampered, replayed, out-of-chain, relayed or unreleased
items are rejected by the receiver (audited, nothing stored, the good prefix kept); and the
sender's independent egress check stops an outbox row that was tampered with.

Malicious pages are built with the nodes' own keys and `stream.seal`, and fed straight to
`inbound.apply` (what `Federation.pull` calls with a fetched page).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fossatum.errors import Forbidden
from fossatum.federation import inbound
from fossatum.federation.stream import seal
from fossatum.log.entry import GENESIS, Entry, canonical
from fossatum.log.signing import NodeKey
from fossatum.node import Node
from fossatum.schemas import ReportPatch

from .cluster import Cluster

pytestmark = pytest.mark.both_backends

# --- helpers -----------------------------------------------------------------------------

def report_ids(node: Node) -> set[str]:
    return {r[0] for r in node.store.read("SELECT id FROM reports", system=True)}


def log_rows(node: Node, origin: str) -> int:
    return node.store.read("SELECT COUNT(*) FROM log WHERE origin = ?", (origin,))[0][0]


def position(receiver: Node, sender: Node) -> tuple[int, str]:
    """The receiver's stream cursor for `sender`: (stream seq held, hash of that item)."""
    row = receiver.store.read_one("SELECT stream_seq, stream_hash FROM inbound WHERE origin = ?", (sender.node_id,))
    return (row[0], row[1]) if row else (0, GENESIS)


def rejections(node: Node) -> list[dict[str, Any]]:
    return [a for a in node.federation.audit(limit=1000) if a["direction"] == "in" and a["decision"] == "rejected"]


def served(sender: Node, receiver: Node, after: int = 0) -> list[dict[str, Any]]:
    """Genuine wire items of `sender`'s stream for `receiver` after `after` (JSON round trip)."""
    page = sender.federation.serve_stream(receiver.node_id, after=after, limit=5000)
    assert page["blocked"] is None
    return json.loads(json.dumps(page["items"]))


def item(sender: Node, receiver: Node, seq: int, prev: str, entry_doc: dict[str, Any], *,
         key: NodeKey | None = None) -> dict[str, Any]:
    body = {"from": sender.node_id, "to": receiver.country, "seq": seq, "prev": prev, "kind": "entry",
            "entry": entry_doc}
    return seal(key or sender.key, body)


def resign(entry_doc: dict[str, Any], key: NodeKey, **changes: Any) -> dict[str, Any]:
    """The entry with `changes`, hashed and signed again by `key` (what a malicious origin can do)."""
    doc = {**copy.deepcopy(entry_doc), **changes}
    e = Entry.from_doc({**doc, "hash": "", "sig": ""})
    digest = e.compute_hash()
    return {**doc, "hash": digest, "sig": key.sign(digest)}


def partner(receiver: Node, sender: Node) -> inbound.Partner:
    return receiver.federation.partner(sender.country)


def own_entry(node: Node, report_id: str, kind: str) -> dict[str, Any]:
    """An entry of `node`'s own log, as a document (genuinely signed by its origin)."""
    for e in node.store.entries(node.node_id, strict=False):
        if e.object_id == report_id and e.kind == kind:
            return e.to_doc()
    raise AssertionError(f"no {kind} entry for {report_id}")


def next_after(items: list[dict[str, Any]], start: tuple[int, str]) -> tuple[int, str]:
    if not items:
        return start
    return items[-1]["item"]["seq"], items[-1]["hash"]


def assert_rejected(result: inbound.Applied, receiver: Node, before: int, *needles: str) -> dict[str, Any]:
    assert result.rejected is not None, "the bad item was accepted"
    found = rejections(receiver)
    assert len(found) == before + 1, found[:3]
    newest = found[0]
    assert newest["rule"] == "verification" and newest["detail"] == result.rejected
    for needle in needles:
        assert needle in newest["detail"], newest["detail"]
    return newest


# --- a batch of good items followed by a bad one -----------------------------------------

@pytest.fixture
def tun_dza(cluster: Cluster) -> tuple[Cluster, Node, Node, list[str], list[dict[str, Any]]]:
    """Two genuine TUN reports released to DZA, served but not yet applied; a third one
    (filed and validated at TUN) whose entry the cases below corrupt."""
    good = [cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})["id"] for _ in range(2)]
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    items = served(tun, dza)
    assert [w["item"]["entry"]["payload"]["report"]["id"] for w in items] == good
    return cluster, tun, dza, good, items


def _third(cluster: Cluster, tun: Node, dza: Node, items: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A third report released to DZA: its genuine wire item (stream #3), taken off the stream."""
    doc = cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    rest = served(tun, dza, after=len(items))
    assert len(rest) == 1
    return doc["id"], rest[0]


def _apply_batch_with(dza: Node, tun: Node, good_items: list[dict[str, Any]], bad: dict[str, Any],
                      good_ids: list[str], bad_id: str | None, *needles: str) -> dict[str, Any]:
    before_rej = len(rejections(dza))
    before_log = log_rows(dza, tun.node_id)
    start = position(dza, tun)
    result = inbound.apply(dza.store, partner(dza, tun), dza.country, [*good_items, bad])
    audit = assert_rejected(result, dza, before_rej, *needles)
    assert result.stored == len(good_items) and result.cursor == start[0] + len(good_items)
    held = report_ids(dza)
    assert set(good_ids) <= held, "the valid items before the bad one were not kept"
    if bad_id is not None:
        assert bad_id not in held
    assert log_rows(dza, tun.node_id) == before_log + len(good_items)
    assert position(dza, tun) == next_after(good_items, start)
    return audit


def test_a_forged_item_signature_is_rejected_after_the_good_prefix(tun_dza) -> None:
    cluster, tun, dza, good, items = tun_dza
    bad_id, genuine = _third(cluster, tun, dza, items)
    forged = {**genuine, "sig": cluster.nodes["LBY"].key.sign(genuine["hash"])}  # signed by someone else
    audit = _apply_batch_with(dza, tun, items, forged, good, bad_id, "bad item signature")
    assert audit["entry_seq"] == 3 and audit["partner"] == "TUN"


def test_an_entry_signed_by_another_key_is_rejected(tun_dza) -> None:
    cluster, tun, dza, good, items = tun_dza
    bad_id, genuine = _third(cluster, tun, dza, items)
    entry = resign(genuine["item"]["entry"], cluster.nodes["LBY"].key)   # stream sealed by TUN, entry not
    bad = item(tun, dza, 3, items[-1]["hash"], entry)
    _apply_batch_with(dza, tun, items, bad, good, bad_id, "bad entry signature")


def test_a_payload_changed_after_signing_is_rejected(tun_dza) -> None:
    cluster, tun, dza, good, items = tun_dza
    bad_id, genuine = _third(cluster, tun, dza, items)
    entry = copy.deepcopy(genuine["item"]["entry"])
    entry["payload"]["report"]["description"] = "nothing to see here"
    # (1) changed in transit: the stream item no longer matches its hash
    in_transit = {**genuine, "item": {**genuine["item"], "entry": entry}}
    _apply_batch_with(dza, tun, items, in_transit, good, bad_id, "item does not match its hash")
    # (2) changed and re-sealed with the sender's stream key: the entry's own hash catches it
    resealed = item(tun, dza, 3, items[-1]["hash"], entry)
    _apply_batch_with(dza, tun, [], resealed, [], bad_id, "entry does not match its hash")
    assert len(report_ids(dza) & set(good)) == 2


def test_a_replayed_stream_item_is_ignored_idempotently(tun_dza) -> None:
    _, tun, dza, good, items = tun_dza
    first = inbound.apply(dza.store, partner(dza, tun), dza.country, items)
    assert first.stored == 2 and first.rejected is None
    rows = log_rows(dza, tun.node_id)
    versions = dza.store.read("SELECT COUNT(*) FROM report_versions", system=True)[0][0]
    audit_before = len(dza.federation.audit(limit=5000))
    for replay in (items, items[:1], [items[1], items[0]]):
        again = inbound.apply(dza.store, partner(dza, tun), dza.country, replay)
        assert again.rejected is None and again.stored == 0 and again.duplicates == len(replay)
        assert again.cursor == 2
    assert log_rows(dza, tun.node_id) == rows
    assert dza.store.read("SELECT COUNT(*) FROM report_versions", system=True)[0][0] == versions
    assert report_ids(dza) >= set(good)
    assert len(dza.federation.audit(limit=5000)) == audit_before  # nothing stored, nothing to audit
    assert position(dza, tun) == (2, items[-1]["hash"])


def test_an_old_entry_replayed_at_a_new_stream_position_is_rejected(tun_dza) -> None:
    _, tun, dza, _good, items = tun_dza
    assert inbound.apply(dza.store, partner(dza, tun), dza.country, items).stored == 2
    replayed = item(tun, dza, 3, items[-1]["hash"], items[0]["item"]["entry"])
    before = len(rejections(dza))
    rows = log_rows(dza, tun.node_id)
    result = inbound.apply(dza.store, partner(dza, tun), dza.country, [replayed])
    assert_rejected(result, dza, before, "replayed")
    assert log_rows(dza, tun.node_id) == rows and position(dza, tun) == (2, items[-1]["hash"])


@pytest.mark.parametrize("how", ["gap", "wrong prev", "fork of a held position"])
def test_an_out_of_chain_item_is_rejected(tun_dza, how: str) -> None:
    cluster, tun, dza, good, items = tun_dza
    bad_id, genuine = _third(cluster, tun, dza, items)
    entry = genuine["item"]["entry"]
    if how == "gap":
        bad = item(tun, dza, 4, items[-1]["hash"], entry)          # #4 after #2
    elif how == "wrong prev":
        bad = item(tun, dza, 3, items[0]["hash"], entry)           # #3 claiming to follow #1
    else:
        bad = item(tun, dza, 3, "f" * 64, entry)
    _apply_batch_with(dza, tun, items, bad, good, bad_id, "stream gap or fork")
    # the genuine #3 is still accepted afterwards: a rejection does not poison the stream
    ok = inbound.apply(dza.store, partner(dza, tun), dza.country, [genuine])
    assert ok.rejected is None and ok.stored == 1 and bad_id in report_ids(dza)


def test_an_entry_of_a_third_country_relayed_by_a_partner_is_rejected(cluster: Cluster) -> None:
    """LBY received a TUN report released to DZA and LBY, and re-sends it to DZA in its own stream."""
    doc = cluster.file("TUN", audience={"scope": "all_partners"})
    own = cluster.file("LBY", audience={"scope": "all_partners"})
    tun, dza, lby = cluster.nodes["TUN"], cluster.nodes["DZA"], cluster.nodes["LBY"]
    assert inbound.apply(lby.store, partner(lby, tun), lby.country, served(tun, lby)).stored == 1
    tun_entry = list(lby.store.entries(tun.node_id, strict=False))[-1].to_doc()   # as held at LBY, TUN-signed
    assert tun_entry["payload"]["report"]["id"] == doc["id"]
    genuine = served(lby, dza)                                # LBY's own report: #1 of its stream to DZA
    assert len(genuine) == 1
    relay = item(lby, dza, 2, genuine[0]["hash"], tun_entry)  # sealed with LBY's key
    before = len(rejections(dza))
    result = inbound.apply(dza.store, partner(dza, lby), dza.country, [*genuine, relay])
    audit = assert_rejected(result, dza, before, "relayed", "only the originator may send")
    assert audit["partner"] == "LBY" and result.stored == 1
    assert own["id"] in report_ids(dza) and doc["id"] not in report_ids(dza)
    assert log_rows(dza, tun.node_id) == 0

    # Re-signing it as LBY's own entry is a hijack of TUN's object once DZA holds TUN's copy.
    assert inbound.apply(dza.store, partner(dza, tun), dza.country, served(tun, dza)).stored == 1
    seq = list(lby.store.entries(lby.node_id, strict=False))[-1].seq + 1
    hijack = resign(tun_entry, lby.key, origin=lby.node_id, seq=seq)
    before = len(rejections(dza))
    result = inbound.apply(dza.store, partner(dza, lby), dza.country, [item(lby, dza, 2, genuine[0]["hash"], hijack)])
    audit = assert_rejected(result, dza, before)
    assert f"belongs to {tun.node_id}" in audit["detail"] or "not by the sending partner LBY" in audit["detail"]
    copy_at_dza = json.loads(dza.report(viewer=cluster.officers["DZA"], report_id=doc["id"]))
    assert copy_at_dza["origin"] == tun.node_id


@pytest.mark.parametrize("case", ["national scope", "not validated", "released to another partner"])
def test_an_entry_not_released_to_the_receiver_is_rejected(cluster: Cluster, case: str) -> None:
    """Genuinely signed by TUN and correctly sealed in TUN's stream, but not for DZA's eyes."""
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    good = cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    items = served(tun, dza)
    if case == "national scope":
        doc = cluster.file("TUN", audience={"scope": "national"})
        entry = own_entry(tun, doc["id"], "report.validated")
    elif case == "not validated":
        doc = cluster.file("TUN", validate=False)
        entry = own_entry(tun, doc["id"], "report.filed")
    else:
        doc = cluster.file("TUN", audience={"scope": "partners", "partners": ["LBY"]})
        entry = own_entry(tun, doc["id"], "report.validated")
    bad = item(tun, dza, 2, items[-1]["hash"], entry)
    audit = _apply_batch_with(dza, tun, items, bad, [good["id"]], doc["id"], "not released to DZA")
    assert audit["entry_seq"] == 2


def test_a_stream_item_addressed_elsewhere_or_from_another_stream_is_rejected(cluster: Cluster) -> None:
    tun, dza, lby = cluster.nodes["TUN"], cluster.nodes["DZA"], cluster.nodes["LBY"]
    cluster.file("TUN", audience={"scope": "all_partners"})
    to_lby = served(tun, lby)                  # TUN's genuine stream for LBY, delivered to DZA
    before = len(rejections(dza))
    result = inbound.apply(dza.store, partner(dza, tun), dza.country, to_lby)
    assert_rejected(result, dza, before, "addressed to LBY")
    before = len(rejections(dza))
    result = inbound.apply(dza.store, partner(dza, lby), dza.country, served(tun, dza))  # TUN's, as LBY's
    assert_rejected(result, dza, before)
    assert report_ids(dza) == set() and log_rows(dza, tun.node_id) == 0


def test_a_rejected_page_through_the_transport_is_reported_in_status(cluster: Cluster) -> None:
    """The same through `Federation.pull` over a LocalTransport whose serve function lies."""
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    good = cluster.file("TUN")
    items = served(tun, dza)
    bad = {**items[0], "sig": dza.key.sign(items[0]["hash"])}
    honest = cluster.transports["DZA"]._serve

    def lying(caller: str, country: str, after: int, limit: int) -> dict[str, Any]:
        page = honest(caller, country, after, limit)
        if country == "TUN":
            page["items"] = [bad if w["item"]["seq"] == 1 else w for w in page["items"]]
        return page

    cluster.transports["DZA"]._serve = lying
    result = dza.federation.pull(dza.federation.partner("TUN"))
    assert result.rejected and "bad item signature" in result.rejected and result.stored == 0
    assert good["id"] not in report_ids(dza)
    status = {s["country"]: s for s in dza.federation.status()}
    assert "bad item signature" in (status["TUN"]["last_error"] or "")
    cluster.transports["DZA"]._serve = honest
    assert dza.federation.pull(dza.federation.partner("TUN")).stored == 1
    assert good["id"] in report_ids(dza)


# --- the sender's independent egress check -------------------------------------------------

def status_error(node: Node, country: str) -> str:
    return {s["country"]: s for s in node.federation.status()}[country]["last_error"] or ""


def test_the_blocked_audit_names_the_object_and_entry(cluster: Cluster) -> None:
    # Regression (bug at HEAD d1d0a47): outbound.serve audits a blocked item with object_id=None (it reads item['entry']['object_id'], a key entry documents do not have) and puts the stream seq in entry_seq
    tun = cluster.nodes["TUN"]
    _, second = _blocked_at_tun_for_dza(cluster)
    tun.federation.serve_stream(cluster.nodes["DZA"].node_id, after=0, limit=100)
    blocked = next(a for a in tun.federation.audit() if a["decision"] == "blocked")
    validated = own_entry(tun, second["id"], "report.validated")
    assert (blocked["object_id"], blocked["entry_origin"], blocked["entry_seq"]) == \
        (second["id"], tun.node_id, validated["seq"])


def _tamper_outbox(tun: Node, partner_country: str, stream_seq: int, change) -> None:
    """Rewrite an outbox row as a bug (or an intruder with the node's key) would: the item is
    changed and sealed again, so that only the egress check can notice."""
    with tun.store.transaction() as tx:
        (text,) = tx.execute("SELECT item FROM outbox WHERE partner = ? AND stream_seq = ?",
                             (partner_country, stream_seq)).fetchone()
        body = json.loads(text)
        change(body)
        wire = seal(tun.key, body)
        tx.execute("UPDATE outbox SET item = ?, hash = ?, sig = ? WHERE partner = ? AND stream_seq = ?",
                   (canonical(body), wire["hash"], wire["sig"], partner_country, stream_seq))


def _national(body: dict[str, Any]) -> None:
    body["entry"]["audience"]["scope"] = "national"


def _blocked_at_tun_for_dza(cluster: Cluster) -> tuple[dict, dict]:
    first = cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    second = cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    tun = cluster.nodes["TUN"]
    tun.federation.release_all()
    _tamper_outbox(tun, "DZA", 2, _national)
    return first, second


def test_the_egress_check_stops_the_stream_before_a_tampered_item(cluster: Cluster) -> None:
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    first, second = _blocked_at_tun_for_dza(cluster)
    page = tun.federation.serve_stream(dza.node_id, after=0, limit=100)
    assert [w["item"]["seq"] for w in page["items"]] == [1]
    assert page["blocked"] and "does not cross borders" in page["blocked"]
    blocked = [a for a in tun.federation.audit() if a["decision"] == "blocked"]
    assert blocked and blocked[0]["partner"] == "DZA" and blocked[0]["rule"] == "egress check"
    assert "stream #2" in status_error(tun, "DZA")
    assert "egress check blocked stream #2" in status_error(tun, "DZA")
    assert {s["country"]: s for s in tun.federation.status()}["DZA"]["lag"] == 2

    # through a full pull: DZA gets the first, never the second, and is not misled into a gap
    result = dza.federation.pull(dza.federation.partner("TUN"))
    assert result.stored == 1 and result.rejected is None
    assert first["id"] in report_ids(dza) and second["id"] not in report_ids(dza)
    assert len([a for a in tun.federation.audit() if a["decision"] == "blocked"]) >= 2
    # other partners' streams are not affected
    lby = cluster.nodes["LBY"]
    assert lby.federation.pull(lby.federation.partner("TUN")).rejected is None


@pytest.mark.parametrize("change", [
    pytest.param(lambda b: b["entry"]["audience"].update(releasable_to=["TUN", "LBY"]), id="partner dropped"),
    pytest.param(lambda b: b["entry"]["payload"]["report"].update(released=False), id="report unvalidated"),
    pytest.param(lambda b: b.update(to="LBY"), id="addressed elsewhere"),
    pytest.param(lambda b: b["entry"].update(origin="LBY-00000000"), id="forwarded"),
])
def test_the_egress_check_blocks_other_tampering(cluster: Cluster, change) -> None:
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    tun.federation.release_all()
    _tamper_outbox(tun, "DZA", 1, change)
    page = tun.federation.serve_stream(dza.node_id, after=0, limit=100)
    assert page["items"] == [] and page["blocked"]
    assert [a for a in tun.federation.audit() if a["decision"] == "blocked"]


def test_a_blocked_stream_stays_visible_in_status_after_a_successful_pull_from_that_partner(cluster: Cluster) -> None:
    # Regression (bug at HEAD d1d0a47): peer_state.last_error is shared by both directions; a successful pull FROM the partner clears the error of the blocked stream TO it
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    _blocked_at_tun_for_dza(cluster)
    dza.federation.pull(dza.federation.partner("TUN"))
    assert "egress check" in ({s["country"]: s for s in tun.federation.status()}["DZA"]["last_error"] or "")
    tun.federation.pull(tun.federation.partner("DZA"))    # TUN hears from DZA: nothing new there
    status = {s["country"]: s for s in tun.federation.status()}["DZA"]
    assert status["lag"] > 0
    assert "egress check" in (status["last_error"] or ""), "the stuck stream to DZA shows no error"


# --- found while testing (bugs at HEAD): the receiver trusted what a partner says about ownership

def test_a_partner_cannot_send_an_entry_claiming_the_receivers_country_as_owner(cluster: Cluster) -> None:
    # Regression (bug at HEAD d1d0a47): inbound._problem_with_entry does not check that the entry's owner_country is the sending partner's country (releasable_to always contains the owner)
    """LBY signs a report whose audience says owner DZA, agency scope: to DZA it looks like
    a report of its own Gendarmerie, which DZA never released to anyone."""
    lby, dza = cluster.nodes["LBY"], cluster.nodes["DZA"]
    doc = cluster.file("LBY", audience={"scope": "all_partners"})
    genuine = own_entry(lby, doc["id"], "report.validated")
    audience = {**genuine["audience"], "scope": "agency", "owner_country": "DZA", "owner_agency": "DZ-GN",
                "releasable_to": ["DZA"], "partners": []}
    entry = resign(genuine, lby.key, audience=audience)
    before = len(rejections(dza))
    result = inbound.apply(dza.store, partner(dza, lby), dza.country, [item(lby, dza, 1, GENESIS, entry)])
    assert doc["id"] not in report_ids(dza)
    assert_rejected(result, dza, before)


def test_a_partner_cannot_plant_a_report_that_claims_the_receivers_node_as_origin(cluster: Cluster) -> None:
    # Regression (bug at HEAD d1d0a47): the receiver projects payload.report (origin, owner, audience) without checking it against the verified entry; a partner can plant a report that the receiver takes for its own and lets its users edit
    lby, dza = cluster.nodes["LBY"], cluster.nodes["DZA"]
    doc = cluster.file("LBY", audience={"scope": "all_partners"})
    genuine = own_entry(lby, doc["id"], "report.validated")
    payload = copy.deepcopy(genuine["payload"])
    payload["report"].update(origin=dza.node_id, owner_country="DZA", owner_agency="DZ-GN")
    entry = resign(genuine, lby.key, payload=payload)   # entry.origin and its audience stay LBY's
    result = inbound.apply(dza.store, partner(dza, lby), dza.country, [item(lby, dza, 1, GENESIS, entry)])
    planted = doc["id"] in report_ids(dza)
    editable = False
    if planted:
        try:
            dza.amend_report(actor=cluster.officers["DZA"], report_id=doc["id"],
                             patch=ReportPatch.model_validate({"description": "now DZA's own"}))
            editable = True
        except Forbidden:
            pass
    assert not editable, "DZA's officer could amend a planted report as DZA's own (it would be re-sent as DZA's)"
    assert not planted and result.rejected
