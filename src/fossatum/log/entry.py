"""Log entries: canonical bytes, hashing and (de)serialisation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .kinds import object_of

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept as is (Arabic round-trips)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class Entry:
    origin: str
    seq: int
    ts: str
    author: str
    kind: str
    payload: dict[str, Any]
    audience: dict[str, Any]
    prev: str
    hash: str = ""
    sig: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "origin": self.origin, "seq": self.seq, "ts": self.ts, "author": self.author,
            "kind": self.kind, "payload": self.payload, "audience": self.audience, "prev": self.prev,
        }

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical(self.body()).encode("utf-8")).hexdigest()

    def to_doc(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash, "sig": self.sig}

    @property
    def object_id(self) -> str | None:
        """The federated object (report, unit, section …) this entry is about; None otherwise.

        The log's `object_id` column serves replication (purges, tombstones, order per object):
        field objects (alerts, chat) never cross, so they have none, as in every existing log."""
        obj = object_of(self.kind)
        return obj.object_id(self.payload) if obj is not None and obj.federates else None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Entry:
        return cls(
            origin=doc["origin"], seq=int(doc["seq"]), ts=doc["ts"], author=doc["author"],
            kind=doc["kind"], payload=doc["payload"], audience=doc["audience"], prev=doc["prev"],
            hash=doc["hash"], sig=doc["sig"],
        )
