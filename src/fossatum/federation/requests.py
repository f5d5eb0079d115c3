"""Node-to-node HTTP requests, signed with the calling node's Ed25519 key.

Headers: `Fossatum-Node` (node id), `Fossatum-Date` (UTC, ISO 8601) and
`Fossatum-Signature` over "METHOD\\npath?query\\ndate\\nsha256(body)". A request older or
newer than `SKEW` is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

from ..domain.timeutil import to_text, utcnow
from ..errors import Unauthorized
from ..log.signing import NodeKey, verify_signature

SKEW = timedelta(minutes=5)


def _message(method: str, target: str, date: str, body: bytes) -> str:
    return hashlib.sha256(f"{method.upper()}\n{target}\n{date}\n{hashlib.sha256(body).hexdigest()}".encode()).hexdigest()


def sign(key: NodeKey, node_id: str, method: str, target: str, body: bytes = b"") -> dict[str, str]:
    date = to_text(utcnow())
    return {"Fossatum-Node": node_id, "Fossatum-Date": date,
            "Fossatum-Signature": key.sign(_message(method, target, date, body))}


def verify(headers: Mapping[str, str], method: str, target: str, body: bytes,
           key_of: Callable[[str], str | None]) -> str:
    """The calling node's id, if the request is signed by a registered, active partner."""
    node_id = headers.get("fossatum-node", "")
    date = headers.get("fossatum-date", "")
    signature = headers.get("fossatum-signature", "")
    if not node_id or not date or not signature:
        raise Unauthorized("federation requests must be signed (Fossatum-Node, -Date, -Signature)")
    public_key = key_of(node_id)
    if public_key is None:
        raise Unauthorized(f"node {node_id} is not a registered partner")
    try:
        sent = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        raise Unauthorized("Fossatum-Date is not an ISO 8601 time") from None
    if sent.tzinfo is None or abs(utcnow() - sent.astimezone(timezone.utc)) > SKEW:
        raise Unauthorized("Fossatum-Date is too far from this node's clock (more than 5 minutes)")
    if not verify_signature(public_key, _message(method, target, date, body), signature):
        raise Unauthorized("bad request signature")
    return node_id
