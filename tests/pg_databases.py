"""Test databases on a PostgreSQL server: created per test session, reset per test.

`FOSSATUM_TEST_DATABASE_URL` names a maintenance database (e.g. .../postgres) on a server
with PostGIS. The session creates `fossatum_test_<pid>_<name>` databases and drops them at
the end. Creating or dropping a database costs a checkpoint (~0.5 s), so a test does not
get a new one: it gets a database put back to a snapshot (delete + copy the rows), the
PostgreSQL counterpart of copying a template folder for SQLite.

The nodes connect as `fossatum_test_app` — a role that neither owns the tables nor bypasses
row-level security, as in production — while the maintenance URL's role owns the databases
and runs the migrations (FOSSATUM_DATABASE_OWNER_URL, set for the session without a database
name). Snapshots and restores run as the owner (a superuser, unaffected by RLS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ENV = "FOSSATUM_TEST_DATABASE_URL"
APP_ROLE = "fossatum_test_app"


def _as(url: str, base: str, *, user: str | None = None) -> str:
    """`url`'s database, reached with `base`'s credentials (or as `user`, without password)."""
    target = urlsplit(base)._replace(path=urlsplit(url).path)
    if user is not None:
        target = target._replace(netloc=f"{user}@{target.hostname}:{target.port or 5432}")
    return target.geturl()


def owner_url(url: str) -> str:
    """The owner's (maintenance role's) URL of a test database."""
    return _as(url, os.environ[ENV])


@dataclass
class Snapshot:
    tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = field(default_factory=dict)
    identities: list[tuple[str, str]] = field(default_factory=list)


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e' "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND d.objid IS NULL "
        "AND c.relname <> 'schema_migrations' ORDER BY c.relname").fetchall()
    return [r[0] for r in rows]


class PgDatabases:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"fossatum_test_{os.getpid()}"
        self.created: list[str] = []

    @classmethod
    def reachable(cls) -> tuple[PgDatabases | None, str]:
        """(databases, "") or (None, why not)."""
        url = os.environ.get(ENV)
        if not url:
            return None, f"{ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
        try:
            with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone():
                    return None, "PostGIS is not installed on the test server (apt-get install postgresql-15-postgis-3)"
        except psycopg.Error as exc:
            return None, f"PostgreSQL at {ENV} is not reachable: {' '.join(str(exc).split())}"
        return cls(url), ""

    def ensure_app_role(self) -> None:
        """The role the test nodes connect as (a cluster-wide role: kept between sessions)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() is None:
                try:
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(APP_ROLE)))
                except psycopg.errors.DuplicateObject:
                    pass  # another test session created it meanwhile

    def owner_settings(self) -> str:
        """FOSSATUM_DATABASE_OWNER_URL for the session: the maintenance role, no database."""
        return urlsplit(self.admin_url)._replace(path="").geturl()

    def url(self, name: str) -> str:
        """The URL a node of the test database `name` connects with (the application role)."""
        return _as(f"/{self.prefix}_{name}", self.admin_url, user=APP_ROLE)

    def create(self, name: str) -> str:
        """A new, empty database with PostGIS (its schema comes from the store's migrations)."""
        db = f"{self.prefix}_{name}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
            # A test database need not survive a server crash: commits do not wait for the
            # WAL flush (the tests' many small transactions were mostly fsync waits).
            conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(db)))
        self.created.append(db)
        with psycopg.connect(owner_url(self.url(name)), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return self.url(name)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for db in self.created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        self.created.clear()

    @staticmethod
    def snapshot(url: str) -> Snapshot:
        """Every row of the application's tables (generated columns left out)."""
        snap = Snapshot()
        with psycopg.connect(owner_url(url)) as conn:
            for table in _tables(conn):
                cols = [r[0] for r in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", (table,))]
                query = sql.SQL("SELECT {} FROM {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(table))
                snap.tables[table] = (cols, conn.execute(query).fetchall())
            snap.identities = [(t, c) for t, c in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND is_identity = 'YES'").fetchall()]
        return snap

    @staticmethod
    def restore(url: str, snap: Snapshot) -> None:
        """Put the database back to `snap` (nobody may be connected through a node meanwhile)."""
        with psycopg.connect(owner_url(url)) as conn, conn.transaction():
            for table in snap.tables:  # DELETE, not TRUNCATE: no new files to sync for a few rows
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            for table, (cols, rows) in snap.tables.items():
                if not rows:
                    continue
                copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols)))
                with conn.cursor().copy(copy) as out:
                    for row in rows:
                        out.write_row(row)
            for table, column in snap.identities:
                conn.execute(sql.SQL("SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({}), 0) + 1, false) "
                                     "FROM {}").format(sql.Identifier(column), sql.Identifier(table)), (table, column))
