"""Make tests/data/legacy-folder.tar.gz: two federated SQLite node folders (TUN/ and DZA/)
written by the code of the day, with every kind of log entry that code writes.

The archive is committed once and never remade: tests/test_legacy_folder.py checks that
later code still verifies it (`fossatum verify`) and rebuilds from it identical views
(`fossatum rebuild`) — entry bytes, signatures and projections unchanged (issue 11).
Remake it only on purpose, when a data folder of today need no longer be read:

    PYTHONPATH=src python tests/data/make_legacy_folder.py
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fossatum.domain.geo import from_degrees
from fossatum.domain.timeutil import to_text
from fossatum.federation.transport import LocalTransport
from fossatum.log.signing import NodeKey
from fossatum.node import Node, init_node
from fossatum.schemas import ReportIn, ReportPatch, SectionIn, UnitIn

HERE = Path(__file__).resolve().parent
ARCHIVE = HERE / "legacy-folder.tar.gz"
PASSWORD = "correct-horse-1"
START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


class Ticking:
    """A node clock one minute further at each reading: every entry has its own instant."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def report(node: Node, who: str, lat: float, lon: float, *, scope: str = "national",
           partners: list[str] | None = None, **more: Any) -> str:
    spec = ReportIn.model_validate({
        "type": "smuggling_fuel", "location": {"lat": lat, "lon": lon}, "uncertainty_m": 50,
        "salute": {"size": 3, "activity": "unloading jerrycans", "unit": "civilians", "equipment": "pick-up"},
        "grade": {"source": "B", "info": 2}, "impact": "medium", "description": "seen from the ridge",
        "audience": {"scope": scope, "partners": partners or []}, **more})
    return str(node.file_report(actor=node.store.user(who), spec=spec)["id"])


def populate_tun(node: Node, clock: Ticking) -> None:
    for code, name, country in [("TN-GN", "Garde nationale", "TUN"), ("TN-ARMY", "Armée nationale", "TUN"),
                                ("DZ-GN", "Gendarmerie nationale", "DZA"), ("NE-GN", "Garde nationale", "NER")]:
        node.add_agency(actor=None, code=code, name=name, country=country)
    for username, agency, roles in [("amira", "TN-GN", ["duty_officer"]), ("sami", "TN-GN", ["field"]),
                                    ("youssef", "TN-ARMY", ["duty_officer"]), ("leila", "TN-ARMY", ["analyst"]),
                                    ("admin", "TN-GN", ["admin"]), ("karim", "DZ-GN", ["duty_officer"])]:
        node.add_user(actor=None, username=username, agency=agency, roles=roles, password=PASSWORD)
    node.set_password(actor=None, username="leila", password=PASSWORD + "-2")
    node.set_user_active(actor=None, username="leila", active=False)
    node.set_user_active(actor=None, username="leila", active=True)
    node.set_field_audience(actor=None, agency="TN-GN", scope="partners", partners=["DZA"], tlp="AMBER")
    u = node.store.user
    amira, sami, youssef = u("amira"), u("sami"), u("youssef")
    ring = [[8.30, 35.10], [8.45, 35.10], [8.45, 35.30], [8.30, 35.30], [8.30, 35.10]]
    node.add_section(actor=None, owner_agency="TN-GN", spec=SectionIn(
        id="TUN-DZA-01", name="Sakiet Sidi Youssef", terrain="mountain",
        geometry={"type": "Polygon", "coordinates": [ring]}, impact="high",
        responsible={"TUN": ["tn-gn-patrol-1"]}))
    node.set_section_impact(actor=amira, section_id="TUN-DZA-01", impact="critical", reason="armed group seen")
    for uid, agency, scope in [("tn-gn-patrol-1", "TN-GN", "all_partners"), ("tn-army-op-1", "TN-ARMY", "national")]:
        node.add_unit(actor=None, spec=UnitIn.model_validate({
            "id": uid, "name": uid.upper(), "kind": "patrol", "agency": agency, "callsign": uid[-6:],
            "location": {"lat": 35.2, "lon": 8.35}, "audience": {"scope": scope}}))
    node.move_unit(actor=amira, unit_id="tn-gn-patrol-1", position=from_degrees(35.21, 8.36))
    late = to_text(clock.now - timedelta(minutes=30))  # a fix that arrives late: history only
    node.move_unit(actor=amira, unit_id="tn-gn-patrol-1", position=from_degrees(35.19, 8.34), at=late)
    device = "ANDROID-0123456789abcdef"
    node.register_device(actor=sami, uid=device, callsign="FALCON-1")
    node.raise_alert(actor=sami, uid=f"{device}-9-1-1", kind="911", position=from_degrees(35.22, 8.37),
                     callsign="FALCON-1", text="taking fire", device_uid=device)
    node.cancel_alert(actor=sami, uid=f"{device}-9-1-1", device_uid=device)
    node.post_chat(actor=sami, message_id="msg-1", room="All Chat Rooms", text="in position at the wadi",
                   position=from_degrees(35.22, 8.37), sender_uid=device, callsign="FALCON-1")

    # Reports through every step of their life.
    shared = report(node, "sami", 35.20, 8.40, scope="partners", partners=["DZA"], tlp="AMBER")
    node.transition(actor=amira, report_id=shared, action="claim")
    node.transition(actor=amira, report_id=shared, action="unclaim")
    node.transition(actor=amira, report_id=shared, action="validate")
    node.amend_report(actor=amira, report_id=shared, patch=ReportPatch.model_validate(
        {"description": "seen from the ridge; two trucks"}))
    node.release_report(actor=amira, report_id=shared)
    node.flag_report(actor=amira, report_id=shared, urgent=True, note="moving north")
    node.flag_report(actor=amira, report_id=shared, urgent=False)
    draft = report(node, "sami", 35.18, 8.41, state="draft")
    node.transition(actor=sami, report_id=draft, action="submit")
    node.transition(actor=amira, report_id=draft, action="return", reason="which wadi?")
    node.amend_report(actor=sami, report_id=draft, patch=ReportPatch.model_validate(
        {"description": "wadi Sarrat", "links": [shared]}))
    node.transition(actor=sami, report_id=draft, action="submit")
    node.transition(actor=amira, report_id=draft, action="validate")
    node.transition(actor=amira, report_id=draft, action="close", reason="dealt with")
    wrong = report(node, "sami", 35.17, 8.42)
    node.transition(actor=amira, report_id=wrong, action="retract", reason="filed twice")
    army = report(node, "youssef", 35.25, 8.33, scope="all_partners", links=[shared])
    node.transition(actor=youssef, report_id=army, action="validate")
    report(node, "sami", 35.16, 8.44, scope="agency")


def populate_dza(node: Node) -> str:
    for code, name, country in [("DZ-GN", "Gendarmerie nationale", "DZA"), ("TN-GN", "Garde nationale", "TUN")]:
        node.add_agency(actor=None, code=code, name=name, country=country)
    for username, agency, roles in [("nadia", "DZ-GN", ["duty_officer"]), ("rachid", "DZ-GN", ["field"])]:
        node.add_user(actor=None, username=username, agency=agency, roles=roles, password=PASSWORD)
    nadia = node.store.user("nadia")
    for_tun = report(node, "rachid", 35.21, 8.28, scope="partners", partners=["TUN"])
    node.transition(actor=nadia, report_id=for_tun, action="validate")
    node.add_unit(actor=None, spec=UnitIn.model_validate({
        "id": "dz-gn-post-1", "name": "Poste Bouchebka", "kind": "checkpoint", "agency": "DZ-GN",
        "location": {"lat": 35.17, "lon": 8.29}, "audience": {"scope": "partners", "partners": ["TUN"]}}))
    return for_tun


def replicate(nodes: dict[str, Node]) -> None:
    def serve(caller: str, partner: str, after: int, limit: int) -> dict[str, Any]:
        return nodes[partner].federation.serve_stream(nodes[caller].node_id, after=after, limit=limit)

    for c, node in nodes.items():
        node.federation.transport = LocalTransport(c, serve)
    for _ in range(2):
        for node in nodes.values():
            node.federation.sync()


def make(out: Path = ARCHIVE) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "legacy"
        clock = Ticking()
        nodes = {"TUN": init_node(root / "TUN", country="TUN", name="Tunisia NCC", clock=clock),
                 "DZA": init_node(root / "DZA", country="DZA", name="Algeria NCC", clock=clock)}
        urls = {"TUN": "https://127.0.0.1:8003", "DZA": "https://127.0.0.1:8004"}
        for c, node in nodes.items():
            for other, peer in nodes.items():
                if other != c:
                    node.federation.add_partner(country=other, url=urls[other], key=peer.key.public)
        gone = NodeKey.generate().public  # a partner added, then removed (partner.updated)
        nodes["TUN"].federation.add_partner(country="LBY", url="https://lby.example:8443", key=gone)
        nodes["TUN"].federation.remove_partner("LBY")
        populate_tun(nodes["TUN"], clock)
        for_tun = populate_dza(nodes["DZA"])
        replicate(nodes)
        # A new version of a report the partner already holds.
        dza, nadia = nodes["DZA"], nodes["DZA"].store.user("nadia")
        dza.amend_report(actor=nadia, report_id=for_tun, patch=ReportPatch.model_validate({"reaction": "post alerted"}))
        dza.release_report(actor=nadia, report_id=for_tun)
        replicate(nodes)
        for node in nodes.values():
            node.close()
        with tarfile.open(out, "w:gz") as tar:
            for c in ("TUN", "DZA"):
                for path in sorted((root / c).rglob("*")):
                    if path.name.endswith(("-wal", "-shm")):
                        continue
                    tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else ARCHIVE)
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)
