"""Units (blue force): a patrol, a post, a vehicle, a TAK device's user, with a last-known position.

The document is what the log signs and the table keeps: `to_doc(from_doc(d)) == d` for every
document a node wrote (keys it does not know, from a partner or a later version, are kept as
they are). The audience and position stay documents: they are signed as they were written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_KNOWN = ("id", "name", "kind", "callsign", "owner_agency", "owner_country", "audience", "position",
          "position_at", "updated_at", "device_uid")


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    kind: str
    callsign: str
    owner_agency: str
    owner_country: str
    audience: Mapping[str, Any]
    position: Mapping[str, Any] | None
    position_at: str | None
    updated_at: str
    device_uid: str | None = None  # the TAK device it stands for (None: not a device's unit)
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a later version or a partner, kept

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id, "name": self.name, "kind": self.kind, "callsign": self.callsign,
            "owner_agency": self.owner_agency, "owner_country": self.owner_country, "audience": dict(self.audience),
            "position": dict(self.position) if self.position is not None else None,
            "position_at": self.position_at, "updated_at": self.updated_at,
        }
        if self.device_uid is not None:
            doc["device_uid"] = self.device_uid
        return {**doc, **self.extra}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Unit:
        """A unit document as this node writes it (KeyError if a field is missing)."""
        return cls(
            id=doc["id"], name=doc["name"], kind=doc["kind"], callsign=doc["callsign"],
            owner_agency=doc["owner_agency"], owner_country=doc["owner_country"], audience=doc["audience"],
            position=doc["position"], position_at=doc["position_at"], updated_at=doc["updated_at"],
            device_uid=doc.get("device_uid"), extra={k: v for k, v in doc.items() if k not in _KNOWN},
        )

    def moved(self, position: Mapping[str, Any], at: str, *, now: str) -> tuple[Unit, Mapping[str, Any] | None]:
        """(the unit after a fix taken `at`, the late fix kept for history only, or None).

        A fix older than the last-known position (a late delivery) leaves it as it is."""
        if self.position_at is None or at >= self.position_at:
            return dataclasses.replace(self, position=position, position_at=at, updated_at=now), None
        return dataclasses.replace(self, updated_at=now), {"at": at, **position}
