"""Units, sections, alerts and chat messages are frozen domain types (domain/unit.py,
domain/section.py, domain/field.py) whose documents are the ones a node signed before they
existed: `to_doc(from_doc(d)) == d` (the same canonical bytes) for every document held in a data
folder made by an earlier main (tests/data/legacy-folder.tar.gz) — tables and log payloads."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fossatum.domain.field import Alert, ChatMessage
from fossatum.domain.section import Section
from fossatum.domain.unit import Unit
from fossatum.log import kinds

ARCHIVE = Path(__file__).resolve().parent / "data" / "legacy-folder.tar.gz"
TYPES: dict[str, Callable[[dict[str, Any]], Any]] = {
    kinds.UNIT.name: Unit.from_doc, kinds.SECTION.name: Section.from_doc,
    kinds.ALERT.name: Alert.from_doc, kinds.CHAT.name: ChatMessage.from_doc,
}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("legacy")
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(folder, filter="data")
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in TYPES}
    for db in sorted(folder.rglob("fossatum.db")):
        conn = sqlite3.connect(db)
        try:
            for name in TYPES:
                table = kinds.object_kind(name).table
                found[name] += [json.loads(doc) for (doc,) in conn.execute(f"SELECT doc FROM {table}")]
            for kind, payload in conn.execute("SELECT kind, payload FROM log"):
                obj = kinds.object_of(kind)
                if obj is not None and obj.name in TYPES:
                    doc = {k: v for k, v in json.loads(payload).items() if k != "fix"}  # a late fix rides along
                    found[obj.name].append(doc)
        finally:
            conn.close()
    return found


@pytest.mark.parametrize("name", sorted(TYPES))
def test_every_document_of_an_earlier_main_round_trips(documents: dict[str, list[dict[str, Any]]], name: str) -> None:
    assert documents[name], f"the legacy folder holds no {name} document"
    for doc in documents[name]:
        again = TYPES[name](doc).to_doc()
        assert again == doc


def test_keys_a_node_does_not_know_are_kept() -> None:
    doc = {"id": "u1", "name": "P7", "kind": "patrol", "callsign": "", "owner_agency": "TN-GN", "owner_country": "TUN",
           "audience": {"scope": "national"}, "position": None, "position_at": None, "updated_at": "t",
           "later_field": [1, 2]}
    assert Unit.from_doc(doc).to_doc() == doc


def test_a_late_fix_leaves_the_last_known_position() -> None:
    unit = Unit("u1", "P7", "patrol", "", "TN-GN", "TUN", {}, {"lat": 1.0, "lon": 2.0}, "2026-11-02", "2026-11-02")
    moved, late = unit.moved({"lat": 3.0, "lon": 4.0}, "2026-11-01", now="2026-11-03")
    assert moved.position == unit.position and moved.updated_at == "2026-11-03"
    assert late == {"at": "2026-11-01", "lat": 3.0, "lon": 4.0}
    newer, none = unit.moved({"lat": 3.0, "lon": 4.0}, "2026-11-03", now="2026-11-03")
    assert newer.position_at == "2026-11-03" and none is None


def test_a_section_crosses_without_its_owner_notes() -> None:
    section = Section("s1", "S", "desert", {"type": "LineString", "coordinates": [[8, 35], [9, 35]]},
                      {"TUN": ["u1"]}, "high", "leila", "t", "floods", "TN-GN", "TUN", {}, "leila", "t")
    public = section.public().to_doc()
    assert public["responsible"] == {} and public["impact_reason"] == ""
    assert not kinds.SECTION.carries_notes(public) and kinds.SECTION.carries_notes(section.to_doc())
