from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_databases import PgDatabases, Snapshot

from .cluster import COUNTRIES, Cluster, build_template, open_cluster


@pytest.fixture(scope="session")
def cluster_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("cluster") / "nodes")


@pytest.fixture(scope="session")
def pg_cluster_template(pg_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory
                        ) -> tuple[Path, dict[str, str], dict[str, Snapshot]]:
    """The three nodes on PostgreSQL: their folders (keys), a database each, and snapshots."""
    urls = {c: pg_databases.create(f"cluster_{c.lower()}") for c in COUNTRIES}
    path = build_template(tmp_path_factory.mktemp("cluster-pg") / "nodes", urls)
    return path, urls, {c: PgDatabases.snapshot(url) for c, url in urls.items()}


@pytest.fixture
def cluster(store_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    if store_backend == "sqlite":
        c = open_cluster(request.getfixturevalue("cluster_template"), tmp_path / "nodes")
    else:
        template, urls, snapshots = request.getfixturevalue("pg_cluster_template")
        for country, url in urls.items():
            PgDatabases.restore(url, snapshots[country])
        c = open_cluster(template, tmp_path / "nodes", urls)
    yield c
    c.close()
