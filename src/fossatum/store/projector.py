"""Project log entries into the tables the API reads. Pure function of the entries:
replaying the log in order rebuilds exactly the same tables.

SQL here is portable (`?` placeholders; backends translate), one function per kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from ..domain import audience as aud
from ..domain import report as report_rules
from ..domain.section import bbox
from ..federation.links import legacy_link
from ..log import kinds
from ..log.entry import Entry, canonical
from ..policy.predicate import releasable_text
from ..policy.visibility import Facts

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Cursor(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


def days(instant: str) -> float:
    """Days since 1970 of a stored UTC instant: the time axis of the space-time index."""
    return (datetime.fromisoformat(instant.replace("Z", "+00:00")) - EPOCH).total_seconds() / 86400.0


def _visibility_columns(doc: dict[str, Any]) -> dict[str, Any]:
    a = aud.from_doc(doc.get("audience"), owner_agency=doc["owner_agency"], owner_country=doc["owner_country"])
    return {
        "owner_agency": a.owner_agency, "owner_country": a.owner_country, "scope": a.scope.value,
        "releasable_to": releasable_text(a.releasable_to),
    }


def _upsert(cur: Cursor, table: str, key: str, row: dict[str, Any]) -> Any:
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != key)
    return cur.execute(
        f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {updates}",
        tuple(row.values()),
    )


def _node_init(cur: Cursor, e: Entry) -> None:
    p = e.payload
    for name in ("node_id", "country", "name", "public_key"):
        _upsert(cur, "meta", "name", {"name": name, "value": p[name]})
    _roster_added(cur, e)


def _roster_added(cur: Cursor, e: Entry) -> None:
    cur.execute(
        "INSERT INTO roster (country, added_at) VALUES (?, ?) ON CONFLICT (country) DO NOTHING",
        (e.payload["country"], e.ts),
    )


def _agency_added(cur: Cursor, e: Entry) -> None:
    p = e.payload
    cur.execute("INSERT INTO agencies (code, name, country) VALUES (?, ?, ?)", (p["code"], p["name"], p["country"]))


def _agency_field_audience_set(cur: Cursor, e: Entry) -> None:
    p = e.payload
    value = canonical(p["field_audience"]) if p.get("field_audience") is not None else None
    cur.execute("UPDATE agencies SET field_audience = ? WHERE code = ?", (value, p["code"]))


def _user_saved(cur: Cursor, e: Entry) -> None:
    p = e.payload
    _upsert(cur, "users", "username", {
        "username": p["username"], "agency": p["agency"], "country": p["country"],
        "roles": json.dumps(sorted(p["roles"])), "full_name": p.get("full_name", ""),
        "active": 1 if p.get("active", True) else 0,
    })


def _unit_saved(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    doc = {k: v for k, v in doc.items() if k != "fix"}
    _upsert(cur, "units", "id", {
        "id": doc["id"], "origin": e.origin, "name": doc["name"], "kind": doc["kind"], **_visibility_columns(doc),
        "state": "active", "released": 1, "author": e.author,
        "lat": doc["position"]["lat"] if doc.get("position") else None,
        "lon": doc["position"]["lon"] if doc.get("position") else None,
        "position_at": doc.get("position_at"), "doc": canonical(doc),
    })
    fix = e.payload.get("fix")  # a late fix: history only, the last position stays
    if fix:
        cur.execute(
            "INSERT INTO unit_positions (unit_id, at, lat, lon) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (unit_id, at) DO NOTHING",
            (doc["id"], fix["at"], fix["lat"], fix["lon"]),
        )
    if doc.get("position") and doc.get("position_at"):
        cur.execute(
            "INSERT INTO unit_positions (unit_id, at, lat, lon) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (unit_id, at) DO NOTHING",
            (doc["id"], doc["position_at"], doc["position"]["lat"], doc["position"]["lon"]),
        )


# A section's owner notes (node-internal `section_notes.set` entries): kept across later entries
# of the section, which carry them empty (see Node._note_section).
SECTION_NOTES = tuple(kinds.SECTION.owner_notes)


def _stored_section(cur: Cursor, section_id: str) -> dict[str, Any] | None:
    row = cur.execute("SELECT doc FROM sections WHERE id = ?", (section_id,)).fetchone()
    return json.loads(row[0]) if row else None


def _section_saved(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    before = _stored_section(cur, doc["id"]) if not all(doc.get(n) for n in SECTION_NOTES) else None
    if before is not None:
        doc = {**doc, **{n: before[n] for n in SECTION_NOTES if not doc.get(n) and before.get(n)}}
    min_lon, min_lat, max_lon, max_lat = bbox(doc["geometry"])
    _upsert(cur, "sections", "id", {
        "id": doc["id"], "origin": e.origin, "name": doc["name"], "impact": doc["impact"], **_visibility_columns(doc),
        "state": "active", "released": 1, "author": doc.get("created_by", e.author),
        "min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat,
        "doc": canonical(doc),
    })


def _section_noted(cur: Cursor, e: Entry) -> None:
    p = e.payload
    doc = _stored_section(cur, p["id"])
    if doc is not None:
        doc.update({n: p[n] for n in SECTION_NOTES if n in p})
        cur.execute("UPDATE sections SET doc = ? WHERE id = ?", (canonical(doc), p["id"]))


def _facts_columns(f: Facts) -> dict[str, Any]:
    return {"owner_agency": f.owner_agency, "owner_country": f.owner_country, "scope": f.scope.value,
            "releasable_to": releasable_text(f.releasable_to), "state": f.state, "released": 1 if f.released else 0,
            "author": f.author}


def _report_saved(cur: Cursor, e: Entry) -> None:
    doc = e.payload["report"]
    grade = doc.get("grade") or {}
    report = report_rules.from_doc(doc)
    # What partner viewers read: the version last released (kept while later versions stay home).
    if report.is_released_version:
        released_doc: str | None = canonical(doc)
    elif not report.released:
        released_doc = None
    else:
        held = cur.execute("SELECT released_doc FROM reports WHERE id = ?", (doc["id"],)).fetchone()
        released_doc = held[0] if held else None
    row = {
        "id": doc["id"], "origin": doc["origin"], **_facts_columns(Facts.of_report(report)),
        "tlp": doc["tlp"],
        "type": doc["type"], "layer": doc["layer"],
        "observed_at": doc["observed_at"], "reported_at": doc["reported_at"],
        "updated_at": doc["updated_at"], "lat": doc["location"]["lat"], "lon": doc["location"]["lon"],
        "grade_source": grade.get("source"), "grade_info": grade.get("info"),
        "impact": doc.get("impact"), "version": doc["version"], "doc": canonical(doc),
        "released_doc": released_doc,
    }
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "id")
    rid = cur.execute(
        f"INSERT INTO reports ({cols}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates} RETURNING rid",
        tuple(row.values()),
    ).fetchone()[0]
    lat, lon, t = row["lat"], row["lon"], days(row["observed_at"])
    cur.execute("DELETE FROM reports_space_time WHERE rid = ?", (rid,))
    cur.execute(
        "INSERT INTO reports_space_time (rid, min_lon, max_lon, min_lat, max_lat, min_t, max_t) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (rid, lon, lon, lat, lat, t, t),
    )
    # Each version keeps its own audience and release state (a version is shown only to them).
    version = _facts_columns(Facts.of_version(report))
    cur.execute(
        "INSERT INTO report_versions (report_id, version, doc, origin, seq, owner_agency, owner_country, scope, "
        "releasable_to, state, released, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (doc["id"], doc["version"], row["doc"], e.origin, e.seq, *version.values()),
    )


def _partner_saved(cur: Cursor, e: Entry) -> None:
    p = e.payload
    _upsert(cur, "partners", "country", {
        "country": p["country"], "node_id": p["node_id"], "url": p["url"], "public_key": p["public_key"],
        "active": 1 if p.get("active", True) else 0, "added_at": e.ts,
        "link": p.get("link") or legacy_link(p["url"]),
    })
    if p.get("active", True):
        _roster_added(cur, e)


def _device_registered(cur: Cursor, e: Entry) -> None:
    p = e.payload
    _upsert(cur, "devices", "uid", {"uid": p["uid"], "username": p["username"], "unit_id": p["unit_id"],
                                    "callsign": p.get("callsign", ""), "registered_at": e.ts})


def _alert_saved(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    _upsert(cur, "alerts", "uid", {
        "uid": doc["uid"], "kind": doc["kind"], **_visibility_columns(doc), "state": doc["state"], "released": 1,
        "author": e.author, "lat": doc["position"]["lat"], "lon": doc["position"]["lon"], "at": doc["at"],
        "doc": canonical(doc),
    })


def _chat_posted(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    cur.execute(
        "INSERT INTO chat (id, room, owner_agency, owner_country, scope, releasable_to, state, released, author, at, doc) "
        "VALUES (?, ?, ?, ?, ?, ?, 'active', 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (doc["id"], doc["room"], *_visibility_columns(doc).values(), e.author, doc["at"], canonical(doc)),
    )


def _operation_saved(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    _upsert(cur, "operations", "id", {
        "id": doc["id"], "origin": e.origin, "code": doc["code"], "name": doc["name"], "kind": doc["kind"],
        "status": doc["status"], "lead_country": doc["lead_country"], **_visibility_columns(doc),
        "state": "active", "released": 1, "author": doc.get("created_by", e.author), "updated_at": doc["updated_at"],
        "doc": canonical(doc),
    })


def _journal_written(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    _upsert(cur, "operation_journal", "id", {
        "id": doc["id"], "origin": e.origin, "operation": doc["operation"], "kind": doc["kind"],
        "country": doc["country"], "at": doc["at"], **_visibility_columns(doc), "state": "active", "released": 1,
        "author": doc["author"], "doc": canonical(doc),
    })


def _patrol_saved(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    _upsert(cur, "patrols", "id", {
        "id": doc["id"], "origin": e.origin, "code": doc["code"], "name": doc["name"], "operation": doc.get("operation"),
        "status": doc["status"], "planned_start": doc["planned_start"], "planned_end": doc["planned_end"],
        **_visibility_columns(doc), "state": "active", "released": 1, "author": doc.get("created_by", e.author),
        "doc": canonical(doc),
    })


def _checkpoint_saved(cur: Cursor, e: Entry) -> None:
    doc = e.payload
    lon, lat = doc["point"]["coordinates"]
    _upsert(cur, "checkpoints", "id", {
        "id": doc["id"], "origin": e.origin, "name": doc["name"], "section": doc["section"],
        "operator": doc["operator"], "status": doc["status"], "lat": lat, "lon": lon, **_visibility_columns(doc),
        "state": "active", "released": 1, "author": doc.get("created_by", e.author), "updated_at": doc["updated_at"],
        "doc": canonical(doc),
    })


def _nothing(cur: Cursor, e: Entry) -> None:
    """Entries that record a fact but change no table (e.g. a password was set)."""


Projection = Callable[[Cursor, Entry], None]

# One projection per object kind (log/kinds.py): every entry of the object carries its new document.
OBJECT_PROJECTIONS: dict[str, Projection] = {
    kinds.REPORT.name: _report_saved,
    kinds.UNIT.name: _unit_saved,
    kinds.SECTION.name: _section_saved,
    kinds.ALERT.name: _alert_saved,
    kinds.CHAT.name: _chat_posted,
    kinds.OPERATION.name: _operation_saved,
    kinds.JOURNAL.name: _journal_written,
    kinds.PATROL.name: _patrol_saved,
    kinds.CHECKPOINT.name: _checkpoint_saved,
}

# Node-internal entries, one projection per entry kind.
INTERNAL_PROJECTIONS: dict[str, Projection] = {
    kinds.NODE_INIT: _node_init,
    kinds.ROSTER_ADDED: _roster_added,
    kinds.AGENCY_ADDED: _agency_added,
    kinds.AGENCY_FIELD_AUDIENCE_SET: _agency_field_audience_set,
    kinds.USER_ADDED: _user_saved,
    kinds.USER_UPDATED: _user_saved,
    kinds.USER_PASSWORD_SET: _nothing,
    kinds.PARTNER_ADDED: _partner_saved,
    kinds.PARTNER_UPDATED: _partner_saved,
    kinds.SECTION_NOTES_SET: _section_noted,
    kinds.DEVICE_REGISTERED: _device_registered,
}

PROJECTIONS: dict[str, Projection] = {**OBJECT_PROJECTIONS, **INTERNAL_PROJECTIONS}


def projection_of(kind: str) -> Projection:
    """The projection of an entry kind; ValueError (UnknownKind) for a kind not declared."""
    entry_kind = kinds.kind_of(kind)
    key = entry_kind.object.name if entry_kind.object is not None else entry_kind.name
    try:
        return PROJECTIONS[key]
    except KeyError:
        raise kinds.UnknownKind(f"entry kind {kind!r} has no projection (store/projector.py)") from None


def apply(cur: Cursor, entry: Entry) -> None:
    projection_of(entry.kind)(cur, entry)
