"""Border sections: stretches of the border strip with an impact level."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from .geo import from_degrees

GEOMETRY_TYPES = ("LineString", "Polygon")


def check_geometry(geometry: object) -> dict[str, Any]:
    """Validate a GeoJSON LineString or Polygon in WGS84 and return it unchanged."""
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        raise InvalidInput("expected a GeoJSON LineString or Polygon", field="geometry")
    coords = geometry.get("coordinates")
    rings = [coords] if geometry["type"] == "LineString" else coords
    if not isinstance(rings, list) or not rings:
        raise InvalidInput("coordinates are missing", field="geometry.coordinates")
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 2:
            raise InvalidInput("a line needs at least two positions", field="geometry.coordinates")
        for point in ring:
            if not isinstance(point, list) or len(point) < 2:
                raise InvalidInput("each position is [lon, lat]", field="geometry.coordinates")
            from_degrees(point[1], point[0], field="geometry.coordinates")
        if geometry["type"] == "Polygon" and (len(ring) < 4 or ring[0] != ring[-1]):
            raise InvalidInput("a polygon ring must be closed (first = last, 4+ positions)", field="geometry.coordinates")
    return geometry


def bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a checked geometry."""
    rings = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    lons = [p[0] for ring in rings for p in ring]
    lats = [p[1] for ring in rings for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


_KNOWN = ("id", "name", "terrain", "geometry", "responsible", "impact", "impact_set_by", "impact_set_at",
          "impact_reason", "owner_agency", "owner_country", "audience", "created_by", "updated_at")
# The owner's notes on a section: node-internal; the entries that cross carry them empty (`public`).
OWNER_NOTES = ("responsible", "impact_reason")


@dataclass(frozen=True, slots=True)
class Section:
    """A border section. `responsible` (country -> units) and `impact_reason` are its owner's
    notes (`OWNER_NOTES`): kept in node-internal entries, carried empty by
    the entries that cross to partners (`public`)."""

    id: str
    name: str
    terrain: str
    geometry: Mapping[str, Any]
    responsible: Mapping[str, Any]
    impact: str
    impact_set_by: str
    impact_set_at: str
    impact_reason: str
    owner_agency: str
    owner_country: str
    audience: Mapping[str, Any]
    created_by: str
    updated_at: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a later version or a partner, kept

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "terrain": self.terrain, "geometry": self.geometry,
                "responsible": self.responsible, "impact": self.impact, "impact_set_by": self.impact_set_by,
                "impact_set_at": self.impact_set_at, "impact_reason": self.impact_reason,
                "owner_agency": self.owner_agency, "owner_country": self.owner_country,
                "audience": dict(self.audience), "created_by": self.created_by, "updated_at": self.updated_at,
                **self.extra}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Section:
        """A section document as this node writes it (KeyError if a field is missing)."""
        return cls(**{k: doc[k] for k in _KNOWN}, extra={k: v for k, v in doc.items() if k not in _KNOWN})

    def with_impact(self, impact: str, *, by: str, now: str) -> Section:
        return dataclasses.replace(self, impact=impact, impact_set_by=by, impact_set_at=now, updated_at=now)

    def public(self) -> Section:
        """As its entries that may cross carry it: the owner's notes empty."""
        return dataclasses.replace(self, responsible={}, impact_reason="")
