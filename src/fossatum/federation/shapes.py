"""The shape of each object a partner replicates, checked before it is stored.

A partner's entry can be authentic (signed, in its chain, released to us) and still be
something this node would never have written: a section name of 5 MB or with control
characters, a geometry that breaks the projection, a unit kind the page does not know.
`problem(entry)` says what is wrong, or None. The receiver skips such an entry and audits
it; the rest of the stream continues, so one malformed object cannot stall a partner.

Two layers, so that a new object kind is covered before it has rules of its own:
- every kind: a bounded payload (size, depth), every string a valid free text
  (domain/text.py: bounded, line breaks and tabs the only control characters);
- per kind: the fields the interfaces show (names single-line and short, enums known,
  geometry and positions valid).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..domain.checkpoint import Checkpoint
from ..domain.operation import JournalEntry, Operation
from ..domain.org import UnitKind
from ..domain.patrol import Patrol
from ..domain.report import State
from ..domain.report import from_doc as report_from_doc
from ..domain.section import check_geometry
from ..domain.taxonomy import ImpactLevel
from ..domain.text import name_problem, text_problem
from ..errors import FossatumError
from ..log.entry import Entry
from ..log.kinds import CHECKPOINT, ENTRY_KINDS, JOURNAL, OPERATION, PATROL, REPORT, SECTION, UNIT, kind_of

PAYLOAD_MAX = 256 * 1024  # a whole entry payload, as canonical JSON
DEPTH_MAX = 8
POSITIONS_MAX = 20_000    # of a section geometry
ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class Refused(Exception):
    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")


def name(doc: dict[str, Any], key: str, where: str, *, required: bool = True) -> None:
    """A one-line, short text: a name, callsign, terrain or user name."""
    value = doc.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise Refused(f"{where}.{key}", "must be a non-empty text" if required else "must be a text")
    why = name_problem(value)
    if why:
        raise Refused(f"{where}.{key}", why)


def text(doc: dict[str, Any], key: str, where: str) -> None:
    """Free text (a reason, a note, a description): may be empty or absent."""
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise Refused(f"{where}.{key}", "must be a text")


def identifier(value: Any, where: str) -> None:
    if not isinstance(value, str) or not ID.match(value):
        raise Refused(where, "not an identifier (1-64 of A-Z a-z 0-9 _ . : -)")


def one_of(value: Any, allowed: type, where: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if value not in {m.value for m in allowed}:  # type: ignore[attr-defined]
        raise Refused(where, f"unknown value {str(value)[:40]!r}")


def _walk(value: Any, where: str, depth: int) -> None:
    """Every kind: nested no deeper than DEPTH_MAX, every string bounded and without control characters."""
    if depth > DEPTH_MAX:
        raise Refused(where, f"nested deeper than {DEPTH_MAX}")
    if isinstance(value, str):
        why = text_problem(value)
        if why:
            raise Refused(where, why)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, f"{where} (a key)", depth + 1)
            _walk(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]", depth + 1)
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise Refused(where, f"unexpected {type(value).__name__}")


def _owner(doc: dict[str, Any], where: str) -> None:
    for key in ("owner_agency", "owner_country"):
        name(doc, key, where)
    if not isinstance(doc.get("audience"), dict):
        raise Refused(f"{where}.audience", "missing")


def _position(value: Any, where: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, dict):
        raise Refused(where, "must be a position {lat, lon}")
    for key, limit in (("lat", 90.0), ("lon", 180.0)):
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -limit <= v <= limit:
            raise Refused(f"{where}.{key}", f"must be a number within ±{limit:g}")


def _section(payload: dict[str, Any]) -> None:
    where = "section"
    identifier(payload.get("id"), f"{where}.id")
    name(payload, "name", where)
    name(payload, "terrain", where, required=False)
    name(payload, "impact_set_by", where, required=False)
    name(payload, "created_by", where, required=False)
    text(payload, "impact_reason", where)
    one_of(payload.get("impact"), ImpactLevel, f"{where}.impact")
    _owner(payload, where)
    geometry = payload.get("geometry")
    positions = json.dumps(geometry).count("[") if isinstance(geometry, dict) else 0
    if positions > POSITIONS_MAX:
        raise Refused(f"{where}.geometry", f"more than {POSITIONS_MAX} positions")
    try:
        check_geometry(geometry)
    except FossatumError as exc:
        raise Refused(f"{where}.geometry", str(exc)) from None
    responsible = payload.get("responsible", {})
    if responsible is not None and not (isinstance(responsible, dict) and all(
            isinstance(v, list) and all(isinstance(u, str) for u in v) for v in responsible.values())):
        raise Refused(f"{where}.responsible", "must map agencies to lists of unit ids")
    for agency, units in (responsible or {}).items():
        name({"agency": agency}, "agency", f"{where}.responsible")
        for unit in units:
            identifier(unit, f"{where}.responsible.{agency}")


def _unit(payload: dict[str, Any]) -> None:
    where = "unit"
    identifier(payload.get("id"), f"{where}.id")
    name(payload, "name", where)
    name(payload, "callsign", where, required=False)
    one_of(payload.get("kind"), UnitKind, f"{where}.kind")
    _owner(payload, where)
    _position(payload.get("position"), f"{where}.position", optional=True)
    if payload.get("fix") is not None:
        _position(payload["fix"], f"{where}.fix", optional=False)


def _report(payload: dict[str, Any]) -> None:
    where = "report"
    doc = payload.get("report")
    if not isinstance(doc, dict):
        raise Refused(where, "missing")
    identifier(doc.get("id"), f"{where}.id")
    try:
        report = report_from_doc(doc)  # type, state, grade, impact, audience: the domain's own rules
    except (FossatumError, KeyError, TypeError, ValueError) as exc:
        raise Refused(where, f"not a report ({type(exc).__name__}: {str(exc)[:120]})") from None
    one_of(doc.get("state"), State, f"{where}.state")
    _position(doc.get("location"), f"{where}.location", optional=False)
    for key in ("author", "updated_by", "handler", "validated_by"):
        name(doc, key, where, required=key == "author")
    _owner(doc, where)
    salute = doc.get("salute") or {}
    if not isinstance(salute, dict):
        raise Refused(f"{where}.salute", "must be an object")
    size = salute.get("size")
    if isinstance(size, str):
        name(salute, "size", f"{where}.salute")
    elif size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise Refused(f"{where}.salute.size", "must be a count or a short text")
    for key in ("activity", "unit", "equipment"):
        text(salute, key, f"{where}.salute")
    for key in ("reaction", "description", "returned_reason", "closed_reason", "urgent_note"):
        text(doc, key, where)
    links = doc.get("links") or []
    if not isinstance(links, list) or len(links) > 100:
        raise Refused(f"{where}.links", "must be a list of at most 100 report ids")
    for index, link in enumerate(links):
        identifier(link, f"{where}.links[{index}]")
    if not isinstance(report.version, int) or isinstance(report.version, bool) or report.version < 1:
        raise Refused(f"{where}.version", "must be a positive integer")
    uncertainty = doc.get("uncertainty_m", 0)
    if isinstance(uncertainty, bool) or not isinstance(uncertainty, (int, float)) or not 0 <= uncertainty <= 1_000_000:
        raise Refused(f"{where}.uncertainty_m", "must be a distance in metres")


def _domain(where: str, read: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    """Issue 12's kinds: the domain type's own rules (names, enums, polygons, sectors inside the
    area, EMSI status), an identifier and an owner, as this node would have written them."""
    def check(payload: dict[str, Any]) -> None:
        identifier(payload.get("id"), f"{where}.id")
        _owner(payload, where)
        try:
            read(payload)
        except (FossatumError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Refused(where, f"not a {where} ({type(exc).__name__}: {str(exc)[:120]})") from None
        for key in ("units",):
            for index, unit in enumerate(payload.get(key) or []):
                identifier(unit, f"{where}.{key}[{index}]")
    return check


def _journal(payload: dict[str, Any]) -> None:
    _domain("journal", JournalEntry.from_doc)(payload)
    identifier(payload.get("operation"), "journal.operation")
    if payload.get("country") != payload.get("owner_country"):
        raise Refused("journal.country", "a journal line is its writing country's")


# The shape rules of each federated object kind (log/kinds.py), by its name.
KINDS: dict[str, Callable[[dict[str, Any]], None]] = {
    SECTION.name: _section, UNIT.name: _unit, REPORT.name: _report,
    OPERATION.name: _domain("operation", Operation.from_doc), JOURNAL.name: _journal,
    PATROL.name: _domain("patrol", Patrol.from_doc), CHECKPOINT.name: _domain("checkpoint", Checkpoint.from_doc),
}


def problem(entry: Entry) -> str | None:
    """What is wrong with the shape of a partner's entry, or None if this node could have written it."""
    try:
        if entry.kind not in ENTRY_KINDS:
            raise Refused("kind", f"{entry.kind!r} is not a kind this node knows")
        if not isinstance(entry.payload, dict):
            raise Refused("payload", "must be an object")
        if len(json.dumps(entry.payload, ensure_ascii=False)) > PAYLOAD_MAX:
            raise Refused("payload", f"larger than {PAYLOAD_MAX} bytes")
        name({"author": entry.author}, "author", "entry")
        obj = kind_of(entry.kind).object
        if obj is not None and obj.name in KINDS:  # the kind's own rules first: they name the field precisely
            KINDS[obj.name](entry.payload)
        _walk(entry.payload, "payload", 0)
    except Refused as exc:
        return str(exc)
    return None
