"""Every HTTP read path (list with paging, get, versions, count) returns exactly what the
policy allows, for every user of a mixed population of agencies, countries and audiences."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from conftest import sighting
from fossatum.domain import report as rules
from fossatum.domain.org import User
from fossatum.node import Node
from fossatum.policy.visibility import Facts, may_view
from fossatum.schemas import ReportIn

pytestmark = pytest.mark.both_backends

AUDIENCES = [None, {"scope": "agency"}, {"scope": "national"}, {"scope": "partners", "partners": ["DZA"]},
             {"scope": "partners", "partners": ["LBY"]}, {"scope": "all_partners"}]
AUTHORS = ["sami", "amira", "youssef", "leila", "karim"]
COP_SINCE, COP_UNTIL = "2026-11-28T05:05:00.000000Z", "2026-11-28T18:18:00.000000Z"  # both on a report's time
COP = f"&bbox=8.2,35.2,8.8,35.8&since={COP_SINCE}&until={COP_UNTIL}"


def _populate(node: Node, users: dict[str, User], n: int = 60) -> None:
    rng = random.Random(7)
    for i in range(n):
        author = users[rng.choice(AUTHORS)]
        audience = rng.choice(AUDIENCES)
        if audience and author.country in audience.get("partners", []):
            audience = {"scope": "partners", "partners": ["TUN"]}
        body = sighting(location={"lat": 35 + rng.random(), "lon": 8 + rng.random()},
                        observed_at=f"2026-11-28T{i % 24:02d}:{i % 60:02d}:00Z",
                        state=rng.choice(["draft", "submitted", "submitted"]))
        if audience is not None:
            body["audience"] = audience
        else:
            body.pop("audience")
        doc = node.file_report(actor=author, spec=ReportIn.model_validate(body))
        officer = users["karim"] if author.country == "DZA" else users["amira"]
        step = rng.choice(["none", "validate", "return", "close"])
        if doc["state"] == "submitted" and step != "none" and may_view(officer, Facts.of_report(rules.from_doc(doc))):
            node.transition(actor=officer, report_id=doc["id"], action=step, reason="because")


def _all(node: Node) -> list[rules.Report]:
    return [rules.from_doc(json.loads(r[0])) for r in node.store.read("SELECT doc FROM reports", system=True)]


def _paged_ids(client: TestClient, query: str = "") -> list[str]:
    ids: list[str] = []
    url = f"/api/v1/reports?limit=7{query}"
    while True:
        body = client.get(url).json()
        ids += [item["id"] for item in body["items"]]
        if body["next"] is None:
            return ids
        url = f"/api/v1/reports?limit=7{query}&cursor={body['next']}"


def test_every_api_read_path_matches_the_policy(node: Node, users: dict[str, User],
                                                client_for: Callable[[str], TestClient]) -> None:
    _populate(node, users)
    everything = _all(node)
    assert len(everything) == 60
    seen_by, cop_seen = {}, {}
    for username, viewer in users.items():
        client = client_for(username)
        allowed = {r.id for r in everything if may_view(viewer, Facts.of_report(r))}
        ids = _paged_ids(client)
        assert len(ids) == len(set(ids)), "a page repeated a report"
        assert set(ids) == allowed, username
        assert client.get("/api/v1/reports/count").json()["total"] == len(allowed)
        # the COP query (box + window, the space-time index): the same rule, edges exact
        in_cop = {r.id for r in everything if r.id in allowed and 8.2 <= r.content.position.lon <= 8.8
                  and 35.2 <= r.content.position.lat <= 35.8 and COP_SINCE <= r.content.observed_at < COP_UNTIL}
        assert set(_paged_ids(client, COP)) == in_cop, username
        assert client.get(f"/api/v1/reports/count?{COP[1:]}").json()["total"] == len(in_cop)
        cop_seen[username] = in_cop
        for r in everything:
            status = client.get(f"/api/v1/reports/{r.id}").status_code
            assert status == (200 if r.id in allowed else 404)
            assert client.get(f"/api/v1/reports/{r.id}/versions").status_code == status
        seen_by[username] = allowed
    # The population is mixed enough to mean something: partners see some, not all.
    assert 0 < len(seen_by["karim"]) < len(seen_by["amira"])
    assert seen_by["omar"] != seen_by["karim"]
    assert 0 < len(cop_seen["karim"]) < len(cop_seen["amira"]) < len(seen_by["amira"])


def test_a_hidden_report_and_a_missing_one_answer_the_same(node: Node, users: dict[str, User],
                                                           client_for: Callable[[str], TestClient]) -> None:
    hidden = node.file_report(actor=users["youssef"], spec=ReportIn.model_validate(sighting(audience={"scope": "agency"})))
    client = client_for("amira")
    a = client.get(f"/api/v1/reports/{hidden['id']}")
    b = client.get("/api/v1/reports/00000000-0000-0000-0000-000000000000")
    assert a.status_code == b.status_code == 404
    assert a.json().keys() == b.json().keys()
    assert a.json()["detail"].replace(hidden["id"], "ID") == b.json()["detail"].replace(
        "00000000-0000-0000-0000-000000000000", "ID")


def test_grade_credibility_and_impact_filters(node: Node, users: dict[str, User],
                                              client_for: Callable[[str], TestClient]) -> None:
    client = client_for("amira")
    a = client.post("/api/v1/reports", json=sighting(grade={"source": "A", "info": 1}, impact="critical")).json()
    b = client.post("/api/v1/reports", json=sighting(grade={"source": "C", "info": 3}, impact="low")).json()
    assert [r["id"] for r in client.get("/api/v1/reports?grade=A,B").json()["items"]] == [a["id"]]
    assert [r["id"] for r in client.get("/api/v1/reports?credibility=3").json()["items"]] == [b["id"]]
    assert [r["id"] for r in client.get("/api/v1/reports?impact=high,critical").json()["items"]] == [a["id"]]
    assert client.get("/api/v1/reports/count?impact=low").json()["total"] == 1
    bad = client.get("/api/v1/reports?credibility=7")
    assert bad.status_code == 422 and bad.json()["field"] == "credibility"


def test_field_alerts_and_chat_reach_exactly_their_audience(node: Node, users: dict[str, User],
                                                            client_for: Callable[[str], TestClient]) -> None:
    from fossatum.domain.geo import Position

    here = Position(35.2, 8.6)
    node.raise_alert(actor=users["sami"], uid="gn-911", kind="911", position=here, callsign="GN-7")
    node.raise_alert(actor=users["sami"], uid="gn-old", kind="troops_in_contact", position=here, callsign="GN-7")
    node.cancel_alert(actor=users["sami"], uid="gn-old")
    node.post_chat(actor=users["sami"], message_id="m1", room="GN patrols", text="fuel low at km 40",
                   position=here, sender_uid="ANDROID-SAMI", callsign="GN-7")
    node.post_chat(actor=users["sami"], message_id="m2", room="All Chat Rooms", text="road blocked near Kasserine",
                   position=here, sender_uid="ANDROID-SAMI", callsign="GN-7")

    def seen(username: str) -> tuple[list[str], list[str], list[str]]:
        client = client_for(username)
        active, every, chat = (client.get(p) for p in ("/api/v1/alerts", "/api/v1/alerts?all=1", "/api/v1/chat"))
        assert active.status_code == every.status_code == chat.status_code == 200
        return ([a["uid"] for a in active.json()["items"]], sorted(a["uid"] for a in every.json()["items"]),
                [m["text"] for m in chat.json()["items"]])

    assert seen("amira") == (["gn-911"], ["gn-911", "gn-old"], ["road blocked near Kasserine", "fuel low at km 40"])
    # another Tunisian agency: the alerts (national) and the all-rooms chat, not the agency room
    assert seen("youssef") == (["gn-911"], ["gn-911", "gn-old"], ["road blocked near Kasserine"])
    for foreign in ("karim", "omar"):  # partners' liaison officers: nothing at all
        assert seen(foreign) == ([], [], [])
    newest = client_for("amira").get("/api/v1/chat?limit=1").json()["items"]
    assert [m["text"] for m in newest] == ["road blocked near Kasserine"]
    for bad in ("/api/v1/chat?limit=0", "/api/v1/chat?limit=abc", "/api/v1/alerts?all=maybe"):
        response = client_for("amira").get(bad)
        assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["field"] in ("limit", "all"), response.json()
    assert client_for("amira").get("/api/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
