"""The SQLite backend: one writer (serialised by a lock), a read connection per thread.

WAL with synchronous=FULL: once a write returned, it survives a pulled plug.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from ..datadir import private_file
from ..domain.org import User
from ..errors import Conflict, IntegrityError, StoreUnavailable
from ..log.entry import Entry
from ..log.signing import NodeKey
from . import projector
from .base import ENTRY_COLUMNS, Reader, StoreReads, Tx, row_entry
from .projector import days
from .query import time_window
from .schema import LATEST, MIGRATIONS, PROJECTION_TABLES

DB_FILE = "fossatum.db"
__all__ = ["DB_FILE", "SQLiteStore", "Tx"]


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


class SQLiteStore(StoreReads):
    backend = "sqlite"

    def __init__(self, data_dir: Path, *, key: NodeKey | None = None) -> None:
        self.path = Path(data_dir) / DB_FILE
        self.key = key
        # Created 0600 before SQLite opens it: its -wal and -shm files take the database's mode.
        private_file(self.path)
        self._lock = threading.Lock()
        self._writer = _connect(self.path, readonly=False)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self.migrate()
        self.origin = self.meta("node_id")
        self._listeners: list[Callable[[Tx], None]] = []

    # --- connections -------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def read(self, sql: str, params: Any = (), *, viewer: User | None = None,
             system: bool = False) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (portable SQL, `?` placeholders), on this thread's reader.
        `viewer`/`system` declare the reader to PostgreSQL's row-level security; not here."""
        return self._reader().execute(sql, params).fetchall()

    def read_one(self, sql: str, params: Any = (), *, viewer: User | None = None,
                 system: bool = False) -> tuple[Any, ...] | None:
        return cast("tuple[Any, ...] | None", self._reader().execute(sql, params).fetchone())

    @contextmanager
    def snapshot(self, *, viewer: User | None = None, system: bool = False) -> Iterator[Reader]:
        """Reads in one transaction of this thread's reader: WAL keeps its snapshot from the
        first read to the end, whatever the writer commits meanwhile."""
        conn = self._reader()
        if conn.in_transaction:  # already inside one (nested use): that snapshot holds
            yield lambda sql, params: conn.execute(sql, params).fetchall()
            return
        conn.execute("BEGIN")
        try:
            yield lambda sql, params: conn.execute(sql, params).fetchall()
        finally:
            conn.execute("COMMIT")

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
                for version, name, statements in sorted(MIGRATIONS, key=lambda m: m[0]):
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
    def on_commit(self, listener: Callable[[Tx], None], *, other_workers: bool = False) -> None:
        """Call `listener` with each committed transaction (its `appended` entries and
        `purged` objects), after the commit and never before. (`other_workers`: one process
        serves a SQLite node, so there are none.)"""
        self._listeners.append(listener)

    def on_announce(self, listener: Callable[[str, Any], None]) -> None:
        """(Another worker's announcements: a SQLite node has no other worker.)"""

    def announce(self, topic: str, value: Any) -> None:
        """(No other worker to tell.)"""

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
                row = conn.execute("SELECT value FROM meta WHERE name = 'node_id'").fetchone()
                self.origin = row[0] if row else None
        if tx.appended or tx.purged:
            for listener in self._listeners:
                listener(tx)

    def set_key(self, key: NodeKey, origin: str) -> None:
        self.key, self.origin = key, origin

    def _write_plain(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._writer.execute(sql, params)

    def _write_rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._writer.execute(sql, params).fetchall()

    # --- reads that need the backend -----------------------------------------------------
    def own_report_docs(self) -> Iterator[str]:
        """Every report this node originated, in filing order (for export by the node itself)."""
        conn = _connect(self.path, readonly=True)
        try:
            yield from (r[0] for r in conn.execute("SELECT doc FROM reports WHERE origin = ? ORDER BY rid", (self.origin,)))
        finally:
            conn.close()

    @staticmethod
    def _unlinked_sql(doc: str) -> str:
        return f"json_remove({doc}, '$.links')"

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
        return (f"{alias}.rid IN ({sql}) AND {alias}.lon BETWEEN ? AND ? AND {alias}.lat BETWEEN ? AND ?"
                + time_window(alias, since, until),
                [*params, min_lon, max_lon, min_lat, max_lat, *(t for t in (since, until) if t)])

    # --- the log -----------------------------------------------------------------------
    def entries(self, origin: str | None = None, after_seq: int = 0, *, strict: bool = True) -> Iterator[Entry]:
        """Entries in local order (all origins), or one origin's in sequence order."""
        conn = _connect(self.path, readonly=True)  # own connection: long scans must not pin a thread's
        try:
            if origin is None:
                rows = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM log ORDER BY lsn")
            else:
                rows = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM log WHERE origin = ? AND seq > ? ORDER BY seq",
                                    (origin, after_seq))
            for row in rows:
                yield row_entry(row, strict=strict)
        finally:
            conn.close()

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
                reader = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM log ORDER BY lsn")
                cur = conn.cursor()
                for row in _batched(reader):
                    projector.apply(cur, row_entry(row))
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
