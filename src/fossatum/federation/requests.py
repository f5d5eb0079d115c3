"""Node-to-node HTTP requests, signed with the calling node's Ed25519 key.

Headers: `Fossatum-Node` (the caller's node id), `Fossatum-To` (the recipient's node id),
`Fossatum-Nonce` (random, single use), `Fossatum-Date` (UTC, ISO 8601) and
`Fossatum-Signature` over all of them, the method, path?query and sha256(body). The
receiver refuses a request signed for another node (a partner cannot relay what was sent to
it), a nonce it has seen (a captured request cannot be replayed), and a date more than
`SKEW` away from its clock (so it need remember nonces only that long).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from ..domain.timeutil import parse, to_text, utcnow
from ..errors import InvalidInput, Unauthorized
from ..log.signing import NodeKey, verify_signature

SKEW = timedelta(minutes=5)
VERSION = "fossatum-request-v2"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def _message(method: str, target: str, date: str, body: bytes, *, sender: str, to: str, nonce: str) -> str:
    text = "\n".join((VERSION, method.upper(), target, date, sender, to, nonce, hashlib.sha256(body).hexdigest()))
    return hashlib.sha256(text.encode()).hexdigest()


def sign(key: NodeKey, node_id: str, method: str, target: str, body: bytes = b"", *, to: str) -> dict[str, str]:
    date = to_text(utcnow())
    nonce = secrets.token_urlsafe(24)
    return {"Fossatum-Node": node_id, "Fossatum-To": to, "Fossatum-Nonce": nonce, "Fossatum-Date": date,
            "Fossatum-Signature": key.sign(_message(method, target, date, body, sender=node_id, to=to, nonce=nonce))}


def verify(headers: Mapping[str, str], method: str, target: str, body: bytes,
           key_of: Callable[[str], str | None], *, own_node_id: str,
           first_use: Callable[[str, str, datetime], bool]) -> str:
    """The calling node's id, if the request is signed by a registered, active partner, for
    this node, and new. `first_use(node_id, nonce, expires)` records the nonce and says
    whether it was unseen (called only once the signature holds, so that nobody can fill
    the table with forged nonces)."""
    node_id = headers.get("fossatum-node", "")
    to = headers.get("fossatum-to", "")
    nonce = headers.get("fossatum-nonce", "")
    date = headers.get("fossatum-date", "")
    signature = headers.get("fossatum-signature", "")
    if not node_id or not to or not nonce or not date or not signature:
        raise Unauthorized("federation requests must be signed "
                           "(Fossatum-Node, -To, -Nonce, -Date, -Signature)")
    if not _NONCE.match(nonce):
        raise Unauthorized("Fossatum-Nonce must be 22 to 64 characters of base64url")
    public_key = key_of(node_id)
    if public_key is None:
        raise Unauthorized(f"node {node_id} is not a registered partner")
    try:  # timeutil.parse: also refuses year 0001 with an offset, which overflowed (500)
        sent = parse(date, field="Fossatum-Date")
    except InvalidInput:
        raise Unauthorized("Fossatum-Date is not an ISO 8601 time with a time zone, 1900-2200") from None
    if abs(utcnow() - sent) > SKEW:
        raise Unauthorized("Fossatum-Date is too far from this node's clock (more than 5 minutes)")
    message = _message(method, target, date, body, sender=node_id, to=to, nonce=nonce)
    if not verify_signature(public_key, message, signature):
        raise Unauthorized("bad request signature")
    if to != own_node_id:
        raise Unauthorized(f"request signed for node {to}, not for this node ({own_node_id})")
    if not first_use(node_id, nonce, sent.astimezone(UTC) + SKEW):
        raise Unauthorized("replayed request (Fossatum-Nonce already used)")
    return node_id
