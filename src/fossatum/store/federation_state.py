"""Federation state in the store: partners, each partner's outgoing stream (the outbox, what
was sent or held back for containment), each incoming stream's cursor, the state of each
link, the audit trail and the nonces of signed requests.

The write side runs inside the caller's transaction (`FederationTx`, part of `Tx`), so that a
release, a served page or an applied batch stays one unit of work; the read side runs on the
backend's reads (`FederationReads`, part of `StoreReads`).
"""

from __future__ import annotations

import json
from typing import Any

from ..domain import report as rules
from ..domain.audience import Scope
from ..log.entry import Entry
from ..log.kinds import OBJECT_KINDS
from ..policy.visibility import Facts
from .rows import ENTRY_COLUMNS, row_entry

# The columns of `peer_state` that hold a link's last error, by direction.
_ERROR_COLUMNS = {"send": ("send_error", "send_error_at"), "receive": ("receive_error", "receive_error_at")}
_AUDIT_COLUMNS = ("id", "at", "direction", "partner", "decision", "rule", "object_id", "entry_origin", "entry_seq",
                  "detail")

# Only the kinds that cross the border have partner copies to purge.
_FEDERATED = tuple(obj for obj in OBJECT_KINDS if obj.federates)

PartnerRow = tuple[str, str, str, str, bool, str]  # country, node_id, url, public_key, active, link
# released_through, acked, last_contact, send_error, send_error_at, receive_error, receive_error_at
PeerState = tuple[int, int, str | None, str | None, str | None, str | None, str | None]


def _facts_of_doc(doc: str) -> Facts | None:
    """What the viewer rule needs to tell who may have seen a purged report (not its text)."""
    try:
        return Facts.of_report(rules.from_doc(json.loads(doc)))
    except Exception:  # a copy that no longer parses: nobody is told of its removal
        return None


class FederationTx:
    """Federation state written (and read back) within a write transaction."""

    purged: list[tuple[str, Any]]

    def execute(self, sql: str, params: Any = ()) -> Any:
        raise NotImplementedError

    # --- signed requests -----------------------------------------------------------------
    def record_nonce(self, node_id: str, nonce: str, expires_at: str, now: str) -> bool:
        """Record a request's nonce; False if it was recorded before (a replay). Nonces whose
        request would be refused for its date anyway are forgotten first."""
        self.execute("DELETE FROM federation_nonces WHERE expires_at < ?", (now,))
        inserted = self.execute(
            "INSERT INTO federation_nonces (node_id, nonce, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (node_id, nonce) DO NOTHING", (node_id, nonce, expires_at)).rowcount
        return bool(inserted == 1)

    # --- partners ------------------------------------------------------------------------
    def partner_active(self, country: str) -> bool:
        row = self.execute("SELECT active FROM partners WHERE country = ?", (country,)).fetchone()
        return bool(row and row[0])

    # --- a partner's outgoing stream -----------------------------------------------------
    def outbox_tail(self, partner: str) -> tuple[int, str] | None:
        """(stream seq, hash) of the last item of the partner's stream, None before the first."""
        row = self.execute("SELECT stream_seq, hash FROM outbox WHERE partner = ? ORDER BY stream_seq DESC LIMIT 1",
                           (partner,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def outbox_head(self, partner: str) -> int:
        (last,) = self.execute("SELECT COALESCE(MAX(stream_seq), 0) FROM outbox WHERE partner = ?",
                               (partner,)).fetchone()
        return int(last)

    def add_outbox_item(self, partner: str, *, seq: int, kind: str, object_id: str | None, entry_seq: int,
                        item: str, digest: str, sig: str, created_at: str) -> None:
        self.execute(
            "INSERT INTO outbox (partner, stream_seq, kind, object_id, entry_seq, item, hash, sig, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (partner, seq, kind, object_id, entry_seq, item, digest, sig, created_at),
        )

    def outbox_items(self, partner: str, after: int, limit: int) -> list[tuple[str, str, str]]:
        """(item text, hash, signature) of the partner's stream after `after`, in order."""
        rows = self.execute("SELECT item, hash, sig FROM outbox WHERE partner = ? AND stream_seq > ? "
                            "ORDER BY stream_seq LIMIT ?", (partner, after, limit)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def was_sent(self, partner: str, object_id: str | None) -> bool:
        """Whether the partner holds a version of the object (sent, not revoked since)."""
        return self.execute("SELECT 1 FROM sent_objects WHERE partner = ? AND object_id = ?",
                            (partner, object_id)).fetchone() is not None

    def mark_sent(self, partner: str, object_id: str | None) -> None:
        self.execute("INSERT INTO sent_objects (partner, object_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                     (partner, object_id))

    def forget_sent(self, partner: str, object_id: str | None) -> None:
        self.execute("DELETE FROM sent_objects WHERE partner = ? AND object_id = ?", (partner, object_id))

    def mark_withheld(self, partner: str, object_id: str | None) -> None:
        """Held back for containment: looked at again at each release (`withheld_objects`)."""
        self.execute("INSERT INTO withheld_links (partner, object_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                     (partner, object_id))

    def clear_withheld(self, partner: str, object_id: str | None) -> None:
        self.execute("DELETE FROM withheld_links WHERE partner = ? AND object_id = ?", (partner, object_id))

    def withheld_objects(self, partner: str) -> list[str]:
        return [r[0] for r in self.execute("SELECT object_id FROM withheld_links WHERE partner = ?", (partner,))]

    def own_entries_after(self, origin: str, seq: int, limit: int) -> list[Entry]:
        """The entries of `origin` after `seq`, in sequence order, at most `limit`."""
        rows = self.execute(f"SELECT {ENTRY_COLUMNS} FROM log WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
                            (origin, seq, limit)).fetchall()
        return [row_entry(row) for row in rows]

    def entries_of_object(self, origin: str, object_id: str) -> list[Entry]:
        """The entries of `origin` about one object, newest first."""
        rows = self.execute(f"SELECT {ENTRY_COLUMNS} FROM log WHERE origin = ? AND object_id = ? ORDER BY seq DESC",
                            (origin, object_id)).fetchall()
        return [row_entry(row) for row in rows]

    # --- the state of a link -------------------------------------------------------------
    def _peer(self, partner: str) -> None:
        self.execute("INSERT INTO peer_state (partner) VALUES (?) ON CONFLICT (partner) DO NOTHING", (partner,))

    def released_through(self, partner: str) -> int:
        """The own log sequence up to which every entry was decided for the partner."""
        self._peer(partner)
        (through,) = self.execute("SELECT released_through FROM peer_state WHERE partner = ?",
                                  (partner,)).fetchone()
        return int(through)

    def set_released_through(self, partner: str, seq: int) -> None:
        self.execute("UPDATE peer_state SET released_through = ? WHERE partner = ?", (seq, partner))

    def note_acked(self, partner: str, acked: int, at: str) -> None:
        """The partner asked for items after `acked`: it holds those up to it (never goes back)."""
        self._peer(partner)
        self.execute("UPDATE peer_state SET acked = CASE WHEN acked > ? THEN acked ELSE ? END, last_contact = ? "
                     "WHERE partner = ?", (acked, acked, at, partner))

    def note_peer_error(self, partner: str, direction: str, message: str, at: str) -> None:
        """The last error of the link in `direction` ("send" or "receive")."""
        error, error_at = _ERROR_COLUMNS[direction]
        self._peer(partner)
        self.execute(f"UPDATE peer_state SET {error} = ?, {error_at} = ? WHERE partner = ?", (message, at, partner))

    def clear_send_error(self, partner: str) -> None:
        self.execute("UPDATE peer_state SET send_error = NULL WHERE partner = ?", (partner,))

    def note_peer_contact(self, partner: str, at: str) -> None:
        """The partner was heard from and is caught up: its receive error is over."""
        self._peer(partner)
        self.execute("UPDATE peer_state SET last_contact = ?, receive_error = NULL WHERE partner = ?", (at, partner))

    # --- a partner's incoming stream -----------------------------------------------------
    def inbound_position(self, origin: str) -> tuple[int, str] | None:
        """(stream seq, hash) of the last item held of `origin`'s stream, None before the first."""
        row = self.execute("SELECT stream_seq, stream_hash FROM inbound WHERE origin = ?", (origin,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def set_inbound_position(self, origin: str, seq: int, digest: str, at: str) -> None:
        self.execute(
            "INSERT INTO inbound (origin, stream_seq, stream_hash, received_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET stream_seq = excluded.stream_seq, stream_hash = excluded.stream_hash, "
            "received_at = excluded.received_at",
            (origin, seq, digest, at),
        )

    def holds_entry(self, origin: str, seq: int) -> bool:
        return self.execute("SELECT 1 FROM log WHERE origin = ? AND seq = ?", (origin, seq)).fetchone() is not None

    def newest_seq_of_object(self, origin: str, object_id: str | None) -> int | None:
        """The sequence of the newest entry of `origin` about the object held, if any."""
        (newest,) = self.execute("SELECT MAX(seq) FROM log WHERE origin = ? AND object_id = ?",
                                 (origin, object_id)).fetchone()
        return None if newest is None else int(newest)

    def purge_partner_object(self, origin: str, object_id: str) -> int:
        """Remove every trace of a partner's object: its row in its kind's table, the rows that
        hang on it (a report's index and versions, a unit's positions), its entries in this log
        (the count). Who may have seen a purged report is noted in `purged` for the live
        channels, never its text; another object only by its id. Objects contained in it (an operation's journal lines, from
        whichever partner wrote them) go with it: this node may no longer hold the operation, so
        it holds nothing of it; its own lines stay in its own log, shown to nobody without it."""
        rid = self.execute("SELECT rid, doc FROM reports WHERE id = ? AND origin = ?", (object_id, origin)).fetchone()
        if rid:
            self.purged.append((object_id, _facts_of_doc(rid[1])))
            self.execute("DELETE FROM reports_space_time WHERE rid = ?", (rid[0],))
            self.execute("DELETE FROM report_versions WHERE report_id = ? AND origin = ?", (object_id, origin))
        if self.execute("SELECT 1 FROM units WHERE id = ? AND origin = ?", (object_id, origin)).fetchone():
            self.execute("DELETE FROM unit_positions WHERE unit_id = ?", (object_id,))
        removed = 0
        for obj in _FEDERATED:
            facts = None if rid else self._row_facts(obj.table, obj.key, object_id)
            gone = self.execute(f"DELETE FROM {obj.table} WHERE {obj.key} = ? AND origin = ?",
                                (object_id, origin)).rowcount
            if gone:
                removed += self._purge_contained(obj.name, object_id)
                if not rid:
                    # A unit, operation, patrol, checkpoint…: with the facts of who may have seen
                    # it (the live page tells them), and the TAK fan-out removes it from devices.
                    self.purged.append((object_id, facts))
        return removed + int(self.execute("DELETE FROM log WHERE object_id = ? AND origin = ?",
                                          (object_id, origin)).rowcount)

    def _row_facts(self, table: str, key: str, object_id: str) -> Facts | None:
        row = self.execute(f"SELECT owner_agency, owner_country, scope, releasable_to, state, released, author "
                           f"FROM {table} WHERE {key} = ?", (object_id,)).fetchone()
        if row is None:
            return None
        agency, country, scope, releasable, state, released, author = row
        try:
            return Facts(agency, country, Scope(scope), frozenset(c for c in str(releasable).split(",") if c), state,
                         bool(released), author)
        except ValueError:  # a scope this version does not know: nobody is told of its removal
            return None

    def _purge_contained(self, parent_kind: str, parent_id: str) -> int:
        """Partner copies of the objects contained in a purged one (log/kinds.py `contained_in`)."""
        own = self.execute("SELECT value FROM meta WHERE name = 'node_id'").fetchone()
        removed = 0
        for child in (o for o in _FEDERATED if o.contained_in and o.contained_in[1] == parent_kind):
            column = child.contained_in[0] if child.contained_in else ""
            rows = self.execute(f"SELECT {child.key}, origin FROM {child.table} WHERE {column} = ? AND origin <> ?",
                                (parent_id, own[0] if own else "")).fetchall()
            for child_id, child_origin in rows:
                self.purged.append((child_id, self._row_facts(child.table, child.key, child_id)))
                self.execute(f"DELETE FROM {child.table} WHERE {child.key} = ?", (child_id,))
                removed += int(self.execute("DELETE FROM log WHERE object_id = ? AND origin = ?",
                                            (child_id, child_origin)).rowcount)
        return removed

    # --- the audit trail -----------------------------------------------------------------
    def record_audit(self, *, at: str, direction: str, partner: str, decision: str, rule: str,
                     object_id: str | None = None, entry_origin: str | None = None, entry_seq: int | None = None,
                     detail: str = "") -> None:
        self.execute(
            "INSERT INTO audit (at, direction, partner, decision, rule, object_id, entry_origin, entry_seq, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at, direction, partner, decision, rule, object_id, entry_origin, entry_seq, detail),
        )


class FederationReads:
    """Federation state read outside a write transaction (status pages, cursors)."""

    def read(self, sql: str, params: Any = (), *, viewer: Any = None, system: bool = False) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def read_one(self, sql: str, params: Any = (), *, viewer: Any = None,
                 system: bool = False) -> tuple[Any, ...] | None:
        raise NotImplementedError

    def partner_rows(self) -> list[PartnerRow]:
        """Every partner ever registered (removed ones inactive), by country."""
        rows = self.read("SELECT country, node_id, url, public_key, active, link FROM partners ORDER BY country")
        return [(c, n, u, k, bool(a), link) for c, n, u, k, a, link in rows]

    def outbox_last(self, partner: str) -> int:
        """The sequence of the last item of the partner's stream (0 before the first)."""
        row = self.read_one("SELECT COALESCE(MAX(stream_seq), 0) FROM outbox WHERE partner = ?", (partner,))
        return int(row[0]) if row else 0

    def inbound_cursor(self, origin: str) -> int:
        """The sequence of the last item held of `origin`'s stream (0 before the first)."""
        row = self.read_one("SELECT stream_seq FROM inbound WHERE origin = ?", (origin,))
        return int(row[0]) if row else 0

    def peer_state(self, partner: str) -> PeerState | None:
        row = self.read_one(
            "SELECT released_through, acked, last_contact, send_error, send_error_at, receive_error, "
            "receive_error_at FROM peer_state WHERE partner = ?", (partner,))
        return (row[0], row[1], row[2], row[3], row[4], row[5], row[6]) if row else None

    def audit_trail(self, *, partner: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """The newest audit records first (of one partner, or all)."""
        sql = f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM audit"
        params: list[Any] = []
        if partner:
            sql += " WHERE partner = ?"
            params.append(partner)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [dict(zip(_AUDIT_COLUMNS, row, strict=True)) for row in self.read(sql, params)]
