"""Each agency's default audience for what its field devices file: set by an admin, logged,
used by TAK markers and alerts, and never wider than what was set."""

from __future__ import annotations

import asyncio
import json

import pytest

from fossatum.domain.geo import Position
from fossatum.errors import Forbidden, InvalidInput, NotFound
from fossatum.node import Node
from fossatum.store.query import ReportQuery

from .harness import Device, event, eventually, has, start

pytestmark = pytest.mark.both_backends


def _drop_marker(node: Node, uid: str, remarks: str) -> str:
    """Sami (TN-GN patrol) drops a hostile marker from his device; returns the report id."""
    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-PATROL-7")
            await sami.wait_for(has('type="t-x-takp-v"'))
            await sami.send(event(uid, "a-h-G", 35.25, 8.70, remarks=remarks))
            await eventually(lambda: server.ingest.counts["marker"] == 1)
            await sami.close()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    [doc] = [json.loads(d) for d in node.store.list_reports(node.store.user("sami"), ReportQuery())
             if remarks in json.loads(d)["description"]]
    return doc["id"]


def _listed(node: Node, username: str) -> set[str]:
    return {json.loads(d)["id"] for d in node.store.list_reports(node.store.user(username), ReportQuery())}


def _api_ids(client) -> set[str]:
    response = client.get("/api/v1/reports")
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["items"]}


def test_agency_scoped_marker_is_invisible_to_other_agencies_and_partners(node: Node, users, client_for) -> None:
    node.set_field_audience(actor=None, agency="TN-GN", scope="agency")
    report_id = _drop_marker(node, "marker-agency", "three pickups heading north")
    doc = json.loads(node.report(viewer=users["amira"], report_id=report_id))
    assert (doc["audience"]["scope"], doc["state"]) == ("agency", "submitted")
    node.transition(actor=users["amira"], report_id=report_id, action="validate")
    assert report_id in _listed(node, "amira")
    for outsider in ("youssef", "leila", "karim", "omar"):  # other TN agency, then partners
        assert report_id not in _listed(node, outsider), outsider
        assert report_id not in _api_ids(client_for(outsider)), outsider
        assert client_for(outsider).get(f"/api/v1/reports/{report_id}").status_code == 404
    assert report_id in _api_ids(client_for("amira"))


def test_marker_with_a_named_partner_reaches_exactly_that_partner(node: Node, users, client_for) -> None:
    node.set_field_audience(actor=None, agency="TN-GN", scope="partners", partners=["DZA"], tlp="GREEN")
    report_id = _drop_marker(node, "marker-dza", "smugglers unloading fuel")
    doc = json.loads(node.report(viewer=users["amira"], report_id=report_id))
    assert doc["audience"]["releasable_to"] == ["DZA", "TUN"] and doc["tlp"] == "GREEN"
    assert report_id not in _listed(node, "karim")  # submitted, not yet validated: not released
    node.transition(actor=users["amira"], report_id=report_id, action="validate")
    assert report_id in _listed(node, "karim") and report_id in _api_ids(client_for("karim"))
    assert report_id in _listed(node, "youssef")  # the owner country always sees it
    assert report_id not in _listed(node, "omar") and report_id not in _api_ids(client_for("omar"))


def test_unset_field_audience_falls_back_to_the_node_setting(node: Node, users) -> None:
    node.set_field_audience(actor=None, agency="TN-GN", scope="agency")
    node.set_field_audience(actor=None, agency="TN-GN", scope=None)
    assert node.store.agency("TN-GN")["field_audience"] is None
    report_id = _drop_marker(node, "marker-default", "a camel caravan at night")
    assert report_id in _listed(node, "youssef")  # cot_report_scope defaults to national
    assert report_id not in _listed(node, "karim")


def test_an_alert_is_at_least_national_and_follows_a_wider_field_audience(node: Node, users) -> None:
    node.set_field_audience(actor=None, agency="TN-GN", scope="agency")
    node.raise_alert(actor=users["sami"], uid="a-1", kind="911", position=Position(35.2, 8.6), callsign="GN-7")
    assert [json.loads(a)["uid"] for a in node.store.alerts(users["youssef"])] == ["a-1"]
    assert node.store.alerts(users["karim"]) == [] and node.store.alerts(users["omar"]) == []
    node.set_field_audience(actor=None, agency="TN-GN", scope="partners", partners=["DZA"])
    node.raise_alert(actor=users["sami"], uid="a-2", kind="911", position=Position(35.2, 8.6), callsign="GN-7")
    assert [json.loads(a)["uid"] for a in node.store.alerts(users["karim"])] == ["a-2"]
    assert node.store.alerts(users["omar"]) == []


def test_the_setting_is_logged_and_survives_a_rebuild(node: Node) -> None:
    node.set_field_audience(actor=None, agency="TN-ARMY", scope="partners", partners=["LBY", "DZA"], tlp="AMBER")
    expected = {"scope": "partners", "partners": ["DZA", "LBY"], "tlp": "AMBER"}
    assert node.store.agency("TN-ARMY")["field_audience"] == expected
    node.store.rebuild()
    assert node.store.agency("TN-ARMY")["field_audience"] == expected
    assert node.store.agency("TN-GN")["field_audience"] is None


def test_only_an_admin_sets_it_and_bad_values_are_refused(node: Node, users) -> None:
    with pytest.raises(Forbidden):
        node.set_field_audience(actor=users["amira"], agency="TN-GN", scope="agency")
    with pytest.raises(NotFound):
        node.set_field_audience(actor=None, agency="XX-NONE", scope="agency")
    for kwargs, field in [({"scope": "galaxy"}, "scope"), ({"scope": "partners"}, "partners"),
                          ({"scope": "partners", "partners": ["FRA"]}, "partners"),
                          ({"scope": "national", "partners": ["DZA"]}, "partners"),
                          ({"scope": "national", "tlp": "PURPLE"}, "tlp")]:
        with pytest.raises(InvalidInput) as caught:
            node.set_field_audience(actor=None, agency="TN-GN", **kwargs)
        assert caught.value.field == field, kwargs
    assert node.store.agency("TN-GN")["field_audience"] is None


def test_api_sets_and_shows_the_field_audience(node: Node, client_for) -> None:
    admin, amira = client_for("admin"), client_for("amira")
    url = "/api/v1/agencies/TN-GN/field-audience"
    response = admin.put(url, json={"scope": "partners", "partners": ["DZA"], "tlp": "GREEN"})
    assert response.status_code == 200, response.text
    assert response.json()["field_audience"] == {"scope": "partners", "partners": ["DZA"], "tlp": "GREEN"}
    listed = {a["code"]: a["field_audience"] for a in amira.get("/api/v1/agencies").json()["items"]}
    assert listed["TN-GN"]["partners"] == ["DZA"] and listed["TN-ARMY"] is None
    for liaison in ("karim", "omar"):  # partners' liaison officers do not learn whom TUN shares with
        assert all("field_audience" not in a for a in client_for(liaison).get("/api/v1/agencies").json()["items"])

    forbidden = amira.put(url, json={"scope": "agency"})
    assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith("application/problem+json")
    assert admin.put("/api/v1/agencies/XX-NONE/field-audience", json={"scope": "agency"}).status_code == 404
    for body, field in [({"scope": "galaxy"}, "scope"), ({}, "scope"), ({"scope": "partners"}, "partners"),
                        ({"scope": "partners", "partners": ["FRA"]}, "partners"),
                        ({"scope": "partners", "partners": ["dza"]}, "partners.0"),
                        ({"scope": "national", "tlp": "PURPLE"}, "tlp"),
                        ({"scope": "national", "colour": "red"}, "colour")]:
        bad = admin.put(url, json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json().get("field") == field, (body, bad.json())
    assert node.store.agency("TN-GN")["field_audience"]["partners"] == ["DZA"]  # intact

    cleared = admin.delete(url)
    assert cleared.status_code == 200 and cleared.json()["field_audience"] is None
    assert amira.delete(url).status_code == 403
