"""Reports in and out as JSON lines: export writes report documents, import reads either
the API's input shape or an exported document (its read-only fields are dropped)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from .domain.org import User
from .errors import FossatumError, InvalidInput
from .node import Node
from .policy.actions import Action
from .schemas import ReportIn, first_error

_INPUT_FIELDS = set(ReportIn.model_fields)
# Read-only fields of an exported report document: accepted on import and ignored.
_EXPORT_ONLY = {"version", "origin", "author", "owner_agency", "owner_country", "layer", "released",
                "reported_at", "updated_at", "updated_by", "visible_to", "validated_by", "validated_at",
                "returned_reason", "closed_reason", "handler", "urgent", "urgent_note", "release"}


def as_input(doc: dict[str, Any]) -> dict[str, Any]:
    """Map an exported report document onto the input shape (an input passes unchanged)."""
    unknown = sorted(set(doc) - _INPUT_FIELDS - _EXPORT_ONLY)
    if unknown:
        raise InvalidInput("unknown field", field=unknown[0])
    out = {k: v for k, v in doc.items() if k in _INPUT_FIELDS}
    location = doc.get("location")
    if isinstance(location, dict) and "lat" in location and "lon" in location:
        out["location"] = {"lat": location["lat"], "lon": location["lon"]}
    grade = doc.get("grade")
    if isinstance(grade, dict):
        out["grade"] = {"source": grade.get("source"), "info": grade.get("info")}
    audience = doc.get("audience")
    if isinstance(audience, dict):
        out["audience"] = {"scope": audience.get("scope"), "partners": audience.get("partners") or []}
    if "state" in doc:
        out["state"] = "draft" if doc["state"] == "draft" else "submitted"
    return out


def import_lines(node: Node, *, author: User, lines: Iterable[str]) -> tuple[int, int]:
    """Check every line against every rule first, then file them all in one transaction."""
    parsed: list[tuple[int, ReportIn]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        with _line(number):
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise InvalidInput("expected a JSON object")
            parsed.append((number, ReportIn.model_validate(as_input(doc))))
    now = node.clock()
    ids = frozenset(spec.id for _, spec in parsed if spec.id)
    reports = []
    for number, spec in parsed:
        with _line(number):
            reports.append(node.prepare_report(actor=author, spec=spec, now=now, batch_ids=ids,
                                                  action=Action.REPORT_IMPORT))
    return node.file_prepared(reports)


@contextmanager
def _line(number: int) -> Iterator[None]:
    """Name the line of any error, and say that nothing was imported."""
    try:
        yield
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"line {number}: malformed JSON ({exc.msg} at column {exc.colno}); nothing was imported") from None
    except ValidationError as exc:
        field, message = first_error(exc)
        raise InvalidInput(f"line {number}: {field}: {message}; nothing was imported") from None
    except FossatumError as exc:
        raise InvalidInput(f"line {number}: {exc}; nothing was imported") from None
