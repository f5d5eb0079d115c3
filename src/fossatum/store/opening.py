"""Which store a node opens: PostgreSQL when a database URL is given, else SQLite in its folder."""

from __future__ import annotations

from pathlib import Path

from ..errors import FossatumError, InvalidInput
from ..log.signing import NodeKey
from .contract import Store
from .sqlite import SQLiteStore


def open_store(data_dir: Path, database_url: str | None, *, key: NodeKey | None = None,
               pool_size: int = 10) -> Store:
    """The node's store: PostgreSQL when a database URL is given, else the SQLite file in `data_dir`."""
    if not database_url:
        return SQLiteStore(data_dir, key=key)
    if not database_url.startswith(("postgresql://", "postgres://")):
        raise InvalidInput("expected postgresql://user@host:port/database", field="FOSSATUM_DATABASE_URL")
    try:
        from .postgres import PostgresStore
    except ImportError:
        raise FossatumError("PostgreSQL needs psycopg: pip install 'fossatum[postgres]'") from None
    return PostgresStore(database_url, data_dir, key=key, max_connections=pool_size)
