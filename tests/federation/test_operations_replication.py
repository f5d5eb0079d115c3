"""Joint operations across three nodes (issue 12): an operation and its journal reach exactly the
participants, each country's lines from its own node (never forwarded by the lead), a partner's
copy is read-only, and narrowing or cancelling purges it at the countries that lose it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fossatum.errors import Forbidden
from fossatum.log import kinds
from fossatum.schemas import JournalIn, OperationIn, OperationPatch, SectorIn, UnitIn
from operations_fixtures import operation_body

from .cluster import Cluster

pytestmark = pytest.mark.both_backends


def held(cluster: Cluster, country: str, table: str) -> set[str]:
    """Ids in `table` at `country`'s node (every row, no viewer filter)."""
    return {r[0] for r in cluster.nodes[country].store.read(f"SELECT id FROM {table}", system=True)}


def logged(cluster: Cluster, country: str, object_id: str) -> int:
    rows = cluster.nodes[country].store.read("SELECT COUNT(*) FROM log WHERE object_id = ?", (object_id,),
                                             system=True)
    return int(rows[0][0])


def create(cluster: Cluster, participants: list[str], **changes: Any) -> dict[str, Any]:
    sectors = [{"id": "s-east", "name": "Est", "polygon": operation_body()["sectors"][0]["polygon"],
                "country": "TUN"}]
    for country in participants:
        sectors.append({"id": f"s-{country.lower()}", "name": country,
                        "polygon": operation_body()["sectors"][1]["polygon"], "country": country})
    body = operation_body(participants=participants, sectors=sectors[:2], command={}, **changes)
    return cluster.nodes["TUN"].create_operation(actor=cluster.officers["TUN"],
                                                 spec=OperationIn.model_validate(body))


def note(cluster: Cluster, country: str, operation_id: str, text: str) -> dict[str, Any]:
    return cluster.nodes[country].write_journal(actor=cluster.officers[country], operation_id=operation_id,
                                                spec=JournalIn(kind="note", text=text))


def test_an_operation_and_its_journal_reach_exactly_the_participants(cluster: Cluster) -> None:
    op = create(cluster, ["DZA"])
    line = note(cluster, "TUN", op["id"], "cordon in place")
    cluster.sync()
    assert op["id"] in held(cluster, "DZA", "operations")
    assert line["id"] in held(cluster, "DZA", "operation_journal")
    assert not held(cluster, "LBY", "operations") and not held(cluster, "LBY", "operation_journal")
    assert logged(cluster, "LBY", op["id"]) == 0 and logged(cluster, "LBY", line["id"]) == 0
    copy = cluster.nodes["DZA"].operation(viewer=cluster.officers["DZA"], operation_id=op["id"])
    assert copy["lead_country"] == "TUN" and copy["sectors"] == op["sectors"]
    # the Algerian centre writes its own line; it reaches Tunis, not Tripoli
    answer = note(cluster, "DZA", op["id"], "gendarmerie in position on the west slope")
    cluster.sync()
    assert answer["id"] in held(cluster, "TUN", "operation_journal")
    assert answer["id"] not in held(cluster, "LBY", "operation_journal")
    lines = cluster.nodes["TUN"].journal(viewer=cluster.officers["TUN"], operation_id=op["id"])
    assert [(x["country"], x["text"]) for x in lines] == [("TUN", "cordon in place"),
                                                          ("DZA", "gendarmerie in position on the west slope")]
    row = cluster.nodes["TUN"].store.read("SELECT origin FROM operation_journal WHERE id = ?", (answer["id"],),
                                          system=True)
    assert row == [(cluster.nodes["DZA"].node_id,)]


def test_a_partner_s_lines_come_from_its_own_node_never_forwarded_by_the_lead(cluster: Cluster) -> None:
    op = create(cluster, ["DZA", "LBY"])
    cluster.sync()
    cluster.transports["LBY"].down.add("DZA")  # Tripoli cannot reach Algiers; it reaches Tunis
    line = note(cluster, "DZA", op["id"], "west slope sealed")
    cluster.sync()
    assert line["id"] in held(cluster, "TUN", "operation_journal")
    assert line["id"] not in held(cluster, "LBY", "operation_journal")  # Tunis does not pass it on
    forwarded = [a for a in cluster.nodes["TUN"].federation.audit()
                 if a["object_id"] == line["id"] and a["direction"] == "out"]
    assert forwarded == []
    cluster.transports["LBY"].down.clear()
    cluster.sync()
    assert line["id"] in held(cluster, "LBY", "operation_journal")
    row = cluster.nodes["LBY"].store.read("SELECT origin FROM operation_journal WHERE id = ?", (line["id"],),
                                          system=True)
    assert row == [(cluster.nodes["DZA"].node_id,)]


def test_a_participant_cannot_change_the_lead_s_operation_at_its_own_node(cluster: Cluster) -> None:
    op = create(cluster, ["DZA"])
    tun_line = note(cluster, "TUN", op["id"], "orders of the day")
    cluster.sync()
    dza, officer = cluster.nodes["DZA"], cluster.officers["DZA"]
    before = dza.store.log_size()
    with pytest.raises(Forbidden, match="replicated"):
        dza.update_operation(actor=officer, operation_id=op["id"], patch=OperationPatch(name="Algerian name"))
    with pytest.raises(Forbidden, match="replicated"):
        dza.update_operation(actor=officer, operation_id=op["id"], patch=OperationPatch(status="CANCLD"))
    with pytest.raises(Forbidden, match="replicated"):
        dza.set_sectors(actor=officer, operation_id=op["id"], sectors=[])
    # nor another country's journal line: the store refuses an entry about a partner's copy
    forged = {**tun_line, "text": "orders cancelled"}
    with pytest.raises(Forbidden, match="read-only"), dza.store.transaction() as tx:
        tx.append(ts=forged["at"], author=officer.username, kind=kinds.JOURNAL_WRITTEN, payload=forged,
                  audience=forged["audience"])
    assert dza.store.log_size() == before
    cluster.sync()
    assert cluster.nodes["TUN"].operation(viewer=cluster.officers["TUN"], operation_id=op["id"])["name"] == \
        "Cordon Chaambi"


def test_a_participant_assigns_its_own_units_from_its_own_node(cluster: Cluster) -> None:
    dza = cluster.nodes["DZA"]
    unit = dza.add_unit(actor=None, spec=UnitIn(name="GN Tebessa", kind="patrol", agency="DZ-GN"))
    op = create(cluster, ["DZA"])
    cluster.sync()
    with pytest.raises(Exception, match="only TUN assigns"):
        dza.write_journal(actor=cluster.officers["DZA"], operation_id=op["id"],
                          spec=JournalIn.model_validate({"kind": "assignment",
                                                         "details": {"unit": unit["id"], "sector": "s-east"}}))
    dza.write_journal(actor=cluster.officers["DZA"], operation_id=op["id"],
                      spec=JournalIn.model_validate({"kind": "assignment",
                                                     "details": {"unit": unit["id"], "sector": "s-dza"}}))
    cluster.sync()
    # the lead's centre sees the Algerian assignment in the Algerian sector (the unit itself is national)
    sectors = {s["id"]: s["units"] for s in cluster.nodes["TUN"].sectors(viewer=cluster.officers["TUN"],
                                                                           operation_id=op["id"])}
    assert sectors == {"s-east": [], "s-dza": [unit["id"]]}


def test_narrowing_purges_the_operation_and_its_journal_at_the_country_that_loses_it(cluster: Cluster) -> None:
    op = create(cluster, ["DZA", "LBY"])
    tun_line = note(cluster, "TUN", op["id"], "cordon in place")
    cluster.sync()
    dza_line = note(cluster, "DZA", op["id"], "west slope sealed")
    cluster.sync()
    assert {tun_line["id"], dza_line["id"]} <= held(cluster, "LBY", "operation_journal")
    tun = cluster.nodes["TUN"]
    tun.update_operation(actor=cluster.officers["TUN"], operation_id=op["id"],
                         patch=OperationPatch(participants=["DZA"]))
    cluster.sync()
    assert op["id"] not in held(cluster, "LBY", "operations")
    assert not held(cluster, "LBY", "operation_journal")
    for object_id in (op["id"], tun_line["id"], dza_line["id"]):
        assert logged(cluster, "LBY", object_id) == 0
    assert op["id"] in held(cluster, "DZA", "operations")
    assert {tun_line["id"], dza_line["id"]} <= held(cluster, "DZA", "operation_journal")
    # what the participants write from now on never reaches Libya
    later = note(cluster, "DZA", op["id"], "after the narrowing")
    cluster.sync()
    assert later["id"] not in held(cluster, "LBY", "operation_journal")
    assert json.loads(json.dumps(later["audience"]))["releasable_to"] == ["DZA", "TUN"]
    purged = [a for a in cluster.nodes["LBY"].federation.audit() if a["decision"] == "purged"]
    assert [a["object_id"] for a in purged] == [op["id"]]


def test_cancelling_purges_it_everywhere_but_at_the_lead(cluster: Cluster) -> None:
    op = create(cluster, ["DZA"])
    cluster.sync()
    note(cluster, "DZA", op["id"], "ready")
    cluster.sync()
    assert op["id"] in held(cluster, "DZA", "operations")
    cluster.nodes["TUN"].set_operation_status(actor=cluster.officers["TUN"], operation_id=op["id"],
                                              status="IPR")
    cluster.nodes["TUN"].set_operation_status(actor=cluster.officers["TUN"], operation_id=op["id"],
                                              status="CANCLD")
    cluster.sync()
    assert op["id"] not in held(cluster, "DZA", "operations")
    # Algiers' own line stays in its own log, shown to nobody without the operation
    assert cluster.nodes["DZA"].operations(viewer=cluster.officers["DZA"]) == []
    tun_view = cluster.nodes["TUN"].operation(viewer=cluster.officers["TUN"], operation_id=op["id"])
    assert tun_view["status"] == "CANCLD"


def test_every_node_verifies_after_an_operation_s_life(cluster: Cluster) -> None:
    op = create(cluster, ["DZA", "LBY"])
    cluster.sync()
    note(cluster, "DZA", op["id"], "ready")
    note(cluster, "LBY", op["id"], "Ghadames post ready")
    cluster.nodes["TUN"].set_sectors(actor=cluster.officers["TUN"], operation_id=op["id"],
                                     sectors=[SectorIn.model_validate(s) for s in op["sectors"]])
    cluster.sync()
    cluster.nodes["TUN"].update_operation(actor=cluster.officers["TUN"], operation_id=op["id"],
                                          patch=OperationPatch(participants=["DZA"]))
    cluster.sync()
    for node in cluster.nodes.values():
        assert all(r.ok for r in node.verify()), [r.problems for r in node.verify()]
        assert node.store.ownership_mismatches() == []
        refused = [a for a in node.federation.audit() if a["decision"] in ("refused", "rejected", "blocked")]
        assert refused == [], refused


def test_a_purge_tells_the_live_channels_who_may_have_seen_the_operation_and_its_lines(cluster: Cluster) -> None:
    op = create(cluster, ["DZA", "LBY"])
    cluster.sync()
    line = note(cluster, "DZA", op["id"], "west slope sealed")
    cluster.sync()
    libya = cluster.nodes["LBY"]
    seen: list[Any] = []
    libya.changes.subscribe(lambda changes: seen.extend(c for c in changes if c.removed))
    cluster.nodes["TUN"].update_operation(actor=cluster.officers["TUN"], operation_id=op["id"],
                                          patch=OperationPatch(participants=["DZA"]))
    cluster.sync()
    removed = {c.object_id: c.facts_before for c in seen}
    assert set(removed) == {op["id"], line["id"]}
    officer = cluster.officers["LBY"]
    from fossatum.policy.visibility import may_view

    assert all(facts is not None and may_view(officer, facts) for facts in removed.values())


def test_a_forged_assignment_of_another_country_s_unit_assigns_nothing(cluster: Cluster) -> None:
    """A partner node that writes, under its own signature, an assignment of the lead's unit into
    its own sector: stored as its line, but the lead's unit is not shown in that sector."""
    tun = cluster.nodes["TUN"]
    tn_unit = tun.add_unit(actor=None, spec=UnitIn.model_validate(
        {"name": "GN Kasserine", "kind": "patrol", "agency": "TN-GN", "audience": {"scope": "all_partners"}}))
    op = create(cluster, ["DZA"])
    cluster.sync()
    dza, officer = cluster.nodes["DZA"], cluster.officers["DZA"]
    with pytest.raises(Forbidden):  # the service refuses it
        dza.write_journal(actor=officer, operation_id=op["id"], spec=JournalIn.model_validate(
            {"kind": "assignment", "details": {"unit": tn_unit["id"], "sector": "s-dza"}}))
    audience = {"owner_agency": "DZ-GN", "owner_country": "DZA", "scope": "partners", "partners": ["TUN"],
                "releasable_to": ["DZA", "TUN"], "tlp": "AMBER"}
    forged = {"id": "j-forged", "operation": op["id"], "kind": "assignment", "author": officer.username,
              "country": "DZA", "at": "2026-12-06T06:00:00.000000Z", "text": "",
              "details": {"unit": tn_unit["id"], "sector": "s-dza"}, "owner_agency": "DZ-GN", "owner_country": "DZA",
              "audience": audience}
    with dza.store.transaction() as tx:  # written under the service, as a hostile node would
        tx.append(ts=forged["at"], author=officer.username, kind=kinds.JOURNAL_WRITTEN, payload=forged,
                  audience=audience)
    cluster.sync()
    assert "j-forged" in held(cluster, "TUN", "operation_journal")
    sectors = {s["id"]: s["units"] for s in tun.sectors(viewer=cluster.officers["TUN"], operation_id=op["id"])}
    assert sectors == {"s-east": [], "s-dza": []}
