"""Finding 8: a client-chosen id tells nothing about reports the client may not see.

Before: `POST /reports` with the `id` of a report the caller may not see answered 409
"exists already" — an existence oracle. Now a client's id is its key: the report's id is
derived from node, author and key (domain/ids.py). Another author's key or report id never
collides; the same author's retry is idempotent (200, the same report).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD, sighting
from fossatum.api.app import create_app
from fossatum.node import Node

pytestmark = pytest.mark.both_backends


@pytest.fixture
def app(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as client:
        yield client


def _login(app: TestClient, username: str) -> dict[str, str]:
    token = app.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _count(node: Node) -> int:
    return node.store.read_one("SELECT COUNT(*) FROM reports", system=True)[0]


def test_an_invisible_reports_id_or_key_is_no_oracle(app: TestClient, node: Node) -> None:
    amira, karim = _login(app, "amira"), _login(app, "karim")
    key = str(uuid.uuid4())
    hidden = app.post("/api/v1/reports", headers=amira, json=sighting(id=key, audience={"scope": "national"}))
    assert hidden.status_code == 201, hidden.text
    hidden_id = hidden.json()["id"]
    assert app.get(f"/api/v1/reports/{hidden_id}", headers=karim).status_code == 404
    fresh = str(uuid.uuid4())
    answers = {}
    for probe in (hidden_id, key, fresh):  # the report's id, her key, and an id nobody used
        response = app.post("/api/v1/reports", headers=karim, json=sighting(id=probe, audience={"scope": "national"}))
        answers[probe] = response
        assert response.status_code == 201, response.text
        doc = response.json()
        assert doc["author"] == "karim" and doc["id"] not in (hidden_id, probe)
    # The same shape of answer whether or not a hidden report bears that id or key.
    assert {r.status_code for r in answers.values()} == {201}
    assert set(answers[hidden_id].json()) == set(answers[fresh].json())
    # Her report is untouched.
    assert app.get(f"/api/v1/reports/{hidden_id}", headers=amira).json()["author"] == "amira"


def test_the_same_authors_retry_returns_the_same_report(app: TestClient, node: Node) -> None:
    sami = _login(app, "sami")
    key = str(uuid.uuid4())
    first = app.post("/api/v1/reports", headers=sami, json=sighting(id=key))
    assert first.status_code == 201, first.text
    before = _count(node)
    again = app.post("/api/v1/reports", headers=sami, json=sighting(id=key.upper(), description="sent twice"))
    assert again.status_code == 200, again.text
    assert again.json() == first.json()  # the report as it is: the retry's body is not applied
    assert _count(node) == before
    assert app.get(f"/api/v1/reports/{first.json()['id']}", headers=sami).json() == first.json()


def test_two_authors_with_one_key_get_two_reports(app: TestClient) -> None:
    key = str(uuid.uuid4())
    a = app.post("/api/v1/reports", headers=_login(app, "sami"), json=sighting(id=key))
    b = app.post("/api/v1/reports", headers=_login(app, "youssef"), json=sighting(id=key))
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_without_an_id_every_call_files_a_new_report(app: TestClient) -> None:
    sami = _login(app, "sami")
    ids = {app.post("/api/v1/reports", headers=sami, json=sighting()).json()["id"] for _ in range(2)}
    assert len(ids) == 2


def test_the_api_document_says_what_a_client_id_is(app: TestClient) -> None:
    operation = app.get("/api/v1/openapi.json").json()["paths"]["/api/v1/reports"]["post"]
    assert "client's key" in operation["description"] and "200" in operation["responses"]
