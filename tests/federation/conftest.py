from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import Cluster, build_template, open_cluster


@pytest.fixture(scope="session")
def cluster_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("cluster") / "nodes")


@pytest.fixture
def cluster(cluster_template: Path, tmp_path: Path) -> Iterator[Cluster]:
    c = open_cluster(cluster_template, tmp_path / "nodes")
    yield c
    c.close()
