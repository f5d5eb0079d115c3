"""Reports in and out as JSON lines: export writes report documents, import reads either
the API's input shape or an exported document (its read-only fields are dropped)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from .domain.org import User
from .errors import InvalidInput
from .node import Node
from .schemas import ReportIn

_INPUT_FIELDS = set(ReportIn.model_fields)


def as_input(doc: dict[str, Any]) -> dict[str, Any]:
    """Map an exported report document onto the input shape (an input passes unchanged)."""
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


def import_lines(node: Node, *, author: User, lines: Iterable[str], batch: int = 5000) -> tuple[int, int]:
    """Check every line first, then file them all in one transaction."""
    specs: list[ReportIn] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise InvalidInput("expected a JSON object")
            spec = ReportIn.model_validate(as_input(doc))
            spec.content(default_observed_at=spec.observed_at or "1970-01-01T00:00:00.000000Z")
            specs.append(spec)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err.get("loc", ()))
            raise InvalidInput(f"line {number}: {field}: {err.get('msg')}") from None
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc}") from None
    try:
        return node.file_reports(actor=author, specs=specs)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc} (nothing was imported)") from None
