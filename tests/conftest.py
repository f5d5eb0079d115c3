"""Fixtures that build nodes, users and clients for the tests.

`node` is a Tunisian node with agencies of TUN, DZA and LBY and one user per role;
`client_for(username)` gives an HTTP client logged in as that user.

Store backends: a test module marked `both_backends` runs every test that uses a node on
SQLite and on PostgreSQL (`store_backend` = "sqlite" / "postgres"); other tests use SQLite.
PostgreSQL needs FOSSATUM_TEST_DATABASE_URL (see pg_databases.py): without it those tests
are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fossatum.api.app import create_app
from fossatum.domain.org import User
from fossatum.node import Node, init_node, open_node
from pg_databases import PgDatabases, Snapshot

PASSWORD = "correct-horse-1"

AGENCIES = [
    ("TN-GN", "Garde nationale", "TUN"),
    ("TN-ARMY", "Armée nationale", "TUN"),
    ("DZ-GN", "Gendarmerie nationale", "DZA"),
    ("LY-BG", "Libyan border guard", "LBY"),
]

USERS = [
    ("amira", "TN-GN", ["duty_officer"]),    # Tunisian duty officer, national guard
    ("sami", "TN-GN", ["field"]),            # national-guard patrol
    ("youssef", "TN-ARMY", ["duty_officer"]),  # another Tunisian agency
    ("leila", "TN-ARMY", ["analyst"]),
    ("admin", "TN-GN", ["admin"]),
    ("karim", "DZ-GN", ["duty_officer"]),    # Algerian liaison officer at the Tunisian centre
    ("omar", "LY-BG", ["analyst"]),          # Libyan liaison officer
]


def build_node(path: Path, database_url: str | None = None) -> Node:
    node = init_node(path, country="TUN", name="Tunisia NCC", database_url=database_url)
    for code, name, country in AGENCIES:
        node.add_agency(actor=None, code=code, name=name, country=country)
    for username, agency, roles in USERS:
        node.add_user(actor=None, username=username, agency=agency, roles=roles, password=PASSWORD)
    return node


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("store_backend", ["sqlite", "postgres"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    """This session's PostgreSQL test databases (dropped at the end)."""
    databases, why = PgDatabases.reachable()
    if databases is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the PostgreSQL backend must be tested in CI: {why}")
        pytest.skip(why)
    databases.ensure_app_role()
    # Nodes connect as the application role; the maintenance role owns and migrates.
    before = os.environ.get("FOSSATUM_DATABASE_OWNER_URL")
    os.environ["FOSSATUM_DATABASE_OWNER_URL"] = databases.owner_settings()
    yield databases
    if before is None:
        os.environ.pop("FOSSATUM_DATABASE_OWNER_URL", None)
    else:
        os.environ["FOSSATUM_DATABASE_OWNER_URL"] = before
    databases.drop_all()


@pytest.fixture(scope="session")
def store_backend(request: pytest.FixtureRequest) -> str:
    backend: str = getattr(request, "param", "sqlite")
    if backend == "postgres":
        request.getfixturevalue("pg_databases")
    return backend


@pytest.fixture(scope="session")
def fresh_database(store_backend: str, request: pytest.FixtureRequest) -> Callable[[], str | None]:
    """A callable giving an empty, migrated database URL (None on SQLite: a folder is enough)."""
    if store_backend == "sqlite":
        return lambda: None
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    url = databases.create("empty")
    from fossatum.store.postgres import PostgresStore

    PostgresStore(url, Path(".")).close()  # migrated once; each use truncates
    empty = PgDatabases.snapshot(url)

    def make() -> str:
        PgDatabases.restore(url, empty)
        return url

    return make


@pytest.fixture(scope="session")
def node_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: argon2 hashing of every account is the slow part of a node's set-up."""
    path = tmp_path_factory.mktemp("template") / "tun"
    build_node(path).close()
    return path


@pytest.fixture(scope="session")
def pg_node_template(pg_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Snapshot]:
    """The template node on PostgreSQL: its folder (the key), its database and a snapshot of it."""
    path = tmp_path_factory.mktemp("template-pg") / "tun"
    url = pg_databases.create("node")
    build_node(path, database_url=url).close()
    return path, url, PgDatabases.snapshot(url)


@pytest.fixture
def node(store_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    """A fresh copy of the template node for each test."""
    if store_backend == "sqlite":
        shutil.copytree(request.getfixturevalue("node_template"), tmp_path / "tun")
        n = open_node(tmp_path / "tun")
    else:
        template, url, snapshot = request.getfixturevalue("pg_node_template")
        PgDatabases.restore(url, snapshot)
        shutil.copytree(template, tmp_path / "tun")
        n = open_node(tmp_path / "tun", database_url=url)
    yield n
    n.close()


@pytest.fixture
def users(node: Node) -> dict[str, User]:
    return {u.username: u for u in node.store.users()}


@pytest.fixture
def client_for(node: Node) -> Iterator[Callable[[str], TestClient]]:
    app = create_app(node)
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        client = TestClient(app)
        response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def sighting(**overrides: object) -> dict[str, object]:
    """A valid report body near Jebel Chaambi; override any field."""
    body: dict[str, object] = {
        "type": "armed_group_sighting",
        "observed_at": "2026-11-28T22:15:00Z",
        "location": {"lat": 35.2064, "lon": 8.6825},
        "uncertainty_m": 250,
        "salute": {"size": 6, "activity": "moving west on foot", "unit": "no insignia",
                   "equipment": "rifles, one RPG"},
        "grade": {"source": "B", "info": 2},
        "audience": {"scope": "national"},
        "tlp": "AMBER",
        "description": "Groupe armé observé sur le versant ouest — مجموعة مسلحة",
    }
    body.update(overrides)
    return body
