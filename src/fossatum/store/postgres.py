"""The PostgreSQL + PostGIS backend: the same contract as `SQLiteStore`, over a psycopg 3 pool.

- Shared SQL (projector, federation, TAK gateway) is written with `?` placeholders;
  `to_pg` turns it into psycopg's `%s` at this boundary.
- Writers are serialised per node by a transaction-level advisory lock, as SQLite's
  single writer is: the own log stays one gap-free chain however many workers append.
  Readers never wait.
- Commits of other processes on the same database (several API workers of one node) reach
  the listeners registered with `on_commit(..., other_workers=True)`: the committing
  transaction sends an empty NOTIFY, and each other worker's listener thread reads the log
  (and the `purges` table) after its own cursors. A notice is only a hint: any login may
  send or hear one, so it carries nothing and is trusted for nothing (pg_notices.py).
- Need-to-know twice: every read of a viewer declares that viewer in its transaction
  (`set_config`, pipelined with the query), and the tables' row-level-security policies
  (pg_schema.py, migration 8) apply the same rule as the SQL filter; the node's own service
  paths declare `fossatum.system`. The node should connect as a role that neither owns the
  tables nor bypasses RLS; migrations then run over FOSSATUM_DATABASE_OWNER_URL (docs/postgres.md).
- psycopg's errors become `Conflict` (constraint violations) and `StoreUnavailable`
  (server down, connection lost, deadlock): nothing partial is committed, and the pool
  checks a connection before lending it, so the node reconnects by itself.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..domain.org import User
from ..errors import Conflict, FossatumError, StoreUnavailable
from ..log.entry import Entry
from ..log.signing import NodeKey
from ..policy.predicate import session_values
from . import projector
from .base import ENTRY_COLUMNS, Reader, StoreReads, Tx, row_entry
from .pg_notices import ANNOUNCE, COMMITS, CONNECT_SECONDS, PURGES_KEPT, Listener, announcement, facts_text
from .pg_schema import INDEX_OPERATORS, PG_LATEST, PG_MIGRATIONS, RLS_TABLES
from .projector import days
from .query import time_window
from .schema import PROJECTION_TABLES

log = logging.getLogger("fossatum.store")

WRITER_LOCK = 0x466F7373  # "Foss": one writer at a time per node database
MIGRATION_LOCK = 0x466F7374
RLS_MODES = ("auto", "enforce", "warn")
# The role a node works as when its URL's role would not be held by row-level security and
# no owner URL is given (FOSSATUM_DATABASE_RLS=auto): NOLOGIN, owns nothing, no BYPASSRLS.
NODE_ROLE = "fossatum_node"
# One statement declares who reads (or that the node itself does) for the transaction.
DECLARE = "SELECT " + ", ".join(f"set_config('{name}', %s, true)" for name in session_values(None))
SPACE_MARGIN = 1e-5     # degrees (~1 m) added around a COP box for the index range
TIME_MARGIN = 0.01      # days (~15 min) added around a COP window for the index range
UNBOUNDED_DAYS = 1e6    # an open window's end on the index's time axis (beyond year 4700)


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


class PgTx(Tx):
    def execute(self, sql: str, params: Any = ()) -> psycopg.Cursor[Any]:
        return cast("psycopg.Cursor[Any]", self.conn.execute(to_pg(sql), tuple(params)))


@contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    """psycopg's errors as fossatum's, at the boundary."""
    try:
        yield
    except pg_errors.IntegrityError as exc:
        raise Conflict(f"conflicts with stored data: {_one_line(exc)}") from None
    except pg_errors.InsufficientPrivilege as exc:
        raise FossatumError(f"database {redact(url)} refused: {_one_line(exc)} "
                            "(see FOSSATUM_DATABASE_OWNER_URL in docs/postgres.md)") from None
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise StoreUnavailable(f"database {redact(url)} unavailable: {_one_line(exc)}") from None


class PostgresStore(StoreReads):
    backend = "postgres"

    def __init__(self, url: str, data_dir: Path, *, key: NodeKey | None = None, max_connections: int = 10,
                 owner_url: str | None = None, rls: str | None = None) -> None:
        if owner_url is None or rls is None:
            from ..settings import load

            conf = load()
            owner_url = conf.database_owner_url if owner_url is None else owner_url
            rls = conf.database_rls if rls is None else rls
        if rls not in RLS_MODES:
            raise FossatumError(f"FOSSATUM_DATABASE_RLS must be one of {', '.join(RLS_MODES)}, got {rls!r}")
        self.url = url
        self.owner_url = owner_database_url(owner_url, url) if owner_url else None
        self.rls = rls
        # Not a file: the folder beside it (node key, gateway status) is what callers use.
        self.path = Path(data_dir) / "postgresql"
        self.key = key
        check_server(url)
        # With one all-powerful URL (a superuser, the tables' owner) and no owner URL, `auto`
        # keeps the wall: that URL migrates, and every pooled connection works as NODE_ROLE.
        self.node_role: str | None = None
        if rls == "auto" and self.owner_url is None:
            self.node_role = _node_role_for(url)
            if self.node_role is not None:
                self.owner_url = url
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False,
                                    kwargs={"autocommit": True}, check=ConnectionPool.check_connection,
                                    configure=self._configure if self.node_role else None, name="fossatum")
        with _mapped_errors(url):
            self._pool.open(wait=True, timeout=CONNECT_SECONDS)
        self._listeners: list[Callable[[Tx], None]] = []
        self._remote: list[Callable[[Any], None]] = []
        self._announced: list[Callable[[str, Any], None]] = []
        self._worker_id = uuid.uuid4().hex
        self._closed = threading.Event()
        self._notifier: Listener | None = None
        try:
            self.migrate()
            self._check_role()
        except BaseException:
            self._pool.close()
            raise
        self.origin = self.meta("node_id")

    # --- connections -------------------------------------------------------------------
    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.node_role or "")))

    def read(self, sql: str, params: Any = (), *, viewer: User | None = None,
             system: bool = False) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (portable SQL, `?` placeholders), as `viewer` or as the
        node itself (`system`); with neither, the row-level-secured tables show no row."""
        with _mapped_errors(self.url), self._pool.connection() as conn:
            if viewer is None and not system:
                return conn.execute(to_pg(sql), tuple(params)).fetchall()
            return self._declared(conn, sql, params, viewer, system).fetchall()

    def read_one(self, sql: str, params: Any = (), *, viewer: User | None = None,
                 system: bool = False) -> tuple[Any, ...] | None:
        with _mapped_errors(self.url), self._pool.connection() as conn:
            if viewer is None and not system:
                return conn.execute(to_pg(sql), tuple(params)).fetchone()
            return self._declared(conn, sql, params, viewer, system).fetchone()

    @contextmanager
    def snapshot(self, *, viewer: User | None = None, system: bool = False) -> Iterator[Reader]:
        """Reads in one REPEATABLE READ, READ ONLY transaction on one connection (one
        snapshot; a read-only one never fails to serialise), the reader declared for all of
        them. Pipelined: BEGIN, the isolation, the declaration and the first read go to the
        server in one exchange (each later read is one more, and COMMIT one)."""
        with _mapped_errors(self.url), self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute(DECLARE, tuple(session_values(viewer, system=system).values()))
            yield lambda sql, params: conn.execute(to_pg(sql), tuple(params)).fetchall()

    @staticmethod
    def _declared(conn: psycopg.Connection[Any], sql: str, params: Any, viewer: User | None,
                  system: bool) -> psycopg.Cursor[Any]:
        """Run `sql` after declaring the reader, in one exchange with the server: pipelined
        statements up to the pipeline's Sync are one implicit transaction, so the declaration
        (`set_config(…, true)`) holds for the query and ends with it, error or not. (An explicit
        BEGIN/COMMIT would cost two more steps: measured 3x the time of this.)"""
        with conn.pipeline():
            conn.execute(DECLARE, tuple(session_values(viewer, system=system).values()))
            cur = conn.execute(to_pg(sql), tuple(params))
        return cur

    def _write_plain(self, sql: str, params: tuple[Any, ...]) -> None:
        with _mapped_errors(self.url), self._pool.connection() as conn:
            conn.execute(to_pg(sql), params)

    def _write_rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with _mapped_errors(self.url), self._pool.connection() as conn:
            return conn.execute(to_pg(sql), params).fetchall()

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            if self._notifier is not None:
                self._notifier.join(timeout=5)
            self._pool.close()

    def migrate(self) -> int:
        """Apply missing migrations in order (PostGIS first) — over the owner's connection
        when one is configured, which then grants the node's role what it needs; returns the
        schema version."""
        # None: no schema yet; False: a schema the node's role was not granted (yet).
        readable = (self.read_one("SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN NULL "
                                  "ELSE has_table_privilege('schema_migrations', 'SELECT') END") or (None,))[0]
        applied = self.read("SELECT version FROM schema_migrations") if readable else []
        missing = {v for v, _, _ in PG_MIGRATIONS} - {row[0] for row in applied}
        if self.owner_url is None:
            if missing:
                with _mapped_errors(self.url), self._pool.connection() as conn:
                    self._migrate(conn, self.url)
            return PG_LATEST
        if not missing and self.node_role is None:
            return PG_LATEST
        with _mapped_errors(self.owner_url), psycopg.connect(self.owner_url, connect_timeout=CONNECT_SECONDS,
                                                             autocommit=True) as conn:
            app, app_db = self.read_one("SELECT current_user, current_database()") or ("", "")
            owner_db = conn.execute("SELECT current_database()").fetchone()
            if owner_db is None or owner_db[0] != app_db:
                raise FossatumError(f"FOSSATUM_DATABASE_OWNER_URL names the database {owner_db[0] if owner_db else ''}, "
                                    f"FOSSATUM_DATABASE_URL {app_db}: they must name the same one")
            if missing:
                self._migrate(conn, self.owner_url, grant_to=app)
            else:  # NODE_ROLE may be new to a database migrated before: cheap, idempotent
                with conn.transaction():
                    _grant(conn, app)
        return PG_LATEST

    @staticmethod
    def _migrate(conn: psycopg.Connection[Any], url: str, *, grant_to: str | None = None) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            # Data migrations touch row-level-secured tables, whose policies bind the owner too.
            conn.execute(DECLARE, tuple(session_values(None, system=True).values()))
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
                try:
                    with conn.transaction():
                        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as exc:
                    raise StoreUnavailable(
                        f"PostGIS is missing in {redact(url)} and could not be enabled ({_one_line(exc)}); "
                        "install it (Debian: apt-get install postgresql-15-postgis-3) and run CREATE EXTENSION postgis"
                    ) from None
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, statements in sorted(PG_MIGRATIONS, key=lambda m: m[0]):
                if version in done:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            if grant_to is not None:
                _grant(conn, grant_to)

    def _check_role(self) -> None:
        """Refuse (or, with FOSSATUM_DATABASE_RLS=warn, warn) when the node's role would not
        be held by row-level security: a superuser or BYPASSRLS role skips it, the tables'
        owner may switch it off."""
        row = self.read_one(
            "SELECT r.rolname, r.rolsuper, r.rolbypassrls, EXISTS (SELECT 1 FROM pg_class c "
            "WHERE c.oid = to_regclass(t.name) AND pg_has_role(current_user, c.relowner, 'MEMBER')) "
            "FROM pg_roles r, unnest(?::text[]) AS t(name) WHERE r.rolname = current_user "
            "ORDER BY 4 DESC LIMIT 1", (list(RLS_TABLES),))
        if row is None:
            return
        role, superuser, bypass, owner = row
        what = ("a superuser" if superuser else "a BYPASSRLS role" if bypass
                else "the owner of the tables" if owner else None)
        if what is None:
            for operator in INDEX_OPERATORS:
                leakproof = self.read_one("SELECT proleakproof FROM pg_proc WHERE oid = to_regprocedure(?)", (operator,))
                if leakproof == (False,):
                    log.warning("under row-level security the COP query cannot use its index until a superuser "
                                "runs in this database: ALTER FUNCTION %s LEAKPROOF (docs/postgres.md)", operator)
            return
        problem = (f"FOSSATUM_DATABASE_URL connects as {role}, {what}: row-level security is no wall for it; "
                   "connect as a role without SUPERUSER, BYPASSRLS or table ownership and run migrations over "
                   "FOSSATUM_DATABASE_OWNER_URL (docs/postgres.md)")
        if self.rls != "warn":  # `auto` got here only with an owner URL of the admin's choosing
            raise FossatumError(f"{problem}, or set FOSSATUM_DATABASE_RLS=warn for development")
        log.warning("%s", problem)

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
        items" notice reached an API worker, and only the federation process pulls. Only a
        short plain value travels (pg_notices.py)."""
        self._write_plain("SELECT pg_notify(?, ?)", (ANNOUNCE, announcement(self._worker_id, topic, value)))

    def _start_notifier(self) -> None:
        if self._notifier is None:
            self._notifier = Listener(self, self._worker_id, self._remote, self._announced, self._closed)
        self._notifier.ensure(wait=CONNECT_SECONDS)

    @property
    def notifier(self) -> Listener | None:
        """This worker's listener for other workers' commits (None until something listens)."""
        return self._notifier

    def _notify(self, conn: psycopg.Connection[Any], tx: Tx) -> None:
        """Record the transaction's purges (the audience facts the viewer rule needs, never a
        text) and wake the other workers with an empty notice (delivered by the server at
        commit); they read what changed from the store."""
        span: tuple[int, int] | None = None
        if tx.appended and self._notifier is not None:  # one round trip: this runs under the writer lock
            first, last = tx.appended[0], tx.appended[-1]
            row = conn.execute("SELECT MIN(lsn), MAX(lsn) FROM log WHERE (origin = %s AND seq = %s) "
                               "OR (origin = %s AND seq = %s)",
                               (first.origin, first.seq, last.origin, last.seq)).fetchone()
            span = (row[0], row[1]) if row and row[0] is not None else None
        purge_ids: list[int] = []
        if tx.purged:
            conn.execute(f"DELETE FROM purges WHERE at < now() - interval '{PURGES_KEPT}'")
            for object_id, facts in tx.purged:
                row = conn.execute("INSERT INTO purges (object_id, facts) VALUES (%s, %s) RETURNING id",
                                   (object_id, facts_text(facts))).fetchone()
                assert row is not None  # INSERT ... RETURNING gives one row
                purge_ids.append(row[0])
        if self._notifier is not None:
            self._notifier.own(span, purge_ids)
        conn.execute(f"NOTIFY {COMMITS}")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with _mapped_errors(self.url), self._pool.connection() as conn:
            with conn.transaction():
                # The writer lock, and the node's own service path (row-level security: every row).
                conn.execute("SELECT pg_advisory_xact_lock(%s), " + DECLARE.removeprefix("SELECT "),
                             (WRITER_LOCK, *session_values(None, system=True).values()))
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
        if self._notifier is not None:
            self._notifier.ensure()  # supervised: a listener thread that died is started again

    def set_key(self, key: NodeKey, origin: str) -> None:
        self.key, self.origin = key, origin

    # --- reads that need the backend -----------------------------------------------------
    def _scan(self, sql: str, params: tuple[Any, ...] = (), *, system: bool = False) -> Iterator[tuple[Any, ...]]:
        """Stream a long result through a server-side cursor on a connection of its own."""
        with _mapped_errors(self.url), self._pool.connection() as conn, conn.transaction():
            if system:
                conn.execute(DECLARE, tuple(session_values(None, system=True).values()))
            with conn.cursor(name="fossatum_scan") as cur:
                cur.itersize = 2000
                cur.execute(to_pg(sql), params)
                yield from cur

    def own_report_docs(self) -> Iterator[str]:
        """Every report this node originated, in filing order (for export by the node itself)."""
        for row in self._scan("SELECT doc FROM reports WHERE origin = ? ORDER BY rid", (self.origin,), system=True):
            yield row[0]

    @staticmethod
    def _unlinked_sql(doc: str) -> str:
        return f"(({doc})::jsonb - 'links')::text"

    @staticmethod
    def _bbox_sql(alias: str, bbox: tuple[float, float, float, float], since: str | None,
                  until: str | None) -> tuple[str, list[object]]:
        min_lon, min_lat, max_lon, max_lat = bbox
        # The GiST keys are 32-bit floats rounded outwards, and the boxes are widened a
        # little more, so the index finds a superset; the exact columns decide at the edges.
        exact = f"{alias}.lon BETWEEN ? AND ? AND {alias}.lat BETWEEN ? AND ?"
        exact_params: list[object] = [min_lon, max_lon, min_lat, max_lat]
        box = [min_lon - SPACE_MARGIN, min_lat - SPACE_MARGIN, max_lon + SPACE_MARGIN, max_lat + SPACE_MARGIN]
        if since is None and until is None:
            return f"{alias}.geom && ST_MakeEnvelope(?, ?, ?, ?, 4326) AND {exact}", [*box, *exact_params]
        # Box and window in one GiST range over (lon, lat, days) (migration 7). The exact
        # window compares bytes (COLLATE "C"): the same order as SQLite's, and a form the
        # observed_at btree cannot serve, so the planner does not AND a scan of every report
        # of the window (all places) to this one.
        t0 = days(since) - TIME_MARGIN if since else -UNBOUNDED_DAYS
        t1 = days(until) + TIME_MARGIN if until else UNBOUNDED_DAYS
        return (f"{alias}.geom_t &&& ST_3DMakeBox(ST_MakePoint(?, ?, ?), ST_MakePoint(?, ?, ?)) AND {exact}"
                + time_window(alias, since, until, collate=' COLLATE "C"'),
                [box[0], box[1], t0, box[2], box[3], t1, *exact_params, *(t for t in (since, until) if t)])

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
            conn.execute(DECLARE, tuple(session_values(None, system=True).values()))
            for table in PROJECTION_TABLES:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM meta WHERE name IN ('node_id', 'country', 'name', 'public_key')")
            tx = PgTx(conn, None, None)
            with conn.cursor(name="fossatum_rebuild") as reader:
                reader.itersize = 2000
                reader.execute(f"SELECT {ENTRY_COLUMNS} FROM log ORDER BY lsn")
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


_warned_roles: set[str] = set()


def _node_role_for(url: str) -> str | None:
    """NODE_ROLE when `url`'s role would not be held by row-level security (a superuser, a
    BYPASSRLS role, the tables' owner, or the role about to create them), created if
    absent and granted to that role so it may SET ROLE; None when `url`'s role is already
    a role the wall holds (a dedicated login role, migrated by someone else)."""
    with _mapped_errors(url), psycopg.connect(url, connect_timeout=CONNECT_SECONDS, autocommit=True) as conn:
        role, powerful, owns = conn.execute(
            "SELECT r.rolname, r.rolsuper OR r.rolbypassrls, "
            "COALESCE((SELECT pg_has_role(current_user, c.relowner, 'MEMBER') FROM pg_class c "
            "WHERE c.oid = to_regclass('reports')), true) "
            "FROM pg_roles r WHERE r.rolname = current_user").fetchone() or ("", False, False)
        if not (powerful or owns):
            return None
        try:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (NODE_ROLE,)).fetchone() is None:
                try:
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS").format(
                        sql.Identifier(NODE_ROLE)))
                except (pg_errors.DuplicateObject, pg_errors.UniqueViolation):
                    pass  # another process of this node (or another node) made it meanwhile
            with conn.transaction():
                if conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (NODE_ROLE,)).fetchone() != (True,):
                    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(NODE_ROLE), sql.Identifier(role)))
        except psycopg.Error as exc:
            raise FossatumError(
                f"FOSSATUM_DATABASE_URL connects as {role}, for whom row-level security is no wall, and the node "
                f"could not set up its own role {NODE_ROLE} ({_one_line(exc)}); ask a DBA for "
                f"CREATE ROLE {NODE_ROLE} NOLOGIN; GRANT {NODE_ROLE} TO {role}; or give the node a login role "
                "of its own with FOSSATUM_DATABASE_OWNER_URL (docs/postgres.md)") from None
    if role in _warned_roles:  # once per process, not once per node opened (the demo opens nine)
        return NODE_ROLE
    _warned_roles.add(role)
    log.warning("FOSSATUM_DATABASE_URL connects as %s, for whom row-level security is no wall: the node works as "
                "role %s (SET ROLE), which it holds; in production give the node a login role of its own and "
                "FOSSATUM_DATABASE_OWNER_URL (docs/postgres.md)", role, NODE_ROLE)
    return NODE_ROLE


def owner_database_url(owner_url: str, url: str) -> str:
    """The owner's URL; one that names no database is for the database of `url` (so one
    setting serves several node databases on a server, as the demo's)."""
    parts = urlsplit(owner_url)
    if parts.path in ("", "/"):
        return parts._replace(path=urlsplit(url).path).geturl()
    return owner_url


def _grant(conn: psycopg.Connection[Any], role: str) -> None:
    """Give the node's role (not the owner) the rows it needs: data, not DDL."""
    if conn.execute("SELECT current_user = %s", (role,)).fetchone() == (True,):
        return  # the owner itself (a superuser "belongs" to every role: no pg_has_role here)
    objects = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e' "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'S') AND d.objid IS NULL "
        "AND pg_has_role(current_user, c.relowner, 'USAGE')").fetchall()
    for name, kind in objects:
        rights = "USAGE, SELECT" if kind == "S" else "SELECT, INSERT, UPDATE, DELETE"
        conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(rights), sql.Identifier(name), sql.Identifier(role)))


def sibling_database(url: str, suffix: str, *, fresh: bool = False, owner_url: str | None = None) -> str:
    """URL of the database `<name><suffix>` on the server of `url`, created if absent (re-created if
    `fresh`) — by the owner role when one is given (FOSSATUM_DATABASE_OWNER_URL without a database)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    sibling = f"{name}{suffix}"
    admin = owner_database_url(owner_url, url) if owner_url else url
    try:
        check_server(admin)
    except StoreUnavailable as exc:
        # The named database is only a prefix for the demo's: when it does not exist, create
        # them from the server's maintenance database (its own error if that fails too).
        if "does not exist" not in str(exc):
            raise
        admin = urlsplit(admin)._replace(path="/postgres").geturl()
        check_server(admin)
    with _mapped_errors(admin), psycopg.connect(admin, connect_timeout=CONNECT_SECONDS, autocommit=True) as conn:
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(sibling)))
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sibling,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(sibling)))
    return parts._replace(path=f"/{sibling}").geturl()
