"""Finding 13 from a partner acting in bad faith: a partner node that signs entries whose
instants lie outside 1900–2200, or are not in the stored form every query compares bytewise,
gets that entry refused and audited at the receiver; nothing of it is stored, the good
entries before it are kept, and the link carries on once the partner sends genuine entries.

The partner's pages go through the receiver's own pull (`Federation.sync` over the cluster's
transport); the bad partner re-signs its entries and re-seals its stream with its own key,
as a compromised node can.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from fossatum.federation.stream import seal
from fossatum.federation.transport import LocalTransport
from fossatum.log.entry import Entry
from fossatum.node import Node

from .cluster import Cluster

pytestmark = pytest.mark.both_backends

Tamper = Callable[[dict[str, Any]], None]


def _report(key: str, value: str) -> Tamper:
    def tamper(entry: dict[str, Any]) -> None:
        entry["payload"]["report"][key] = value
    return tamper


def _ts(value: str) -> Tamper:
    def tamper(entry: dict[str, Any]) -> None:
        entry["ts"] = value
    return tamper


CASES: dict[str, tuple[Tamper, str]] = {
    "observed_at in year 0100": (_report("observed_at", "0100-01-01T00:00:00.000000Z"), "observed_at"),
    "observed_at in 2201": (_report("observed_at", "2201-01-01T00:00:00.000000Z"), "observed_at"),
    "observed_at with an offset": (_report("observed_at", "2026-11-28T20:00:00+01:00"), "observed_at"),
    "observed_at not a time": (_report("observed_at", "last tuesday"), "observed_at"),
    "updated_at in 1899": (_report("updated_at", "1899-12-31T23:59:59.000000Z"), "updated_at"),
    "validated_at a number": (_report("validated_at", 1234567890), "validated_at"),  # type: ignore[arg-type]
    "entry ts in year 0001": (_ts("0001-01-01T00:00:00.000000Z"), "ts"),
    # not an instant, but the same class of partner input PostgreSQL cannot store (500 before)
    "a NUL character in the text": (_report("description", "informant\x00"), "payload.report.description"),
}


def _resign(entry: dict[str, Any], node: Node) -> dict[str, Any]:
    e = Entry.from_doc({**entry, "hash": "", "sig": ""})
    digest = e.compute_hash()
    return {**entry, "hash": digest, "sig": node.key.sign(digest)}


def _bad_faith(cluster: Cluster, sender: str, receiver: str, victim_id: str, tamper: Tamper) -> LocalTransport:
    """`receiver`'s transport, through which `sender` serves its genuine stream except that every
    entry about `victim_id` is changed by `tamper`, re-signed and re-sealed (chain kept intact)."""
    source, target = cluster.nodes[sender], cluster.nodes[receiver]

    def serve(caller: str, partner: str, after: int, limit: int) -> dict[str, Any]:
        page = json.loads(json.dumps(source.federation.serve_stream(target.node_id, after=after, limit=limit)))
        items, prev = [], None
        for wire in page["items"]:
            body = copy.deepcopy(wire["item"])
            if prev is not None:
                body["prev"] = prev
            entry = body.get("entry")
            if body.get("kind") == "entry" and entry["payload"].get("report", {}).get("id") == victim_id:
                tamper(entry)
                body["entry"] = _resign(entry, source)
            sealed = seal(source.key, body)
            items.append(sealed)
            prev = sealed["hash"]
        return {**page, "items": items}

    return LocalTransport(receiver, serve)


def _rejections(node: Node) -> list[dict[str, Any]]:
    return [a for a in node.federation.audit(limit=1000) if a["direction"] == "in" and a["decision"] == "rejected"]


def _ids(node: Node) -> set[str]:
    return {r[0] for r in node.store.read("SELECT id FROM reports", system=True)}


@pytest.mark.parametrize("case", list(CASES))
def test_a_partner_entry_with_a_bad_instant_is_refused_and_audited(cluster: Cluster, case: str) -> None:
    tamper, field = CASES[case]
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    before = cluster.file("TUN")["id"]
    cluster.sync()
    assert before in _ids(dza)
    victim = cluster.file("TUN")["id"]
    genuine = dza.federation.transport
    dza.federation.transport = _bad_faith(cluster, "TUN", "DZA", victim, tamper)
    rejected_before = len(_rejections(dza))
    dza.federation.sync()

    assert victim not in _ids(dza)
    found = _rejections(dza)
    assert len(found) > rejected_before, "the entry with a bad instant was not refused"
    assert found[0]["partner"] == "TUN" and field in found[0]["detail"], found[0]
    held = [e.to_doc() for e in dza.store.entries(tun.node_id, strict=False)]
    assert all(victim not in json.dumps(doc) for doc in held)

    # The partner mends its ways: the same stream position now carries the genuine entry.
    dza.federation.transport = genuine
    cluster.sync()
    assert victim in _ids(dza)


@pytest.mark.parametrize("date", ["0001-01-01T00:00:00+01:00", "0100-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00",
                                  "2026-11-28T22:15:00", "yesterday"])
def test_a_signed_request_dated_outside_the_calendar_is_a_401_not_a_500(cluster: Cluster, date: str) -> None:
    """The Fossatum-Date of a federation request goes through the same parse: year 0001 with
    an offset overflowed on conversion to UTC (500) for anyone who knew a partner's node id."""
    from fastapi.testclient import TestClient

    from fossatum.api.app import create_app

    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    client = TestClient(create_app(dza), raise_server_exceptions=False)
    headers = {"Fossatum-Node": tun.node_id, "Fossatum-To": dza.node_id, "Fossatum-Nonce": "A" * 32,
               "Fossatum-Date": date, "Fossatum-Signature": "x"}
    for method, path in (("get", "/api/v1/federation/stream"), ("post", "/api/v1/federation/notify")):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].split(";")[0] == "application/problem+json"
        assert "Fossatum-Date" in response.json()["detail"]
    client.close()
