"""A node's federation: its partners, its outgoing streams, and pulling from partners."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..domain import audience as aud
from ..domain.timeutil import to_text, utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..log import kinds
from ..policy.actions import Action, node_target
from . import inbound
from .host import Host
from .inbound import Applied, Partner
from .links import INSECURE, link_for
from .outbound import Outbound
from .transport import LinkDown, Transport

if TYPE_CHECKING:
    from ..domain.org import User

PAGE = 500


def node_id_for(country: str, public_key: str) -> str:
    """A node's id follows from its country and key (the same rule as `fossatum init`)."""
    return f"{country}-{base64.b64decode(public_key).hex()[:8]}"


def check_key(public_key: str) -> str:
    try:
        raw = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidInput("expected the partner's Ed25519 public key as printed by 'fossatum key show'", field="key")
    return public_key


class Federation:
    """`node` is the node this federation belongs to (it builds its federation, passing
    itself); `transport` how partners are reached (None: serving only, nothing is pulled)."""

    def __init__(self, node: Host, transport: Transport | None = None) -> None:
        self.node = node
        self.outbound = Outbound(node.store, node.key)
        self.transport = transport
        self._pull_locks: dict[str, threading.Lock] = {}

    # --- partners ----------------------------------------------------------------------
    def partners(self, *, include_inactive: bool = False) -> list[Partner]:
        rows = self.node.store.partner_rows()
        return [Partner(c, n, u, k, a, link) for c, n, u, k, a, link in rows if a or include_inactive]

    def partner(self, country: str) -> Partner:
        for p in self.partners():
            if p.country == country:
                return p
        raise NotFound(f"no partner {country}")

    def key_of_node(self, node_id: str) -> str | None:
        return next((p.public_key for p in self.partners() if p.node_id == node_id), None)

    def first_use(self, node_id: str, nonce: str, expires: datetime) -> bool:
        """Record the nonce of a signed request; False if it was used before (a replay).
        Shared by every worker of the node (the store), forgotten once its request would be
        refused for its date anyway."""
        with self.node.store.transaction() as tx:
            first = tx.record_nonce(node_id, nonce, to_text(expires), to_text(utcnow()))
        return first

    def add_partner(self, *, country: str, url: str, key: str, actor: User | None = None, insecure: bool = False,
                    verify: str = "pin") -> Partner:
        self.node.allow(actor, Action.PARTNER_ADD, node_target(self.node.country, "partner"))
        aud.check_country(country, field="country")
        if country == self.node.country:
            raise InvalidInput("a node cannot be its own partner", field="country")
        if not re.match(r"^https?://[^\s/]+", url):
            raise InvalidInput("expected the partner's base URL, e.g. https://dza.example:8000", field="url")
        check_key(key)
        link = link_for(url, insecure=insecure, verify=verify)
        partner = Partner(country, node_id_for(country, key), url.rstrip("/"), key, link=link)
        with self.node.store.transaction() as tx:
            if tx.partner_active(country):
                raise Conflict(f"{country} is a partner already; remove it first to change its key or URL")
            tx.append(ts=to_text(self.node.clock()), author="node-admin", kind=kinds.PARTNER_ADDED,
                      payload={"country": country, "node_id": partner.node_id, "url": partner.url,
                               "public_key": key, "active": True, "link": link},
                      audience={"scope": "agency", "owner_agency": "", "owner_country": self.node.country, "local": True})
        return partner

    def remove_partner(self, country: str, *, actor: User | None = None) -> None:
        """Stop replicating with `country`; what it released to this node stays (read-only)."""
        self.node.allow(actor, Action.PARTNER_REMOVE, node_target(self.node.country, "partner"))
        partner = self.partner(country)
        with self.node.store.transaction() as tx:
            tx.append(ts=to_text(self.node.clock()), author="node-admin", kind=kinds.PARTNER_UPDATED,
                      payload={"country": country, "node_id": partner.node_id, "url": partner.url,
                               "public_key": partner.public_key, "active": False, "link": partner.link},
                      audience={"scope": "agency", "owner_agency": "", "owner_country": self.node.country, "local": True})

    # --- sending -----------------------------------------------------------------------
    def serve_stream(self, caller_node_id: str, *, after: int, limit: int) -> dict[str, Any]:
        """The stream for the calling partner node (already authenticated by its key)."""
        partner = next((p for p in self.partners() if p.node_id == caller_node_id), None)
        if partner is None:
            raise NotFound(f"{caller_node_id} is not an active partner")
        served = self.outbound.serve(partner.country, after=max(0, after), limit=max(1, min(limit, 5000)))
        return {"from": self.node.node_id, "items": served.items, "last": served.last, "blocked": served.blocked}

    def release_all(self) -> int:
        return sum(self.outbound.release(p.country) for p in self.partners())

    def notify_all(self) -> None:
        """Tell each partner reachable now that new items wait (it pulls them)."""
        if self.transport is None:
            return
        for partner in self.partners():
            last = self._outbox_last(partner.country)
            try:
                self.transport.notify(partner, last)
            except LinkDown as exc:
                self._note_error(partner.country, str(exc), direction="send")

    def _outbox_last(self, country: str) -> int:
        return self.node.store.outbox_last(country)

    # --- receiving ---------------------------------------------------------------------
    def cursor(self, partner: Partner) -> int:
        return self.node.store.inbound_cursor(partner.node_id)

    def pull(self, partner: Partner) -> Applied:
        """Fetch and apply pages from `partner` until caught up (or rejected, or the link fails)."""
        if self.transport is None:
            raise LinkDown("no transport configured")
        lock = self._pull_locks.setdefault(partner.country, threading.Lock())
        total = Applied()
        with lock:
            while True:
                after = self.cursor(partner)
                try:
                    page = self.transport.fetch(partner, after, PAGE)
                except LinkDown as exc:
                    self._note_error(partner.country, str(exc), direction="receive")
                    raise
                items = page.get("items") if isinstance(page, dict) else None
                if not isinstance(items, list):
                    raise LinkDown(f"{partner.country} sent a malformed page")
                applied = inbound.apply(self.node.store, partner, self.node.country, items)
                total.stored += applied.stored
                total.purged += applied.purged
                total.duplicates += applied.duplicates
                total.purged_ids += applied.purged_ids
                total.refused += applied.refused
                total.cursor = applied.cursor
                if applied.rejected:
                    total.rejected = applied.rejected
                    self._note_error(partner.country, f"rejected: {applied.rejected}", direction="receive")
                    return total
                if not items:  # an empty page also acknowledged everything held
                    self._note_contact(partner.country)
                    return total

    def sync(self) -> dict[str, Applied | str]:
        """One round with every partner: release, pull; a link that is down is noted, not fatal."""
        results: dict[str, Applied | str] = {}
        self.release_all()
        for partner in self.partners():
            try:
                results[partner.country] = self.pull(partner)
            except LinkDown as exc:
                results[partner.country] = str(exc)
        return results

    def _note_error(self, country: str, message: str, *, direction: str) -> None:
        with self.node.store.transaction() as tx:
            tx.note_peer_error(country, direction, message[:500], to_text(utcnow()))

    def _note_contact(self, country: str) -> None:
        with self.node.store.transaction() as tx:
            tx.note_peer_contact(country, to_text(utcnow()))

    # --- observing ---------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        out = []
        for p in self.partners(include_inactive=True):
            state = self.node.store.peer_state(p.country) or (0, 0, None, None, None, None, None)
            last_sent = self._outbox_last(p.country)
            out.append({
                "country": p.country, "node_id": p.node_id, "url": p.url, "active": p.active,
                "link": p.link, "insecure": p.link == INSECURE,
                "last_sent": last_sent, "acknowledged": state[1], "lag": last_sent - state[1],
                "received": self.cursor(p), "last_contact": state[2],
                "send_error": state[3], "send_error_at": state[4],
                "receive_error": state[5], "receive_error_at": state[6],
                # the most recent of the two, for a one-line view
                "last_error": state[3] if (state[4] or "") >= (state[6] or "") else state[5],
            })
        return out

    def audit(self, *, partner: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        return self.node.store.audit_trail(partner=partner, limit=limit)
