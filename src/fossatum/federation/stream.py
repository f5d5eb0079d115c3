"""Stream items: one signed, hash-linked record per entry or tombstone sent to a partner."""

from __future__ import annotations

import hashlib
from typing import Any

from ..log.entry import canonical
from ..log.signing import NodeKey, verify_signature


def item_hash(item: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(item).encode("utf-8")).hexdigest()


def seal(key: NodeKey, item: dict[str, Any]) -> dict[str, Any]:
    digest = item_hash(item)
    return {"item": item, "hash": digest, "sig": key.sign(digest)}


def check_seal(public_key: str, wire: dict[str, Any]) -> str | None:
    """None if the wire item is intact and signed by `public_key`, else what is wrong."""
    if not isinstance(wire, dict) or not isinstance(wire.get("item"), dict):
        return "malformed item"
    if item_hash(wire["item"]) != wire.get("hash"):
        return "item does not match its hash"
    if not isinstance(wire.get("sig"), str) or not verify_signature(public_key, wire["hash"], wire["sig"]):
        return "bad item signature"
    return None
