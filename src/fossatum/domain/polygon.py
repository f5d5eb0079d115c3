"""Areas and sectors as GeoJSON polygons, and whether one lies inside another.

No geometry library: shapely is not in requirements.lock, and what an operation needs (a
sector inside its area) is a few lines of exact arithmetic. Coordinates are compared in the
lon/lat plane, which is what a commander draws on the map; for areas of tens of kilometres the
difference from geodesic edges is far below what a sector boundary means on the ground.
Arithmetic is on Fractions so that a vertex on the boundary is on it, not 1e-16 away.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..errors import InvalidInput
from .section import check_geometry

Point = tuple[Fraction, Fraction]


def check_polygon(geometry: object, *, field: str) -> dict[str, Any]:
    """A GeoJSON Polygon in WGS84 with one ring (no holes) of at least three distinct corners."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        raise InvalidInput("expected a GeoJSON Polygon", field=field)
    try:
        check_geometry(geometry)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=field) from None
    rings = geometry["coordinates"]
    if len(rings) != 1:
        raise InvalidInput("a polygon with holes is not supported: give one ring", field=field)
    if len({(p[0], p[1]) for p in rings[0]}) < 3:
        raise InvalidInput("a polygon needs at least three distinct corners", field=field)
    return geometry


def _ring(polygon: dict[str, Any]) -> list[Point]:
    return [(Fraction(p[0]), Fraction(p[1])) for p in polygon["coordinates"][0]]


def _cross(o: Point, a: Point, b: Point) -> Fraction:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    return (_cross(a, b, p) == 0 and min(a[0], b[0]) <= p[0] <= max(a[0], b[0])
            and min(a[1], b[1]) <= p[1] <= max(a[1], b[1]))


def _covers(ring: list[Point], p: Point) -> bool:
    """p inside the ring or on its boundary (even-odd rule)."""
    inside = False
    for a, b in zip(ring, ring[1:], strict=False):
        if _on_segment(p, a, b):
            return True
        if (a[1] > p[1]) != (b[1] > p[1]):
            x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if p[0] < x:
                inside = not inside
    return inside


def _meetings(a: Point, b: Point, ring: list[Point]) -> list[Fraction]:
    """Where along a→b (0..1) it touches or crosses the ring's edges."""
    ab = (b[0] - a[0], b[1] - a[1])
    length2 = ab[0] * ab[0] + ab[1] * ab[1]
    found: list[Fraction] = []
    for c, d in zip(ring, ring[1:], strict=False):
        cd = (d[0] - c[0], d[1] - c[1])
        ac = (c[0] - a[0], c[1] - a[1])
        denom = ab[0] * cd[1] - ab[1] * cd[0]
        if denom != 0:
            t = (ac[0] * cd[1] - ac[1] * cd[0]) / denom
            u = (ac[0] * ab[1] - ac[1] * ab[0]) / denom
            if 0 <= t <= 1 and 0 <= u <= 1:
                found.append(t)
        elif ac[0] * ab[1] - ac[1] * ab[0] == 0:  # on the same line: where the overlap starts and ends
            for q in (c, d):
                t = ((q[0] - a[0]) * ab[0] + (q[1] - a[1]) * ab[1]) / length2
                if 0 <= t <= 1:
                    found.append(t)
    return found


def covers(polygon: dict[str, Any], lon: float, lat: float) -> bool:
    """Whether a checked polygon holds the point (inside or on its boundary)."""
    return _covers(_ring(polygon), (Fraction(lon), Fraction(lat)))


def outside_part(inner: dict[str, Any], outer: dict[str, Any]) -> str | None:
    """Why `inner` does not lie inside `outer` (a vertex outside, an edge crossing out), or None.

    Every vertex of `inner` must be inside or on `outer`, and no edge may leave it: each edge is
    cut where it meets `outer`'s boundary, and the middle of every piece must be inside too.
    That also refuses an edge that passes out through a corner of a concave area."""
    ring, area = _ring(inner), _ring(outer)
    for p, raw in zip(ring, inner["coordinates"][0], strict=True):
        if not _covers(area, p):
            return f"vertex {list(raw[:2])} lies outside it"
    for i, (a, b) in enumerate(zip(ring, ring[1:], strict=False)):
        if a == b:
            continue
        cuts = sorted({Fraction(0), Fraction(1), *_meetings(a, b, area)})
        for t0, t1 in zip(cuts, cuts[1:], strict=False):
            t = (t0 + t1) / 2
            if not _covers(area, (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))):
                raw = inner["coordinates"][0]
                return f"edge from {list(raw[i][:2])} to {list(raw[i + 1][:2])} crosses its boundary"
    return None
