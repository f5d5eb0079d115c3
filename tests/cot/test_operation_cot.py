"""Operations, patrols and checkpoints as CoT (cot/operations.py), read back the way ATAK's
importers read them (shared/reference/operations-dispatch-standards.md §3.2): u-d-f closed
polygons of `<link point/>`s, b-m-r routes whose every `<link>` is a route point (b-m-p-w
waypoint, b-m-p-c control point) in driving order with a `<link_attr color>`, signed ARGB
colours, `<marti><dest mission/>` naming the operation, uids stable across versions, and
t-x-d-d removals ATAK accepts (uid, relation and type all set, `__forcedelete`). The same
events through TAK protocol v1 (the gateway's protobuf path) read back the same."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fossatum.cot import codec, framing
from fossatum.cot import operations as ops
from fossatum.domain.checkpoint import JOINT, Checkpoint, CheckpointStatus
from fossatum.domain.operation import Command, MissionStatus, Operation, OperationKind, Phase, Sector
from fossatum.domain.patrol import Patrol, Waypoint, WaypointKind

NOW = datetime(2026, 12, 7, 4, 30, tzinfo=UTC)
AREA = {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.8, 35.0], [8.8, 35.4], [8.4, 35.4], [8.4, 35.0]]]}
TUN_SECTOR = {"type": "Polygon", "coordinates": [[[8.6, 35.0], [8.8, 35.0], [8.8, 35.4], [8.6, 35.4], [8.6, 35.0]]]}
DZA_SECTOR = {"type": "Polygon", "coordinates": [[[8.4, 35.0], [8.6, 35.0], [8.6, 35.4], [8.4, 35.4], [8.4, 35.0]]]}
START, END = "2026-12-07T04:00:00.000000Z", "2026-12-07T10:00:00.000000Z"


def operation(**changes: Any) -> Operation:
    base: dict[str, Any] = {
        "id": "op1", "code": "OP-CHAAMBI-26", "name": "Cordon Chaambi <aube> & \"est\"",
        "kind": OperationKind.CORDON_AND_SEARCH, "status": MissionStatus.IN_PROGRESS, "lead_country": "TUN",
        "participants": ("TUN", "DZA"), "area": AREA,
        "sectors": (Sector("s-tun", "Est", TUN_SECTOR, "TUN", ("u-tn-1",)),
                    Sector("s-dza", "Ouest", DZA_SECTOR, "DZA", ("u-dz-1", "u-dz-2"))),
        "phases": (Phase("cordon", "2026-12-07T05:00:00Z", "2026-12-08T09:00:00Z"),),
        "units": ("u-tn-1", "u-dz-1", "u-dz-2"), "reports": (), "command": (Command("TUN", "col.hamdi"),),
        "owner_agency": "TN-ARMY", "audience": {"scope": "partners", "partners": ["DZA"]}, "created_by": "col.hamdi",
        "updated_at": "2026-12-06T20:00:00.000000Z",
    }
    base.update(changes)
    return Operation(**base)


ROUTE = (Waypoint("Haidra", 8.45, 35.57),
         Waypoint("BR-1", 8.30, 35.50, WaypointKind.RENDEZVOUS, ("TUN", "DZA"), at="2026-12-07T06:00:00.000000Z"),
         Waypoint("Col", 8.35, 35.30),
         Waypoint("CP Bouchebka", 8.39, 35.17, WaypointKind.CHECKPOINT, checkpoint="cp1"))


def patrol(**changes: Any) -> Patrol:
    base: dict[str, Any] = {
        "id": "p1", "code": "JP-26-07", "name": "Patrouille mixte Haidra", "operation": "op1", "route": ROUTE,
        "planned_start": START, "planned_end": END, "status": MissionStatus.IN_PROGRESS, "countries": ("TUN", "DZA"),
        "units": ("u-tn-1", "u-dz-1"), "owner_agency": "TN-GN", "owner_country": "TUN",
        "audience": {"scope": "partners", "partners": ["DZA"]}, "created_by": "lt.x", "updated_at": START,
    }
    base.update(changes)
    return Patrol(**base)


def checkpoint(**changes: Any) -> Checkpoint:
    base: dict[str, Any] = {
        "id": "cp1", "name": "Bouchebka", "point": {"type": "Point", "coordinates": [8.39, 35.17]}, "section": "s1",
        "operator": JOINT, "status": CheckpointStatus.OPEN, "reason": "", "history": (), "units": ("u-tn-1",),
        "owner_agency": "TN-GN", "owner_country": "TUN", "audience": {"scope": "national"}, "created_by": "lt.x",
        "updated_at": START,
    }
    base.update(changes)
    return Checkpoint(**base)


def parse(message: bytes) -> Element:
    """As a device reads it: one XML header, one event, nothing that defusedxml refuses."""
    assert message.startswith(codec.XML_HEADER.encode()) and message.count(b"<event ") == 1
    root: Element = safe_xml.fromstring(message, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    assert root.tag == "event" and root.get("version") == "2.0"
    return root


def detail(root: Element) -> Element:
    found = root.find("detail")
    assert found is not None
    return found


def points(root: Element) -> list[tuple[float, float]]:
    out = []
    for link in detail(root).findall("link"):
        lat, lon = link.get("point", "").split(",")
        out.append((float(lat), float(lon)))
    return out


def missions(root: Element) -> list[str]:
    """The Data Sync missions the event joins: `<marti><dest mission/>` (TAK Server's reading)."""
    return [d.get("mission", "") for d in detail(root).findall("marti/dest")]


def signed_argb(text: str | None) -> int:
    value = int(text or "")  # ATAK: Integer.parseInt
    assert -(1 << 31) <= value < (1 << 31), "a colour is a signed 32-bit ARGB integer"
    return value


def instant(text: str | None) -> datetime:
    parsed = codec.parse_time(text or "")
    assert parsed is not None
    return parsed


# --- area and sectors ---------------------------------------------------------------------------

def test_the_area_is_a_closed_u_d_f_polygon_of_the_operation_in_its_mission() -> None:
    op = operation()
    root = parse(ops.area_event(op, NOW))
    assert (root.get("type"), root.get("uid"), root.get("how")) == ("u-d-f", "fossatum.operation.op1", "h-e")
    ring = [(lat, lon) for lon, lat in AREA["coordinates"][0]]
    assert points(root) == ring  # every vertex, in order, lat before lon
    assert points(root)[0] == points(root)[-1] and len(points(root)) >= 4  # closed: last = first
    assert all(set(link.attrib) == {"point"} for link in detail(root).findall("link"))
    assert missions(root) == ["OP-CHAAMBI-26"]
    assert signed_argb(detail(root).find("strokeColor").get("value")) == -1  # type: ignore[union-attr]
    assert detail(root).find("contact").get("callsign") == "OP-CHAAMBI-26"  # type: ignore[union-attr]
    remarks = detail(root).findtext("remarks") or ""
    assert 'Cordon Chaambi <aube> & "est"' in remarks and "IPR" in remarks  # escaped, read back as typed
    point = root.find("point")
    assert point is not None and (float(point.get("lat", "")), float(point.get("lon", ""))) == pytest.approx((35.2, 8.6))


def test_each_sector_is_a_u_d_f_in_its_countrys_fixed_colour() -> None:
    op = operation()
    events = ops.operation_events(op, NOW)
    assert [uid for uid, _ in events] == ["fossatum.operation.op1", "fossatum.operation.op1.sector.s-dza",
                                          "fossatum.operation.op1.sector.s-tun"]
    assert [uid for uid, _ in events] == ops.operation_uids(op)
    by_uid = {uid: parse(message) for uid, message in events}
    for sector, colour in (("s-tun", -2793984), ("s-dza", -16736653)):
        root = by_uid[f"fossatum.operation.op1.sector.{sector}"]
        assert root.get("type") == "u-d-f" and root.get("uid") == f"fossatum.operation.op1.sector.{sector}"
        assert missions(root) == ["OP-CHAAMBI-26"]
        stroke = signed_argb(detail(root).find("strokeColor").get("value"))  # type: ignore[union-attr]
        fill = signed_argb(detail(root).find("fillColor").get("value"))  # type: ignore[union-attr]
        assert stroke == colour and stroke & 0xFFFFFF == fill & 0xFFFFFF and (fill >> 24) & 0xFF == 0x40
        assert points(root)[0] == points(root)[-1]
    tun = {(lat, lon) for lon, lat in TUN_SECTOR["coordinates"][0]}
    assert set(points(by_uid["fossatum.operation.op1.sector.s-tun"])) == tun
    assert "2 units" in (detail(by_uid["fossatum.operation.op1.sector.s-dza"]).findtext("remarks") or "")


def test_country_colours_are_fixed_distinct_and_signed() -> None:
    fixed = {"TUN": ops.argb(0xFFD55E00), "DZA": ops.argb(0xFF009E73), "LBY": ops.argb(0xFF56B4E9)}  # as the COP page
    assert dict(ops.COUNTRY_COLOURS) == fixed
    assert len(set(ops.COUNTRY_COLOURS.values())) == 3
    assert ops.argb(0xFFFF0000) == -65536 and ops.argb(0x40FF0000) == 0x40FF0000  # as ATAK: red = -65536
    # Another country: the same colour every time, from its code alone.
    assert ops.country_colour("MAR") == ops.country_colour("MAR") in ops.OTHER_COLOURS


def test_a_ring_given_open_is_closed_on_the_way_out() -> None:
    # Documents are checked closed, but the encoder does not rely on it (a device would draw a line).
    op = operation()
    open_ring = {"type": "Polygon", "coordinates": [AREA["coordinates"][0][:-1]]}
    links, _, _ = ops._ring_links(open_ring)
    assert links.count("<link ") == 5 and links.startswith(links[links.rfind("<link "):])
    assert ops.area_event(op, NOW)


def test_stale_runs_to_the_operations_end_and_at_least_a_day() -> None:
    long = parse(ops.area_event(operation(), NOW))
    assert instant(long.get("stale")) == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # the cordon phase's end
    short = operation(phases=(Phase("cordon", "2026-12-07T05:00:00Z", "2026-12-07T09:00:00Z"),))
    assert instant(parse(ops.area_event(short, NOW)).get("stale")) == NOW + timedelta(hours=24)
    unplanned = operation(phases=())
    for _, message in ops.operation_events(unplanned, NOW):
        root = parse(message)
        assert instant(root.get("stale")) == NOW + timedelta(hours=24)
        assert instant(root.get("time")) == instant(root.get("start")) == NOW


def test_uids_are_stable_across_versions_and_differ_between_objects() -> None:
    before = operation()
    after = before.with_status(MissionStatus.PAUSED, now="2026-12-07T07:00:00.000000Z")
    assert ops.operation_uids(before) == ops.operation_uids(after)
    assert [u for u, _ in ops.operation_events(after, NOW)] == [u for u, _ in ops.operation_events(before, NOW)]
    assert "PAU" in (detail(parse(ops.area_event(after, NOW))).findtext("remarks") or "")
    other = operation(id="op2", code="OP-2")
    assert not set(ops.operation_uids(other)) & set(ops.operation_uids(before))
    assert parse(ops.patrol_event(patrol(), NOW)).get("uid") == parse(
        ops.patrol_event(patrol(name="renamed"), NOW + timedelta(hours=1))).get("uid") == "fossatum.patrol.p1"
    assert parse(ops.checkpoint_event(checkpoint(), NOW)).get("uid") == "fossatum.checkpoint.cp1"


def test_only_final_statuses_hide_an_operation() -> None:
    assert [s for s in MissionStatus if not ops.shows(s)] == [MissionStatus.COMPLETED, MissionStatus.CANCELLED]


# --- routes --------------------------------------------------------------------------------------

def test_a_patrol_is_a_b_m_r_route_with_its_points_linked_in_driving_order() -> None:
    root = parse(ops.patrol_event(patrol(), NOW, missions=["OP-CHAAMBI-26"]))
    assert (root.get("type"), root.get("uid")) == ("b-m-r", "fossatum.patrol.p1")
    links = detail(root).findall("link")
    # RouteImporter reads every <link> as a route point: nothing else is linked.
    assert [(link.get("type"), link.get("callsign")) for link in links] == [
        ("b-m-p-w", "Haidra"), ("b-m-p-c", "BR-1"), ("b-m-p-w", "Col"), ("b-m-p-c", "CP Bouchebka")]
    assert points(root) == [(w.lat, w.lon) for w in ROUTE]
    uids = [link.get("uid") for link in links]
    assert uids == [f"fossatum.patrol.p1.point.{n}" for n in range(4)]
    assert "fossatum.checkpoint.cp1" not in uids  # a route point never takes over the checkpoint's marker
    assert links[1].get("remarks") == "rendezvous DZA / TUN at 2026-12-07T06:00:00.000000Z"
    attr = detail(root).find("link_attr")
    assert attr is not None
    assert signed_argb(attr.get("color")) == ops.COUNTRY_COLOURS["TUN"]  # parsed as an int: always given
    assert attr.get("order") == "Ascending Check Points" and attr.get("routetype") == "Primary"
    assert int(attr.get("stroke", "")) == 3
    assert detail(root).find("__routeinfo/__navcues") is not None
    assert missions(root) == ["OP-CHAAMBI-26"]
    point = root.find("point")
    assert point is not None and float(point.get("lat", "")) == ROUTE[0].lat  # the start point
    assert instant(root.get("stale")) == NOW + timedelta(hours=24)


def test_a_patrol_outside_any_operation_joins_no_mission() -> None:
    root = parse(ops.patrol_event(patrol(operation=None), NOW))
    assert detail(root).find("marti") is None


@given(st.lists(st.tuples(st.floats(-89, 89), st.floats(-179, 179), st.sampled_from(list(WaypointKind))),
                min_size=2, max_size=12))
def test_any_route_keeps_its_order_and_link_types(spec: list[tuple[float, float, WaypointKind]]) -> None:
    route = tuple(Waypoint(f"w{n}", lon, lat, kind, ("DZA", "TUN") if kind is WaypointKind.RENDEZVOUS else (),
                           f"cp{n}" if kind is WaypointKind.CHECKPOINT else None)
                  for n, (lat, lon, kind) in enumerate(spec))
    root = parse(ops.patrol_event(patrol(route=route), NOW))
    links = detail(root).findall("link")
    assert [link.get("type") for link in links] == [
        "b-m-p-w" if w.kind is WaypointKind.WAYPOINT else "b-m-p-c" for w in route]
    got = [c for p in points(root) for c in p]
    assert got == pytest.approx([c for w in route for c in (w.lat, w.lon)], abs=1e-7)


# --- checkpoints ---------------------------------------------------------------------------------

def test_a_checkpoint_is_a_b_m_p_c_point_with_its_status_in_remarks_and_colour() -> None:
    cp = checkpoint().with_status(CheckpointStatus.REINFORCED, "armed group seen nearby", by="lt.x",
                                  at="2026-12-07T04:10:00.000000Z")
    root = parse(ops.checkpoint_event(cp, NOW, missions=["OP-CHAAMBI-26", "OP-B"]))
    assert (root.get("type"), root.get("uid")) == ("b-m-p-c", "fossatum.checkpoint.cp1")
    point = root.find("point")
    assert point is not None and (float(point.get("lat", "")), float(point.get("lon", ""))) == (35.17, 8.39)
    remarks = detail(root).findtext("remarks") or ""
    assert remarks.startswith("REINFORCED since 2026-12-07T04:10:00.000000Z — armed group seen nearby")
    assert "operator joint" in remarks
    assert signed_argb(detail(root).find("color").get("argb")) == ops.CHECKPOINT_COLOURS[  # type: ignore[union-attr]
        CheckpointStatus.REINFORCED]
    assert detail(root).find("contact").get("callsign") == "Bouchebka (reinforced)"  # type: ignore[union-attr]
    assert missions(root) == ["OP-B", "OP-CHAAMBI-26"]
    assert detail(root).find("link") is None
    closed = cp.with_status(CheckpointStatus.CLOSED, "flood", by="lt.x", at="2026-12-07T04:20:00.000000Z")
    again = parse(ops.checkpoint_event(closed, NOW))
    assert again.get("uid") == root.get("uid") and (detail(again).findtext("remarks") or "").startswith("CLOSED")
    assert missions(again) == []


# --- removal -------------------------------------------------------------------------------------

@pytest.mark.parametrize("uid, type_", [("fossatum.operation.op1", "u-d-f"), ("fossatum.patrol.p1", "b-m-r"),
                                        ("fossatum.checkpoint.cp1", "b-m-p-c")])
def test_a_removal_is_a_t_x_d_d_that_atak_accepts(uid: str, type_: str) -> None:
    root = parse(ops.removal(uid, type_, NOW))
    assert root.get("type") == "t-x-d-d" and root.get("uid") != uid
    link = detail(root).find("link")
    assert link is not None
    # CotDeleteImporter: no uid, relation or type → FAILURE; __forcedelete → removed at once.
    assert (link.get("uid"), link.get("relation"), link.get("type")) == (uid, "none", type_)
    assert detail(root).find("__forcedelete") is not None
    assert ops.removals([(uid, type_)], NOW) == [(uid, ops.removal(uid, type_, NOW))]


# --- TAK protocol v1 ------------------------------------------------------------------------------

def _through_protobuf(message: bytes) -> Element:
    framer = framing.ProtoFramer(1 << 20)
    framer.feed(framing.to_proto(message))
    xml = framer.next()
    assert xml is not None and framer.next() is None
    root: Element = safe_xml.fromstring(xml)
    return root


def _same(a: Element, b: Element) -> None:
    assert {k: a.get(k) for k in ("uid", "type", "how", "time", "start", "stale")} == {
        k: b.get(k) for k in ("uid", "type", "how", "time", "start", "stale")}
    for name in ("link", "link_attr", "marti/dest", "strokeColor", "fillColor", "color", "contact",
                 "__forcedelete", "__routeinfo/__navcues"):
        got = [{k: v for k, v in e.attrib.items() if k != "endpoint"} for e in detail(b).findall(name)]
        assert got == [dict(e.attrib) for e in detail(a).findall(name)], name
    assert detail(b).findtext("remarks") == detail(a).findtext("remarks")


def test_every_event_reads_back_the_same_through_tak_protocol_v1() -> None:
    cp = checkpoint(status=CheckpointStatus.CLOSED, reason="tempête",
                    history=(), operator="TUN")
    messages = [m for _, m in ops.operation_events(operation(), NOW)] + [
        ops.patrol_event(patrol(), NOW, missions=["OP-CHAAMBI-26"]),
        ops.checkpoint_event(cp, NOW, missions=["OP-CHAAMBI-26"]),
        ops.removal("fossatum.patrol.p1", "b-m-r", NOW)]
    for message in messages:
        _same(parse(message), _through_protobuf(message))


def test_an_operation_with_a_mission_name_that_needs_escaping() -> None:
    op = dataclasses.replace(operation(), code='OP "A" <&> ج')
    root = parse(ops.area_event(op, NOW))
    assert missions(root) == ['OP "A" <&> ج']
    assert missions(_through_protobuf(ops.area_event(op, NOW))) == ['OP "A" <&> ج']


# --- one viewer's picture -------------------------------------------------------------------------

def uids(items: list[tuple[str, bytes]]) -> list[str]:
    return [uid for uid, _ in items]


def test_the_picture_is_areas_and_sectors_then_routes_then_checkpoints_each_in_its_mission() -> None:
    op, p = operation(), patrol()
    outside = checkpoint(id="cp9", point={"type": "Point", "coordinates": [9.5, 36.0]})
    items = ops.picture([op], [p], [checkpoint(), outside], NOW)
    assert uids(items) == [*ops.operation_uids(op), "fossatum.patrol.p1", "fossatum.checkpoint.cp1",
                           "fossatum.checkpoint.cp9"]
    by_uid = {uid: parse(m) for uid, m in items}
    assert missions(by_uid["fossatum.patrol.p1"]) == ["OP-CHAAMBI-26"]
    assert missions(by_uid["fossatum.checkpoint.cp1"]) == ["OP-CHAAMBI-26"]  # on the patrol's route
    assert missions(by_uid["fossatum.checkpoint.cp9"]) == []  # neither in the area nor on a route


def test_a_checkpoint_in_the_area_joins_the_operation_without_a_patrol() -> None:
    inside = checkpoint(id="cp2", point={"type": "Point", "coordinates": [8.5, 35.1]})
    assert ops.checkpoint_missions(inside, [], {"op1": operation()}) == ["OP-CHAAMBI-26"]
    on_edge = checkpoint(id="cp3", point={"type": "Point", "coordinates": [8.8, 35.2]})
    assert ops.checkpoint_missions(on_edge, [], {"op1": operation()}) == ["OP-CHAAMBI-26"]
    ended = operation(status=MissionStatus.COMPLETED)
    assert ops.checkpoint_missions(inside, [patrol()], {"op1": ended}) == []


def test_an_ended_operation_shows_nothing_and_takes_its_routes_with_it() -> None:
    for status in (MissionStatus.COMPLETED, MissionStatus.CANCELLED):
        ended = operation(status=status)
        assert ops.operation_items(ended, NOW) == []
        assert ops.patrol_items(patrol(), {"op1": ended}, NOW) == []
        # Its checkpoints stay (a checkpoint outlives the cordon), in no mission.
        items = ops.picture([ended], [patrol()], [checkpoint()], NOW)
        assert uids(items) == ["fossatum.checkpoint.cp1"] and missions(parse(items[0][1])) == []
    assert ops.patrol_items(patrol(status=MissionStatus.COMPLETED), {"op1": operation()}, NOW) == []
    paused = operation(status=MissionStatus.PAUSED)
    assert uids(ops.operation_items(paused, NOW)) == ops.operation_uids(paused)


def test_a_patrol_of_an_operation_the_viewer_may_not_see_names_no_mission() -> None:
    # Released to the viewer on its own (its countries), while the operation is not: its code,
    # the mission's name, is not told.
    items = ops.patrol_items(patrol(), {}, NOW)
    assert uids(items) == ["fossatum.patrol.p1"] and missions(parse(items[0][1])) == []
    assert ops.checkpoint_missions(checkpoint(), [patrol()], {}) == []


def test_groups_and_types_of_uids() -> None:
    op = operation()
    for uid in ops.operation_uids(op):
        assert ops.group_of(uid) == "fossatum.operation.op1" and ops.type_of(uid) == "u-d-f"
    assert ops.group_of("fossatum.patrol.p1") == "fossatum.patrol.p1" and ops.type_of("fossatum.patrol.p1") == "b-m-r"
    assert ops.group_of("fossatum.checkpoint.cp1") == "fossatum.checkpoint.cp1"
    assert ops.type_of("fossatum.checkpoint.cp1") == "b-m-p-c"
    assert ops.group_of(codec.report_uid("r1")) is None and ops.group_of(codec.unit_uid("u1")) is None
    assert ops.groups_of_object("x") == ("fossatum.operation.x", "fossatum.patrol.x", "fossatum.checkpoint.x")
    link = detail(parse(ops.removal_of("fossatum.operation.op1.sector.s-tun", NOW))).find("link")
    assert link is not None and link.get("type") == "u-d-f"


def test_a_viewers_copy_with_units_redacted_is_still_shown() -> None:
    doc = operation().to_doc()
    doc["units"] = ["u-dz-1"]  # the viewer may not see u-tn-1 and u-dz-2
    op = ops.operation_of(doc)
    assert op is not None
    assert {s.id: s.units for s in op.sectors} == {"s-dza": ("u-dz-1",), "s-tun": ()}
    remarks = detail(parse(ops.sector_event(op, op.sectors[0], NOW))).findtext("remarks") or ""
    assert "1 unit assigned" in remarks  # not the two the lead's document names
    assert ops.operation_of({"id": "broken"}) is None
    assert ops.patrol_of({**patrol().to_doc(), "route": []}) is None
    assert ops.checkpoint_of(checkpoint().to_doc()) == checkpoint()


def test_the_country_colours_are_the_cop_pages() -> None:
    # One colour per country on the wall screen and on the device (web/src/palette.ts).
    import re
    from pathlib import Path

    palette = (Path(__file__).resolve().parents[2] / "web" / "src" / "palette.ts").read_text()
    line = re.search(r"COUNTRY_COLOUR[^=]*=\s*\{([^}]*)\}", palette)
    assert line is not None
    page = {c: int("FF" + h, 16) for c, h in re.findall(r'(\w+):\s*"#([0-9A-Fa-f]{6})"', line.group(1))}
    for country, colour in ops.COUNTRY_COLOURS.items():
        assert colour & 0xFFFFFFFF == page[country], country
