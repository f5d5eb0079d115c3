"""Shared bodies and set-up for the tests of joint operations (issue 12)."""

from __future__ import annotations

from typing import Any

from fossatum.log.signing import NodeKey
from fossatum.node import Node

# The Chaambi massif, roughly: a square with a Tunisian (east) and an Algerian (west) half.
AREA = {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.8, 35.0], [8.8, 35.4], [8.4, 35.4], [8.4, 35.0]]]}
EAST = {"type": "Polygon", "coordinates": [[[8.6, 35.0], [8.8, 35.0], [8.8, 35.4], [8.6, 35.4], [8.6, 35.0]]]}
WEST = {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.6, 35.0], [8.6, 35.4], [8.4, 35.4], [8.4, 35.0]]]}
OUTSIDE = {"type": "Polygon", "coordinates": [[[8.7, 35.3], [8.9, 35.3], [8.9, 35.5], [8.7, 35.5], [8.7, 35.3]]]}


def partners(node: Node, *countries: str) -> None:
    """Put partner countries on the node's roster (keys that no node holds: nothing replicates)."""
    for country in countries:
        node.federation.add_partner(country=country, url=f"https://{country.lower()}.invalid",
                                    key=NodeKey.generate().public)


def operation_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "CHAAMBI-26-01", "name": "Cordon Chaambi", "kind": "cordon_and_search", "participants": ["DZA"],
        "area": AREA,
        "sectors": [{"id": "s-east", "name": "Est", "polygon": EAST, "country": "TUN"},
                    {"id": "s-west", "name": "Ouest", "polygon": WEST, "country": "DZA"}],
        "phases": [{"name": "cordon", "planned_start": "2026-12-07T05:00:00Z", "planned_end": "2026-12-07T09:00:00Z"}],
        "command": {"TUN": {"commander": "col.hamdi", "deputy": "cdt.trabelsi"}, "DZA": {"commander": "lt.col.rahmani"}},
    }
    body.update(changes)
    return body
