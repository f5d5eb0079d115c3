"""What field devices send besides positions: alerts (911, troops in contact) and GeoChat messages.

Seen on this node only (never federated). As for units, `to_doc(from_doc(d)) == d` for every
document a node wrote; the audience and position stay the documents that were signed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ALERT_OWNER_FIELDS = ("owner_agency", "owner_country", "audience", "raised_by")


@dataclass(frozen=True, slots=True)
class Alert:
    uid: str  # namespaced by the raising device (Node.alert_id)
    kind: str
    state: str  # raised | cancelled
    position: Mapping[str, Any]
    callsign: str
    text: str
    at: str
    raised_by: str
    owner_agency: str
    owner_country: str
    audience: Mapping[str, Any]
    claimed_uid: str | None = None  # the uid the device sent (None: raised before alerts were namespaced)
    device_uid: str | None = None
    cancelled_by: str | None = None
    cancelled_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a later version or a partner, kept

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"uid": self.uid}
        if self.claimed_uid is not None:
            doc["claimed_uid"] = self.claimed_uid
        if self.device_uid is not None:
            doc["device_uid"] = self.device_uid
        doc.update({"kind": self.kind, "state": self.state, "position": dict(self.position), "callsign": self.callsign,
                    "text": self.text, "at": self.at, "raised_by": self.raised_by, "owner_agency": self.owner_agency,
                    "owner_country": self.owner_country, "audience": dict(self.audience)})
        if self.cancelled_by is not None:
            doc["cancelled_by"] = self.cancelled_by
        if self.cancelled_at is not None:
            doc["cancelled_at"] = self.cancelled_at
        return {**doc, **self.extra}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Alert:
        """An alert document as this node writes it (KeyError if a field is missing)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known and k != "extra"},
                   extra={k: v for k, v in doc.items() if k not in known})

    def kept_by(self, held: Alert) -> Alert:
        """Raised again: never taken over, the alert keeps its owner, raiser and audience."""
        return dataclasses.replace(self, **{name: getattr(held, name) for name in ALERT_OWNER_FIELDS})

    def cancelled(self, *, by: str, at: str) -> Alert:
        return dataclasses.replace(self, state="cancelled", cancelled_by=by, cancelled_at=at)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: str  # "<sender uid>:<message id>"
    message_id: str
    room: str
    text: str
    sender_uid: str
    callsign: str
    position: Mapping[str, Any]
    at: str
    author: str
    owner_agency: str
    owner_country: str
    audience: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a later version or a partner, kept

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "message_id": self.message_id, "room": self.room, "text": self.text,
                "sender_uid": self.sender_uid, "callsign": self.callsign, "position": dict(self.position),
                "at": self.at, "author": self.author, "owner_agency": self.owner_agency,
                "owner_country": self.owner_country, "audience": dict(self.audience), **self.extra}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ChatMessage:
        """A chat message document as this node writes it (KeyError if a field is missing)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known and k != "extra"},
                   extra={k: v for k, v in doc.items() if k not in known})
