"""Border sections: stretches of the border strip with an impact level."""

from __future__ import annotations

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
