"""Finding 1: a replicated partner copy is read-only at every node but its origin.

Replayed on the three-node set-up through the public API of the Tunisian node: the Algerian
liaison officer (and a Libyan analyst, and a Tunisian duty officer) try to move a partner's
patrol unit that Tunis holds only as a copy. Each gets 403 problem+json, the copy stays the
partner's, and replication from that partner goes on (the next move made at its origin
arrives; `verify` is still ok). Also: a partner cannot write for an agency this node knows
as another country's (the receiver skips and audits such an entry, the stream goes on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fossatum.api.app import create_app
from fossatum.domain.geo import Position
from fossatum.errors import Forbidden
from fossatum.node import Node
from fossatum.schemas import ReportPatch, SectionIn, UnitIn
from fossatum.store.base import Tx

from .cluster import Cluster

pytestmark = pytest.mark.both_backends

PASSWORD = "liaison-password-1"


def _unit(cluster: Cluster, country: str, agency: str, unit_id: str) -> dict:
    node = cluster.nodes[country]
    return node.add_unit(actor=None, spec=UnitIn.model_validate({
        "id": unit_id, "name": f"{country} patrol", "kind": "patrol", "agency": agency,
        "location": {"lat": 35.1, "lon": 8.3}, "audience": {"scope": "all_partners"}}))


def _login(client: TestClient, username: str) -> TestClient:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


@pytest.fixture
def tunis(cluster: Cluster) -> Iterator[dict[str, TestClient]]:
    """The Tunisian node's API, with an Algerian liaison, a Libyan analyst and a Tunisian
    duty officer logged in (accounts made the way an administrator makes them)."""
    tun = cluster.nodes["TUN"]
    tun.add_agency(actor=None, code="DZ-GN", name="Gendarmerie (liaison)", country="DZA")
    tun.add_agency(actor=None, code="LY-BG", name="Border guard (liaison)", country="LBY")
    tun.add_user(actor=None, username="liaison.dza", agency="DZ-GN", roles=["duty_officer", "analyst"],
                 password=PASSWORD)
    tun.add_user(actor=None, username="analyst.lby", agency="LY-BG", roles=["analyst"], password=PASSWORD)
    tun.add_user(actor=None, username="do.tun", agency="TN-GN", roles=["duty_officer", "admin"], password=PASSWORD)
    app = create_app(tun)
    clients = {name: _login(TestClient(app), name) for name in ("liaison.dza", "analyst.lby", "do.tun")}
    yield clients
    for client in clients.values():
        client.close()


def _held(node: Node, unit_id: str) -> tuple[str, dict]:
    row = node.store.read_one("SELECT origin, doc FROM units WHERE id = ?", (unit_id,), system=True)
    assert row is not None
    return row[0], json.loads(row[1])


def _refusals(node: Node, partner: str) -> list[dict]:
    return [a for a in node.federation.audit(partner=partner) if a["decision"] in ("rejected", "refused")]


@pytest.mark.parametrize(("owner", "agency", "mover"), [
    ("DZA", "DZ-GN", "liaison.dza"),   # the finding: a foreign liaison moves its own country's copy
    ("LBY", "LY-BG", "analyst.lby"),   # a Libyan analyst does the same to Libya
    ("DZA", "DZ-GN", "do.tun"),        # the host's own duty officer (and admin) may not either
])
def test_moving_a_partner_unit_at_the_host_is_refused_and_replication_goes_on(
        cluster: Cluster, tunis: dict[str, TestClient], owner: str, agency: str, mover: str) -> None:
    unit_id = f"{owner.lower()}-patrol-1"
    _unit(cluster, owner, agency, unit_id)
    cluster.sync()
    tun = cluster.nodes["TUN"]
    assert _held(tun, unit_id)[0] == cluster.nodes[owner].node_id

    response = tunis[mover].post(f"/api/v1/units/{unit_id}/position",
                                 json={"location": {"lat": 36.8, "lon": 10.18}})
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "replicated from a partner" in response.json()["detail"]
    origin, doc = _held(tun, unit_id)
    assert origin == cluster.nodes[owner].node_id and doc["position"]["lat"] == 35.1

    # Replication from the partner continues: its next move arrives, nothing is refused.
    # (the cluster's field user of each country is of the unit's agency)
    cluster.nodes[owner].move_unit(actor=cluster.field[owner], unit_id=unit_id, position=Position(35.3, 8.4))
    cluster.sync()
    origin, doc = _held(tun, unit_id)
    assert origin == cluster.nodes[owner].node_id
    assert (doc["position"]["lat"], doc["position"]["lon"]) == (35.3, 8.4)
    assert _refusals(tun, owner) == []
    assert all(r.ok for r in tun.verify())


def test_every_change_to_a_partner_copy_is_refused_for_every_user(cluster: Cluster,
                                                                  tunis: dict[str, TestClient]) -> None:
    """Reports, units and sections replicated from Algeria: no command changes them at Tunis."""
    report = cluster.file("DZA")
    _unit(cluster, "DZA", "DZ-GN", "dza-patrol-2")
    cluster.nodes["DZA"].add_section(actor=None, owner_agency="DZ-GN", spec=SectionIn.model_validate({
        "id": "DZA-TUN-01", "name": "Oued Souf", "impact": "low",
        "geometry": {"type": "Polygon", "coordinates": [[[7.9, 33.0], [8.2, 33.0], [8.2, 33.3], [7.9, 33.0]]]},
        "audience": {"scope": "all_partners"}}))
    cluster.sync()
    for client in tunis.values():
        for method, path, body in [
            ("post", "/api/v1/units/dza-patrol-2/position", {"location": {"lat": 36.0, "lon": 9.0}}),
            ("post", "/api/v1/sections/DZA-TUN-01/impact", {"impact": "high", "reason": "x"}),
            ("patch", f"/api/v1/reports/{report['id']}", {"description": "rewritten"}),
            ("post", f"/api/v1/reports/{report['id']}/close", {"reason": "x"}),
            ("post", f"/api/v1/reports/{report['id']}/urgent", {"urgent": True, "note": "x"}),
        ]:
            response = getattr(client, method)(path, json=body)
            assert response.status_code in (403, 404), (path, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json"
    cluster.sync()
    tun = cluster.nodes["TUN"]
    assert _refusals(tun, "DZA") == []
    assert all(r.ok for r in tun.verify())


def test_the_store_refuses_a_local_entry_on_a_partner_copy(cluster: Cluster) -> None:
    """Backstop under the policy: a command that forgot to ask still cannot take a copy over."""
    _unit(cluster, "DZA", "DZ-GN", "dza-patrol-3")
    cluster.sync()
    tun = cluster.nodes["TUN"]
    _, doc = _held(tun, "dza-patrol-3")
    with pytest.raises(Forbidden, match="replicated from"), tun.store.transaction() as tx:
        tx.append(ts="2026-12-01T00:00:00.000000Z", author="x", kind="unit.moved",
                  payload={**doc, "position": {"lat": 1.0, "lon": 1.0}}, audience=doc["audience"])
    assert _held(tun, "dza-patrol-3")[0] == cluster.nodes["DZA"].node_id


def test_a_partner_cannot_write_for_an_agency_of_another_country(cluster: Cluster) -> None:
    """Algeria (its key is genuine, its intent not) registers the Tunisian agency code TN-GN as
    its own and sends a unit "owned" by it: Tunis skips and audits that entry; the next
    genuine Algerian entry still arrives."""
    dza = cluster.nodes["DZA"]
    dza.add_agency(actor=None, code="TN-GN", name="not the Garde nationale", country="DZA")
    _unit(cluster, "DZA", "TN-GN", "fake-gn-unit")
    genuine = cluster.file("DZA")
    cluster.sync()
    tun = cluster.nodes["TUN"]
    assert tun.store.read_one("SELECT 1 FROM units WHERE id = ?", ("fake-gn-unit",), system=True) is None
    refused = [a for a in tun.federation.audit(partner="DZA") if a["decision"] == "refused"]
    assert refused and refused[0]["rule"] == "ownership" and "TN-GN" in refused[0]["detail"]
    assert tun.store.read_one("SELECT 1 FROM reports WHERE id = ?", (genuine["id"],), system=True) is not None
    # Libya, which knows no agency TN-GN, cannot tell; the Tunisian node can, and is the one at risk.
    assert all(r.ok for r in tun.verify())


def test_a_partner_report_amended_at_its_origin_still_replicates_after_refused_local_attempts(
        cluster: Cluster, tunis: dict[str, TestClient]) -> None:
    report = cluster.file("DZA")
    cluster.sync()
    refused = tunis["liaison.dza"].patch(f"/api/v1/reports/{report['id']}", json={"description": "changed here"})
    assert refused.status_code == 403 and "replicated from a partner" in refused.json()["detail"]
    cluster.nodes["DZA"].amend_report(actor=cluster.officers["DZA"], report_id=report["id"],
                                      patch=ReportPatch.model_validate({"description": "changed at origin"}))
    cluster.nodes["DZA"].release_report(actor=cluster.officers["DZA"], report_id=report["id"])  # a new release
    cluster.sync()
    held = json.loads(cluster.nodes["TUN"].report(viewer=cluster.officers["TUN"], report_id=report["id"]))
    assert held["description"] == "changed at origin"


def test_verify_reports_a_copy_taken_over_by_an_earlier_version(cluster: Cluster,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that ran the unfixed version holds the taken-over copy: `verify` now says so."""
    _unit(cluster, "DZA", "DZ-GN", "dza-patrol-4")
    cluster.sync()
    tun = cluster.nodes["TUN"]
    assert all(r.ok for r in tun.verify())
    _, doc = _held(tun, "dza-patrol-4")
    monkeypatch.setattr(Tx, "_refuse_partner_copy", lambda self, kind, payload: None)
    with tun.store.transaction() as tx:  # what the unfixed move did
        tx.append(ts="2026-12-01T00:00:00.000000Z", author="liaison.dza", kind="unit.moved",
                  payload={**doc, "position": {"lat": 36.8, "lon": 10.18}}, audience=doc["audience"])
    problems = [p for r in tun.verify() for p in r.problems]
    assert any("dza-patrol-4" in p and "changed locally" in p for p in problems), problems
