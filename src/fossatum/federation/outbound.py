"""The sender: turn this node's own log into one signed stream per partner, and serve it.

`release` walks the own entries not yet decided for a partner, applies the release rule,
appends an item per released entry (or a tombstone where a partner loses an object it
had), and audits every decision. `serve` hands out items after the partner's cursor,
each re-checked by the independent egress check first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..domain import audience as aud
from ..domain import report as rules
from ..domain.timeutil import to_text, utcnow
from ..log.entry import GENESIS, Entry, canonical
from ..log.kinds import REPORT, object_of
from ..log.signing import NodeKey
from ..policy.release import release_decision
from ..policy.visibility import Facts
from ..store.contract import Store, Transaction
from .egress import egress_problem
from .stream import seal

BATCH = 2000


def audit(tx: Transaction, *, direction: str, partner: str, decision: str, rule: str, object_id: str | None = None,
          entry_origin: str | None = None, entry_seq: int | None = None, detail: str = "") -> None:
    tx.record_audit(at=to_text(utcnow()), direction=direction, partner=partner, decision=decision, rule=rule,
                    object_id=object_id, entry_origin=entry_origin, entry_seq=entry_seq, detail=detail)


@dataclass
class Served:
    items: list[dict[str, Any]]
    last: int
    blocked: str | None = None


class _Stream:
    """Appending to one partner's stream within a transaction."""

    def __init__(self, tx: Transaction, outbound: Outbound, partner: str) -> None:
        self.tx, self.outbound, self.partner = tx, outbound, partner
        self.seq, self.prev = tx.outbox_tail(partner) or (0, GENESIS)
        self.added = 0

    def decide(self, entry: Entry, *, recheck: bool = False) -> bool:
        tx, partner, object_id = self.tx, self.partner, entry.object_id
        ok, rule = release_decision(entry, partner, lambda rid: self.outbound._linked_facts(tx, rid),
                                    origin_country=self.outbound.country,
                                    parent=lambda kind, pid: self.outbound._parent_facts(tx, kind, pid))
        had = tx.was_sent(partner, object_id)
        if rule.startswith("containment"):
            # Held back until its parents are visible to the partner: looked at again later.
            tx.mark_withheld(partner, object_id)
        else:
            tx.clear_withheld(partner, object_id)
        if rule.startswith("kept"):
            # The partner keeps the released version it holds: nothing new crosses, nothing is revoked.
            if not recheck:
                audit(tx, direction="out", partner=partner, decision="kept", rule=rule, object_id=object_id,
                      entry_origin=entry.origin, entry_seq=entry.seq)
            return False
        if ok:
            item: dict[str, Any] = {"kind": "entry", "entry": entry.to_doc()}
            tx.mark_sent(partner, object_id)
            decision, rule = "sent", (rule + " (parents now visible)" if recheck else rule)
        elif had:
            item = {"kind": "tombstone",
                    "tombstone": {"object_id": object_id, "reason": rule, "at": entry.ts, "entry_seq": entry.seq}}
            tx.forget_sent(partner, object_id)
            decision = "revoked"
        else:
            if not recheck:
                audit(tx, direction="out", partner=partner, decision="withheld", rule=rule, object_id=object_id,
                      entry_origin=entry.origin, entry_seq=entry.seq)
            return False
        item = {"from": self.outbound.origin, "to": partner, "seq": self.seq + 1, "prev": self.prev, **item}
        wire = seal(self.outbound.key, item)
        self.seq, self.prev = self.seq + 1, wire["hash"]
        tx.add_outbox_item(partner, seq=self.seq, kind=item["kind"], object_id=object_id, entry_seq=entry.seq,
                           item=canonical(item), digest=wire["hash"], sig=wire["sig"], created_at=to_text(utcnow()))
        audit(tx, direction="out", partner=partner, decision=decision, rule=rule, object_id=object_id,
              entry_origin=entry.origin, entry_seq=entry.seq, detail=f"stream #{self.seq}")
        self.added += 1
        return True

    def recheck_withheld(self) -> None:
        """Objects held back for containment: send their current version once their parents
        became visible to the partner (a parent widened or validated later)."""
        for object_id in self.tx.withheld_objects(self.partner):
            latest = None
            for entry in self.tx.entries_of_object(self.outbound.origin, object_id):
                latest = latest or entry
                # The version to send is the released one, which may be older than the latest.
                wanted = entry.audience.get("release_version") if object_of(entry.kind) is REPORT else None
                if wanted is None or (entry.payload.get("report") or {}).get("version") == wanted:
                    self.decide(entry, recheck=True)
                    break
            else:
                if latest is not None:
                    self.decide(latest, recheck=True)


class Outbound:
    def __init__(self, store: Store, key: NodeKey) -> None:
        self.store = store
        self.key = key
        self._country = ""

    @property
    def origin(self) -> str:
        return self.store.origin or ""

    @property
    def country(self) -> str:
        if not self._country:  # a node's country never changes: read it once
            self._country = self.store.meta("country") or ""
        return self._country

    def _linked_facts(self, tx: Transaction, report_id: str) -> Facts | None:
        doc = tx.report_doc(report_id)
        if doc is None:
            return None
        return Facts.of_report(rules.from_doc(json.loads(doc)))

    @staticmethod
    def _parent_facts(tx: Transaction, kind: str, object_id: str) -> Facts | None:
        """Need-to-know facts of a containing object (an operation) as this node holds it now:
        its own, or a partner's copy (whose audience its origin signed). No workflow: the audience
        is the release."""
        doc = tx.object_doc(kind, object_id)
        if doc is None:
            return None
        a = aud.from_doc(doc.get("audience"), owner_agency=str(doc.get("owner_agency", "")),
                         owner_country=str(doc.get("owner_country", "")))
        return Facts(a.owner_agency, a.owner_country, a.scope, a.releasable_to, "active", True, "")

    def release(self, partner: str) -> int:
        """Decide every own entry not yet decided for `partner`; returns how many items were added."""
        added = 0
        while True:
            with self.store.transaction() as tx:
                n, more = self._release_batch(tx, partner)
            added += n
            if not more:
                return added

    def _release_batch(self, tx: Transaction, partner: str) -> tuple[int, bool]:
        through = tx.released_through(partner)
        entries = tx.own_entries_after(self.origin, through, BATCH)
        stream = _Stream(tx, self, partner)
        for entry in entries:
            if entry.object_id is not None:  # node-internal entries (accounts, roster…) never leave
                stream.decide(entry)
        if entries:
            tx.set_released_through(partner, entries[-1].seq)
        stream.recheck_withheld()
        return stream.added, len(entries) == BATCH

    def serve(self, partner: str, *, after: int, limit: int) -> Served:
        """Items after the partner's cursor; `after` also acknowledges everything up to it."""
        self.release(partner)
        with self.store.transaction() as tx:
            tx.note_acked(partner, after, to_text(utcnow()))
            rows = tx.outbox_items(partner, after, limit)
            last = tx.outbox_head(partner)
            items: list[dict[str, Any]] = []
            for item_text, digest, sig in rows:
                wire = {"item": json.loads(item_text), "hash": digest, "sig": sig}
                problem = egress_problem(wire, origin=self.origin, origin_country=self.country,
                                         partner_country=partner)
                if problem:
                    entry_doc = wire["item"].get("entry") or {}
                    blocked = Entry.from_doc(entry_doc) if entry_doc else None
                    audit(tx, direction="out", partner=partner, decision="blocked", rule="egress check",
                          object_id=blocked.object_id if blocked else (wire["item"].get("tombstone") or {}).get("object_id"),
                          entry_origin=blocked.origin if blocked else None,
                          entry_seq=blocked.seq if blocked else None,
                          detail=f"stream #{wire['item'].get('seq')}: {problem}")
                    tx.note_peer_error(partner, "send",
                                       f"egress check blocked stream #{wire['item'].get('seq')}: {problem}",
                                       to_text(utcnow()))
                    return Served(items, last, blocked=problem)
                items.append(wire)
            tx.clear_send_error(partner)
        return Served(items, last)
