"""Coverage gaps of a border section (issue 12): the stretches of its line that no unit came
within a distance of during a window of time, and since when nothing did.

Pure: the caller brings the section's geometry and the timed positions (`Fix`) the viewer may
see; nothing here reads a store or a clock.

Geometry, and why it is hand-written: a section is tens of kilometres long and the distance is
50 m to 5 km, so a local plane is exact enough — an equirectangular projection centred on the
section with WGS84's meridian and prime-vertical radii at its centre (`Plane`): within ±20 km
of the centre the scale is off by under 0.5 % (about 2 m on 500 m). shapely and pyproj are not
among the dependencies, and what is needed is two primitives (a segment clipped by a capsule,
a point along a polyline), about a hundred lines, so they are written out here rather than
adding a compiled geometry library for them.

Exact intervals, not sampling: each unit track segment covers, on each edge of the section's
line, exactly the part of that edge inside the segment's capsule (the points within the distance
of it) — one interval, the capsule being convex. The union of those intervals is the covered
part; its complement is the gaps, to floating-point precision, whatever their size (a sampling
step would miss a narrow crossing and blur every gap's ends by half a step).

Tracks: consecutive fixes of one unit form a segment, and the unit is taken to have moved in a
straight line between them, only if they are at most `MAX_GAP` apart in time. TAK devices
report every few seconds to a minute while they move; a longer silence is a lost link or a
device switched off, and a straight line over it would claim ground that nobody saw — those
two fixes then count as points only. A segment counts for the window only if both its fixes
are in it.

Polygon sections: the demo's (and most drawn) sections are strips along the border; their line
is the strip's axis (`strip_axis`), the midline between the two long sides of the ring. A
section drawn as a LineString is assessed along that line itself.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInput
from .timeutil import to_text

DEFAULT_DISTANCE_M = 500
DISTANCE_RANGE_M = (50, 5000)
DEFAULT_HOURS = 24
HOURS_RANGE = (1, 168)
MAX_GAP = timedelta(minutes=10)
MIN_GAP_M = 1.0  # gaps shorter than this are rounding, and below what a GPS fix can tell apart

_A = 6378137.0  # WGS84 semi-major axis (m)
_E2 = 6.69437999014e-3  # WGS84 first eccentricity squared

Point = tuple[float, float]  # (x, y) in metres on the local plane


def check_distance(value: object) -> int:
    low, high = DISTANCE_RANGE_M
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"expected whole metres from {low} to {high}", field="distance_m")
    return value


def check_hours(value: object) -> int:
    low, high = HOURS_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"expected whole hours from {low} to {high}", field="hours")
    return value


class Plane:
    """A local metric plane around (lon0, lat0): x east, y north, in metres."""

    def __init__(self, lon0: float, lat0: float) -> None:
        phi = math.radians(lat0)
        w = 1.0 - _E2 * math.sin(phi) ** 2
        self.lon0, self.lat0 = lon0, lat0
        self.ky = math.radians(1.0) * _A * (1.0 - _E2) / w ** 1.5  # metres per degree of latitude
        self.kx = math.radians(1.0) * _A / math.sqrt(w) * math.cos(phi)  # metres per degree of longitude

    def xy(self, lon: float, lat: float) -> Point:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.lon0 + x / self.kx, self.lat0 + y / self.ky


@dataclass(frozen=True, slots=True)
class Fix:
    """One position of a unit at a time."""

    unit: str
    at: datetime
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Leg:
    """A straight piece of a unit's track between two fixes (`start is end`: a lone fix)."""

    start: Fix
    end: Fix


def leg(fix: Fix, following: Fix | None, *, max_gap: timedelta = MAX_GAP) -> Leg:
    """The leg from `fix` to the unit's next fix, or the fix alone when there is none within `max_gap`."""
    if following is not None and following.unit == fix.unit and timedelta(0) <= following.at - fix.at <= max_gap:
        return Leg(fix, following)
    return Leg(fix, fix)


def legs(fixes: Iterable[Fix], *, max_gap: timedelta = MAX_GAP) -> list[Leg]:
    """The legs of whole tracks: each unit's fixes in time order, joined where close enough in
    time; a fix joined to neither neighbour stands alone."""
    by_unit: dict[str, list[Fix]] = {}
    for fix in fixes:
        by_unit.setdefault(fix.unit, []).append(fix)
    out: list[Leg] = []
    for track in by_unit.values():
        track.sort(key=lambda f: f.at)
        joined = [leg(a, b, max_gap=max_gap) for a, b in zip(track, track[1:])]
        out += [j for j in joined if j.start is not j.end]
        for i, fix in enumerate(track):
            before = i > 0 and joined[i - 1].start is not joined[i - 1].end
            after = i < len(joined) and joined[i].start is not joined[i].end
            if not before and not after:
                out.append(Leg(fix, fix))
    return out


# --- geometry on the plane --------------------------------------------------------------------
def _dot(a: Point, b: Point) -> float:
    return a[0] * b[0] + a[1] * b[1]


def _sub(a: Point, b: Point) -> Point:
    return a[0] - b[0], a[1] - b[1]


def _disk(a: Point, v: Point, c: Point, d: float) -> tuple[float, float] | None:
    """Parameters t in [0, 1] where a + t v is within d of c."""
    w = _sub(a, c)
    qa, qb, qc = _dot(v, v), 2.0 * _dot(v, w), _dot(w, w) - d * d
    if qa == 0.0:
        return (0.0, 1.0) if qc <= 0.0 else None
    disc = qb * qb - 4.0 * qa * qc
    if disc < 0.0:
        return None
    root = math.sqrt(disc)
    lo, hi = max(0.0, (-qb - root) / (2.0 * qa)), min(1.0, (-qb + root) / (2.0 * qa))
    return (lo, hi) if lo <= hi else None


def _band(a: Point, v: Point, p: Point, q: Point, d: float) -> tuple[float, float] | None:
    """Parameters t in [0, 1] where a + t v is in the rectangle of points that project onto
    segment p-q at most d from it (Liang–Barsky clipping against its four sides)."""
    axis = _sub(q, p)
    length = math.sqrt(_dot(axis, axis))
    if length == 0.0:
        return None
    ux, uy = axis[0] / length, axis[1] / length
    w = _sub(a, p)
    along0, along_v = w[0] * ux + w[1] * uy, v[0] * ux + v[1] * uy  # coordinate along p-q
    side0, side_v = -w[0] * uy + w[1] * ux, -v[0] * uy + v[1] * ux  # signed distance from its line
    lo, hi = 0.0, 1.0
    for start, rate, low, high in ((along0, along_v, 0.0, length), (side0, side_v, -d, d)):
        if rate == 0.0:
            if not low <= start <= high:
                return None
            continue
        t1, t2 = (low - start) / rate, (high - start) / rate
        lo, hi = max(lo, min(t1, t2)), min(hi, max(t1, t2))
        if lo > hi:
            return None
    return lo, hi


def clip(a: Point, b: Point, p: Point, q: Point, d: float) -> tuple[float, float] | None:
    """The parameters [t0, t1] of segment a-b (a + t (b - a), t in [0, 1]) within distance d of
    segment p-q (p = q: of a point), or None. The points within d of a segment form a convex
    capsule (two disks and the band between them), so the answer is one interval: the hull of
    the three pieces' intervals."""
    v = _sub(b, a)
    found = [r for r in (_disk(a, v, p, d), _disk(a, v, q, d), _band(a, v, p, q, d)) if r is not None]
    if not found:
        return None
    return min(r[0] for r in found), max(r[1] for r in found)


class Line:
    """A polyline on the plane with the distance along it (`along[i]`: at vertex i)."""

    def __init__(self, points: Sequence[Point]) -> None:
        self.points = list(points)
        self.along = [0.0]
        for a, b in zip(self.points, self.points[1:]):
            self.along.append(self.along[-1] + math.dist(a, b))

    @property
    def length(self) -> float:
        return self.along[-1]

    def at(self, s: float) -> Point:
        i = min(max(bisect.bisect_right(self.along, s) - 1, 0), len(self.points) - 2)
        span = self.along[i + 1] - self.along[i]
        t = 0.0 if span == 0.0 else min(max((s - self.along[i]) / span, 0.0), 1.0)
        a, b = self.points[i], self.points[i + 1]
        return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])

    def piece(self, s0: float, s1: float) -> list[Point]:
        """The part of the line from s0 to s1 along it."""
        inner = [p for p, s in zip(self.points, self.along) if s0 < s < s1]
        return [self.at(s0), *inner, self.at(s1)]


def _box(points: Iterable[Point], pad: float) -> tuple[float, float, float, float]:
    xs, ys = zip(*points)
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def _meets(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def covered_intervals(line: Line, segments: Sequence[tuple[Point, Point]], d: float) -> list[tuple[float, float]]:
    """The merged intervals of distance along `line` within d of any of `segments`."""
    boxes = [_box(s, d) for s in segments]
    found: list[tuple[float, float]] = []
    for i, (a, b) in enumerate(zip(line.points, line.points[1:])):
        edge_box = _box((a, b), 0.0)
        span = line.along[i + 1] - line.along[i]
        for (p, q), box in zip(segments, boxes):
            if not _meets(edge_box, box):
                continue
            hit = clip(a, b, p, q, d)
            if hit is not None:
                found.append((line.along[i] + hit[0] * span, line.along[i] + hit[1] * span))
    found.sort()
    merged: list[tuple[float, float]] = []
    for lo, hi in found:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def complement(intervals: Sequence[tuple[float, float]], length: float,
               minimum: float = MIN_GAP_M) -> list[tuple[float, float]]:
    """The parts of [0, length] outside the merged `intervals`, each longer than `minimum`."""
    out, pos = [], 0.0
    for lo, hi in [*intervals, (length, length)]:
        if lo - pos > minimum:
            out.append((pos, min(lo, length)))
        pos = max(pos, hi)
    return out


# --- the answer --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Gap:
    start_m: float  # distance along the section's line where it begins
    end_m: float
    line: tuple[tuple[float, float], ...]  # (lon, lat)
    since: datetime | None  # the last time anything came within the distance of it; None: not since `horizon`

    @property
    def length_m(self) -> float:
        return self.end_m - self.start_m

    def to_doc(self) -> dict[str, Any]:
        return {"from_m": round(self.start_m, 1), "to_m": round(self.end_m, 1), "length_m": round(self.length_m, 1),
                "geometry": {"type": "LineString", "coordinates": [[round(x, 7), round(y, 7)] for x, y in self.line]},
                "since": to_text(self.since) if self.since is not None else None}


@dataclass(frozen=True, slots=True)
class Coverage:
    line: tuple[tuple[float, float], ...]  # (lon, lat): the line assessed
    length_m: float
    distance_m: int
    start: datetime
    end: datetime
    horizon: datetime  # `since` was looked for back to here
    gaps: tuple[Gap, ...]

    @property
    def covered_m(self) -> float:
        return self.length_m - sum(g.length_m for g in self.gaps)

    def to_doc(self) -> dict[str, Any]:
        fraction = self.covered_m / self.length_m if self.length_m > 0 else 1.0
        return {"distance_m": self.distance_m, "from": to_text(self.start), "to": to_text(self.end),
                "since_searched_from": to_text(self.horizon),
                "line": {"type": "LineString", "coordinates": [[round(x, 7), round(y, 7)] for x, y in self.line]},
                "length_m": round(self.length_m, 1), "covered_m": round(self.covered_m, 1),
                "covered_fraction": round(fraction, 4), "gaps": [g.to_doc() for g in self.gaps]}


def section_line(geometry: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The (lon, lat) line a section is assessed along: a LineString itself, a Polygon's axis."""
    if geometry["type"] == "LineString":
        return [(float(p[0]), float(p[1])) for p in geometry["coordinates"]]
    return strip_axis([(float(p[0]), float(p[1])) for p in geometry["coordinates"][0]])


def plane_of(points: Sequence[tuple[float, float]]) -> Plane:
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return Plane((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)


def coverage(line: Sequence[tuple[float, float]], legs: Iterable[Leg], *, distance_m: int, start: datetime,
             end: datetime, horizon: datetime | None = None) -> Coverage:
    """The gaps of `line` ((lon, lat) vertices) in the window [start, end]: the legs with both
    fixes in the window cover; those that ended before it (back to `horizon`) tell each gap's
    `since`. A leg across the window's start is in neither (see the module's note on tracks)."""
    d = float(check_distance(distance_m))
    plane = plane_of(line)
    flat = Line([plane.xy(*p) for p in line])
    inside: list[tuple[Point, Point]] = []
    before: list[tuple[Leg, Point, Point]] = []
    horizon = start if horizon is None else min(horizon, start)
    for piece in legs:
        p, q = plane.xy(piece.start.lon, piece.start.lat), plane.xy(piece.end.lon, piece.end.lat)
        if start <= piece.start.at and piece.end.at <= end:
            inside.append((p, q))
        elif horizon <= piece.start.at and piece.end.at < start:
            before.append((piece, p, q))
    holes = complement(covered_intervals(flat, inside, d), flat.length)
    gaps = []
    for s0, s1 in holes:
        points = flat.piece(s0, s1)
        gaps.append(Gap(s0, s1, tuple(plane.lonlat(*p) for p in points), _last_near(points, before, d)))
    return Coverage(tuple(line), flat.length, int(d), start, end, horizon, tuple(gaps))


def _last_near(points: Sequence[Point], legs: Sequence[tuple[Leg, Point, Point]], d: float) -> datetime | None:
    """The latest time a unit moving along one of `legs` was within d of the polyline `points`:
    the latest parameter of the leg inside any edge's capsule, as a time between its fixes."""
    last: datetime | None = None
    box = _box(points, d)
    for piece, p, q in legs:
        if not _meets(box, _box((p, q), 0.0)) or (last is not None and piece.end.at <= last):
            continue
        for a, b in zip(points, points[1:]):
            hit = clip(p, q, a, b, d)
            if hit is not None:
                when = piece.start.at + (piece.end.at - piece.start.at) * hit[1]
                last = when if last is None else max(last, when)
    return last


# --- the axis of a strip -----------------------------------------------------------------------
_AXIS_SAMPLES = 48


def _resample(points: Sequence[tuple[float, float]], fractions: Sequence[float]) -> list[tuple[float, float]]:
    line = Line(points)
    return [line.at(f * line.length) for f in fractions]


def strip_axis(ring: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The midline of a strip-shaped polygon ring ((lon, lat), closed): the ring is cut at two of
    its edges (the strip's ends) into two sides, and the axis runs through the midpoints of the
    sides' points at the same fraction of their length.

    The ends chosen are those whose two sides are most nearly one line shifted across the strip:
    the least spread of the vectors between matched points (zero for a strip drawn as its axis
    moved east and west, as the demo's are), plus a tenth of their mean length so that of a
    rectangle's two splits the one across its width wins; both over the sides' mean length.
    The mean distance alone, or how square the matched vectors stand on the axis, picked
    a side and an end together on the demo's strips (tests/test_coverage_domain.py)."""
    pts = list(ring[:-1]) if len(ring) > 1 and ring[0] == ring[-1] else list(ring)
    n = len(pts)
    if n < 4:
        return [*pts, pts[0]] if pts else []
    plane = plane_of(pts)
    flat = [plane.xy(*p) for p in pts]
    fractions = [i / (_AXIS_SAMPLES - 1) for i in range(_AXIS_SAMPLES)]
    # Rings drawn by hand have tens of vertices; past that, only the shortest edges are tried as ends.
    edges = sorted(range(n), key=lambda i: math.dist(flat[i], flat[(i + 1) % n]))[:60]
    best: tuple[float, list[Point], list[Point]] | None = None
    for e1, e2 in itertools.combinations(edges, 2):
        side_a = [flat[(e1 + 1 + k) % n] for k in range((e2 - e1 - 1) % n + 1)]  # vertex e1+1 .. e2
        side_b = [flat[(e1 - k) % n] for k in range((e1 - e2 - 1) % n + 1)]  # vertex e1 back to e2+1
        if len(side_a) < 2 or len(side_b) < 2 or not Line(side_a).length or not Line(side_b).length:
            continue
        ra, rb = _resample(side_a, fractions), _resample(side_b, fractions)
        across = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(ra, rb)]
        mx, my = sum(v[0] for v in across) / len(across), sum(v[1] for v in across) / len(across)
        spread = sum(math.hypot(v[0] - mx, v[1] - my) for v in across) / len(across)
        width = sum(math.hypot(*v) for v in across) / len(across)
        cost = (spread + 0.1 * width) / ((Line(side_a).length + Line(side_b).length) / 2)
        if best is None or cost < best[0]:
            best = (cost, side_a, side_b)
    if best is None:
        return [*pts, pts[0]]
    _, side_a, side_b = best
    # Every vertex of either side marks a bend of the axis.
    marks = sorted({*(s / Line(side_a).length for s in Line(side_a).along),
                    *(s / Line(side_b).length for s in Line(side_b).along)})
    ra, rb = _resample(side_a, marks), _resample(side_b, marks)
    return [plane.lonlat((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(ra, rb)]
