"""Report queries: the filters a COP or a list asks for, as portable SQL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.timeutil import parse, to_text
from ..errors import InvalidInput

BBox = tuple[float, float, float, float]
# (unit, at, lon, lat, next_at, next_lon, next_lat): a position and the unit's next one (`unit_fixes`)
FixRow = tuple[str, str, float, float, str | None, float | None, float | None]
# (alias, bbox, since, until) -> SQL selecting exactly the reports in the box and the time
# window, through the backend's space-time index (each backend words the exact window so
# that its planner keeps to that index)
SpatialSQL = Callable[[str, BBox, str | None, str | None], tuple[str, list[object]]]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    bbox: BBox | None = None
    since: str | None = None
    until: str | None = None
    types: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    grade_sources: tuple[str, ...] = ()     # Admiralty source reliability, A-F
    credibilities: tuple[int, ...] = ()     # Admiralty information credibility, 1-6
    impacts: tuple[str, ...] = ()
    text: str | None = None
    updated_since: str | None = None
    after: tuple[str, str] | None = None  # (observed_at, id) of the last item of the previous page
    limit: int = 100


def encode_cursor(observed_at: str, report_id: str) -> str:
    return base64.urlsafe_b64encode(f"{observed_at}|{report_id}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        observed_at, report_id = raw.split("|", 1)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("not a cursor returned by this API", field="cursor") from None
    return observed_at, report_id


def _any_of(column: str, values: tuple[object, ...]) -> tuple[str, list[object]]:
    return f" AND {column} IN ({', '.join('?' for _ in values)})", list(values)


def time_window(alias: str, since: str | None, until: str | None, *, collate: str = "") -> str:
    """" AND ..." for since <= observed_at < until (params: since, until, those set).

    `collate` (e.g. ' COLLATE "C"') compares as bytes, as SQLite does, whatever the
    database's collation; on PostgreSQL it also keeps the planner off the observed_at
    btree when the space-time index already covers the window."""
    sql = f" AND {alias}.observed_at{collate} >= ?" if since else ""
    return sql + (f" AND {alias}.observed_at{collate} < ?" if until else "")


def report_filters(
    q: ReportQuery, *, alias: str, spatial: SpatialSQL, paging: bool = True,
    unlinked: Callable[[str], str] | None = None,
    document: tuple[str, list[object]] | None = None,
) -> tuple[str, list[object]]:
    """(" AND ...", params) for every filter set in `q`."""
    sql: list[str] = []
    params: list[object] = []
    if q.bbox is not None:
        clause, p = spatial(alias, q.bbox, q.since, q.until)
        sql.append(f" AND {clause}")
        params += p
    else:
        sql.append(time_window(alias, q.since, q.until))
        params += [t for t in (q.since, q.until) if t]
    for column, values in (("type", q.types), ("state", q.states), ("layer", q.layers),
                           ("owner_agency", q.agencies), ("owner_country", q.countries),
                           ("grade_source", q.grade_sources), ("grade_info", q.credibilities),
                           ("impact", q.impacts)):
        if values:
            clause, p = _any_of(f"{alias}.{column}", values)
            sql.append(clause)
            params += p
    if q.updated_since:
        sql.append(f" AND {alias}.updated_at >= ?")
        params.append(q.updated_since)
    if q.text:
        # Plain substring search over the stored document (description, SALUTE, reaction);
        # LIKE special characters are escaped so that a user's '%' is a '%'.
        needle = q.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # `document`: the version the viewer reads (a partner searches the released text only).
        column, cparams = document or (f"{alias}.doc", [])
        sql.append(f" AND {column} LIKE ? ESCAPE '\\'")
        params += [*cparams, f"%{needle}%"]
        if unlinked is not None:
            # Never a match inside `links`: searching for a report's id must not tell whether a
            # visible report follows up on it (links are redacted per viewer: policy/redact.py).
            # Documents without links (most) skip the JSON work.
            sql.append(f" AND ({column} LIKE '%\"links\":[]%' OR {unlinked(column)} LIKE ? ESCAPE '\\')")
            params += [*cparams, *cparams, f"%{needle}%"]
    if paging and q.after is not None:
        sql.append(f" AND ({alias}.observed_at < ? OR ({alias}.observed_at = ? AND {alias}.id < ?))")
        params += [q.after[0], q.after[0], q.after[1]]
    return "".join(sql), params


# --- time slices: the newest `limit` matches of a box + window without sorting them all ---
#
# A COP box over a long window can hold far more matches than the page wants (10 M reports:
# ~15,000 in a 0.5° box over 24 h, on ~10,000 heap pages), and the space-time index yields
# them unordered, so the one-shot query fetches them all to sort before its LIMIT. Reports
# are observed about when they are filed, so the newest part of the window holds the page:
# query [top - w0, top) first, then older slices until the page is full. The slices are
# disjoint half-open windows that tile [since, top) exactly, each queried with the same
# filters and ordered (observed_at DESC, id DESC), so their concatenation is the one-shot
# query's answer row for row.

MIN_SLICE = timedelta(minutes=5)
SLICES_PER_WINDOW = 32   # the first slice is 1/32 of the window (at least MIN_SLICE)
MAX_GROWTH = 8           # a later slice is at most 8x the time already covered ...
TRUSTED_SAMPLE = 16      # ... unless this many rows already gave the density
HEADROOM = 1.1          # slack on the density estimate, so that one more slice usually ends it
GRAIN = 8                # later slices are whole multiples of w0/8: bounds on one grid, little overshoot
# Each slice is one more probe of the space-time index (~4 ms at 1 M reports), a loss where
# the whole window holds about a page. So the store keeps the density the last COP read
# found (visible rows per second and square degree): a window expected to hold less than
# SPARSE pages is read in one query, a denser one starts with a first slice expected to hold
# PRIOR_SHARE of the page (too small costs one more probe; too large, rows read for nothing).
SPARSE = 1.5
PRIOR_SHARE = 0.7


def canonical_instant(text: str | None) -> datetime | None:
    """The instant of a stored-form timestamp (`to_text`'s fixed width), else None: only
    those compare bytewise like time, which is what a slice bound must do."""
    if text is None:
        return None
    try:
        instant = parse(text, field="time")
    except InvalidInput:
        return None
    return instant if to_text(instant) == text else None


@dataclass(slots=True)
class TimeSlices:
    """Plans the slices of one query, newest first; `first()`, then `next(found)` with the
    number of rows collected so far, until it returns None (the window is covered).

    Bounds are `to_text` strings at top - k*grain (grain = w0/8), the first slice keeps the
    query's own `until` (None: open end) and the last its `since`."""

    since: str
    since_at: datetime
    top: datetime
    until: str | None      # the first slice's upper bound, as given (or the cursor's)
    width: timedelta       # w0 (the whole window: one query)
    grain: timedelta
    wanted: int
    area: float            # of the box, in square degrees
    covered: timedelta = timedelta(0)
    step: timedelta = timedelta(0)

    @classmethod
    def plan(cls, q: ReportQuery, now: datetime, density: float | None = None) -> TimeSlices | None:
        """The plan for `q`, or None where slicing cannot help or cannot be exact: no box
        (the observed_at btree already yields newest first), no `since`, bounds not in
        stored form, or a cursor before the window. A short or (by `density`) sparse window
        gets a plan of one slice, the whole window."""
        since_at = canonical_instant(q.since)
        if q.bbox is None or q.since is None or since_at is None:
            return None
        until = q.until
        top = canonical_instant(until) if until is not None else now
        if top is None:
            return None
        after = canonical_instant(q.after[0]) if q.after is not None else None
        if after is not None and after + _TICK < top:
            # Rows of the page after the cursor are at or before its instant: start there.
            top, until = after + _TICK, to_text(after + _TICK)
        window = top - since_at
        if window <= timedelta(0):
            return None
        x0, y0, x1, y1 = q.bbox
        area = max((x1 - x0) * (y1 - y0), 1e-9)
        wanted = q.limit + 1
        width = max(MIN_SLICE, window / SLICES_PER_WINDOW)
        if density is not None:
            expected = density * window.total_seconds() * area
            width = window if expected <= SPARSE * wanted else max(MIN_SLICE, window * (PRIOR_SHARE * wanted / expected))
        if window <= 2 * width:
            width = window
        return cls(q.since, since_at, top, until, width, width / GRAIN, wanted, area)

    @property
    def single(self) -> bool:
        """One slice, the whole window: the query as asked."""
        return self.width >= self.top - self.since_at

    def first(self) -> tuple[str, str | None]:
        self.covered = self.step = self.width
        return (self.since if self.single else to_text(self.top - self.width)), self.until

    def density(self, found: int) -> float | None:
        """What this read says of the density for the next plan: exact when it covered the
        window short of a page; a lower bound when slices filled the page; nothing when one
        query filled it (the window was denser than thought: slice the next one)."""
        if found >= self.wanted and self.single:
            return None
        window = self.top - self.since_at
        covered = window if self.single else min(self.covered, window)  # the last slice ends at `since`
        return found / (max(covered.total_seconds(), 1e-3) * self.area)

    def next(self, found: int) -> tuple[str, str] | None:
        """The next older slice, sized from the density seen so far, or None at `since`."""
        hi = self.top - self.covered
        if hi <= self.since_at:
            return None
        if found == 0:
            step = self.step * 4
        else:
            step = self.covered * ((self.wanted - found) / found) * HEADROOM
            if found < TRUSTED_SAMPLE:  # a handful of rows says little about the density
                step = min(step, self.covered * MAX_GROWTH)
        if step >= (hi - self.since_at) / 2:
            step = hi - self.since_at  # most of what is left: one query for all of it
        step = max(step, self.width)
        # Whole grains keep the bounds on one grid (and the plans reproducible).
        self.step = self.grain * -(-step // self.grain)
        self.covered += self.step
        lo = self.top - self.covered
        return (self.since if lo <= self.since_at else to_text(lo)), to_text(hi)


_TICK = timedelta(microseconds=1)  # the resolution of stored instants
