"""Release decisions, replayed as the security review did: through the public HTTP API of
three nodes (TUN, DZA, LBY; a fourth, MAR, joins later), on SQLite and on PostgreSQL.

What crosses the border is what a duty officer of the owner agency released; partners keep
exactly that version until the next release (docs/release.md). One test per finding of
issue 10 (2, 3, 9, 10) and one for the four-eyes setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fossatum.api.app import create_app
from fossatum.federation.transport import LocalTransport
from fossatum.node import Node, init_node
from fossatum.settings import load

from .cluster import Cluster

pytestmark = pytest.mark.both_backends

PASSWORD = "correct-horse-1"
SECRET = "informant Ahmed B., +216 98 765 432"
AGENCY_COUNTRY = {"TN-GN": "TUN", "TN-ARMY": "TUN", "DZ-GN": "DZA", "MA-GR": "MAR"}


class Clients:
    """HTTP clients logged in at a node, made on demand (accounts created with a password)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.apps = {c: create_app(n) for c, n in cluster.nodes.items()}
        self.open: list[TestClient] = []

    def at(self, country: str, username: str, agency: str | None = None, *roles: str) -> TestClient:
        node = self.cluster.nodes[country]
        if node.store.user(username) is None:
            assert agency is not None
            if node.store.agency(agency) is None:
                node.add_agency(actor=None, code=agency, name=agency, country=AGENCY_COUNTRY[agency])
            node.add_user(actor=None, username=username, agency=agency, roles=list(roles), password=PASSWORD)
        else:
            node.set_password(actor=None, username=username, password=PASSWORD)
        client = TestClient(self.apps[country])
        token = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        self.open.append(client)
        return client

    def close(self) -> None:
        for client in self.open:
            client.close()


@pytest.fixture
def http(cluster: Cluster) -> Iterator[Clients]:
    clients = Clients(cluster)
    yield clients
    clients.close()


def _file(client: TestClient, **body: object) -> dict:
    base = {"type": "armed_group_movement", "location": {"lat": 35.2, "lon": 8.6},
            "observed_at": "2026-11-28T20:00:00Z", "audience": {"scope": "all_partners"}}
    base.update(body)
    response = client.post("/api/v1/reports", json=base)
    assert response.status_code == 201, response.text
    return response.json()


def _ok(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return response.json()


def _held(node: Node, report_id: str) -> list[str]:
    """Every stored text of the report at `node` (its row, its versions, its log): what it holds."""
    rows = node.store.read("SELECT doc FROM reports WHERE id = ?", (report_id,), system=True)
    rows += node.store.read("SELECT doc FROM report_versions WHERE report_id = ?", (report_id,), system=True)
    rows += node.store.read("SELECT payload FROM log WHERE object_id = ?", (report_id,), system=True)
    return [r[0] for r in rows]


def test_finding_2_version_history_shows_each_version_only_to_its_own_audience(cluster: Cluster, http: Clients) -> None:
    officer = http.at("TUN", "officer.tun")                         # duty officer, TN-GN
    liaison = http.at("TUN", "liaison.dza", "DZ-GN", "duty_officer")  # Algerian liaison at the Tunisian centre
    army = http.at("TUN", "officer.army", "TN-ARMY", "duty_officer")  # another Tunisian agency
    doc = _file(officer, audience={"scope": "agency"}, tlp="RED", description=f"source: {SECRET}")
    _ok(officer.patch(f"/api/v1/reports/{doc['id']}", json={
        "description": "armed group moving west", "audience": {"scope": "partners", "partners": ["DZA"]},
        "tlp": "AMBER"}))
    _ok(officer.post(f"/api/v1/reports/{doc['id']}/validate"))
    cluster.sync()

    own = _ok(officer.get(f"/api/v1/reports/{doc['id']}/versions"))["items"]
    assert SECRET in own[0]["description"]  # the owner agency keeps its history (the test can fail)
    for viewer in (liaison, army):
        versions = viewer.get(f"/api/v1/reports/{doc['id']}/versions")
        assert versions.status_code == 200
        assert SECRET not in versions.text and "RED" not in versions.text
    abroad = _ok(liaison.get(f"/api/v1/reports/{doc['id']}/versions"))["items"]
    assert [v["version"] for v in abroad] == [3] and abroad[0]["release"]["countries"] == ["DZA"]
    algiers = http.at("DZA", "officer.dza")
    remote = algiers.get(f"/api/v1/reports/{doc['id']}/versions")
    assert remote.status_code == 200 and SECRET not in remote.text
    assert not any(SECRET in text for text in _held(cluster.nodes["DZA"], doc["id"]))


def test_finding_3_widening_a_validated_report_is_a_release_decision_of_the_owner_agency(
        cluster: Cluster, http: Clients) -> None:
    field = http.at("TUN", "field.tun")
    officer = http.at("TUN", "officer.tun")
    analyst = http.at("TUN", "analyst.tun", "TN-GN", "analyst")
    army = http.at("TUN", "officer.army", "TN-ARMY", "duty_officer")
    liaison = http.at("TUN", "liaison.dza", "DZ-GN", "duty_officer")
    algiers, tripoli = http.at("DZA", "officer.dza"), http.at("LBY", "officer.lby")
    doc = _file(field, audience={"scope": "national"})
    _ok(officer.post(f"/api/v1/reports/{doc['id']}/validate"))

    # An analyst (403 on validate) and another agency's duty officer widen it: a new version
    # at home, nothing across the border.
    assert analyst.post(f"/api/v1/reports/{doc['id']}/validate").status_code in (403, 409)
    widened = _ok(analyst.patch(f"/api/v1/reports/{doc['id']}", json={"audience": {"scope": "all_partners"}}))
    assert widened["released"] is False and widened["release"] is None
    for intruder in (analyst, army):
        refused = intruder.post(f"/api/v1/reports/{doc['id']}/release")
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    cluster.sync()
    assert liaison.get(f"/api/v1/reports/{doc['id']}").status_code == 404
    for remote in (algiers, tripoli):
        assert remote.get(f"/api/v1/reports/{doc['id']}").status_code == 404
    assert not _held(cluster.nodes["DZA"], doc["id"]) and not _held(cluster.nodes["LBY"], doc["id"])

    # The owner agency's duty officer decides: then it crosses.
    released = _ok(officer.post(f"/api/v1/reports/{doc['id']}/release", json={"version": widened["version"]}))
    assert released["release"]["countries"] == ["DZA", "LBY"] and released["release"]["by"] == "officer.tun"
    cluster.sync()
    for remote in (algiers, tripoli, liaison):
        assert _ok(remote.get(f"/api/v1/reports/{doc['id']}"))["version"] == released["version"]


def test_finding_9_urgent_notes_and_close_reasons_stay_home_until_released(cluster: Cluster, http: Clients) -> None:
    officer = http.at("TUN", "officer.tun")
    patrol = http.at("TUN", "patrol.army", "TN-ARMY", "field")  # another agency's field patrol
    liaison = http.at("TUN", "liaison.dza", "DZ-GN", "duty_officer")
    algiers = http.at("DZA", "officer.dza")
    doc = _file(officer, audience={"scope": "partners", "partners": ["DZA"]})
    validated = _ok(officer.post(f"/api/v1/reports/{doc['id']}/validate"))
    cluster.sync()
    note, reason = "unreviewed: the source is our man in the souk", "closed: informant compromised"
    _ok(patrol.post(f"/api/v1/reports/{doc['id']}/urgent", json={"urgent": True, "note": note}))
    _ok(officer.post(f"/api/v1/reports/{doc['id']}/close", json={"reason": reason}))
    cluster.sync()
    for viewer in (algiers, liaison):
        seen = viewer.get(f"/api/v1/reports/{doc['id']}")
        assert _ok(seen)["version"] == validated["version"]
        assert note not in seen.text and reason not in seen.text
        assert note not in viewer.get(f"/api/v1/reports/{doc['id']}/versions").text
        assert note not in viewer.get("/api/v1/reports", params={"q": "souk"}).text
        assert _ok(viewer.get("/api/v1/reports", params={"q": "souk"}))["items"] == []
    assert not any(note in text or reason in text for text in _held(cluster.nodes["DZA"], doc["id"]))

    # A duty officer of the owner agency releases the closed version: now it crosses, reviewed.
    _ok(officer.post(f"/api/v1/reports/{doc['id']}/release"))
    cluster.sync()
    assert reason in algiers.get(f"/api/v1/reports/{doc['id']}").text


def _join_morocco(cluster: Cluster, tmp_path: Path) -> Node:
    """A fourth country joins after the report was released: MAR, partnered with TUN."""
    tun = cluster.nodes["TUN"]
    mar = init_node(tmp_path / "MAR", country="MAR", name="MAR NCC")
    mar.add_agency(actor=None, code="MA-GR", name="Gendarmerie royale", country="MAR")
    tun.federation.add_partner(country="MAR", url="https://mar.invalid", key=mar.key.public)
    mar.federation.add_partner(country="TUN", url="https://tun.invalid", key=tun.key.public)
    mar.federation.transport = LocalTransport(
        "MAR", lambda caller, partner, after, limit: tun.federation.serve_stream(mar.node_id, after=after, limit=limit))
    cluster.nodes["MAR"] = mar
    return mar


def test_finding_10_a_tlp_change_never_widens_to_a_country_added_later(
        cluster: Cluster, http: Clients, tmp_path: Path) -> None:
    officer = http.at("TUN", "officer.tun")
    doc = _file(officer, audience={"scope": "all_partners"}, tlp="AMBER")
    _ok(officer.post(f"/api/v1/reports/{doc['id']}/validate"))
    cluster.sync()
    mar = _join_morocco(cluster, tmp_path)
    moroccan = http.at("TUN", "liaison.mar", "MA-GR", "duty_officer")  # Morocco's liaison at the Tunisian centre

    changed = _ok(officer.patch(f"/api/v1/reports/{doc['id']}", json={"tlp": "GREEN"}))
    assert changed["audience"]["releasable_to"] == ["DZA", "LBY", "TUN"] and changed["tlp"] == "GREEN"
    released = _ok(officer.post(f"/api/v1/reports/{doc['id']}/release"))  # releasing the new marking
    assert released["release"]["countries"] == ["DZA", "LBY"]
    cluster.sync()
    assert moroccan.get(f"/api/v1/reports/{doc['id']}").status_code == 404
    assert mar.store.read("SELECT id FROM reports", system=True) == []
    assert _ok(http.at("DZA", "officer.dza").get(f"/api/v1/reports/{doc['id']}"))["tlp"] == "GREEN"

    # Choosing all_partners again is a new audience, resolved today — and a new release decision.
    _ok(officer.patch(f"/api/v1/reports/{doc['id']}", json={"audience": {"scope": "all_partners"}}))
    cluster.sync()
    assert moroccan.get(f"/api/v1/reports/{doc['id']}").status_code == 404
    _ok(officer.post(f"/api/v1/reports/{doc['id']}/release"))
    cluster.sync()
    assert [r[0] for r in mar.store.read("SELECT id FROM reports", system=True)] == [doc["id"]]


def test_four_eyes_release_needs_a_duty_officer_other_than_the_author(cluster: Cluster, http: Clients) -> None:
    tun = cluster.nodes["TUN"]
    tun.settings = load({}, four_eyes_release=True)
    author = http.at("TUN", "officer.tun")
    second = http.at("TUN", "second.tun", "TN-GN", "duty_officer")
    algiers = http.at("DZA", "officer.dza")
    doc = _file(author, audience={"scope": "all_partners"})
    validated = _ok(author.post(f"/api/v1/reports/{doc['id']}/validate"))  # validated at home only
    assert validated["state"] == "validated" and validated["release"] is None
    refused = author.post(f"/api/v1/reports/{doc['id']}/release")
    assert refused.status_code == 403 and "four-eyes" in refused.json()["detail"]
    cluster.sync()
    assert algiers.get(f"/api/v1/reports/{doc['id']}").status_code == 404

    released = _ok(second.post(f"/api/v1/reports/{doc['id']}/release"))
    assert released["release"]["by"] == "second.tun"
    cluster.sync()
    assert _ok(algiers.get(f"/api/v1/reports/{doc['id']}"))["version"] == released["version"]
    # The second officer's own amendment needs a third pair of eyes.
    _ok(second.patch(f"/api/v1/reports/{doc['id']}", json={"description": "two vehicles"}))
    assert second.post(f"/api/v1/reports/{doc['id']}/release").status_code == 403
    assert author.post(f"/api/v1/reports/{doc['id']}/release").status_code == 403  # still the author
    assert json.loads(tun.report(viewer=tun.store.user("officer.tun"), report_id=doc["id"]))["description"] == \
        "two vehicles"
