"""The SQLite backend: one writer (serialised by a lock), a read connection per thread.

WAL with synchronous=FULL: once a write returned, it survives a pulled plug.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..domain.org import Role, User
from ..errors import Conflict, FossatumError, IntegrityError, StoreUnavailable
from ..log.entry import GENESIS, Entry, canonical
from ..log.signing import NodeKey
from ..policy.predicate import visible_sql
from . import projector
from .projector import days
from .query import ReportQuery, report_filters
from .schema import LATEST, MIGRATIONS, PROJECTION_TABLES

DB_FILE = "fossatum.db"


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open database {path}: {exc}") from None
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA cache_size=-65536")
    if readonly:
        conn.execute("PRAGMA query_only=1")
    return conn


class Tx:
    """A write transaction: append entries (signed, chained, projected) and read within it."""

    def __init__(self, conn: sqlite3.Connection, key: NodeKey | None, origin: str | None) -> None:
        self.conn = conn
        self._key = key
        self._origin = origin
        self.appended: list[Entry] = []
        self.purged: list[tuple[str, str | None]] = []  # (object id, its document before the purge)

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def append(self, *, ts: str, author: str, kind: str, payload: dict[str, Any],
               audience: dict[str, Any]) -> Entry:
        if self._key is None or self._origin is None:
            raise FossatumError("this node has no key; run 'fossatum init'")
        last = self.conn.execute(
            "SELECT seq, hash FROM log WHERE origin = ? ORDER BY seq DESC LIMIT 1", (self._origin,)
        ).fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        draft = Entry(self._origin, seq, ts, author, kind, payload, audience, prev)
        digest = draft.compute_hash()
        entry = Entry(**{**_fields(draft), "hash": digest, "sig": self._key.sign(digest)})
        self._insert(entry)
        return entry

    def insert_received(self, entry: Entry) -> None:
        """Store and project an entry of a partner's log (already verified by the receiver)."""
        self._insert(entry)

    def _insert(self, entry: Entry) -> None:
        self.conn.execute(
            "INSERT INTO log (origin, seq, ts, author, kind, payload, audience, prev, hash, sig, object_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.origin, entry.seq, entry.ts, entry.author, entry.kind, canonical(entry.payload),
             canonical(entry.audience), entry.prev, entry.hash, entry.sig, entry.object_id),
        )
        projector.apply(self.conn, entry)
        self.appended.append(entry)


def _fields(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in Entry.__slots__}


def _row_entry(row: tuple[Any, ...], *, strict: bool = True) -> Entry:
    """An entry from a log row. Not strict (for verification): a stored text that is no
    longer JSON is kept as a marker, so the entry fails its hash check instead of stopping the scan."""
    origin, seq, ts, author, kind, payload, audience, prev, digest, sig = row

    def load(text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            if strict:
                raise IntegrityError(f"{origin}#{seq}: stored entry is not valid JSON") from None
            return {"unreadable": text}

    return Entry(origin, seq, ts, author, kind, load(payload), load(audience), prev, digest, sig)


def _user(row: tuple[Any, ...]) -> User:
    username, agency, country, roles, full_name, active = row
    return User(username, agency, country, frozenset(Role(r) for r in json.loads(roles)), full_name, bool(active))


class SQLiteStore:
    backend = "sqlite"

    def __init__(self, data_dir: Path, *, key: NodeKey | None = None) -> None:
        self.path = Path(data_dir) / DB_FILE
        self.key = key
        self._lock = threading.Lock()
        self._writer = _connect(self.path, readonly=False)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self.migrate()
        self.origin = self.meta("node_id")
        self._listeners: list[Callable[[list[Entry]], None]] = []

    # --- connections -------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def read(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (portable SQL, `?` placeholders), on this thread's reader."""
        return self._reader().execute(sql, params).fetchall()

    def read_one(self, sql: str, params: Any = ()) -> tuple[Any, ...] | None:
        return self._reader().execute(sql, params).fetchone()

    def close(self) -> None:
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer.close()

    def migrate(self) -> int:
        """Apply missing migrations in order; returns the schema version."""
        with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                for version, name, statements in MIGRATIONS:
                    if version in done:
                        continue
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, datetime('now'))",
                        (version, name),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return LATEST

    # --- writes ------------------------------------------------------------------------
    def on_commit(self, listener: Callable[[Tx], None]) -> None:
        """Call `listener` with each committed transaction (its `appended` entries and
        `purged` objects), after the commit and never before."""
        self._listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"database is busy: {exc}") from None
            tx = Tx(conn, self.key, self.origin)
            try:
                yield tx
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK")
                raise Conflict(f"conflicts with stored data: {exc}") from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if self.origin is None:
                self.origin = self._meta_on(conn, "node_id")
        if tx.appended or tx.purged:
            for listener in self._listeners:
                listener(tx)

    def set_key(self, key: NodeKey, origin: str) -> None:
        self.key, self.origin = key, origin

    # --- node state --------------------------------------------------------------------
    @staticmethod
    def _meta_on(conn: sqlite3.Connection, name: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def meta(self, name: str) -> str | None:
        return self._meta_on(self._reader(), name)

    def roster(self) -> list[str]:
        return [r[0] for r in self._reader().execute("SELECT country FROM roster ORDER BY country")]

    def agencies(self) -> list[dict[str, Any]]:
        rows = self._reader().execute("SELECT code, name, country FROM agencies ORDER BY country, code")
        return [{"code": c, "name": n, "country": k} for c, n, k in rows]

    def agency(self, code: str) -> dict[str, Any] | None:
        row = self._reader().execute("SELECT code, name, country FROM agencies WHERE code = ?", (code,)).fetchone()
        return {"code": row[0], "name": row[1], "country": row[2]} if row else None

    def users(self) -> list[User]:
        rows = self._reader().execute(
            "SELECT username, agency, country, roles, full_name, active FROM users ORDER BY username"
        )
        return [_user(r) for r in rows]

    def user(self, username: str) -> User | None:
        row = self._reader().execute(
            "SELECT username, agency, country, roles, full_name, active FROM users WHERE username = ?",
            (username,),
        ).fetchone()
        return _user(row) if row else None

    # --- credentials and sessions (node-local secrets, not in the log) ------------------
    def set_password_hash(self, tx: Tx, username: str, password_hash: str, at: str) -> None:
        tx.execute(
            "INSERT INTO credentials (username, password_hash, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            (username, password_hash, at),
        )

    def password_hash(self, username: str) -> str | None:
        row = self._reader().execute("SELECT password_hash FROM credentials WHERE username = ?", (username,)).fetchone()
        return row[0] if row else None

    def _write_plain(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._writer.execute(sql, params)

    def add_session(self, token_hash: str, username: str, created_at: str, expires_at: str) -> None:
        self._write_plain(
            "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (token_hash, username, created_at, expires_at),
        )

    def session(self, token_hash: str, now: str) -> str | None:
        row = self._reader().execute(
            "SELECT username FROM sessions WHERE token_hash = ? AND expires_at > ?", (token_hash, now)
        ).fetchone()
        return row[0] if row else None

    def drop_session(self, token_hash: str) -> None:
        self._write_plain("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def drop_sessions_of(self, username: str) -> None:
        self._write_plain("DELETE FROM sessions WHERE username = ?", (username,))

    # --- reports -----------------------------------------------------------------------
    def report_doc(self, viewer: User, report_id: str) -> str | None:
        """The stored JSON of a report if `viewer` may see it (else None, as if absent)."""
        where, params = visible_sql(viewer, "r")
        row = self._reader().execute(
            f"SELECT r.doc FROM reports r WHERE r.id = ? AND {where}", (report_id, *params)
        ).fetchone()
        return row[0] if row else None

    def report_doc_for_update(self, tx: Tx, report_id: str) -> str | None:
        row = tx.execute("SELECT doc FROM reports WHERE id = ?", (report_id,)).fetchone()
        return row[0] if row else None

    def report_versions(self, viewer: User, report_id: str) -> list[str]:
        if self.report_doc(viewer, report_id) is None:
            return []
        # Earlier versions are shown as far as the current audience reaches: a version
        # that was narrower (e.g. a draft) is still only seen by who may see it now.
        rows = self._reader().execute(
            "SELECT doc FROM report_versions WHERE report_id = ? ORDER BY version", (report_id,)
        )
        return [r[0] for r in rows]

    def own_report_docs(self) -> Iterator[str]:
        """Every report this node originated, in filing order (for export by the node itself)."""
        conn = _connect(self.path, readonly=True)
        try:
            yield from (r[0] for r in conn.execute("SELECT doc FROM reports WHERE origin = ? ORDER BY rid", (self.origin,)))
        finally:
            conn.close()

    def visible_report_ids(self, viewer: User, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        where, params = visible_sql(viewer, "r")
        marks = ", ".join("?" for _ in ids)
        rows = self._reader().execute(
            f"SELECT r.id FROM reports r WHERE r.id IN ({marks}) AND {where}", (*ids, *params)
        )
        return {r[0] for r in rows}

    def list_reports(self, viewer: User, query: ReportQuery) -> list[str]:
        """Stored JSON documents of the reports `viewer` may see, newest observation first."""
        where, params = visible_sql(viewer, "r")
        filters, fparams = report_filters(query, alias="r", spatial=self._bbox_sql)
        sql = (
            f"SELECT r.doc FROM reports r WHERE {where}{filters} "
            "ORDER BY r.observed_at DESC, r.id DESC LIMIT ?"
        )
        return [row[0] for row in self._reader().execute(sql, (*params, *fparams, query.limit + 1))]

    def count_reports(self, viewer: User, query: ReportQuery, group_by: str | None = None) -> dict[str, int]:
        where, params = visible_sql(viewer, "r")
        filters, fparams = report_filters(query, alias="r", spatial=self._bbox_sql, paging=False)
        if group_by is None:
            (n,) = self._reader().execute(f"SELECT COUNT(*) FROM reports r WHERE {where}{filters}", (*params, *fparams)).fetchone()
            return {"total": n}
        rows = self._reader().execute(
            f"SELECT r.{group_by}, COUNT(*) FROM reports r WHERE {where}{filters} GROUP BY r.{group_by}",
            (*params, *fparams),
        )
        return {str(k): n for k, n in rows}

    @staticmethod
    def _bbox_sql(alias: str, bbox: tuple[float, float, float, float], since: str | None,
                  until: str | None) -> tuple[str, list[object]]:
        min_lon, min_lat, max_lon, max_lat = bbox
        # The R*Tree keeps 32-bit floats (boxes rounded outwards), so it narrows the
        # candidates and the exact columns (and observed_at filters) decide at the edges.
        sql = ("SELECT rid FROM reports_space_time WHERE min_lon <= ? AND max_lon >= ? "
               "AND min_lat <= ? AND max_lat >= ?")
        params: list[object] = [max_lon, min_lon, max_lat, min_lat]
        if since:
            sql += " AND max_t >= ?"
            params.append(days(since) - 0.01)
        if until:
            sql += " AND min_t <= ?"
            params.append(days(until) + 0.01)
        return (f"{alias}.rid IN ({sql}) AND {alias}.lon BETWEEN ? AND ? AND {alias}.lat BETWEEN ? AND ?",
                [*params, min_lon, max_lon, min_lat, max_lat])

    # --- units and sections ------------------------------------------------------------
    def _visible_docs(self, table: str, viewer: User, order: str) -> list[str]:
        where, params = visible_sql(viewer, "t")
        return [r[0] for r in self._reader().execute(f"SELECT t.doc FROM {table} t WHERE {where} ORDER BY t.{order}", params)]

    def _visible_doc(self, table: str, viewer: User, object_id: str) -> str | None:
        where, params = visible_sql(viewer, "t")
        row = self._reader().execute(f"SELECT t.doc FROM {table} t WHERE t.id = ? AND {where}", (object_id, *params)).fetchone()
        return row[0] if row else None

    def units(self, viewer: User) -> list[str]:
        return self._visible_docs("units", viewer, "name")

    def unit_doc(self, viewer: User, unit_id: str) -> str | None:
        return self._visible_doc("units", viewer, unit_id)

    def unit_track(self, viewer: User, unit_id: str, limit: int = 500) -> list[dict[str, Any]]:
        if self.unit_doc(viewer, unit_id) is None:
            return []
        rows = self._reader().execute(
            "SELECT at, lat, lon FROM unit_positions WHERE unit_id = ? ORDER BY at DESC LIMIT ?", (unit_id, limit)
        )
        return [{"at": at, "lat": lat, "lon": lon} for at, lat, lon in rows]

    def sections(self, viewer: User) -> list[str]:
        return self._visible_docs("sections", viewer, "id")

    def section_doc(self, viewer: User, section_id: str) -> str | None:
        return self._visible_doc("sections", viewer, section_id)

    # --- field devices, alerts, chat (TAK gateway) ----------------------------------------
    def device(self, uid: str) -> dict[str, Any] | None:
        row = self._reader().execute(
            "SELECT uid, username, unit_id, callsign, registered_at FROM devices WHERE uid = ?", (uid,)).fetchone()
        return dict(zip(("uid", "username", "unit_id", "callsign", "registered_at"), row)) if row else None

    def alerts(self, viewer: User, *, active_only: bool = True) -> list[str]:
        where, params = visible_sql(viewer, "a")
        state = " AND a.state = 'raised'" if active_only else ""
        return [r[0] for r in self._reader().execute(
            f"SELECT a.doc FROM alerts a WHERE {where}{state} ORDER BY a.at DESC", params)]

    def chat(self, viewer: User, *, limit: int = 100) -> list[str]:
        where, params = visible_sql(viewer, "c")
        return [r[0] for r in self._reader().execute(
            f"SELECT c.doc FROM chat c WHERE {where} ORDER BY c.at DESC LIMIT ?", (*params, limit))]

    # --- the log -----------------------------------------------------------------------
    def entries(self, origin: str | None = None, after_seq: int = 0, *, strict: bool = True) -> Iterator[Entry]:
        """Entries in local order (all origins), or one origin's in sequence order."""
        conn = _connect(self.path, readonly=True)  # own connection: long scans must not pin a thread's
        try:
            cols = "origin, seq, ts, author, kind, payload, audience, prev, hash, sig"
            if origin is None:
                rows = conn.execute(f"SELECT {cols} FROM log ORDER BY lsn")
            else:
                rows = conn.execute(f"SELECT {cols} FROM log WHERE origin = ? AND seq > ? ORDER BY seq", (origin, after_seq))
            for row in rows:
                yield _row_entry(row, strict=strict)
        finally:
            conn.close()

    def origins(self) -> dict[str, int]:
        return dict(self._reader().execute("SELECT origin, COUNT(*) FROM log GROUP BY origin"))

    def log_size(self) -> int:
        return self._reader().execute("SELECT COUNT(*) FROM log").fetchone()[0]

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Empty every projection and replay the whole log into it, in one transaction."""
        total = 0
        with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in PROJECTION_TABLES:
                    conn.execute(f"DELETE FROM {table}")
                for name in ("node_id", "country", "name", "public_key"):
                    conn.execute("DELETE FROM meta WHERE name = ?", (name,))
                reader = conn.execute(
                    "SELECT origin, seq, ts, author, kind, payload, audience, prev, hash, sig FROM log ORDER BY lsn"
                )
                cur = conn.cursor()
                for row in _batched(reader):
                    projector.apply(cur, _row_entry(row))
                    total += 1
                    if progress and total % 1000 == 0:
                        progress(1000)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if progress:
            progress(total % 1000)
        return total

    def check_integrity(self) -> None:
        (result,) = self._reader().execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise IntegrityError(f"database file is damaged: {result}")


def _batched(cursor: sqlite3.Cursor, size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Fetch in batches so that projection writes on the same connection don't disturb the scan."""
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield from rows
