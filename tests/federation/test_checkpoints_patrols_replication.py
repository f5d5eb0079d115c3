"""Checkpoints and joint patrols across three nodes (issue 12): each reaches exactly the countries
it is shared with, a partner's copy is read-only at the partner's node, and narrowing purges it
at the countries that lose it."""

from __future__ import annotations

from typing import Any

import pytest

from fossatum.errors import Forbidden
from fossatum.schemas import CheckpointIn, CheckpointPatch, SectionIn
from operations_fixtures import AREA

from .cluster import Cluster

pytestmark = pytest.mark.both_backends


def held(cluster: Cluster, country: str, table: str) -> set[str]:
    return {r[0] for r in cluster.nodes[country].store.read(f"SELECT id FROM {table}", system=True)}


def checkpoint(cluster: Cluster, **changes: Any) -> dict[str, Any]:
    tun = cluster.nodes["TUN"]
    if not held(cluster, "TUN", "sections"):
        tun.add_section(actor=None, spec=SectionIn.model_validate(
            {"id": "TUN-DZA-07", "name": "Chaambi", "geometry": AREA, "audience": {"scope": "all_partners"}}),
            owner_agency="TN-GN")
    body: dict[str, Any] = {"name": "Oued Hatab track", "location": {"lat": 35.21, "lon": 8.55},
                            "section": "TUN-DZA-07", "operator": "joint", "partners": ["DZA"]}
    body.update(changes)
    return tun.create_checkpoint(actor=cluster.officers["TUN"], spec=CheckpointIn.model_validate(body))


def test_a_checkpoint_reaches_exactly_the_partners_named(cluster: Cluster) -> None:
    cp = checkpoint(cluster)
    cluster.sync()
    assert cp["id"] in held(cluster, "DZA", "checkpoints")
    assert cp["id"] not in held(cluster, "LBY", "checkpoints")
    copy = cluster.nodes["DZA"].checkpoint(viewer=cluster.officers["DZA"], checkpoint_id=cp["id"])
    assert copy["history"] == cp["history"] and copy["operator"] == "joint"


def test_a_partner_cannot_change_the_checkpoint_at_its_own_node(cluster: Cluster) -> None:
    cp = checkpoint(cluster)
    cluster.sync()
    dza = cluster.nodes["DZA"]
    before = dza.store.log_size()
    for actor in (cluster.officers["DZA"], cluster.field["DZA"]):
        with pytest.raises(Forbidden, match="replicated"):
            dza.set_checkpoint_status(actor=actor, checkpoint_id=cp["id"], status="closed", reason="ours now")
        with pytest.raises(Forbidden, match="replicated"):
            dza.update_checkpoint(actor=actor, checkpoint_id=cp["id"], patch=CheckpointPatch(name="renamed"))
    assert dza.store.log_size() == before
    # the owner's status changes arrive, with their history
    cluster.nodes["TUN"].set_checkpoint_status(actor=cluster.officers["TUN"], checkpoint_id=cp["id"],
                                               status="reinforced", reason="armed group seen north")
    cluster.sync()
    copy = dza.checkpoint(viewer=cluster.officers["DZA"], checkpoint_id=cp["id"])
    assert [h["status"] for h in copy["history"]] == ["open", "reinforced"]


def test_narrowing_a_checkpoint_purges_it_at_the_partner_that_loses_it(cluster: Cluster) -> None:
    cp = checkpoint(cluster, partners=["DZA", "LBY"])
    cluster.sync()
    assert cp["id"] in held(cluster, "LBY", "checkpoints")
    cluster.nodes["TUN"].update_checkpoint(actor=cluster.officers["TUN"], checkpoint_id=cp["id"],
                                           patch=CheckpointPatch(partners=["DZA"]))
    cluster.sync()
    assert cp["id"] not in held(cluster, "LBY", "checkpoints")
    assert not cluster.nodes["LBY"].store.read("SELECT 1 FROM log WHERE object_id = ?", (cp["id"],), system=True)
    assert cp["id"] in held(cluster, "DZA", "checkpoints")


ROUTE = [{"name": "Kasserine", "lat": 35.17, "lon": 8.83},
         {"name": "RV Bouchebka", "lat": 35.18, "lon": 8.45, "kind": "rendezvous", "countries": ["TUN", "DZA"],
          "at": "2026-12-07T07:00:00Z"},
         {"name": "Thala", "lat": 35.57, "lon": 8.67}]


def patrol(cluster: Cluster, countries: list[str]) -> dict[str, Any]:
    from fossatum.schemas import PatrolIn

    route = ROUTE if "DZA" in countries else [ROUTE[0], ROUTE[2]]
    body = {"code": "JP-26-07", "name": "Patrouille conjointe", "route": route, "countries": countries,
            "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T11:00:00Z"}
    return cluster.nodes["TUN"].create_patrol(actor=cluster.officers["TUN"], spec=PatrolIn.model_validate(body))


def test_a_joint_patrol_reaches_its_countries_only_and_is_theirs_to_read(cluster: Cluster) -> None:
    from fossatum.schemas import PatrolPatch

    joint = patrol(cluster, ["DZA"])
    cluster.sync()
    assert joint["id"] in held(cluster, "DZA", "patrols") and joint["id"] not in held(cluster, "LBY", "patrols")
    dza = cluster.nodes["DZA"]
    with pytest.raises(Forbidden, match="replicated"):
        dza.update_patrol(actor=cluster.officers["DZA"], patrol_id=joint["id"], patch=PatrolPatch(status="IPR"))
    cluster.nodes["TUN"].update_patrol(actor=cluster.officers["TUN"], patrol_id=joint["id"],
                                       patch=PatrolPatch(status="IPR"))
    cluster.sync()
    assert dza.patrol(viewer=cluster.officers["DZA"], patrol_id=joint["id"])["status"] == "IPR"


def test_narrowing_a_patrol_purges_it_at_the_country_that_leaves(cluster: Cluster) -> None:
    from fossatum.schemas import PatrolPatch

    wide = patrol(cluster, ["LBY"])
    cluster.sync()
    assert wide["id"] in held(cluster, "LBY", "patrols")
    cluster.nodes["TUN"].update_patrol(actor=cluster.officers["TUN"], patrol_id=wide["id"],
                                       patch=PatrolPatch(countries=[]))
    cluster.sync()
    assert wide["id"] not in held(cluster, "LBY", "patrols")
    assert not cluster.nodes["LBY"].store.read("SELECT 1 FROM log WHERE object_id = ?", (wide["id"],), system=True)
