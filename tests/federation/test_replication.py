"""Three nodes in one process: each receives exactly what was released to its country."""

from __future__ import annotations

import json

import pytest

from fossatum.schemas import ReportPatch

from .cluster import Cluster

pytestmark = pytest.mark.both_backends


def ids(cluster: Cluster, country: str) -> set[str]:
    """Report ids held by `country`'s node (every row, no viewer filter)."""
    rows = cluster.nodes[country].store.read("SELECT id FROM reports", system=True)
    return {r[0] for r in rows}


def test_a_report_released_to_algeria_reaches_algiers_and_not_tripoli(cluster: Cluster) -> None:
    doc = cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    cluster.sync()
    assert doc["id"] in ids(cluster, "DZA")
    assert doc["id"] not in ids(cluster, "LBY")
    copy = json.loads(cluster.nodes["DZA"].report(viewer=cluster.officers["DZA"], report_id=doc["id"]))
    assert copy["origin"] == cluster.nodes["TUN"].node_id and copy["owner_country"] == "TUN"
    assert copy["description"] == doc["description"]


def test_nothing_unvalidated_or_national_leaves_the_country(cluster: Cluster) -> None:
    unvalidated = cluster.file("TUN", validate=False)
    national = cluster.file("TUN", audience={"scope": "national"})
    draft = cluster.file("TUN", validate=False, state="draft")
    cluster.sync()
    for country in ("DZA", "LBY"):
        assert not {unvalidated["id"], national["id"], draft["id"]} & ids(cluster, country)


def test_validation_later_releases_the_report(cluster: Cluster) -> None:
    doc = cluster.file("TUN", validate=False)
    cluster.sync()
    assert doc["id"] not in ids(cluster, "DZA")
    cluster.nodes["TUN"].transition(actor=cluster.officers["TUN"], report_id=doc["id"], action="validate")
    cluster.sync()
    assert doc["id"] in ids(cluster, "DZA") and doc["id"] in ids(cluster, "LBY")


def test_narrowing_the_audience_purges_the_partner_copy(cluster: Cluster) -> None:
    doc = cluster.file("TUN")
    cluster.sync()
    assert doc["id"] in ids(cluster, "LBY")
    cluster.nodes["TUN"].amend_report(actor=cluster.officers["TUN"], report_id=doc["id"],
                                      patch=ReportPatch.model_validate({"audience": {"scope": "partners", "partners": ["DZA"]}}))
    cluster.sync()
    assert doc["id"] in ids(cluster, "DZA")
    assert doc["id"] not in ids(cluster, "LBY")
    libya = cluster.nodes["LBY"]
    assert not libya.store.read("SELECT 1 FROM log WHERE object_id = ?", (doc["id"],))
    purged = [a for a in libya.federation.audit() if a["decision"] == "purged"]
    assert purged and purged[0]["object_id"] == doc["id"]


def test_amendments_arrive_once_released_and_partner_copies_cannot_be_edited(cluster: Cluster) -> None:
    doc = cluster.file("TUN")
    tun = cluster.nodes["TUN"]
    tun.amend_report(actor=cluster.officers["TUN"], report_id=doc["id"],
                     patch=ReportPatch.model_validate({"description": "group split in two"}))
    cluster.sync()
    dza = cluster.nodes["DZA"]
    copy = json.loads(dza.report(viewer=cluster.officers["DZA"], report_id=doc["id"]))
    assert copy["description"] == "" and copy["version"] == 2   # the released version, kept
    tun.release_report(actor=cluster.officers["TUN"], report_id=doc["id"])
    cluster.sync()
    copy = json.loads(dza.report(viewer=cluster.officers["DZA"], report_id=doc["id"]))
    assert copy["description"] == "group split in two" and copy["version"] == 4
    import pytest

    from fossatum.errors import Forbidden
    with pytest.raises(Forbidden):
        dza.transition(actor=cluster.officers["DZA"], report_id=doc["id"], action="close", reason="x")


def test_every_node_verifies_after_replication(cluster: Cluster) -> None:
    for country in ("TUN", "DZA", "LBY"):
        cluster.file(country)
    cluster.sync()
    for node in cluster.nodes.values():
        results = node.verify()
        assert len(results) == 3
        assert all(r.ok for r in results), [r.problems for r in results]


def test_replication_resumes_after_a_link_cut_without_loss_or_duplicates(cluster: Cluster) -> None:
    cluster.transports["DZA"].down.add("TUN")
    sent = [cluster.file("TUN")["id"] for _ in range(5)]
    cluster.sync()
    assert not set(sent) & ids(cluster, "DZA")
    status = {s["country"]: s for s in cluster.nodes["DZA"].federation.status()}
    assert "unreachable" in (status["TUN"]["last_error"] or "")
    cluster.transports["DZA"].down.clear()
    cluster.sync()
    assert set(sent) <= ids(cluster, "DZA")
    again = cluster.nodes["DZA"].federation.pull(cluster.nodes["DZA"].federation.partner("TUN"))
    assert again.stored == 0


def test_the_sender_audits_every_release_decision(cluster: Cluster) -> None:
    released = cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    cluster.sync()
    audit = cluster.nodes["TUN"].federation.audit()
    to_dza = [a for a in audit if a["partner"] == "DZA" and a["object_id"] == released["id"]]
    to_lby = [a for a in audit if a["partner"] == "LBY" and a["object_id"] == released["id"]]
    assert any(a["decision"] == "sent" for a in to_dza)
    assert to_lby and all(a["decision"] == "withheld" for a in to_lby)
    assert any(a["rule"] == "not in releasable_to" for a in to_lby)


def test_a_report_linking_to_a_hidden_report_is_withheld(cluster: Cluster) -> None:
    hidden = cluster.file("TUN", audience={"scope": "national"})
    shared = cluster.file("TUN", audience={"scope": "partners", "partners": ["DZA"]})
    child = cluster.file("TUN", audience={"scope": "all_partners"}, links=[hidden["id"]])
    visible_child = cluster.file("TUN", audience={"scope": "all_partners"}, links=[shared["id"]])
    cluster.sync()
    assert child["id"] not in ids(cluster, "DZA")          # its parent is national only
    assert visible_child["id"] in ids(cluster, "DZA")      # DZA may see the parent
    assert visible_child["id"] not in ids(cluster, "LBY")  # LBY may not
    rules = {a["rule"] for a in cluster.nodes["TUN"].federation.audit() if a["object_id"] == child["id"]}
    assert any(r.startswith("containment") for r in rules)


def test_retraction_purges_every_partner_copy(cluster: Cluster) -> None:
    doc = cluster.file("DZA")
    cluster.sync()
    assert doc["id"] in ids(cluster, "TUN") and doc["id"] in ids(cluster, "LBY")
    cluster.nodes["DZA"].transition(actor=cluster.officers["DZA"], report_id=doc["id"], action="retract",
                                    reason="the sighting was a shepherd")
    cluster.sync()
    assert doc["id"] not in ids(cluster, "TUN") and doc["id"] not in ids(cluster, "LBY")
    assert doc["id"] in ids(cluster, "DZA")  # the owner keeps its history


def test_a_country_that_joins_later_does_not_receive_history(cluster: Cluster, tmp_path) -> None:
    from fossatum.node import init_node

    old = cluster.file("TUN")
    morocco = init_node(tmp_path / "MAR", country="MAR", name="MAR NCC")
    try:
        tun = cluster.nodes["TUN"]
        tun.federation.add_partner(country="MAR", url="https://mar.invalid", key=morocco.key.public)
        new = cluster.file("TUN")
        morocco.federation.add_partner(country="TUN", url="https://tun.invalid", key=tun.key.public)
        served = tun.federation.serve_stream(morocco.node_id, after=0, limit=100)
        sent = {w["item"]["entry"]["payload"]["report"]["id"] for w in served["items"] if w["item"]["kind"] == "entry"}
        assert new["id"] in sent and old["id"] not in sent
    finally:
        morocco.close()


def test_a_report_of_a_visiting_liaison_officer_stays_on_the_node_where_it_was_filed(cluster: Cluster) -> None:
    """A receiver cannot tell a liaison officer's report from a partner impersonating one of
    its own agencies, so only reports owned by the origin node's country ever leave it."""
    from fossatum.schemas import ReportIn

    from .cluster import add_user

    tun = cluster.nodes["TUN"]
    tun.add_agency(actor=None, code="DZ-GN", name="Gendarmerie nationale", country="DZA")
    liaison = add_user(tun, "karim", "DZ-GN", "DZA", "duty_officer")
    doc = tun.file_report(actor=liaison, spec=ReportIn.model_validate(
        {"type": "smuggling_fuel", "location": {"lat": 35.4, "lon": 8.3}, "audience": {"scope": "all_partners"}}))
    tun.transition(actor=liaison, report_id=doc["id"], action="validate")
    cluster.sync()
    assert doc["id"] not in ids(cluster, "DZA") and doc["id"] not in ids(cluster, "LBY")
    rules = {a["rule"] for a in tun.federation.audit() if a["object_id"] == doc["id"]}
    assert "owned by another country" in rules


def test_a_follow_up_held_back_for_its_parent_goes_once_the_parent_is_released(cluster: Cluster) -> None:
    parent = cluster.file("TUN", validate=False, audience={"scope": "all_partners"})
    child = cluster.file("TUN", audience={"scope": "all_partners"}, links=[parent["id"]])
    cluster.sync()
    assert child["id"] not in ids(cluster, "DZA")
    cluster.nodes["TUN"].transition(actor=cluster.officers["TUN"], report_id=parent["id"], action="validate")
    cluster.sync()
    assert {parent["id"], child["id"]} <= ids(cluster, "DZA")
    for node in cluster.nodes.values():
        assert all(r.ok for r in node.verify())
