"""A patrol's progress (domain/progress.py): its units' actual tracks during its schedule, and each
border rendezvous met (units of both countries within the radius at the same moment, in the
window around its time), missed or pending."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fossatum.domain.coverage import Fix, Plane, legs
from fossatum.domain.operation import MissionStatus
from fossatum.domain.patrol import Patrol, Waypoint, WaypointKind
from fossatum.domain.progress import Rendezvous, check_radius, presence, progress, rendezvous_windows
from fossatum.errors import InvalidInput

RV = (8.30, 35.50)
PLANE = Plane(*RV)  # metres around the rendezvous point
T = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # the rendezvous time
COUNTRIES = {"u-tn": "TUN", "u-dz": "DZA", "u-tn-2": "TUN"}


def patrol(at: str | None = "2026-12-07T06:00:00.000000Z", **changes: Any) -> Patrol:
    base: dict[str, Any] = {
        "id": "p1", "code": "JP-26-07", "name": "Patrouille mixte", "operation": None,
        "route": (Waypoint("Haidra", 8.45, 35.57), Waypoint("BR-1", *RV, WaypointKind.RENDEZVOUS, ("TUN", "DZA"), at=at),
                  Waypoint("Bouchebka", 8.39, 35.17)),
        "planned_start": "2026-12-07T04:00:00.000000Z", "planned_end": "2026-12-07T10:00:00.000000Z",
        "status": MissionStatus.IN_PROGRESS, "countries": ("TUN", "DZA"), "units": ("u-tn", "u-dz", "u-tn-2"),
        "owner_agency": "TN-GN", "owner_country": "TUN", "audience": {"scope": "partners", "partners": ["DZA"]},
        "created_by": "lt.x", "updated_at": "2026-12-06T20:00:00.000000Z",
    }
    base.update(changes)
    return Patrol(**base)


def at_m(unit: str, x: float, y: float, when: datetime) -> Fix:
    return Fix(unit, when, *PLANE.lonlat(x, y))


def wait(unit: str, x: float, y: float, start: datetime, minutes: int) -> list[Fix]:
    """A unit standing at (x, y) metres from the point, reporting every minute."""
    return [at_m(unit, x, y, start + timedelta(minutes=i)) for i in range(minutes + 1)]


def state(fixes: list[Fix], now: datetime, **options: Any) -> Any:
    return progress(patrol(), fixes, COUNTRIES, now=now, **options).rendezvous[0]


def test_both_countries_waiting_at_the_point_meet_when_the_second_arrives() -> None:
    fixes = wait("u-tn", 50, 0, T - timedelta(minutes=10), 20) + wait("u-dz", -100, 80, T - timedelta(minutes=4), 10)
    rv = state(fixes, now=T + timedelta(minutes=10))
    assert (rv.status, rv.met_at, rv.units) == (Rendezvous.MET, T - timedelta(minutes=4), ("u-dz", "u-tn"))
    doc = progress(patrol(), fixes, COUNTRIES, now=T + timedelta(minutes=10)).to_doc()
    assert doc["rendezvous"][0]["status"] == "met" and doc["rendezvous"][0]["met_at"] == "2026-12-07T05:56:00.000000Z"
    assert doc["rendezvous"][0]["window"] == {"from": "2026-12-07T05:30:00.000000Z", "to": "2026-12-07T06:30:00.000000Z"}


def test_passing_one_after_the_other_is_no_meeting() -> None:
    fixes = wait("u-tn", 0, 0, T - timedelta(minutes=25), 10) + wait("u-dz", 0, 0, T, 10)
    assert state(fixes, now=T + timedelta(minutes=20)).status is Rendezvous.PENDING  # the window is still open
    missed = state(fixes, now=T + timedelta(minutes=31))
    assert (missed.status, missed.met_at, missed.units) == (Rendezvous.MISSED, None, ())


def test_a_meeting_outside_the_window_does_not_count() -> None:
    fixes = wait("u-tn", 0, 0, T - timedelta(minutes=50), 15) + wait("u-dz", 0, 0, T - timedelta(minutes=45), 10)
    assert state(fixes, now=T + timedelta(hours=1)).status is Rendezvous.MISSED
    assert state(fixes, now=T + timedelta(hours=1), window=timedelta(hours=1)).status is Rendezvous.MET


def test_a_meeting_is_not_seen_before_it_happens() -> None:
    fixes = wait("u-tn", 0, 0, T, 10) + wait("u-dz", 0, 0, T + timedelta(minutes=5), 10)
    assert state(fixes, now=T + timedelta(minutes=3)).status is Rendezvous.PENDING
    assert state(fixes, now=T + timedelta(minutes=5)).status is Rendezvous.MET


@pytest.mark.parametrize(("distance", "met"), [(299.9, True), (300.1, False)])
def test_the_radius(distance: float, met: bool) -> None:
    fixes = wait("u-tn", 0, 0, T, 10) + wait("u-dz", distance * 0.6, distance * 0.8, T, 10)
    assert (state(fixes, now=T + timedelta(hours=1)).status is Rendezvous.MET) is met


def test_a_unit_driving_through_meets_at_the_moment_it_enters_the_circle() -> None:
    # 2 km in 2 minutes through the point: within 300 m from 700 m on, 42 s after its first fix.
    fixes = [at_m("u-dz", -1000, 0, T), at_m("u-dz", 1000, 0, T + timedelta(minutes=2))]
    rv = state(wait("u-tn", 0, 0, T - timedelta(minutes=5), 20) + fixes, now=T + timedelta(hours=1))
    assert rv.status is Rendezvous.MET and rv.met_at == T + timedelta(seconds=42)
    # The same two fixes 11 minutes apart: no straight line is drawn between them, no meeting.
    apart = [fixes[0], at_m("u-dz", 1000, 0, T + timedelta(minutes=11))]
    assert state(wait("u-tn", 0, 0, T - timedelta(minutes=5), 20) + apart,
                 now=T + timedelta(hours=1)).status is Rendezvous.MISSED


def test_a_unit_the_viewer_may_not_see_meets_no_one() -> None:
    fixes = wait("u-tn", 0, 0, T, 10) + wait("u-dz", 0, 0, T, 10)
    hidden = {"u-tn": "TUN"}  # the Algerian unit's positions were not released to this viewer
    result = progress(patrol(), fixes, hidden, now=T + timedelta(hours=1))
    assert result.rendezvous[0].status is Rendezvous.MISSED
    assert [t.unit for t in result.tracks] == ["u-tn"]


def test_a_rendezvous_without_a_time_can_be_met_any_time_during_the_schedule() -> None:
    fixes = wait("u-tn", 0, 0, T + timedelta(hours=3), 5) + wait("u-dz", 0, 0, T + timedelta(hours=3), 5)
    rv = progress(patrol(at=None), fixes, COUNTRIES, now=T + timedelta(hours=3, minutes=5)).rendezvous[0]
    assert rv.status is Rendezvous.MET and rv.window == (T - timedelta(hours=2), T + timedelta(hours=4))
    lonely = progress(patrol(at=None), fixes[:6], COUNTRIES, now=T + timedelta(hours=3, minutes=5)).rendezvous[0]
    assert lonely.status is Rendezvous.PENDING


def test_tracks_are_the_fixes_during_the_schedule_and_until_now() -> None:
    fixes = [at_m("u-tn", 0, 0, T - timedelta(hours=3)),  # before the patrol's start (04:00)
             at_m("u-tn", 10, 0, T - timedelta(hours=1)), at_m("u-tn", 20, 0, T),
             at_m("u-tn", 30, 0, T + timedelta(hours=1)),  # after now
             at_m("u-other", 0, 0, T)]  # a unit of no concern to the patrol
    result = progress(patrol(), fixes, {**COUNTRIES, "u-other": "TUN"}, now=T + timedelta(minutes=30))
    assert [(t.unit, t.country, len(t.fixes)) for t in result.tracks] == [("u-dz", "DZA", 0), ("u-tn", "TUN", 2),
                                                                          ("u-tn-2", "TUN", 0)]
    doc = result.to_doc()["tracks"]
    assert doc[1]["geometry"]["type"] == "LineString" and doc[1]["first"] == "2026-12-07T05:00:00.000000Z"
    assert doc[1]["last"] == "2026-12-07T06:00:00.000000Z" and doc[0]["geometry"] is None


@pytest.mark.parametrize("value", [24, 5001, 300.0, True, "300"])
def test_a_radius_outside_its_range_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_radius(value)
    assert caught.value.field == "radius_m"


# --- properties ----------------------------------------------------------------------------------
def _where(unit_fixes: list[Fix], when: datetime) -> tuple[float, float] | None:
    """Where the unit was at `when` by the rule (straight between close fixes, else at a fix)."""
    for piece in legs(unit_fixes):
        if piece.start.at <= when <= piece.end.at:
            span = (piece.end.at - piece.start.at).total_seconds()
            u = 0.0 if span == 0 else (when - piece.start.at).total_seconds() / span
            p, q = PLANE.xy(piece.start.lon, piece.start.lat), PLANE.xy(piece.end.lon, piece.end.lat)
            return p[0] + u * (q[0] - p[0]), p[1] + u * (q[1] - p[1])
    return None


track_points = st.lists(st.tuples(st.floats(-800, 800), st.floats(-800, 800), st.integers(0, 15)), min_size=1,
                        max_size=8)


def _track(unit: str, drawn: list[tuple[float, float, int]], start: datetime) -> list[Fix]:
    out, when = [], start
    for x, y, minutes in drawn:
        when += timedelta(minutes=minutes, seconds=1)
        out.append(at_m(unit, x, y, when))
    return out


@settings(max_examples=150, deadline=None)
@given(track_points, track_points, st.integers(-40, 10), st.integers(-40, 10), st.integers(0, 90))
def test_met_at_is_a_moment_both_were_within_the_radius(tn: list[tuple[float, float, int]],
                                                         dz: list[tuple[float, float, int]], tn_start: int,
                                                         dz_start: int, now_minutes: int) -> None:
    fixes_tn = _track("u-tn", tn, T + timedelta(minutes=tn_start))
    fixes_dz = _track("u-dz", dz, T + timedelta(minutes=dz_start))
    now = T - timedelta(minutes=30) + timedelta(minutes=now_minutes)
    rv = state(fixes_tn + fixes_dz, now=now)
    if rv.status is Rendezvous.MET:
        assert rv.met_at is not None and rv.window[0] <= rv.met_at <= min(rv.window[1], now)
        for unit_fixes in (fixes_tn, fixes_dz):
            here = _where([f for f in unit_fixes if f.at <= now], rv.met_at)
            assert here is not None and math.hypot(*here) <= 300 + 0.01  # times are whole microseconds
    else:
        assert rv.status is (Rendezvous.MISSED if now > rv.window[1] else Rendezvous.PENDING)
        # Never both within the radius at one of the fixes' moments in the window.
        for moment in sorted({f.at for f in fixes_tn + fixes_dz}):
            if rv.window[0] <= moment <= min(rv.window[1], now):
                spots = [_where([f for f in fs if f.at <= now], moment) for fs in (fixes_tn, fixes_dz)]
                assert not all(s is not None and math.hypot(*s) < 300 - 1e-6 for s in spots)


def test_presence_of_a_lone_fix_is_an_instant() -> None:
    fix = at_m("u-tn", 100, 0, T)
    assert presence(RV, legs([fix]), 300) == [(T, T)]
    assert presence(RV, legs([at_m("u-tn", 400, 0, T)]), 300) == []


def test_any_unit_of_the_rendezvous_countries_may_meet_but_tracks_are_the_patrol_s_units() -> None:
    # The Algerian unit coming to the border is tasked at its own node: not in the Tunisian patrol.
    fixes = wait("u-tn", 0, 0, T, 10) + wait("dz-gn-12", 20, 0, T + timedelta(minutes=2), 10)
    result = progress(patrol(units=("u-tn",)), fixes, {"u-tn": "TUN", "dz-gn-12": "DZA"}, now=T + timedelta(hours=1))
    rv = result.rendezvous[0]
    assert (rv.status, rv.met_at, rv.units) == (Rendezvous.MET, T + timedelta(minutes=2), ("dz-gn-12", "u-tn"))
    assert [t.unit for t in result.tracks] == ["u-tn"]


def test_rendezvous_windows() -> None:
    [(point, span)] = rendezvous_windows(patrol())
    assert point.name == "BR-1" and span == (T - timedelta(minutes=30), T + timedelta(minutes=30))
    [(_, whole)] = rendezvous_windows(patrol(at=None), window=timedelta(hours=1))
    assert whole == (T - timedelta(hours=2), T + timedelta(hours=4))
