"""Checkpoints (issue 12): a point on a track smugglers use, its border section, the country
that operates it (or "joint"), and its status open / closed / reinforced with the reason and
the history of every change, which duty officers on both sides read at the start of a shift.

The history is in the order things happened and ends with the current status; the units
manning it are a set, kept sorted. `to_doc(from_doc(d)) == d` for every document a node writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import Conflict, InvalidInput
from .audience import check_country
from .geo import from_degrees
from .operation import check_ids, check_name, check_text, enum_value
from .timeutil import normalise

JOINT = "joint"


class CheckpointStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    REINFORCED = "reinforced"


def _check_reason(status: CheckpointStatus, reason: str, *, field: str) -> None:
    check_text(reason, field=field)
    if status is not CheckpointStatus.OPEN and not reason.strip():
        raise InvalidInput(f"a checkpoint {status.value} needs a reason", field=field)


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: CheckpointStatus
    reason: str
    by: str
    at: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", enum_value(CheckpointStatus, self.status, field="history.status"))
        _check_reason(self.status, self.reason, field="history.reason")
        check_name(self.by, field="history.by")
        object.__setattr__(self, "at", normalise(self.at, field="history.at"))

    def to_doc(self) -> dict[str, Any]:
        return {"status": self.status.value, "reason": self.reason, "by": self.by, "at": self.at}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StatusChange:
        return cls(doc["status"], doc["reason"], doc["by"], doc["at"])


_KNOWN = ("id", "name", "point", "section", "operator", "status", "reason", "history", "units", "owner_agency",
          "owner_country", "audience", "created_by", "updated_at")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    id: str
    name: str
    point: Mapping[str, Any]  # GeoJSON Point
    section: str  # the border section's id
    operator: str  # a country code, or JOINT
    status: CheckpointStatus
    reason: str
    history: tuple[StatusChange, ...]
    units: tuple[str, ...]
    owner_agency: str
    owner_country: str
    audience: Mapping[str, Any]
    created_by: str
    updated_at: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a later version or a partner, kept

    def __post_init__(self) -> None:
        check_name(self.name, field="name")
        point = self.point
        if not isinstance(point, Mapping) or point.get("type") != "Point" or not isinstance(point.get("coordinates"),
                                                                                              list) \
                or len(point["coordinates"]) != 2:
            raise InvalidInput("expected a GeoJSON Point [lon, lat]", field="point")
        from_degrees(point["coordinates"][1], point["coordinates"][0], field="point")
        if not isinstance(self.section, str) or not self.section:
            raise InvalidInput("a checkpoint lies on a border section: give its id", field="section")
        if self.operator != JOINT:
            check_country(self.operator, field="operator")
        check_country(self.owner_country, field="owner_country")
        object.__setattr__(self, "status", enum_value(CheckpointStatus, self.status, field="status"))
        _check_reason(self.status, self.reason, field="reason")
        for before, after in zip(self.history, self.history[1:], strict=False):
            if after.at < before.at:
                raise InvalidInput("the history is not in the order things happened", field="history")
        if self.history and (self.history[-1].status, self.history[-1].reason) != (self.status, self.reason):
            raise InvalidInput("the history's last change is not the current status", field="history")
        object.__setattr__(self, "units", check_ids(list(self.units), field="units"))

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "point": self.point, "section": self.section,
                "operator": self.operator, "status": self.status.value, "reason": self.reason,
                "history": [h.to_doc() for h in self.history], "units": list(self.units),
                "owner_agency": self.owner_agency, "owner_country": self.owner_country,
                "audience": dict(self.audience), "created_by": self.created_by, "updated_at": self.updated_at,
                **self.extra}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Checkpoint:
        return cls(
            id=doc["id"], name=doc["name"], point=doc["point"], section=doc["section"], operator=doc["operator"],
            status=doc["status"], reason=doc["reason"], history=tuple(StatusChange.from_doc(h) for h in doc["history"]),
            units=tuple(doc["units"]), owner_agency=doc["owner_agency"], owner_country=doc["owner_country"],
            audience=doc["audience"], created_by=doc["created_by"], updated_at=doc["updated_at"],
            extra={k: v for k, v in doc.items() if k not in _KNOWN},
        )

    def with_status(self, status: object, reason: str, *, by: str, at: str) -> Checkpoint:
        """The checkpoint after a status change, recorded in its history. Conflict if nothing
        changes or if the change is dated before the last one (a late, stale order)."""
        change = StatusChange(enum_value(CheckpointStatus, status, field="status"), reason, by, at)
        if (change.status, change.reason) == (self.status, self.reason):
            raise Conflict(f"the checkpoint is already {self.status.value} for that reason", field="status")
        if self.history and change.at < self.history[-1].at:
            raise Conflict(f"the last change was at {self.history[-1].at}, after {change.at}", field="at")
        return dataclasses.replace(self, status=change.status, reason=change.reason,
                                   history=(*self.history, change), updated_at=change.at)
