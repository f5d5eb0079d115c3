"""Three sovereign nodes (TUN, DZA, LBY) in one process, partnered over a LocalTransport."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fossatum.domain.org import Role, User
from fossatum.federation.transport import LocalTransport
from fossatum.node import Node, init_node, open_node
from fossatum.schemas import ReportIn

COUNTRIES = ("TUN", "DZA", "LBY")
AGENCIES = {"TUN": [("TN-GN", "Garde nationale"), ("TN-ARMY", "Armée nationale")],
            "DZA": [("DZ-GN", "Gendarmerie nationale")],
            "LBY": [("LY-BG", "Border guard")]}


def add_user(node: Node, username: str, agency: str, country: str, *roles: str) -> User:
    """An account without a password: these tests act through the service layer."""
    user = User(username, agency, country, frozenset(Role(r) for r in roles))
    with node.store.transaction() as tx:
        tx.append(ts="2026-11-01T00:00:00.000000Z", author="test", kind="user.added", payload=user.to_doc(),
                  audience={"scope": "agency", "owner_agency": "", "owner_country": country, "local": True})
    return user


@dataclass
class Cluster:
    nodes: dict[str, Node]
    transports: dict[str, LocalTransport]
    officers: dict[str, User]   # a duty officer per country
    field: dict[str, User]      # a field user per country

    def sync(self, rounds: int = 2) -> None:
        """Every node pulls from every partner, twice (so releases made while serving land too)."""
        for _ in range(rounds):
            for node in self.nodes.values():
                node.federation.sync()

    def file(self, country: str, *, validate: bool = True, **body: object) -> dict:
        base = {"type": "armed_group_movement", "location": {"lat": 35.2, "lon": 8.6},
                "observed_at": "2026-11-28T20:00:00Z", "audience": {"scope": "all_partners"}}
        base.update(body)
        node = self.nodes[country]
        doc = node.file_report(actor=self.field[country], spec=ReportIn.model_validate(base))
        if validate:
            doc = node.transition(actor=self.officers[country], report_id=doc["id"], action="validate")
        return doc

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()


def _build(path: Path, urls: dict[str, str] | None = None) -> None:
    nodes = {c: init_node(path / c, country=c, name=f"{c} NCC", database_url=(urls or {}).get(c))
             for c in COUNTRIES}
    for c, node in nodes.items():
        for code, name in AGENCIES[c]:
            node.add_agency(actor=None, code=code, name=name, country=c)
        first = AGENCIES[c][0][0]
        add_user(node, f"officer.{c.lower()}", first, c, "duty_officer", "analyst")
        add_user(node, f"field.{c.lower()}", first, c, "field")
    for c, node in nodes.items():
        for other, peer in nodes.items():
            if other != c:
                node.federation.add_partner(country=other, url=f"https://{other.lower()}.invalid", key=peer.key.public)
    for node in nodes.values():
        node.close()


def open_cluster(template: Path, path: Path, urls: dict[str, str] | None = None) -> Cluster:
    """The template's nodes; on PostgreSQL (`urls` per country) the databases were reset by the caller."""
    shutil.copytree(template, path)
    nodes = {c: open_node(path / c, database_url=(urls or {}).get(c)) for c in COUNTRIES}

    def serve(caller: str, partner: str, after: int, limit: int) -> dict:
        return nodes[partner].federation.serve_stream(nodes[caller].node_id, after=after, limit=limit)

    transports = {}
    for c, node in nodes.items():
        transports[c] = LocalTransport(c, serve)
        node.federation.transport = transports[c]
    officers = {c: node.store.user(f"officer.{c.lower()}") for c, node in nodes.items()}
    field = {c: node.store.user(f"field.{c.lower()}") for c, node in nodes.items()}
    return Cluster(nodes, transports, officers, field)  # type: ignore[arg-type]


def build_template(path: Path, urls: dict[str, str] | None = None) -> Path:
    _build(path, urls)
    return path
