"""The COP list read in time slices (store.query.TimeSlices) answers exactly what the
one-shot query answers — order, cursor, filters and need-to-know included."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fossatum.domain import audience as aud
from fossatum.domain.org import User
from fossatum.domain.timeutil import to_text
from fossatum.node import Node
from fossatum.policy.visibility import Facts, may_view
from fossatum.store.query import MIN_SLICE, ReportQuery, TimeSlices, canonical_instant

pytestmark = pytest.mark.both_backends

# Report times and window ends on one grid of 97 instants (8 h, ending before now so that
# open windows reach them): many ties, and many rows exactly on slice bounds.
STEP = timedelta(minutes=5)
GRID = 96
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - GRID * STEP - timedelta(hours=1)
OWNERS = [("TN-GN", "TUN"), ("TN-ARMY", "TUN"), ("DZ-GN", "DZA"), ("LY-BG", "LBY")]
# Hypothesis favours the first of each list: the widest audience and a released state first.
AUDIENCES = [{"scope": "all_partners"}, {"scope": "partners", "partners": ["DZA"]}, {"scope": "national"},
             {"scope": "partners", "partners": ["LBY"]}, {"scope": "agency"}]
STATES = ["validated", "submitted", "draft", "closed"]
AUTHORS = ["amira", "sami", "youssef", "karim", "omar"]

def reports_of(when: st.SearchStrategy[int], min_size: int, max_size: int) -> st.SearchStrategy[list]:
    return st.lists(st.tuples(st.sampled_from(OWNERS), st.sampled_from(AUDIENCES), st.sampled_from(STATES),
                              st.sampled_from(AUTHORS), when, st.floats(8.0, 8.6), st.floats(35.0, 35.6)),
                    min_size=min_size, max_size=max_size)


reports_st = reports_of(st.integers(0, GRID), 0, 60)  # observed: grid steps after T0
aligned_st = st.tuples(st.integers(0, GRID + 4), st.integers(1, 3).map(lambda j: 32 * j))
window_st = st.one_of(
    # until on the grid, window a multiple of 32 steps (slice bounds on the grid), or any length
    aligned_st, aligned_st, aligned_st,
    st.tuples(st.integers(0, GRID + 4), st.integers(1, GRID)),
    st.tuples(st.none(), st.integers(0, GRID)),                                    # open end: since .. now
)


def _put(node: Node, number: int, owner: tuple[str, str], audience: dict, state: str, author: str,
         observed: str, lon: float, lat: float) -> Facts:
    """One report row through the log's projection (as filed here or received from a partner)."""
    agency, country = owner
    a = aud.from_doc(audience, owner_agency=agency, owner_country=country)
    released = state in ("validated", "closed")
    doc = {"id": f"r{number:05d}", "version": 1, "origin": f"{country}-node", "author": author,
           "owner_agency": agency, "owner_country": country, "type": "smuggling_fuel", "layer": "smuggling",
           "state": state, "released": released, "observed_at": observed, "reported_at": observed,
           "updated_at": observed, "updated_by": author, "location": {"lat": lat, "lon": lon},
           "grade": None, "impact": None, "audience": a.to_doc(), "tlp": a.tlp.value}
    with node.store.transaction() as tx:
        tx.append(ts=observed, author=author, kind="report.filed", payload={"report": doc}, audience=a.to_doc())
    return Facts(a.owner_agency, a.owner_country, a.scope, a.releasable_to, state, released, author)


def test_sliced_list_equals_the_one_shot_query_and_keeps_need_to_know(node: Node,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    older_slices = count()  # how often a read went past its first slice
    plain_next = TimeSlices.next

    def spy(plan: TimeSlices, found: int) -> tuple[str, str] | None:
        nxt = plain_next(plan, found)
        if nxt is not None:
            next(older_slices)
        return nxt

    monkeypatch.setattr(TimeSlices, "next", spy)
    stored: dict[str, tuple[str, float, float, str, Facts]] = {}  # id -> (observed, lon, lat, state, facts)
    numbers = count()
    viewers = [u for u in node.store.users() if u.username in {"amira", "sami", "youssef", "karim", "omar"}]

    @settings(max_examples=80, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow])
    @given(reports=reports_st, window=window_st, limit=st.integers(1, 25),
           box=st.tuples(st.floats(7.9, 8.4), st.floats(34.9, 35.4), st.floats(0.3, 1.0), st.floats(0.3, 1.0)),
           viewer_index=st.integers(0, 4), cursor=st.one_of(st.none(), st.integers(0, 40), st.integers(-2, -1)),
           state_filter=st.sampled_from([(), ("validated",), ("submitted", "closed")]), data=st.data(),
           keep_density=st.sampled_from([False, False, True]))
    def check(reports, window, limit, box, viewer_index, cursor, state_filter, data, keep_density) -> None:
        def put(observed: datetime, owner, audience, state, author, lon, lat) -> None:
            n = next(numbers)
            stored[f"r{n:05d}"] = (to_text(observed), lon, lat, state,
                                   _put(node, n, owner, audience, state, author, to_text(observed), lon, lat))

        for owner, audience, state, author, step, lon, lat in reports:
            put(T0 + step * STEP, owner, audience, state, author, lon, lat)
        viewer: User = viewers[viewer_index]
        until_step, length = window
        until = None if until_step is None else to_text(T0 + until_step * STEP)
        since = to_text(T0 + (until_step if until_step is not None else GRID) * STEP - length * STEP)
        bbox = (box[0], box[1], box[0] + box[2], box[1] + box[3])
        q = ReportQuery(bbox=bbox, since=since, until=until, states=state_filter, limit=limit)

        def expect(q: ReportQuery) -> list[tuple[str, str]]:
            """What the viewer may see of the box, window, filter and page, newest first: worked out here."""
            return sorted(
                ((observed, rid) for rid, (observed, lon, lat, state, facts) in stored.items()
                 if may_view(viewer, facts) and bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]
                 and since <= observed and (until is None or observed < until)
                 and (not state_filter or state in state_filter) and (q.after is None or (observed, rid) < q.after)),
                reverse=True)

        expected = expect(q)
        if cursor is not None and expected:
            # a cursor from this answer (a later page), or one outside the window (nothing, or all)
            after = expected[cursor % len(expected)] if cursor >= 0 else (
                (to_text(T0 - STEP), "r") if cursor == -1 else (to_text(T0 + 2 * GRID * STEP), "r"))
            q = ReportQuery(bbox=bbox, since=since, until=until, states=state_filter, limit=limit, after=after)
        # Reports exactly on slice bounds (top - k*grain; k = 0 is the top itself) and on `since`
        # (drawn whether or not the query is sliced: hypothesis replays need the same draws).
        extras = data.draw(st.lists(st.tuples(st.sampled_from(OWNERS), st.sampled_from(["validated", "closed"]),
                                              st.sampled_from([8, 16, 24, 0, -1, 12, 20, 40, 3, 9])), min_size=4, max_size=12))
        if not keep_density:  # else the last read's density sizes the first slice (often: one query here)
            node.store._cop_density = None
        plan = TimeSlices.plan(q, T0, node.store._cop_density) if until is not None else None
        for owner, state, k in extras if plan is not None else ():
            # released to every partner, in the middle of the box: on the page unless the page is full
            when = plan.top - k * plan.grain if k >= 0 else plan.since_at
            put(when, owner, {"scope": "all_partners"}, state, "amira", (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
        expected = expect(q)

        sliced = node.store.list_reports(viewer, q)
        one_shot = node.store.list_reports(viewer, q, sliced=False)
        assert sliced == one_shot
        ids = [json.loads(doc)["id"] for doc in sliced]
        assert ids == [rid for _, rid in expected[: limit + 1]]
        assert all(may_view(viewer, stored[rid][4]) for rid in ids)

    check()
    # the examples did build up a populated table, and many reads took several slices
    # (rows on the slice bounds, every one of them: test_rows_on_every_slice_bound_are_read_once)
    assert len(stored) > 150 and next(older_slices) > 40, (len(stored), older_slices)


def _tiles(q: ReportQuery, now: datetime, found: list[int], density: float | None) -> list[tuple[str, str | None]]:
    plan = TimeSlices.plan(q, now, density)
    assert plan is not None
    slices = [plan.first()]
    for n in found:
        nxt = plan.next(n)
        if nxt is None:
            break
        slices.append(nxt)
    return slices


@given(since_s=st.integers(0, 10 * 86400), length_s=st.integers(1, 30 * 86400), micro=st.integers(0, 999_999),
       found=st.lists(st.integers(0, 2000), min_size=60, max_size=60), open_end=st.booleans(),
       density=st.one_of(st.none(), st.floats(1e-9, 10.0)))
def test_slices_tile_the_window_newest_first_without_gap_or_overlap(since_s, length_s, micro, found,
                                                                     open_end, density) -> None:
    since = T0 + timedelta(seconds=since_s, microseconds=micro)
    until = since + timedelta(seconds=length_s)
    q = ReportQuery(bbox=(8, 35, 9, 36), since=to_text(since), until=None if open_end else to_text(until), limit=1000)
    slices = _tiles(q, until, sorted(found), density)
    if length_s <= 2 * MIN_SLICE.total_seconds():
        assert slices == [(q.since, q.until)]  # nothing to gain: one query
    assert slices[0][1] == q.until  # the query's own end (None: open)
    assert slices[-1][0] == q.since
    for (lo, _), (_, hi) in zip(slices, slices[1:]):
        assert lo == hi  # each slice ends where the newer one starts: half-open, no gap
    assert all(canonical_instant(lo) is not None for lo, _ in slices)
    assert all(lo < hi for lo, hi in slices if hi is not None)


def test_no_slicing_without_a_box_a_start_or_stored_form_bounds() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    now = start + timedelta(days=1)
    day = {"since": to_text(start), "until": to_text(now)}
    assert TimeSlices.plan(ReportQuery(bbox=(8, 35, 9, 36), **day), now) is not None
    assert TimeSlices.plan(ReportQuery(**day), now) is None                       # no box: btree order already
    assert TimeSlices.plan(ReportQuery(bbox=(8, 35, 9, 36), until=day["until"]), now) is None  # no start
    assert TimeSlices.plan(ReportQuery(bbox=(8, 35, 9, 36), since="2026-11-20T00:00:00Z", until=day["until"]),
                           now) is None                                            # not fixed-width: bytes differ
    # A cursor before the window: one (empty) query; inside: the slices start at its instant.
    before = ReportQuery(bbox=(8, 35, 9, 36), after=(to_text(start - STEP), "r9"), **day)
    assert TimeSlices.plan(before, now) is None
    inside = ReportQuery(bbox=(8, 35, 9, 36), after=("2026-11-20T12:00:00.000000Z", "r9"), **day)
    plan = TimeSlices.plan(inside, now)
    assert plan is not None and plan.first()[1] == "2026-11-20T12:00:00.000001Z"


def test_the_density_of_the_last_read_sizes_the_first_slice() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    q = ReportQuery(bbox=(8, 35, 8.5, 35.5), since=to_text(start), until=to_text(start + timedelta(days=1)), limit=1000)
    per_day = 1001 / (86400 * 0.25)  # a page a day in this box
    # sparse (about a page in the window): one query over the whole window
    sparse = TimeSlices.plan(q, start, per_day)
    assert sparse is not None and sparse.first() == (q.since, q.until) and sparse.next(700) is None
    assert sparse.density(700) == pytest.approx(700 / (86400 * 0.25))  # exact: the window was read
    assert sparse.density(1001) is None  # one query filled the page: denser than thought, slice next time
    # ten pages a day: the first slice is expected to hold 70 % of the page (~2.4 h of 24)
    dense = TimeSlices.plan(q, start, 10 * per_day)
    assert dense is not None and dense.width == timedelta(days=1) * 0.07
    assert dense.first() == (to_text(start + timedelta(days=1) * 0.93), q.until)
    # unknown: 1/32 of the window
    assert TimeSlices.plan(q, start).width == timedelta(minutes=45)  # type: ignore[union-attr]


def test_rows_on_every_slice_bound_are_read_once(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two reports (a tie) on every grain of the slice grid of a 24 h window, on `since` and
    on `until`: each comes once, in order, across several slices and pages."""
    top = datetime(2026, 11, 28, 12, tzinfo=UTC)
    q = ReportQuery(bbox=(8.0, 35.0, 8.5, 35.5), since=to_text(top - timedelta(days=1)), until=to_text(top), limit=30)
    plan = TimeSlices.plan(q, top)
    assert plan is not None and plan.width == timedelta(minutes=45)
    numbers = count()
    for k in range(8 * 32 + 1):  # every grain, from `until` (excluded) down to `since` (included)
        for _ in range(2):
            _put(node, next(numbers), ("TN-GN", "TUN"), {"scope": "national"}, "submitted", "sami",
                 to_text(top - k * plan.grain), 8.25, 35.25)
    slices: list[tuple[str, str]] = []
    plain_next = TimeSlices.next

    def spy(p: TimeSlices, found: int) -> tuple[str, str] | None:
        nxt = plain_next(p, found)
        if nxt is not None:
            slices.append(nxt)
        return nxt

    monkeypatch.setattr(TimeSlices, "next", spy)
    users = {u.username: u for u in node.store.users()}
    node.store._cop_density = None
    docs = [json.loads(d) for d in node.store.list_reports(users["amira"], q)]
    assert slices  # the page took more than the first slice
    keys = [(d["observed_at"], d["id"]) for d in docs]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 31
    assert [d["observed_at"] for d in docs[:2]] == [to_text(top - plan.grain)] * 2  # `until` itself is out
    node.store._cop_density = None
    assert node.store.list_reports(users["amira"], q) == node.store.list_reports(users["amira"], q, sliced=False)
    node.store._cop_density = None
    assert node.store.list_reports(users["omar"], q) == []  # Libyan: national Tunisian reports are not his
    # page by page to the end: every report of the window once, `since` included
    seen: list[str] = []
    after = None
    while True:
        node.store._cop_density = None
        page = [json.loads(d) for d in node.store.list_reports(users["amira"], replace(q, after=after))]
        seen += [d["id"] for d in page[:30]]
        if len(page) <= 30:
            break
        after = (page[29]["observed_at"], page[29]["id"])
    assert len(seen) == len(set(seen)) == 2 * 8 * 32  # 256 grains below `until`, two reports on each
