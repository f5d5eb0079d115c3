"""Fixtures that build nodes, users and clients for the tests.

`node` is a Tunisian node with agencies of TUN, DZA and LBY and one user per role;
`client_for(username)` gives an HTTP client logged in as that user.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fossatum.api.app import create_app
from fossatum.domain.org import User
from fossatum.node import Node, init_node, open_node

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


def build_node(path: Path) -> Node:
    node = init_node(path, country="TUN", name="Tunisia NCC")
    for code, name, country in AGENCIES:
        node.add_agency(actor=None, code=code, name=name, country=country)
    for username, agency, roles in USERS:
        node.add_user(actor=None, username=username, agency=agency, roles=roles, password=PASSWORD)
    return node


@pytest.fixture(scope="session")
def node_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: argon2 hashing of every account is the slow part of a node's set-up."""
    path = tmp_path_factory.mktemp("template") / "tun"
    build_node(path).close()
    return path


@pytest.fixture
def node(node_template: Path, tmp_path: Path) -> Iterator[Node]:
    """A fresh copy of the template node for each test."""
    shutil.copytree(node_template, tmp_path / "tun")
    n = open_node(tmp_path / "tun")
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
