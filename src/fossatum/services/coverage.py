"""What unit tracks tell about the ground (issue 12): a section's coverage gaps.

Derived objects under need-to-know: computed only from the positions the viewer may see (the
store's `unit_fixes` reads through the same viewer filter as the units themselves), so a
country whose units' positions were not released to the viewer leaves its ground uncovered in
the viewer's answer, and the answer reveals nothing of where those units went.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ..domain import coverage as cov
from ..domain.org import User
from ..domain.timeutil import parse, to_text
from ..errors import NotFound
from ..store.query import BBox, FixRow
from .context import Context

# How far back a gap's `since` is looked for: the longest window one may ask for. Older than
# that, a gap's `since` is null ("not in the last 7 days"), and the read stays bounded.
LOOKBACK = timedelta(hours=cov.HOURS_RANGE[1])


def _box(points: Sequence[tuple[float, float]], pad_m: float) -> BBox:
    """(min_lon, min_lat, max_lon, max_lat) of `points` widened by `pad_m` metres (and 1 % more:
    the plane's scale is not the same at the box's edges as at its centre)."""
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    plane = cov.plane_of(points)
    pad = pad_m * 1.01 + 1.0
    # A degree of longitude is shortest at the box's highest latitude: pad with the most degrees, there.
    at_equator = plane.kx / math.cos(math.radians(plane.lat0))
    highest = min(max(abs(min(lats)), abs(max(lats))) + pad / plane.ky, 89.0)
    dlon = pad / (at_equator * math.cos(math.radians(highest)))
    return min(lons) - dlon, min(lats) - pad / plane.ky, max(lons) + dlon, max(lats) + pad / plane.ky


def _legs(rows: list[FixRow]) -> list[cov.Leg]:
    out = []
    for unit, at, lon, lat, next_at, next_lon, next_lat in rows:
        fix = cov.Fix(unit, parse(at, field="at"), lon, lat)
        following = (cov.Fix(unit, parse(next_at, field="at"), next_lon, next_lat)
                     if next_at is not None and next_lon is not None and next_lat is not None else None)
        out.append(cov.leg(fix, following))
    return out


class Coverage:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def section_coverage(self, *, viewer: User, section_id: str, hours: int = cov.DEFAULT_HOURS,
                         distance_m: int = cov.DEFAULT_DISTANCE_M) -> dict[str, Any]:
        """The stretches of the section's line that no unit the viewer may see came within
        `distance_m` of in the last `hours`, each with since when (domain/coverage.py)."""
        hours, distance_m = cov.check_hours(hours), cov.check_distance(distance_m)
        raw = self.ctx.store.section_doc(viewer, section_id)
        if raw is None:
            raise NotFound(f"no section {section_id}")
        line = cov.section_line(json.loads(raw)["geometry"])
        end = self.ctx.clock()
        start, horizon = end - timedelta(hours=hours), end - LOOKBACK
        store = self.ctx.store
        inside = _legs(store.unit_fixes(viewer, since=to_text(start), until=to_text(end),
                                        bbox=_box(line, distance_m)))
        found = cov.coverage(line, inside, distance_m=distance_m, start=start, end=end, horizon=horizon)
        if found.gaps and horizon < start:
            # Since when each gap has been one: the earlier positions near the gaps only.
            near = _box([p for gap in found.gaps for p in gap.line], distance_m)
            before = _legs(store.unit_fixes(viewer, since=to_text(horizon), until=to_text(start), bbox=near))
            found = cov.coverage(line, [*inside, *before], distance_m=distance_m, start=start, end=end,
                                 horizon=horizon)
        return {"section": section_id, "hours": hours, **found.to_doc()}
