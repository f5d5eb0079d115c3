"""Finding 7: a follow-up never names a parent the viewer may not see, on any read path.

Amira (TN-GN duty officer) files a national-only report P and a follow-up C released to
Algeria that links P. Karim, the Algerian liaison at the Tunisian centre, may read C, but P's
id must not reach him: not from GET, the list, the versions, a text search or a count, the
websocket, nor `fossatum export --as karim`. The same for Youssef (another Tunisian agency)
and a parent kept in its agency. Federation already withheld such follow-ups; the local
reads now apply the same containment through one function (policy/redact.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from conftest import PASSWORD, sighting
from fossatum.api.app import create_app
from fossatum.cli import cli
from fossatum.node import Node

pytestmark = pytest.mark.both_backends


@pytest.fixture
def app(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as client:
        yield client


def _login(app: TestClient, username: str) -> dict[str, str]:
    token = app.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _file(app: TestClient, who: dict[str, str], **body: object) -> dict:
    response = app.post("/api/v1/reports", headers=who, json=sighting(**body))
    assert response.status_code == 201, response.text
    return response.json()


def _validate(app: TestClient, who: dict[str, str], report_id: str) -> None:
    response = app.post(f"/api/v1/reports/{report_id}/validate", headers=who)
    assert response.status_code == 200, response.text


@pytest.fixture
def family(app: TestClient) -> Callable[..., tuple[str, str]]:
    """(parent id, follow-up id): the parent with `parent_audience`, the follow-up validated
    for `child_audience` and linking the parent."""
    amira = _login(app, "amira")

    def make(parent_audience: dict, child_audience: dict, *, validate_child: bool = True) -> tuple[str, str]:
        parent = _file(app, amira, audience=parent_audience, description="informant report")
        _validate(app, amira, parent["id"])
        child = _file(app, amira, audience=child_audience, links=[parent["id"]], description="follow-up")
        assert child["links"] == [parent["id"]]  # its author may see the parent: shown to her
        if validate_child:
            _validate(app, amira, child["id"])
        return parent["id"], child["id"]
    return make


def _reads(app: TestClient, who: dict[str, str], parent: str, child: str) -> list[str]:
    """Every HTTP answer about the follow-up, as text."""
    answers = [
        app.get(f"/api/v1/reports/{child}", headers=who),
        app.get("/api/v1/reports?limit=50", headers=who),
        app.get("/api/v1/reports?bbox=8.0,35.0,9.0,35.5&since=2026-11-27T00:00:00Z&limit=50", headers=who),
        app.get(f"/api/v1/reports/{child}/versions", headers=who),
    ]
    for response in answers:
        assert response.status_code == 200, response.text
    assert child in answers[0].text and child in answers[1].text and child in answers[2].text
    return [r.text for r in answers]


def test_the_partner_liaison_never_sees_a_national_parent_of_a_released_follow_up(app, family) -> None:
    parent, child = family({"scope": "national"}, {"scope": "partners", "partners": ["DZA"]})
    karim = _login(app, "karim")
    for text in _reads(app, karim, parent, child):
        assert parent not in text
    assert app.get(f"/api/v1/reports/{child}", headers=karim).json()["links"] == []
    # The parent's id does not find the follow-up, and does not count it.
    found = app.get(f"/api/v1/reports?q={parent}", headers=karim).json()
    assert found["items"] == []
    assert app.get(f"/api/v1/reports/count?q={parent}", headers=karim).json()["total"] == 0
    # Her own country still sees the link, and finds the follow-up by its text.
    youssef = _login(app, "youssef")
    assert app.get(f"/api/v1/reports/{child}", headers=youssef).json()["links"] == [parent]
    assert app.get("/api/v1/reports/count?q=follow-up", headers=karim).json()["total"] == 1


def test_another_agency_never_sees_an_agency_only_parent(app, family) -> None:
    parent, child = family({"scope": "agency"}, {"scope": "national"})
    youssef = _login(app, "youssef")  # TN-ARMY
    for text in _reads(app, youssef, parent, child):
        assert parent not in text
    sami = _login(app, "sami")  # TN-GN, the parent's agency
    assert app.get(f"/api/v1/reports/{child}", headers=sami).json()["links"] == [parent]


def test_the_websocket_pushes_the_follow_up_without_its_hidden_parent(app, family) -> None:
    parent, child = family({"scope": "national"}, {"scope": "partners", "partners": ["DZA"]}, validate_child=False)
    with app.websocket_connect("/api/v1/live") as karim_ws, app.websocket_connect("/api/v1/live") as leila_ws:
        karim_ws.send_json({"type": "auth", "token": _login(app, "karim")["Authorization"][7:]})
        leila_ws.send_json({"type": "auth", "token": _login(app, "leila")["Authorization"][7:]})
        assert karim_ws.receive_json()["type"] == "hello" and leila_ws.receive_json()["type"] == "hello"
        _validate(app, _login(app, "amira"), child)
        for ws, links in ((karim_ws, []), (leila_ws, [parent])):
            for _ in range(20):
                message = ws.receive_json()
                if message["type"] == "report" and message["report"]["id"] == child:
                    break
            else:
                raise AssertionError("the follow-up was not pushed")
            assert message["report"]["links"] == links
            if not links:
                assert parent not in json.dumps(message)


def test_export_as_the_liaison_leaves_the_parent_out(app, family, node: Node) -> None:
    parent, child = family({"scope": "national"}, {"scope": "partners", "partners": ["DZA"]})
    url = getattr(node.store, "url", None)  # PostgreSQL: the database the node uses
    args = ["export", "--data", str(node.store.path.parent), "--as", "karim"]
    result = CliRunner().invoke(cli, args + ([f"--database-url={url}"] if url else []))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [d["id"] for d in lines] == [child]
    assert lines[0]["links"] == [] and parent not in result.stdout
