"""What both backends share: the write transaction (`Tx`) and the need-to-know reads.

A backend provides `read`/`read_one` (portable SQL, `?` placeholders), `_write_plain`,
`_bbox_sql` (its spatial index) and its connections; `StoreReads` builds every read on
those, with the viewer filter of `policy.predicate.visible_sql` inside the SQL.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from ..domain.audience import Scope
from ..domain.org import Role, User
from ..domain.timeutil import utcnow
from ..errors import Forbidden, FossatumError
from ..log.entry import GENESIS, Entry, canonical
from ..log.kinds import OBJECT_KINDS, kind_of
from ..log.signing import NodeKey
from ..policy import redact
from ..policy.predicate import report_doc_sql, visible_sql
from ..policy.visibility import Facts
from . import projector
from .federation_state import FederationReads, FederationTx
from .held import HeldTx
from .query import BBox, FixRow, ReportQuery, TimeSlices, report_filters
from .rows import ENTRY_COLUMNS, row_entry

__all__ = ["ENTRY_COLUMNS", "Reader", "StoreReads", "Tx", "row_entry", "shown"]

KEEP_REVOCATIONS = 10_000

# Runs one read (portable SQL, params) inside a snapshot (see the backends' `snapshot`).
Reader = Callable[[str, Any], list[tuple[Any, ...]]]


class Tx(HeldTx, FederationTx):
    """A write transaction: append entries (signed, chained, projected), look up what the
    entry depends on (`HeldTx`), keep the federation's state (`FederationTx`) and the node's
    credentials, all in one unit of work."""

    def __init__(self, conn: Any, key: NodeKey | None, origin: str | None) -> None:
        self.conn = conn
        self._key = key
        self._origin = origin
        self.appended: list[Entry] = []
        # (object id, the audience facts it had before the purge): who may have seen it, never its text
        self.purged: list[tuple[str, Any]] = []

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(sql, params)

    def append(self, *, ts: str, author: str, kind: str, payload: dict[str, Any],
               audience: dict[str, Any]) -> Entry:
        if self._key is None or self._origin is None:
            raise FossatumError("this node has no key; run 'fossatum init'")
        self._refuse_partner_copy(kind, payload)
        last = self.execute(
            "SELECT seq, hash FROM log WHERE origin = ? ORDER BY seq DESC LIMIT 1", (self._origin,)
        ).fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        draft = Entry(self._origin, seq, ts, author, kind, payload, audience, prev)
        digest = draft.compute_hash()
        entry = Entry(**{**_fields(draft), "hash": digest, "sig": self._key.sign(digest)})
        self._insert(entry)
        return entry

    def _refuse_partner_copy(self, kind: str, payload: dict[str, Any]) -> None:
        """Backstop under `policy.actions`: a local entry never changes an object whose origin
        is a partner (its projection would make the copy this node's own, and every later
        entry from its origin would be refused). Also catches a command that forgot to ask."""
        obj = kind_of(kind).object
        object_id = obj.object_id(payload) if obj is not None and obj.federates else None
        if obj is None or object_id is None:
            return  # only federated objects have partner copies (an `origin` column naming the node)
        row = self.execute(f"SELECT origin FROM {obj.table} WHERE {obj.key} = ?", (object_id,)).fetchone()
        if row is not None and row[0] and row[0] != self._origin:
            raise Forbidden(f"{object_id} is a copy replicated from {row[0]}: read-only on this node")

    def insert_received(self, entry: Entry) -> None:
        """Store and project an entry of a partner's log (already verified by the receiver)."""
        self._insert(entry)

    # --- credentials and sessions (node-local secrets, not in the log) ------------------
    def set_password_hash(self, username: str, password_hash: str, at: str) -> None:
        self.execute(
            "INSERT INTO credentials (username, password_hash, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            (username, password_hash, at),
        )

    def revoke_sessions(self, username: str, *, reason: str, at: str, token_hash: str | None = None) -> None:
        """End one session (`token_hash`) or all of the user's, and record it for the session
        watchers of every process serving the node (they close live channels within a second)."""
        if token_hash is None:
            self.execute("DELETE FROM sessions WHERE username = ?", (username,))
        else:
            self.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        self.execute("INSERT INTO session_revocations (username, token_hash, reason, at) VALUES (?, ?, ?, ?)",
                     (username, token_hash, reason, at))
        # Watchers only look at recent rows: keep the table small.
        self.execute("DELETE FROM session_revocations WHERE seq < (SELECT MAX(seq) FROM session_revocations) - ?",
                     (KEEP_REVOCATIONS,))

    def _insert(self, entry: Entry) -> None:
        self.execute(
            "INSERT INTO log (origin, seq, ts, author, kind, payload, audience, prev, hash, sig, object_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.origin, entry.seq, entry.ts, entry.author, entry.kind, canonical(entry.payload),
             canonical(entry.audience), entry.prev, entry.hash, entry.sig, entry.object_id),
        )
        projector.apply(self, entry)
        self.appended.append(entry)


def _fields(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in Entry.__slots__}


def _user(row: tuple[Any, ...]) -> User:
    username, agency, country, roles, full_name, active = row
    return User(username, agency, country, frozenset(Role(r) for r in json.loads(roles)), full_name, bool(active))


def _agency(row: tuple[Any, ...]) -> dict[str, Any]:
    code, name, country, field_audience = row
    return {"code": code, "name": name, "country": country,
            "field_audience": json.loads(field_audience) if field_audience else None}


def shown(kind: str) -> Callable[[Any], Any]:
    """Mark a read of `kind` documents for a viewer: what it returns passes `redact` for that
    viewer (references to objects the viewer may not see, owner-only notes). Every such read
    carries it (tests/test_architecture.py checks)."""
    def decorate(read: Any) -> Any:
        @functools.wraps(read)
        def redacted(self: StoreReads, viewer: User, *args: Any, **kwargs: Any) -> Any:
            out = read(self, viewer, *args, **kwargs)
            if out is None:
                return None
            if isinstance(out, str):
                return self.redacted(viewer, kind, [out])[0]
            return self.redacted(viewer, kind, out)

        redacted.shown_kind = kind  # type: ignore[attr-defined]
        return redacted
    return decorate


class StoreReads(FederationReads):
    """Node state, credentials and need-to-know reads, on the backend's `read`/`read_one`."""

    origin: str | None
    _cop_density: float | None = None  # see TimeSlices.plan

    # `viewer`: the read is on behalf of that user; `system`: of the node itself. PostgreSQL
    # declares it to its row-level security (a second wall under `visible_sql`, which every
    # read of a viewer still applies); SQLite has no such wall and ignores both.
    def read(self, sql: str, params: Any = (), *, viewer: User | None = None,
             system: bool = False) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def read_one(self, sql: str, params: Any = (), *, viewer: User | None = None,
                 system: bool = False) -> tuple[Any, ...] | None:
        raise NotImplementedError

    def snapshot(self, *, viewer: User | None = None,
                 system: bool = False) -> AbstractContextManager[Reader]:
        """Several reads that see one state of the database (a read-only transaction), so
        that a multi-query answer cannot see a row twice or miss it as writes go on."""
        raise NotImplementedError

    def _write_plain(self, sql: str, params: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def _write_rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """One write statement outside the log (e.g. with RETURNING), its rows."""
        raise NotImplementedError

    @staticmethod
    def _bbox_sql(alias: str, bbox: BBox, since: str | None, until: str | None) -> tuple[str, list[object]]:
        raise NotImplementedError

    @staticmethod
    def _unlinked_sql(doc: str) -> str:
        """SQL: the JSON text `doc` without its `links` member (what a text search looks in)."""
        raise NotImplementedError

    # --- node state --------------------------------------------------------------------
    def meta(self, name: str) -> str | None:
        row = self.read_one("SELECT value FROM meta WHERE name = ?", (name,))
        return row[0] if row else None

    def roster(self) -> list[str]:
        return [r[0] for r in self.read("SELECT country FROM roster ORDER BY country")]

    def agencies(self) -> list[dict[str, Any]]:
        rows = self.read("SELECT code, name, country, field_audience FROM agencies ORDER BY country, code")
        return [_agency(r) for r in rows]

    def agency(self, code: str) -> dict[str, Any] | None:
        row = self.read_one("SELECT code, name, country, field_audience FROM agencies WHERE code = ?", (code,))
        return _agency(row) if row else None

    def users(self) -> list[User]:
        rows = self.read("SELECT username, agency, country, roles, full_name, active FROM users ORDER BY username")
        return [_user(r) for r in rows]

    def user(self, username: str) -> User | None:
        row = self.read_one(
            "SELECT username, agency, country, roles, full_name, active FROM users WHERE username = ?", (username,))
        return _user(row) if row else None

    # --- credentials and sessions (node-local secrets, not in the log) ------------------
    def password_hash(self, username: str) -> str | None:
        row = self.read_one("SELECT password_hash FROM credentials WHERE username = ?", (username,))
        return row[0] if row else None

    def add_session(self, token_hash: str, username: str, created_at: str, expires_at: str) -> None:
        self._write_plain(
            "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (token_hash, username, created_at, expires_at),
        )

    def session(self, token_hash: str, now: str) -> tuple[str, str] | None:
        """(username, expires_at) of a live session."""
        row = self.read_one("SELECT username, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
                            (token_hash, now))
        return (row[0], row[1]) if row else None

    def revocations_since(self, seq: int) -> list[tuple[int, str, str | None, str, str]]:
        """(seq, username, token_hash, reason, at) recorded after `seq`, oldest first."""
        return [tuple(r) for r in self.read(
            "SELECT seq, username, token_hash, reason, at FROM session_revocations WHERE seq > ? ORDER BY seq",
            (seq,))]

    def revocation_head(self) -> int:
        row = self.read_one("SELECT MAX(seq) FROM session_revocations")
        return int(row[0] or 0) if row else 0

    # --- login throttle (node-local, shared by the node's processes) ---------------------
    def throttle_rows(self, account: str, address: str) -> dict[tuple[str, str], tuple[int, float, float, float]]:
        """(failures, blocked_until, last_failure, last_success) of the address and of the pair."""
        rows = self.read("SELECT account, address, failures, blocked_until, last_failure, last_success "
                         "FROM login_throttle WHERE address = ? AND account IN ('', ?)", (address, account))
        return {(r[0], r[1]): (int(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in rows}

    def throttle_failing_addresses(self, account: str, since: float) -> int:
        """How many addresses failed to log in to `account` since `since`."""
        row = self.read_one("SELECT COUNT(*) FROM login_throttle WHERE account = ? AND failures > 0 "
                            "AND last_failure >= ?", (account, since))
        return int(row[0]) if row else 0

    def throttle_failed(self, account: str, address: str, now: float, window: float) -> int:
        """Count one failure (a count older than `window` starts again); returns the count."""
        rows = self._write_rows(
            "INSERT INTO login_throttle (account, address, failures, blocked_until, last_failure, last_success) "
            "VALUES (?, ?, 1, 0, ?, 0) ON CONFLICT (account, address) DO UPDATE SET "
            "failures = CASE WHEN login_throttle.last_failure < ? THEN 1 ELSE login_throttle.failures + 1 END, "
            "last_failure = excluded.last_failure RETURNING failures",
            (account, address, now, now - window))
        return int(rows[0][0]) if rows else 1

    def throttle_block(self, account: str, address: str, until: float) -> None:
        self._write_plain("UPDATE login_throttle SET blocked_until = ? WHERE account = ? AND address = ? "
                          "AND blocked_until < ?", (until, account, address, until))

    def throttle_succeeded(self, account: str, address: str, now: float) -> None:
        self._write_plain(
            "INSERT INTO login_throttle (account, address, failures, blocked_until, last_failure, last_success) "
            "VALUES (?, ?, 0, 0, 0, ?) ON CONFLICT (account, address) DO UPDATE SET "
            "failures = 0, blocked_until = 0, last_success = excluded.last_success", (account, address, now))

    def throttle_prune(self, before: float) -> None:
        self._write_plain("DELETE FROM login_throttle WHERE last_failure < ? AND last_success < ?", (before, before))

    # --- reports -----------------------------------------------------------------------
    @shown("report")
    def report_doc(self, viewer: User, report_id: str) -> str | None:
        """The stored JSON of a report if `viewer` may see it (else None, as if absent)."""
        where, params = visible_sql(viewer, "r")
        doc, dparams = report_doc_sql(viewer, "r")
        row = self.read_one(f"SELECT {doc} FROM reports r WHERE r.id = ? AND {where}", (*dparams, report_id, *params),
                           viewer=viewer)
        return row[0] if row else None

    @shown("report")
    def report_versions(self, viewer: User, report_id: str) -> list[str]:
        if self.report_doc(viewer, report_id) is None:
            return []
        # Each version is shown only to its own audience and release state (an agency-only
        # first text stays in the agency; abroad, only the versions released there).
        where, params = visible_sql(viewer, "v")
        rows = self.read(f"SELECT v.doc FROM report_versions v WHERE v.report_id = ? AND {where} ORDER BY v.version",
                         (report_id, *params), viewer=viewer)
        return [r[0] for r in rows]

    def visible_report_ids(self, viewer: User, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        where, params = visible_sql(viewer, "r")
        marks = ", ".join("?" for _ in ids)
        rows = self.read(f"SELECT r.id FROM reports r WHERE r.id IN ({marks}) AND {where}", (*ids, *params), viewer=viewer)
        return {r[0] for r in rows}

    @shown("report")
    def list_reports(self, viewer: User, query: ReportQuery, *, sliced: bool = True) -> list[str]:
        """Stored JSON documents of the reports `viewer` may see, newest observation first
        (at most limit + 1: the extra one tells the caller there is a next page).

        A box with a window is read in time slices, newest first (`query.TimeSlices`), in
        one snapshot; `sliced=False` runs the same filters as one query (same answer)."""
        where, params = visible_sql(viewer, "r")
        doc, dparams = report_doc_sql(viewer, "r")

        def page(run: Reader, q: ReportQuery, limit: int) -> list[str]:
            filters, fparams = report_filters(q, alias="r", spatial=self._bbox_sql, unlinked=self._unlinked_sql,
                                              document=(doc, dparams))
            sql = f"SELECT {doc} FROM reports r WHERE {where}{filters} ORDER BY r.observed_at DESC, r.id DESC LIMIT ?"
            return [row[0] for row in run(sql, (*dparams, *params, *fparams, limit))]

        wanted = query.limit + 1
        plan = TimeSlices.plan(query, utcnow(), self._cop_density) if sliced else None
        if plan is None or plan.single:  # one query: no snapshot to hold
            docs = page(lambda sql, p: self.read(sql, p, viewer=viewer), query, wanted)
            if plan is not None:
                self._cop_density = plan.density(len(docs))
            return docs
        docs = []
        with self.snapshot(viewer=viewer) as run:
            window: tuple[str, str | None] | None = plan.first()
            while window is not None:
                docs += page(run, replace(query, since=window[0], until=window[1]), wanted - len(docs))
                if len(docs) >= wanted:
                    break
                window = plan.next(len(docs))
        # A hint for the next read's first slice, from any viewer's (a wrong one costs time, never rows).
        self._cop_density = plan.density(len(docs))
        return docs

    def count_reports(self, viewer: User, query: ReportQuery, group_by: str | None = None) -> dict[str, int]:
        where, params = visible_sql(viewer, "r")
        filters, fparams = report_filters(query, alias="r", spatial=self._bbox_sql, paging=False,
                                          unlinked=self._unlinked_sql, document=report_doc_sql(viewer, "r"))
        if group_by is None:
            row = self.read_one(f"SELECT COUNT(*) FROM reports r WHERE {where}{filters}", (*params, *fparams),
                               viewer=viewer)
            return {"total": row[0] if row else 0}
        rows = self.read(
            f"SELECT r.{group_by}, COUNT(*) FROM reports r WHERE {where}{filters} GROUP BY r.{group_by}",
            (*params, *fparams), viewer=viewer,
        )
        return {str(k): n for k, n in rows}

    # --- units and sections ------------------------------------------------------------
    def _visible_docs(self, table: str, viewer: User, order: str) -> list[str]:
        where, params = visible_sql(viewer, "t")
        return [r[0] for r in self.read(f"SELECT t.doc FROM {table} t WHERE {where} ORDER BY t.{order}", params,
                                        viewer=viewer)]

    def _visible_doc(self, table: str, viewer: User, object_id: str) -> str | None:
        where, params = visible_sql(viewer, "t")
        row = self.read_one(f"SELECT t.doc FROM {table} t WHERE t.id = ? AND {where}", (object_id, *params),
                           viewer=viewer)
        return row[0] if row else None

    @shown("unit")
    def units(self, viewer: User) -> list[str]:
        return self._visible_docs("units", viewer, "name")

    @shown("unit")
    def unit_doc(self, viewer: User, unit_id: str) -> str | None:
        return self._visible_doc("units", viewer, unit_id)

    def unit_track(self, viewer: User, unit_id: str, limit: int = 500) -> list[dict[str, Any]]:
        if self.unit_doc(viewer, unit_id) is None:
            return []
        rows = self.read("SELECT at, lat, lon FROM unit_positions WHERE unit_id = ? ORDER BY at DESC LIMIT ?",
                         (unit_id, limit), viewer=viewer)
        return [{"at": at, "lat": lat, "lon": lon} for at, lat, lon in rows]

    def unit_fixes(self, viewer: User, *, since: str, until: str, bbox: BBox | None = None,
                   units: Sequence[str] | None = None) -> list[FixRow]:
        """The positions of the units `viewer` may see (of `units` only, if given) taken from
        `since` to `until` (inclusive), each with the same unit's next position in that window:
        (unit, at, lon, lat, next_at, next_lon, next_lat), the next three None for a unit's last.

        With `bbox` (min_lon, min_lat, max_lon, max_lat), only the fixes where the box of the
        piece of track from the fix to the next one meets it: a superset of every piece that
        comes into the box, and far fewer rows than every track. The next fix is the unit's next
        in the window whether or not it is in the box, so that two kept fixes are never taken
        for neighbours when a fix between them was not kept."""
        where, params = visible_sql(viewer, "t")
        wanted_params: tuple[str, ...] = ()
        wanted = ""
        if units is not None:
            if not units:
                return []
            wanted, wanted_params = f" AND t.id IN ({', '.join('?' for _ in units)})", tuple(units)
        box_params: tuple[float, ...] = ()
        boxed = ""
        if bbox is not None:
            min_lon, min_lat, max_lon, max_lat = bbox
            boxed = ("WHERE NOT (p.lon < ? AND COALESCE(p.next_lon, p.lon) < ?) "
                     "AND NOT (p.lon > ? AND COALESCE(p.next_lon, p.lon) > ?) "
                     "AND NOT (p.lat < ? AND COALESCE(p.next_lat, p.lat) < ?) "
                     "AND NOT (p.lat > ? AND COALESCE(p.next_lat, p.lat) > ?) ")
            box_params = (min_lon, min_lon, max_lon, max_lon, min_lat, min_lat, max_lat, max_lat)
        nxt = "OVER (PARTITION BY unit_id ORDER BY at)"
        rows = self.read(
            f"SELECT p.unit_id, p.at, p.lon, p.lat, p.next_at, p.next_lon, p.next_lat FROM ("
            f"SELECT unit_id, at, lon, lat, LEAD(at) {nxt} AS next_at, LEAD(lon) {nxt} AS next_lon, "
            f"LEAD(lat) {nxt} AS next_lat FROM unit_positions "
            f"WHERE at >= ? AND at <= ? AND unit_id IN (SELECT t.id FROM units t WHERE {where}{wanted})) p "
            f"{boxed}ORDER BY p.unit_id, p.at",
            (since, until, *params, *wanted_params, *box_params), viewer=viewer)
        return [(u, at, lon, lat, n_at, n_lon, n_lat) for u, at, lon, lat, n_at, n_lon, n_lat in rows]

    @shown("section")
    def sections(self, viewer: User) -> list[str]:
        return self._visible_docs("sections", viewer, "id")

    @shown("section")
    def section_doc(self, viewer: User, section_id: str) -> str | None:
        return self._visible_doc("sections", viewer, section_id)

    # --- joint operations, patrols, checkpoints (issue 12) ---------------------------------
    @shown("operation")
    def operations(self, viewer: User) -> list[str]:
        where, params = visible_sql(viewer, "t")
        return [r[0] for r in self.read(f"SELECT t.doc FROM operations t WHERE {where} "
                                        "ORDER BY t.updated_at DESC, t.id", params, viewer=viewer)]

    @shown("operation")
    def operation_doc(self, viewer: User, operation_id: str) -> str | None:
        return self._visible_doc("operations", viewer, operation_id)

    @shown("journal")
    def journal(self, viewer: User, operation_id: str) -> list[str]:
        """An operation's journal lines the viewer may see, oldest first. Contained: a line is
        shown only with its operation (each under its own audience), never wider."""
        wj, pj = visible_sql(viewer, "j")
        wo, po = visible_sql(viewer, "o")
        rows = self.read(f"SELECT j.doc FROM operation_journal j JOIN operations o ON o.id = j.operation "
                         f"WHERE j.operation = ? AND {wj} AND {wo} ORDER BY j.at, j.id",
                         (operation_id, *pj, *po), viewer=viewer)
        return [r[0] for r in rows]

    @shown("patrol")
    def patrols(self, viewer: User) -> list[str]:
        where, params = visible_sql(viewer, "t")
        return [r[0] for r in self.read(f"SELECT t.doc FROM patrols t WHERE {where} ORDER BY t.planned_start, t.id",
                                        params, viewer=viewer)]

    @shown("patrol")
    def patrol_doc(self, viewer: User, patrol_id: str) -> str | None:
        return self._visible_doc("patrols", viewer, patrol_id)

    @shown("checkpoint")
    def checkpoints(self, viewer: User) -> list[str]:
        return self._visible_docs("checkpoints", viewer, "id")

    @shown("checkpoint")
    def checkpoint_doc(self, viewer: User, checkpoint_id: str) -> str | None:
        return self._visible_doc("checkpoints", viewer, checkpoint_id)

    # --- field devices, alerts, chat (TAK gateway) ----------------------------------------
    def device(self, uid: str) -> dict[str, Any] | None:
        row = self.read_one("SELECT uid, username, unit_id, callsign, registered_at FROM devices WHERE uid = ?", (uid,))
        return dict(zip(("uid", "username", "unit_id", "callsign", "registered_at"), row)) if row else None

    @shown("alert")
    def alerts(self, viewer: User, *, active_only: bool = True) -> list[str]:
        where, params = visible_sql(viewer, "a")
        state = " AND a.state = 'raised'" if active_only else ""
        return [r[0] for r in self.read(f"SELECT a.doc FROM alerts a WHERE {where}{state} ORDER BY a.at DESC", params,
                                        viewer=viewer)]

    @shown("chat")
    def chat(self, viewer: User, *, limit: int = 100) -> list[str]:
        where, params = visible_sql(viewer, "c")
        return [r[0] for r in self.read(f"SELECT c.doc FROM chat c WHERE {where} ORDER BY c.at DESC LIMIT ?",
                                        (*params, limit), viewer=viewer)]

    # --- what documents may name (policy/redact.py) ----------------------------------------
    def facts_of(self, kind: str, ids: frozenset[str]) -> Mapping[str, Facts]:
        """Need-to-know facts of the `kind` objects among `ids` that this node holds (the
        node's own read: `may_view` over them decides, the same rule as `visible_sql`)."""
        table, key = redact.TABLES[kind]
        found: dict[str, Facts] = {}
        wanted = sorted(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.read(
                f"SELECT {key}, owner_agency, owner_country, scope, releasable_to, state, released, author "
                f"FROM {table} WHERE {key} IN ({', '.join('?' for _ in chunk)})", tuple(chunk), system=True)
            for object_id, agency, country, scope, releasable, state, released, author in rows:
                found[object_id] = Facts(agency, country, Scope(scope),
                                         frozenset(c for c in str(releasable).split(",") if c),
                                         state, bool(released), author)
        return found

    def current_doc(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """The stored document of an object as the node holds it (with node-internal notes,
        e.g. a section's), for a push path that then redacts it per viewer."""
        table, key = redact.TABLES[kind]
        row = self.read_one(f"SELECT doc FROM {table} WHERE {key} = ?", (object_id,), system=True)
        return json.loads(row[0]) if row else None

    def redacted(self, viewer: User, kind: str, raws: list[str]) -> list[str]:
        """Stored documents of `kind` as `viewer` may see them (`redact.redact_raw`)."""
        return redact.redact_raw(viewer, kind, raws, self.facts_of)

    def shown_doc(self, viewer: User, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        """One document (e.g. the answer to a write) as `viewer` may see it."""
        return redact.redact(viewer, kind, [doc], self.facts_of)[0]

    # --- the log -----------------------------------------------------------------------
    def origins(self) -> dict[str, int]:
        return dict(self.read("SELECT origin, COUNT(*) FROM log GROUP BY origin"))

    def entries_before(self, object_ids: Sequence[str], origin: str, seq: int) -> dict[str, Entry]:
        """The latest entry about each of `object_ids` logged before entry (`origin`, `seq`):
        what the change feed (changes.py) compares a commit with. The node's own read."""
        found: dict[str, Entry] = {}
        wanted = list(object_ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.read(
                f"SELECT object_id, {ENTRY_COLUMNS} FROM log WHERE lsn IN (SELECT MAX(lsn) FROM log "
                f"WHERE object_id IN ({', '.join('?' for _ in chunk)}) "
                "AND lsn < (SELECT lsn FROM log WHERE origin = ? AND seq = ?) GROUP BY object_id)",
                (*chunk, origin, seq), system=True)
            for row in rows:
                found[row[0]] = row_entry(row[1:])
        return found

    def log_size(self) -> int:
        row = self.read_one("SELECT COUNT(*) FROM log")
        return row[0] if row else 0

    def entries(self, origin: str | None = None, after_seq: int = 0, *, strict: bool = True) -> Iterator[Entry]:
        raise NotImplementedError

    def ownership_mismatches(self) -> list[tuple[str, str, str, str]]:
        """(kind, entry origin, object id, origin held) for every report, unit or section whose
        row names another origin than an entry of it in the log (a partner's copy changed
        locally by an earlier version, or an own object written by a partner)."""
        found = []
        for obj in (o for o in OBJECT_KINDS if o.federates):  # only they have partner copies
            rows = self.read(
                f"SELECT DISTINCT l.origin, l.object_id, t.origin FROM log l JOIN {obj.table} t "
                f"ON t.{obj.key} = l.object_id WHERE t.origin <> '' AND l.origin <> t.origin", system=True)
            found += [(obj.name, entry_origin, object_id, held_as) for entry_origin, object_id, held_as in rows]
        return found
