"""A patrol's progress (issue 12): the actual track of each of its units while it runs, and each
border rendezvous met, missed or pending — derived from the units' positions, never stored.

Pure: the caller brings the patrol, the fixes the viewer may see of its units and of the units
that came near its rendezvous points, each such unit's country, and the time now (services/
read them; a unit the viewer may not see is simply absent, so its rendezvous show as not met
rather than revealing where it was).

Whose units meet: any units of the rendezvous' two countries, not only those listed in the
patrol. A patrol is planned by one country and lists the units that country may task; the
partner's units that come to meet it are tasked at the partner's node.

When a rendezvous is met: units of its two countries were within `radius_m` (default 300 m) of
the point *at the same moment*, some time in the window `at ± window` (default ± 30 min; the
patrol's whole schedule when the rendezvous has no time). A unit is taken to move in a straight
line between two fixes at most `coverage.MAX_GAP` apart (the rule of domain/coverage.py), so a
unit waiting at the point, reporting every minute, is there all along, and its presence is the
exact time interval its track spends inside the circle; a lone fix is there for an instant only.
One country's unit passing an hour before the other's is no meeting. `met_at`: the first moment
both were there.

Missed: the window has ended without a meeting. Pending: not met yet and the window is still open
(or has not begun).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ..errors import InvalidInput
from .coverage import Fix, Leg, Plane, clip, legs
from .patrol import Patrol, Waypoint
from .timeutil import parse, to_text

DEFAULT_RADIUS_M = 300
RADIUS_RANGE_M = (25, 5000)
DEFAULT_WINDOW = timedelta(minutes=30)

Interval = tuple[datetime, datetime]


class Rendezvous(StrEnum):
    MET = "met"
    MISSED = "missed"
    PENDING = "pending"


def check_radius(value: object) -> int:
    low, high = RADIUS_RANGE_M
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"expected whole metres from {low} to {high}", field="radius_m")
    return value


@dataclass(frozen=True, slots=True)
class Track:
    unit: str
    country: str
    fixes: tuple[Fix, ...]  # in time order, within the patrol's schedule

    def to_doc(self) -> dict[str, Any]:
        coords = [[f.lon, f.lat] for f in self.fixes]
        return {"unit": self.unit, "country": self.country, "fixes": len(self.fixes),
                "first": to_text(self.fixes[0].at) if self.fixes else None,
                "last": to_text(self.fixes[-1].at) if self.fixes else None,
                "geometry": {"type": "LineString", "coordinates": coords} if len(coords) > 1 else
                            {"type": "Point", "coordinates": coords[0]} if coords else None}


@dataclass(frozen=True, slots=True)
class RendezvousState:
    point: Waypoint
    window: Interval
    status: Rendezvous
    met_at: datetime | None
    units: tuple[str, ...]  # the units present at `met_at`

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.point.name, "lon": self.point.lon, "lat": self.point.lat,
                "countries": list(self.point.countries), "at": self.point.at,
                "window": {"from": to_text(self.window[0]), "to": to_text(self.window[1])},
                "status": self.status.value, "met_at": to_text(self.met_at) if self.met_at is not None else None,
                "units": list(self.units)}


@dataclass(frozen=True, slots=True)
class Progress:
    patrol: str
    now: datetime
    radius_m: int
    tracks: tuple[Track, ...]
    rendezvous: tuple[RendezvousState, ...]

    def to_doc(self) -> dict[str, Any]:
        return {"patrol": self.patrol, "at": to_text(self.now), "radius_m": self.radius_m,
                "tracks": [t.to_doc() for t in self.tracks], "rendezvous": [r.to_doc() for r in self.rendezvous]}


def presence(point: tuple[float, float], unit_legs: Iterable[Leg], radius_m: float) -> list[Interval]:
    """The time intervals during which a unit moving along `unit_legs` was within `radius_m` of
    `point` ((lon, lat)), merged, in time order."""
    plane = Plane(*point)
    centre = (0.0, 0.0)
    found: list[Interval] = []
    for piece in unit_legs:
        p, q = plane.xy(piece.start.lon, piece.start.lat), plane.xy(piece.end.lon, piece.end.lat)
        hit = clip(p, q, centre, centre, radius_m)
        if hit is not None:
            span = piece.end.at - piece.start.at
            found.append((piece.start.at + span * hit[0], piece.start.at + span * hit[1]))
    found.sort()
    merged: list[Interval] = []
    for lo, hi in found:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _first_together(a: Sequence[tuple[Interval, str]], b: Sequence[tuple[Interval, str]],
                    window: Interval) -> tuple[datetime, tuple[str, str]] | None:
    """The first moment in `window` an interval of `a` and one of `b` overlap, and whose they are."""
    best: tuple[datetime, tuple[str, str]] | None = None
    for (a0, a1), unit_a in a:
        for (b0, b1), unit_b in b:
            start, end = max(a0, b0, window[0]), min(a1, b1, window[1])
            if start <= end and (best is None or start < best[0]):
                best = (start, (unit_a, unit_b))
    return best


def progress(patrol: Patrol, fixes: Iterable[Fix], countries: Mapping[str, str], *, now: datetime,
             radius_m: int = DEFAULT_RADIUS_M, window: timedelta = DEFAULT_WINDOW) -> Progress:
    """The patrol's progress at `now` from `fixes` of the units in `countries` (unit -> country;
    fixes of other units are ignored): the tracks of the patrol's units among them within its
    schedule, and the rendezvous of any of them (fixes after `now` are not yet)."""
    radius = check_radius(radius_m)
    start, end = parse(patrol.planned_start, field="planned_start"), parse(patrol.planned_end, field="planned_end")
    by_unit: dict[str, list[Fix]] = {}
    for fix in fixes:
        if fix.unit in countries and fix.at <= now:
            by_unit.setdefault(fix.unit, []).append(fix)
    ours = [u for u in patrol.units if u in countries]
    tracks = tuple(Track(u, countries[u], tuple(sorted((f for f in by_unit.get(u, ()) if start <= f.at <= end),
                                                       key=lambda f: f.at))) for u in ours)
    unit_legs = {u: legs(unit_fixes) for u, unit_fixes in by_unit.items()}
    states = []
    for point in patrol.rendezvous():
        span = (start, end) if point.at is None else \
            (parse(point.at, field="at") - window, parse(point.at, field="at") + window)
        there = {c: [(interval, u) for u in sorted(unit_legs) if countries[u] == c
                     for interval in presence((point.lon, point.lat), unit_legs[u], radius)]
                 for c in point.countries}
        first, second = point.countries
        met = _first_together(there[first], there[second], (span[0], min(span[1], now)))
        if met is not None:
            states.append(RendezvousState(point, span, Rendezvous.MET, met[0], met[1]))
        else:
            status = Rendezvous.MISSED if now > span[1] else Rendezvous.PENDING
            states.append(RendezvousState(point, span, status, None, ()))
    return Progress(patrol.id, now, radius, tracks, tuple(states))


def rendezvous_windows(patrol: Patrol, *, window: timedelta = DEFAULT_WINDOW) -> list[tuple[Waypoint, Interval]]:
    """Each rendezvous and the time in which it can be met (what a caller reads positions for)."""
    start, end = parse(patrol.planned_start, field="planned_start"), parse(patrol.planned_end, field="planned_end")
    return [(p, (start, end) if p.at is None else (parse(p.at, field="at") - window, parse(p.at, field="at") + window))
            for p in patrol.rendezvous()]
