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

from ..domain import report as rules
from ..domain.timeutil import to_text, utcnow
from ..log.entry import GENESIS, Entry, canonical
from ..log.kinds import REPORT, object_of
from ..log.signing import NodeKey
from ..policy.release import release_decision
from ..policy.visibility import Facts
from ..store.sqlite import SQLiteStore, Tx, _row_entry
from .egress import egress_problem
from .stream import seal

BATCH = 2000


def audit(tx: Tx, *, direction: str, partner: str, decision: str, rule: str, object_id: str | None = None,
          entry_origin: str | None = None, entry_seq: int | None = None, detail: str = "") -> None:
    tx.execute(
        "INSERT INTO audit (at, direction, partner, decision, rule, object_id, entry_origin, entry_seq, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (to_text(utcnow()), direction, partner, decision, rule, object_id, entry_origin, entry_seq, detail),
    )


@dataclass
class Served:
    items: list[dict[str, Any]]
    last: int
    blocked: str | None = None


class _Stream:
    """Appending to one partner's stream within a transaction."""

    def __init__(self, tx: Tx, outbound: Outbound, partner: str) -> None:
        self.tx, self.outbound, self.partner = tx, outbound, partner
        last = tx.execute("SELECT stream_seq, hash FROM outbox WHERE partner = ? ORDER BY stream_seq DESC LIMIT 1",
                          (partner,)).fetchone()
        self.seq, self.prev = last if last else (0, GENESIS)
        self.added = 0

    def decide(self, entry: Entry, *, recheck: bool = False) -> bool:
        tx, partner, object_id = self.tx, self.partner, entry.object_id
        ok, rule = release_decision(entry, partner, lambda rid: self.outbound._linked_facts(tx, rid),
                                    origin_country=self.outbound.country)
        had = tx.execute("SELECT 1 FROM sent_objects WHERE partner = ? AND object_id = ?",
                         (partner, object_id)).fetchone() is not None
        if rule.startswith("containment"):
            # Held back until its parents are visible to the partner: looked at again later.
            tx.execute("INSERT INTO withheld_links (partner, object_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                       (partner, object_id))
        else:
            tx.execute("DELETE FROM withheld_links WHERE partner = ? AND object_id = ?", (partner, object_id))
        if rule.startswith("kept"):
            # The partner keeps the released version it holds: nothing new crosses, nothing is revoked.
            if not recheck:
                audit(tx, direction="out", partner=partner, decision="kept", rule=rule, object_id=object_id,
                      entry_origin=entry.origin, entry_seq=entry.seq)
            return False
        if ok:
            item = {"kind": "entry", "entry": entry.to_doc()}
            tx.execute("INSERT INTO sent_objects (partner, object_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                       (partner, object_id))
            decision, rule = "sent", (rule + " (parents now visible)" if recheck else rule)
        elif had:
            item = {"kind": "tombstone",
                    "tombstone": {"object_id": object_id, "reason": rule, "at": entry.ts, "entry_seq": entry.seq}}
            tx.execute("DELETE FROM sent_objects WHERE partner = ? AND object_id = ?", (partner, object_id))
            decision = "revoked"
        else:
            if not recheck:
                audit(tx, direction="out", partner=partner, decision="withheld", rule=rule, object_id=object_id,
                      entry_origin=entry.origin, entry_seq=entry.seq)
            return False
        item = {"from": self.outbound.origin, "to": partner, "seq": self.seq + 1, "prev": self.prev, **item}
        wire = seal(self.outbound.key, item)
        self.seq, self.prev = self.seq + 1, wire["hash"]
        tx.execute(
            "INSERT INTO outbox (partner, stream_seq, kind, object_id, entry_seq, item, hash, sig, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (partner, self.seq, item["kind"], object_id, entry.seq, canonical(item), wire["hash"], wire["sig"],
             to_text(utcnow())),
        )
        audit(tx, direction="out", partner=partner, decision=decision, rule=rule, object_id=object_id,
              entry_origin=entry.origin, entry_seq=entry.seq, detail=f"stream #{self.seq}")
        self.added += 1
        return True

    def recheck_withheld(self) -> None:
        """Objects held back for containment: send their current version once their parents
        became visible to the partner (a parent widened or validated later)."""
        held = [r[0] for r in self.tx.execute("SELECT object_id FROM withheld_links WHERE partner = ?", (self.partner,))]
        for object_id in held:
            rows = self.tx.execute(
                "SELECT origin, seq, ts, author, kind, payload, audience, prev, hash, sig FROM log "
                "WHERE origin = ? AND object_id = ? ORDER BY seq DESC", (self.outbound.origin, object_id),
            ).fetchall()
            latest = None
            for row in rows:
                entry = _row_entry(row)
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
    def __init__(self, store: SQLiteStore, key: NodeKey) -> None:
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

    def _linked_facts(self, tx: Tx, report_id: str) -> Facts | None:
        row = tx.execute("SELECT doc FROM reports WHERE id = ?", (report_id,)).fetchone()
        if row is None:
            return None
        return Facts.of_report(rules.from_doc(json.loads(row[0])))

    def release(self, partner: str) -> int:
        """Decide every own entry not yet decided for `partner`; returns how many items were added."""
        added = 0
        while True:
            with self.store.transaction() as tx:
                n, more = self._release_batch(tx, partner)
            added += n
            if not more:
                return added

    def _release_batch(self, tx: Tx, partner: str) -> tuple[int, bool]:
        tx.execute("INSERT INTO peer_state (partner) VALUES (?) ON CONFLICT (partner) DO NOTHING", (partner,))
        (through,) = tx.execute("SELECT released_through FROM peer_state WHERE partner = ?", (partner,)).fetchone()
        rows = tx.execute(
            "SELECT origin, seq, ts, author, kind, payload, audience, prev, hash, sig FROM log "
            "WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?", (self.origin, through, BATCH),
        ).fetchall()
        stream = _Stream(tx, self, partner)
        for row in rows:
            entry = _row_entry(row)
            if entry.object_id is not None:  # node-internal entries (accounts, roster…) never leave
                stream.decide(entry)
        if rows:
            tx.execute("UPDATE peer_state SET released_through = ? WHERE partner = ?", (rows[-1][1], partner))
        stream.recheck_withheld()
        return stream.added, len(rows) == BATCH

    def serve(self, partner: str, *, after: int, limit: int) -> Served:
        """Items after the partner's cursor; `after` also acknowledges everything up to it."""
        self.release(partner)
        with self.store.transaction() as tx:
            tx.execute("INSERT INTO peer_state (partner) VALUES (?) ON CONFLICT (partner) DO NOTHING", (partner,))
            tx.execute("UPDATE peer_state SET acked = CASE WHEN acked > ? THEN acked ELSE ? END, last_contact = ? "
                       "WHERE partner = ?", (after, after, to_text(utcnow()), partner))
            rows = tx.execute("SELECT item, hash, sig FROM outbox WHERE partner = ? AND stream_seq > ? "
                              "ORDER BY stream_seq LIMIT ?", (partner, after, limit)).fetchall()
            (last,) = tx.execute("SELECT COALESCE(MAX(stream_seq), 0) FROM outbox WHERE partner = ?", (partner,)).fetchone()
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
                    tx.execute("UPDATE peer_state SET send_error = ?, send_error_at = ? WHERE partner = ?",
                               (f"egress check blocked stream #{wire['item'].get('seq')}: {problem}",
                                to_text(utcnow()), partner))
                    return Served(items, last, blocked=problem)
                items.append(wire)
            tx.execute("UPDATE peer_state SET send_error = NULL WHERE partner = ?", (partner,))
        return Served(items, last)
