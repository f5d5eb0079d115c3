"""Coverage gaps of a border section (domain/coverage.py): exact intervals of the section's line
that no unit track came within the distance of in a window, and since when."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fossatum.domain.coverage import (
    MAX_GAP,
    Fix,
    Leg,
    Line,
    check_distance,
    check_hours,
    clip,
    coverage,
    legs,
    plane_of,
    section_line,
)
from fossatum.errors import InvalidInput

END = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
START = END - timedelta(hours=24)
LINE = [(8.30, 35.50), (8.40, 35.50)]  # about 9.07 km east-west
PLANE = plane_of(LINE)


def at_xy(x: float, y: float, when: datetime, unit: str = "u1") -> Fix:
    """A fix given in metres on the section's own plane (so that distances are exact)."""
    lon, lat = PLANE.lonlat(x, y)
    return Fix(unit, when, lon, lat)


def length() -> float:
    return Line([PLANE.xy(*p) for p in LINE]).length


def test_a_unit_driving_along_the_whole_section_covers_it() -> None:
    total = length()
    fixes = [at_xy(-total / 2 + total * i / 30, 0.0, START + timedelta(hours=1, minutes=i)) for i in range(31)]
    result = coverage(LINE, legs(fixes), distance_m=500, start=START, end=END)
    assert result.gaps == ()
    assert result.to_doc()["covered_fraction"] == 1.0
    assert result.to_doc()["length_m"] == pytest.approx(total, abs=0.1)


def test_nothing_seen_the_whole_line_is_a_gap_never_covered_since_the_horizon() -> None:
    horizon = END - timedelta(hours=168)
    result = coverage(LINE, [], distance_m=500, start=START, end=END, horizon=horizon)
    (gap,) = result.gaps
    assert (gap.start_m, gap.end_m) == (0.0, pytest.approx(length()))
    doc = result.to_doc()
    assert doc["covered_fraction"] == 0.0 and doc["gaps"][0]["since"] is None
    assert doc["since_searched_from"] == "2026-11-30T06:00:00.000000Z"
    assert doc["gaps"][0]["geometry"]["coordinates"] == [[8.3, 35.5], [8.4, 35.5]]


def test_one_fix_covers_exactly_the_stretch_within_the_distance_of_it() -> None:
    total = length()
    # 300 m off the line, 2 km from its west end: covers 2000 ± sqrt(500² - 300²) = 2000 ± 400 m.
    fix = at_xy(-total / 2 + 2000, 300.0, START + timedelta(hours=3))
    result = coverage(LINE, [Leg(fix, fix)], distance_m=500, start=START, end=END)
    first, second = result.gaps
    assert (first.start_m, first.end_m) == (0.0, pytest.approx(1600, abs=1e-6))
    assert (second.start_m, second.end_m) == (pytest.approx(2400, abs=1e-6), pytest.approx(total))
    assert result.covered_m == pytest.approx(800, abs=1e-6)


@pytest.mark.parametrize(("offset", "covered"), [(500 - 0.01, True), (500 + 0.01, False)])
def test_a_fix_just_inside_or_outside_the_distance(offset: float, covered: bool) -> None:
    fix = at_xy(0.0, -offset, START + timedelta(hours=3))
    result = coverage(LINE, [Leg(fix, fix)], distance_m=500, start=START, end=END)
    assert (len(result.gaps) == 2) is covered
    assert (result.covered_m > 0) is covered


def test_two_fixes_further_apart_in_time_than_max_gap_cover_only_around_themselves() -> None:
    total = length()
    west, east = -total / 2, total / 2
    close = [at_xy(west, 0, START), at_xy(east, 0, START + MAX_GAP)]
    assert coverage(LINE, legs(close), distance_m=500, start=START, end=END).gaps == ()
    apart = [at_xy(west, 0, START), at_xy(east, 0, START + MAX_GAP + timedelta(seconds=1))]
    (gap,) = coverage(LINE, legs(apart), distance_m=500, start=START, end=END).gaps
    assert (gap.start_m, gap.end_m) == (pytest.approx(500), pytest.approx(total - 500))


def test_since_is_the_last_time_a_unit_came_within_the_distance_before_the_window() -> None:
    total = length()
    # Three hours before the window a unit drove north across the line's middle at 1 m/s:
    # it came within 500 m of the line 500 s after its first fix, 1000 m south of it.
    t0 = START - timedelta(hours=3)
    crossing = Leg(at_xy(0, -1000, t0), at_xy(0, 1000, t0 + timedelta(seconds=2000)))
    older = Leg(at_xy(-total / 2, 0, t0 - timedelta(hours=5)), at_xy(-total / 2, 0, t0 - timedelta(hours=5)))
    (gap,) = coverage(LINE, [crossing, older], distance_m=500, start=START, end=END,
                      horizon=END - timedelta(hours=168)).gaps
    assert gap.since == t0 + timedelta(seconds=1500)  # the last moment within 500 m: 500 m north of it
    # A leg across the window's start counts neither for the window nor for `since`.
    across = Leg(at_xy(0, 0, START - timedelta(minutes=1)), at_xy(0, 0, START + timedelta(minutes=1)))
    (gap,) = coverage(LINE, [across], distance_m=500, start=START, end=END).gaps
    assert gap.since is None and gap.length_m == pytest.approx(total)


def test_since_is_per_stretch() -> None:
    total = length()
    seen_west = at_xy(-total / 2 + 1000, 0, START - timedelta(hours=2))
    seen_east = at_xy(total / 2 - 1000, 0, START - timedelta(hours=30))
    middle = at_xy(0, 0, START + timedelta(hours=1))
    gaps = coverage(LINE, [Leg(f, f) for f in (seen_west, seen_east, middle)], distance_m=500, start=START,
                    end=END, horizon=END - timedelta(hours=168)).gaps
    assert [g.since for g in gaps] == [seen_west.at, seen_east.at]


def test_the_axis_of_the_demo_strips_is_the_border_line() -> None:
    border = json.loads(resources.files("fossatum.demo").joinpath("border.json").read_text(encoding="utf-8"))
    for section in border["sections"]:
        axis = section_line(section["geometry"])
        plane = plane_of(axis)
        line = Line([plane.xy(*p) for p in border["border_line"]])
        for point in axis:
            x, y = plane.xy(*point)
            # distance to the border line, by its edges
            nearest = min(_point_segment(x, y, a, b) for a, b in zip(line.points, line.points[1:]))
            assert nearest < 15, (section["id"], point, nearest)


def _point_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    vx, vy = b[0] - a[0], b[1] - a[1]
    t = max(0.0, min(1.0, ((x - a[0]) * vx + (y - a[1]) * vy) / (vx * vx + vy * vy or 1.0)))
    return math.hypot(x - a[0] - t * vx, y - a[1] - t * vy)


def test_a_line_section_is_assessed_along_itself() -> None:
    assert section_line({"type": "LineString", "coordinates": [[8.3, 35.5], [8.4, 35.6]]}) == [(8.3, 35.5),
                                                                                              (8.4, 35.6)]


def test_a_rectangle_strip_s_axis_runs_along_its_length() -> None:
    ring = [(8.0, 35.0), (8.01, 35.0), (8.01, 35.3), (8.0, 35.3), (8.0, 35.0)]
    axis = section_line({"type": "Polygon", "coordinates": [[list(p) for p in ring]]})
    assert {round(lon, 6) for lon, _ in axis} == {8.005}
    assert sorted(round(lat, 6) for _, lat in axis)[::len(axis) - 1] == [35.0, 35.3]


@pytest.mark.parametrize("value", [49, 5001, 0, -1, 500.5, True, "500", None])
def test_distance_outside_its_range_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_distance(value)
    assert caught.value.field == "distance_m"


@pytest.mark.parametrize("value", [0, 169, 1.5, False])
def test_hours_outside_its_range_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_hours(value)
    assert caught.value.field == "hours"
    assert check_hours(1) == 1 and check_hours(168) == 168 and check_distance(50) == 50


# --- properties ---------------------------------------------------------------------------------
coord = st.floats(-8000, 8000, allow_nan=False)
xy = st.tuples(coord, coord)
lines = st.lists(xy, min_size=2, max_size=6).filter(lambda ps: Line(ps).length > 10)
distances = st.integers(50, 5000)


def lonlat_line(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [PLANE.lonlat(*p) for p in points]


def reprojected(line: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points as the section's own plane (centred on its box) sees them."""
    plane = plane_of(line)
    return [plane.xy(*p) for p in line]


def fixes_at(line: list[tuple[float, float]], points: list[tuple[float, float]], unit: str = "u1",
             step: timedelta = timedelta(seconds=30)) -> list[Fix]:
    plane = plane_of(line)
    return [Fix(unit, START + timedelta(hours=1) + i * step, *plane.lonlat(*p)) for i, p in enumerate(points)]


@settings(max_examples=60, deadline=None)
@given(lines, distances, st.integers(1, 40))
def test_driving_along_the_whole_line_covers_all_of_it(points: list[tuple[float, float]], d: int,
                                                       per_edge: int) -> None:
    line = lonlat_line(points)
    flat = reprojected(line)
    path = [flat[0]]
    for a, b in zip(flat, flat[1:]):
        path += [(a[0] + (b[0] - a[0]) * k / per_edge, a[1] + (b[1] - a[1]) * k / per_edge)
                 for k in range(1, per_edge + 1)]
    result = coverage(line, legs(fixes_at(line, path)), distance_m=d, start=START, end=END)
    assert result.gaps == ()


legs_xy = st.lists(st.tuples(xy, xy, st.booleans()), max_size=12)


def to_legs(line: list[tuple[float, float]], drawn: list[tuple[tuple[float, float], tuple[float, float], bool]]
            ) -> list[Leg]:
    plane = plane_of(line)
    out = []
    for i, (p, q, lone) in enumerate(drawn):
        start = Fix(f"u{i}", START + timedelta(hours=2, minutes=i), *plane.lonlat(*p))
        out.append(Leg(start, start) if lone else
                   Leg(start, Fix(f"u{i}", start.at + timedelta(minutes=5), *plane.lonlat(*q))))
    return out


def inside_some(gap: tuple[float, float], gaps: list[tuple[float, float]]) -> bool:
    return any(lo - 1e-6 <= gap[0] and gap[1] <= hi + 1e-6 for lo, hi in gaps)


@settings(max_examples=80, deadline=None)
@given(lines, distances, legs_xy, st.data())
def test_removing_positions_never_shrinks_a_gap(points: list[tuple[float, float]], d: int,
                                                drawn: list[tuple[tuple[float, float], tuple[float, float], bool]],
                                                data: st.DataObject) -> None:
    line = lonlat_line(points)
    every = to_legs(line, drawn)
    kept = [leg for leg in every if data.draw(st.booleans())]
    with_all = [(g.start_m, g.end_m) for g in coverage(line, every, distance_m=d, start=START, end=END).gaps]
    with_fewer = [(g.start_m, g.end_m) for g in coverage(line, kept, distance_m=d, start=START, end=END).gaps]
    assert all(inside_some(g, with_fewer) for g in with_all)


@settings(max_examples=80, deadline=None)
@given(lines, distances, legs_xy)
def test_gaps_agree_with_the_distance_measured_point_by_point(
        points: list[tuple[float, float]], d: int,
        drawn: list[tuple[tuple[float, float], tuple[float, float], bool]]) -> None:
    line = lonlat_line(points)
    flat = Line(reprojected(line))
    plane = plane_of(line)
    pieces = to_legs(line, drawn)
    result = coverage(line, pieces, distance_m=d, start=START, end=END)
    ends = [e for g in result.gaps for e in (g.start_m, g.end_m)]
    for k in range(201):
        s = flat.length * k / 200
        x, y = flat.at(s)
        nearest = min((_point_segment(x, y, plane.xy(p.start.lon, p.start.lat), plane.xy(p.end.lon, p.end.lat))
                       for p in pieces), default=math.inf)
        in_gap = any(g.start_m < s < g.end_m for g in result.gaps)
        if nearest < d - 1e-3:
            assert not in_gap, (s, nearest)
        elif nearest > d + 1e-3 and all(abs(s - e) > 2 for e in ends):
            assert in_gap, (s, nearest)


@settings(max_examples=60, deadline=None)
@given(st.tuples(coord, coord), st.tuples(coord, coord), distances, st.floats(0.05, 0.95), st.booleans(),
       st.sampled_from([-0.01, 0.01]))
def test_a_fix_at_the_distance_give_or_take_a_centimetre(a: tuple[float, float], b: tuple[float, float], d: int,
                                                         where: float, left: bool, epsilon: float) -> None:
    if math.dist(a, b) < 100:
        return
    line = lonlat_line([a, b])
    flat = Line(reprojected(line))
    (x0, y0), (x1, y1) = flat.points
    ux, uy = (x1 - x0) / flat.length, (y1 - y0) / flat.length
    nx, ny = (-uy, ux) if left else (uy, -ux)
    s = where * flat.length
    px, py = x0 + ux * s + nx * (d + epsilon), y0 + uy * s + ny * (d + epsilon)
    fix = Fix("u1", START + timedelta(hours=1), *plane_of(line).lonlat(px, py))
    gaps = coverage(line, [Leg(fix, fix)], distance_m=d, start=START, end=END).gaps
    if epsilon < 0:
        assert not any(g.start_m <= s <= g.end_m for g in gaps)
    else:
        assert [(g.start_m, g.end_m) for g in gaps] == [(0.0, pytest.approx(flat.length))]


def test_clip_of_a_segment_by_a_point_s_disk() -> None:
    assert clip((-10.0, 0.0), (10.0, 0.0), (0.0, 3.0), (0.0, 3.0), 5.0) == (pytest.approx(0.3), pytest.approx(0.7))
    assert clip((-10.0, 0.0), (10.0, 0.0), (0.0, 6.0), (0.0, 6.0), 5.0) is None
