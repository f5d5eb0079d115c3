"""The PostgreSQL + PostGIS backend: the same contract as `SQLiteStore`, over a psycopg 3 pool.

- Shared SQL (projector, federation, TAK gateway) is written with `?` placeholders;
  `to_pg` turns it into psycopg's `%s` at this boundary.
- Writers are serialised per node by a transaction-level advisory lock, as SQLite's
  single writer is: the own log stays one gap-free chain however many workers append.
  Readers never wait.
- Commits of other processes on the same database (several API workers of one node) reach
  the listeners registered with `on_commit(..., other_workers=True)` through LISTEN/NOTIFY:
  the committing transaction notifies its log range, a listener thread reads those entries.
- psycopg's errors become `Conflict` (constraint violations) and `StoreUnavailable`
  (server down, connection lost, deadlock): nothing partial is committed, and the pool
  checks a connection before lending it, so the node reconnects by itself.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import Conflict, FossatumError, StoreUnavailable
from ..log.entry import Entry
from ..log.signing import NodeKey
from . import projector
from .base import ENTRY_COLUMNS, StoreReads, Tx, row_entry
from .pg_schema import PG_LATEST, PG_MIGRATIONS
from .schema import PROJECTION_TABLES

log = logging.getLogger("fossatum.store")

CHANNEL = "fossatum_commits"
NOTIFY_MAX = 7000  # bytes of a NOTIFY payload (the server's limit is 8000)
WRITER_LOCK = 0x466F7373  # "Foss": one writer at a time per node database
MIGRATION_LOCK = 0x466F7374
CONNECT_SECONDS = 5


@functools.lru_cache(maxsize=4096)
def to_pg(sql: str) -> str:
    """Portable SQL (`?` placeholders) → psycopg (`%s`; a literal `%` doubled); quoted text is kept."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append("%%" if ch == "%" else ch)
    return "".join(out)


def redact(url: str) -> str:
    """A database URL fit for a log line: the password is never shown."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(malformed URL)"
    info.pop("password", None)
    host = info.get("host", "localhost")
    return f"postgresql://{info.get('user', '')}@{host}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass
class Committed:
    """A transaction committed by another worker, as its listeners see it."""
    appended: list[Entry]
    purged: list[tuple[str, str | None]] = field(default_factory=list)


class PgTx(Tx):
    def execute(self, sql: str, params: Any = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(to_pg(sql), tuple(params))


@contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    """psycopg's errors as fossatum's, at the boundary."""
    try:
        yield
    except pg_errors.IntegrityError as exc:
        raise Conflict(f"conflicts with stored data: {_one_line(exc)}") from None
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise StoreUnavailable(f"database {redact(url)} unavailable: {_one_line(exc)}") from None


class PostgresStore(StoreReads):
    backend = "postgres"

    def __init__(self, url: str, data_dir: Path, *, key: NodeKey | None = None, max_connections: int = 10) -> None:
        self.url = url
        # Not a file: the folder beside it (node key, gateway status) is what callers use.
        self.path = Path(data_dir) / "postgresql"
        self.key = key
        check_server(url)
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False,
                                    kwargs={"autocommit": True}, check=ConnectionPool.check_connection,
                                    name="fossatum")
        with _mapped_errors(url):
            self._pool.open(wait=True, timeout=CONNECT_SECONDS)
        self._listeners: list[Callable[[Tx], None]] = []
        self._remote: list[Callable[[Any], None]] = []
        self._announced: list[Callable[[str, Any], None]] = []
        self._worker_id = uuid.uuid4().hex
        self._notifier: threading.Thread | None = None
        self._listening = threading.Event()
        self._closed = threading.Event()
        self.migrate()
        self.origin = self.meta("node_id")

    # --- connections -------------------------------------------------------------------
    def read(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (portable SQL, `?` placeholders)."""
        with _mapped_errors(self.url), self._pool.connection() as conn:
            return conn.execute(to_pg(sql), tuple(params)).fetchall()

    def read_one(self, sql: str, params: Any = ()) -> tuple[Any, ...] | None:
        with _mapped_errors(self.url), self._pool.connection() as conn:
            return conn.execute(to_pg(sql), tuple(params)).fetchone()

    def _write_plain(self, sql: str, params: tuple[Any, ...]) -> None:
        with _mapped_errors(self.url), self._pool.connection() as conn:
            conn.execute(to_pg(sql), params)

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            if self._notifier is not None:
                self._notifier.join(timeout=5)
            self._pool.close()

    def migrate(self) -> int:
        """Apply missing migrations in order (PostGIS first); returns the schema version."""
        with _mapped_errors(self.url), self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
                try:
                    with conn.transaction():
                        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as exc:
                    raise StoreUnavailable(
                        f"PostGIS is missing in {redact(self.url)} and could not be enabled ({_one_line(exc)}); "
                        "install it (Debian: apt-get install postgresql-15-postgis-3) and run CREATE EXTENSION postgis"
                    ) from None
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, statements in PG_MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    conn.execute(statement)  # type: ignore[arg-type]
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
        return PG_LATEST

    # --- writes ------------------------------------------------------------------------
    def on_commit(self, listener: Callable[[Tx], None], *, other_workers: bool = False) -> None:
        """Call `listener` with each committed transaction (its `appended` entries and
        `purged` objects), after the commit and never before; with `other_workers`, also
        with those committed by other processes on this database (from a listener thread)."""
        self._listeners.append(listener)
        if other_workers:
            self._remote.append(listener)
            self._start_notifier()

    def on_announce(self, listener: Callable[[str, Any], None]) -> None:
        """Call `listener(topic, value)` with each `announce` made by another worker (listener thread)."""
        self._announced.append(listener)
        self._start_notifier()

    def announce(self, topic: str, value: Any) -> None:
        """Tell the node's other workers something that is no commit: e.g. a partner's "new
        items" notice reached an API worker, and only the federation process pulls."""
        payload = json.dumps({"from": self._worker_id, "topic": topic, "value": value})
        self._write_plain("SELECT pg_notify(?, ?)", (CHANNEL, payload))

    def _start_notifier(self) -> None:
        if self._notifier is None:
            self._notifier = threading.Thread(target=self._listen, name="fossatum-notify", daemon=True)
            self._notifier.start()
            self._listening.wait(CONNECT_SECONDS)

    def _notify(self, conn: psycopg.Connection[Any], tx: Tx) -> None:
        """Announce the transaction's log range (delivered by the server at commit)."""
        span: list[int] = []
        if tx.appended:  # one round trip: this runs under the writer lock
            first, last = tx.appended[0], tx.appended[-1]
            row = conn.execute("SELECT MIN(lsn), MAX(lsn) FROM log WHERE (origin = %s AND seq = %s) "
                               "OR (origin = %s AND seq = %s)",
                               (first.origin, first.seq, last.origin, last.seq)).fetchone()
            span = [row[0] or 0, row[1] or 0] if row else [0, 0]
        note = {"from": self._worker_id, "span": span, "purged": tx.purged}
        payload = json.dumps(note)
        if len(payload.encode()) > NOTIFY_MAX:  # documents left out: receivers treat them as unknown
            payload = json.dumps({**note, "purged": [(oid, None) for oid, _ in tx.purged]})
        if len(payload.encode()) <= NOTIFY_MAX:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def _listen(self) -> None:
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_SECONDS) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver(json.loads(note.payload))
            except (psycopg.Error, FossatumError) as exc:
                log.warning("commit notifications interrupted (%s); listening again", _one_line(exc))
                self._closed.wait(1.0)

    def _deliver(self, note: dict[str, Any]) -> None:
        if note.get("from") == self._worker_id:
            return
        if "topic" in note:
            for announced in self._announced:
                try:
                    announced(note["topic"], note.get("value"))
                except Exception:
                    log.exception("announcement listener failed")
            return
        entries: list[Entry] = []
        if note.get("span"):
            first, last = note["span"]
            rows = self.read(f"SELECT {ENTRY_COLUMNS} FROM log WHERE lsn BETWEEN ? AND ? ORDER BY lsn", (first, last))
            entries = [row_entry(r) for r in rows]
        committed = Committed(entries, [(oid, doc) for oid, doc in note.get("purged", [])])
        for listener in self._remote:
            try:
                listener(committed)
            except Exception:  # one failing listener must not stop the others
                log.exception("commit listener failed")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with _mapped_errors(self.url), self._pool.connection() as conn:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                tx = PgTx(conn, self.key, self.origin)
                yield tx
                if tx.appended or tx.purged:
                    self._notify(conn, tx)
            if self.origin is None:
                row = conn.execute("SELECT value FROM meta WHERE name = 'node_id'").fetchone()
                self.origin = row[0] if row else None
        if tx.appended or tx.purged:
            for listener in self._listeners:
                listener(tx)

    def set_key(self, key: NodeKey, origin: str) -> None:
        self.key, self.origin = key, origin

    # --- reads that need the backend -----------------------------------------------------
    def _scan(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """Stream a long result through a server-side cursor on a connection of its own."""
        with _mapped_errors(self.url), self._pool.connection() as conn, conn.transaction():
            with conn.cursor(name="fossatum_scan") as cur:
                cur.itersize = 2000
                cur.execute(to_pg(sql), params)
                yield from cur

    def own_report_docs(self) -> Iterator[str]:
        """Every report this node originated, in filing order (for export by the node itself)."""
        for row in self._scan("SELECT doc FROM reports WHERE origin = ? ORDER BY rid", (self.origin,)):
            yield row[0]

    @staticmethod
    def _bbox_sql(alias: str, bbox: tuple[float, float, float, float], since: str | None,
                  until: str | None) -> tuple[str, list[object]]:
        min_lon, min_lat, max_lon, max_lat = bbox
        # `&&` finds the candidates through the GiST index; the exact columns decide at the
        # edges (as on SQLite); the time window is the observed_at filter of report_filters.
        return (f"{alias}.geom && ST_MakeEnvelope(?, ?, ?, ?, 4326) "
                f"AND {alias}.lon BETWEEN ? AND ? AND {alias}.lat BETWEEN ? AND ?",
                [min_lon, min_lat, max_lon, max_lat, min_lon, max_lon, min_lat, max_lat])

    # --- the log -----------------------------------------------------------------------
    def entries(self, origin: str | None = None, after_seq: int = 0, *, strict: bool = True) -> Iterator[Entry]:
        """Entries in local order (all origins), or one origin's in sequence order."""
        if origin is None:
            rows = self._scan(f"SELECT {ENTRY_COLUMNS} FROM log ORDER BY lsn")
        else:
            rows = self._scan(f"SELECT {ENTRY_COLUMNS} FROM log WHERE origin = ? AND seq > ? ORDER BY seq",
                              (origin, after_seq))
        for row in rows:
            yield row_entry(row, strict=strict)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Empty every projection and replay the whole log into it, in one transaction."""
        total = 0
        with _mapped_errors(self.url), self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            for table in PROJECTION_TABLES:
                conn.execute(f"DELETE FROM {table}")  # type: ignore[arg-type]
            conn.execute("DELETE FROM meta WHERE name IN ('node_id', 'country', 'name', 'public_key')")
            tx = PgTx(conn, None, None)
            with conn.cursor(name="fossatum_rebuild") as reader:
                reader.itersize = 2000
                reader.execute(f"SELECT {ENTRY_COLUMNS} FROM log ORDER BY lsn")  # type: ignore[arg-type]
                for row in reader:
                    projector.apply(tx, row_entry(row))
                    total += 1
                    if progress and total % 1000 == 0:
                        progress(1000)
        if progress:
            progress(total % 1000)
        return total

    def check_integrity(self) -> None:
        """The server keeps its own files consistent; here: it answers, the schema is current."""
        row = self.read_one("SELECT MAX(version) FROM schema_migrations")
        if not row or row[0] != PG_LATEST:
            raise FossatumError(f"database schema is at version {row[0] if row else None}, expected {PG_LATEST}")


def check_server(url: str) -> None:
    """Fail with one clear line when the URL is wrong, the server is down or PostGIS is missing."""
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_SECONDS, autocommit=True)
    except psycopg.ProgrammingError as exc:
        raise FossatumError(f"FOSSATUM_DATABASE_URL is not a valid PostgreSQL URL: {_one_line(exc)}") from None
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot connect to {redact(url)}: {_one_line(exc)}") from None
    with conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone() is None:
            raise StoreUnavailable(f"PostGIS is not installed on the server of {redact(url)} "
                                   "(Debian: apt-get install postgresql-15-postgis-3)")


def sibling_database(url: str, suffix: str, *, fresh: bool = False) -> str:
    """URL of the database `<name><suffix>` on the server of `url`, created if absent (re-created if `fresh`)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    sibling = f"{name}{suffix}"
    check_server(url)
    with _mapped_errors(url), psycopg.connect(url, connect_timeout=CONNECT_SECONDS, autocommit=True) as conn:
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(sibling)))
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sibling,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(sibling)))
    return parts._replace(path=f"/{sibling}").geturl()
