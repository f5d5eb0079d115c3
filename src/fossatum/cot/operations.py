"""Joint operations, patrols and checkpoints → CoT for TAK devices (issue 12). Pure: no I/O.

What ATAK's importers read (shared/reference/operations-dispatch-standards.md §3.2, checked
against ATAK-CIV's `DrawingShapeImporter`, `EditablePolylineImporter`, `RouteImporter` and
`CotDeleteImporter`):

- an operation's area and each of its sectors: `u-d-f`, one `<link point="lat,lon"/>` per
  vertex, closed (last = first), `strokeColor`/`fillColor` as signed 32-bit ARGB integers;
- a patrol: `b-m-r` with `<link_attr>` (its `color` is parsed as an integer, so it is always
  given) and one `<link uid type point/>` per route point in driving order — `b-m-p-w` for a
  waypoint, `b-m-p-c` for a control point (a border rendezvous, a checkpoint on the route).
  Every `<link>` of a route event is read as a route point, so no other `<link>` is added;
- a checkpoint: a `b-m-p-c` point event, its status in `remarks` and in its colour;
- removal: `t-x-d-d` naming the item in `<link uid relation type/>` (ATAK refuses the delete if
  any of the three is empty) with `<__forcedelete/>` (removed at once, not just made stale).

Every item of an operation carries `<marti><dest mission="CODE"/></marti>`: the operation's code
is its TAK Data Sync mission, so a TAK Server or a device groups the items by operation. Uids
are derived from the object ids alone, so a new version replaces the old one on the device.

Stale: drawings of a live operation stay until the operation's last phase ends, and at least
24 h after they were sent (an overrunning cordon must not vanish from the map); the end of an
operation is an explicit removal, not left to `stale`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, TypeVar
from xml.sax.saxutils import escape, quoteattr

from ..domain import timeutil
from ..domain.checkpoint import JOINT, Checkpoint, CheckpointStatus
from ..domain.operation import MissionStatus, Operation, Sector
from ..domain.patrol import Patrol, Waypoint, WaypointKind
from ..domain.polygon import covers
from ..errors import InvalidInput
from .codec import event_xml

log = logging.getLogger("fossatum.cot")
T = TypeVar("T")

AREA_TYPE: Final = "u-d-f"
ROUTE_TYPE: Final = "b-m-r"
WAYPOINT_TYPE: Final = "b-m-p-w"
CONTROL_POINT_TYPE: Final = "b-m-p-c"
CHECKPOINT_TYPE: Final = "b-m-p-c"
DELETE_TYPE: Final = "t-x-d-d"

MIN_STALE = timedelta(hours=24)
FINAL: Final = frozenset({MissionStatus.COMPLETED, MissionStatus.CANCELLED})


def argb(value: int) -> int:
    """0xAARRGGBB as the signed 32-bit integer ATAK writes and parses."""
    return value - (1 << 32) if value & 0x80000000 else value


# Fixed colours of the countries' sectors and routes: those of the COP page (web/src/palette.ts),
# so that a sector has one colour on the wall screen and on the device. They are the Okabe–Ito
# palette, told apart with the common forms of colour blindness; a sector's callsign and remarks
# also name its country, so colour is never the only carrier.
COUNTRY_COLOURS: Final[Mapping[str, int]] = MappingProxyType({
    "TUN": argb(0xFFD55E00),  # vermillion
    "DZA": argb(0xFF009E73),  # bluish green
    "LBY": argb(0xFF56B4E9),  # sky blue
})
# Any other country: one of the palette's spare colours, chosen by its code alone (the same on
# every node and device, whatever order partners were added in).
OTHER_COLOURS: Final = tuple(argb(c) for c in (0xFFE69F00, 0xFF0072B2, 0xFFF0E442))
AREA_COLOUR: Final = argb(0xFFFFFFFF)  # the operation's outline: white, not filled, under the sectors
FILL_ALPHA: Final = 0x40  # sectors are filled at 25 % so the map stays readable under them
# As on the COP page: open blue, reinforced orange, closed vermillion (the remarks say it in words).
CHECKPOINT_COLOURS: Final[Mapping[CheckpointStatus, int]] = MappingProxyType({
    CheckpointStatus.OPEN: argb(0xFF0072B2),
    CheckpointStatus.REINFORCED: argb(0xFFE69F00),
    CheckpointStatus.CLOSED: argb(0xFFD55E00),
})


def country_colour(country: str) -> int:
    fixed = COUNTRY_COLOURS.get(country)
    if fixed is not None:
        return fixed
    digest = hashlib.sha256(country.encode()).digest()
    return OTHER_COLOURS[digest[0] % len(OTHER_COLOURS)]


def fill(colour: int, alpha: int = FILL_ALPHA) -> int:
    return argb(((colour & 0x00FFFFFF) | (alpha << 24)) & 0xFFFFFFFF)


# --- uids ---------------------------------------------------------------------------------

def operation_uid(operation_id: str) -> str:
    return f"fossatum.operation.{operation_id}"


def sector_uid(operation_id: str, sector_id: str) -> str:
    return f"fossatum.operation.{operation_id}.sector.{sector_id}"


def patrol_uid(patrol_id: str) -> str:
    return f"fossatum.patrol.{patrol_id}"


def route_point_uid(patrol_id: str, index: int) -> str:
    """A route point's own uid: never a checkpoint's, since ATAK would take a marker it finds
    under a link's uid into the route (RouteImporter.createMarker)."""
    return f"fossatum.patrol.{patrol_id}.point.{index}"


def checkpoint_uid(checkpoint_id: str) -> str:
    return f"fossatum.checkpoint.{checkpoint_id}"


def shows(status: MissionStatus) -> bool:
    """Whether devices show an operation or patrol in this status: planned, running or paused."""
    return status not in FINAL


# --- rendering ----------------------------------------------------------------------------

def _missions(missions: Iterable[str]) -> str:
    names = sorted(set(missions))
    if not names:
        return ""
    return "<marti>" + "".join(f"<dest mission={quoteattr(m)}/>" for m in names) + "</marti>"


def _ring_links(polygon: Mapping[str, Any]) -> tuple[str, float, float]:
    """The vertices as `<link point/>`s, closed, and the centre of the bounding box (the event's point)."""
    ring = [(float(p[0]), float(p[1])) for p in polygon["coordinates"][0]]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    links = "".join(f'<link point="{lat:.7f},{lon:.7f}"/>' for lon, lat in ring)
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return links, (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2


def _ends(instants: Iterable[str | None]) -> datetime | None:
    known = [timeutil.parse(i, field="planned_end") for i in instants if i]
    return max(known) if known else None


def operation_end(operation: Operation) -> datetime | None:
    """When the operation is to end: its last phase's end (actual if it ended, else planned)."""
    return _ends(p.actual_end or p.planned_end for p in operation.phases)


def _stale(now: datetime, end: datetime | None) -> datetime:
    return max(now + MIN_STALE, end) if end is not None else now + MIN_STALE


def _polygon(*, uid: str, polygon: Mapping[str, Any], callsign: str, remarks: str, stroke: int, fill_colour: int,
             missions: Iterable[str], now: datetime, stale: datetime) -> bytes:
    links, lat, lon = _ring_links(polygon)
    detail = (f"{links}<contact callsign={quoteattr(callsign)}/>"
              f'<strokeColor value="{stroke}"/><strokeWeight value="3.0"/><fillColor value="{fill_colour}"/>'
              f'<remarks>{escape(remarks)}</remarks><labels_on value="true"/>{_missions(missions)}')
    return event_xml(uid=uid, type_=AREA_TYPE, time=now, stale=stale, lat=lat, lon=lon, how="h-e", detail=detail)


def _label(value: str) -> str:
    return value.replace("_", " ")


def area_event(operation: Operation, now: datetime) -> bytes:
    """The operation's area: a closed white outline, labelled with its code and name."""
    lines = [f"{operation.code} — {operation.name}",
             f"{_label(operation.kind.value)}, status {operation.status.value}, lead {operation.lead_country}, "
             f"participants {', '.join(operation.participants)}"]
    for phase in operation.phases:
        lines.append(f"phase {phase.name}: {phase.actual_start or phase.planned_start} → "
                     f"{phase.actual_end or phase.planned_end}")
    return _polygon(uid=operation_uid(operation.id), polygon=operation.area, callsign=operation.code,
                    remarks="\n".join(lines), stroke=AREA_COLOUR, fill_colour=fill(AREA_COLOUR, 0),
                    missions=[operation.code], now=now, stale=_stale(now, operation_end(operation)))


def sector_event(operation: Operation, sector: Sector, now: datetime) -> bytes:
    """One sector, outlined and lightly filled in its country's colour."""
    colour = country_colour(sector.country)
    units = len(sector.units)
    remarks = (f"{operation.code} sector {sector.name} — {sector.country}, "
               f"{units} unit{'' if units == 1 else 's'} assigned")
    return _polygon(uid=sector_uid(operation.id, sector.id), polygon=sector.polygon,
                    callsign=f"{operation.code} {sector.name}", remarks=remarks, stroke=colour,
                    fill_colour=fill(colour), missions=[operation.code], now=now,
                    stale=_stale(now, operation_end(operation)))


def operation_events(operation: Operation, now: datetime) -> list[tuple[str, bytes]]:
    """(uid, event) of the area and every sector, area first (it is drawn under them)."""
    return [(operation_uid(operation.id), area_event(operation, now)),
            *((sector_uid(operation.id, s.id), sector_event(operation, s, now)) for s in operation.sectors)]


def operation_uids(operation: Operation) -> list[str]:
    return [operation_uid(operation.id), *(sector_uid(operation.id, s.id) for s in operation.sectors)]


def _point_link(patrol: Patrol, index: int, point: Waypoint) -> str:
    type_ = WAYPOINT_TYPE if point.kind is WaypointKind.WAYPOINT else CONTROL_POINT_TYPE
    remarks = point.kind.value
    if point.kind is WaypointKind.RENDEZVOUS:
        remarks = f"rendezvous {' / '.join(point.countries)}" + (f" at {point.at}" if point.at else "")
    elif point.kind is WaypointKind.CHECKPOINT:
        remarks = "checkpoint"
    return (f"<link uid={quoteattr(route_point_uid(patrol.id, index))} type=\"{type_}\""
            f" point=\"{point.lat:.7f},{point.lon:.7f}\" callsign={quoteattr(point.name)}"
            f" remarks={quoteattr(remarks)} relation=\"c\"/>")


def patrol_event(patrol: Patrol, now: datetime, *, missions: Iterable[str] = ()) -> bytes:
    """The patrol's route: its points linked in driving order, in its owner country's colour.
    `missions`: the codes of the operations the viewer may see that it belongs to."""
    colour = country_colour(patrol.owner_country)
    links = "".join(_point_link(patrol, n, w) for n, w in enumerate(patrol.route))
    lines = [f"{patrol.code} — {patrol.name}", f"status {patrol.status.value}, countries {', '.join(patrol.countries)}",
             f"planned {patrol.planned_start} → {patrol.planned_end}"]
    lines += [f"rendezvous {w.name}: {' / '.join(w.countries)}" + (f" at {w.at}" if w.at else "")
              for w in patrol.rendezvous()]
    detail = (f'<link_attr color="{colour}" type="Vehicle" method="Driving" direction="Infil" prefix="CP"'
              f' routetype="Primary" order="Ascending Check Points" stroke="3"/>{links}'
              f'<strokeColor value="{colour}"/><strokeWeight value="3.0"/>'
              f"<contact callsign={quoteattr(patrol.code)}/><remarks>{escape(chr(10).join(lines))}</remarks>"
              f"<__routeinfo><__navcues/></__routeinfo>{_missions(missions)}")
    first = patrol.route[0]
    stale = _stale(now, _ends([patrol.planned_end]))
    return event_xml(uid=patrol_uid(patrol.id), type_=ROUTE_TYPE, time=now, stale=stale, lat=first.lat,
                     lon=first.lon, how="h-e", detail=detail)


def checkpoint_event(checkpoint: Checkpoint, now: datetime, *, missions: Iterable[str] = ()) -> bytes:
    """A checkpoint as a control point, its status (with the reason and when) in remarks and colour."""
    lon, lat = checkpoint.point["coordinates"]
    operator = "joint" if checkpoint.operator == JOINT else checkpoint.operator
    status = checkpoint.status.value.upper()
    since = f" since {checkpoint.history[-1].at}" if checkpoint.history else ""
    lines = [f"{status}{since}" + (f" — {checkpoint.reason}" if checkpoint.reason.strip() else ""),
             f"operator {operator}, border section {checkpoint.section}"]
    detail = (f"<contact callsign={quoteattr(f'{checkpoint.name} ({checkpoint.status.value})')}/>"
              f'<color argb="{CHECKPOINT_COLOURS[checkpoint.status]}"/>'
              f"<remarks>{escape(chr(10).join(lines))}</remarks>{_missions(missions)}")
    return event_xml(uid=checkpoint_uid(checkpoint.id), type_=CHECKPOINT_TYPE, time=now, stale=now + MIN_STALE,
                     lat=float(lat), lon=float(lon), how="h-e", detail=detail)


def removal(uid: str, type_: str, now: datetime) -> bytes:
    """t-x-d-d: the device drops the item now (the operation ended, the user lost access)."""
    return event_xml(uid=f"{uid}.delete", type_=DELETE_TYPE, time=now, stale=now + timedelta(minutes=1), lat=0,
                     lon=0, how="h-g-i-g-o",
                     detail=f'<link uid={quoteattr(uid)} relation="none" type={quoteattr(type_)}/><__forcedelete/>')


def removals(items: Sequence[tuple[str, str]], now: datetime) -> list[tuple[str, bytes]]:
    """(uid, removal) for each (uid, CoT type) given."""
    return [(uid, removal(uid, type_, now)) for uid, type_ in items]


# --- what one viewer's devices show ---------------------------------------------------------------
#
# An operation's items are its area and sectors; a patrol's, its route; a checkpoint's, its point.
# The groups below are what the fan-out replaces as a whole: a sector dropped from an operation
# is removed from the devices that had it, and an ended operation takes its items with it.

OPERATION_PREFIX: Final = operation_uid("")
PATROL_PREFIX: Final = patrol_uid("")
CHECKPOINT_PREFIX: Final = checkpoint_uid("")
_SECTOR = ".sector."


def group_of(uid: str) -> str | None:
    """The uid of the object whose item `uid` is (an operation's for its sectors), or None if it
    is not one of these (a report, a unit, a chat line)."""
    if uid.startswith(OPERATION_PREFIX):
        head, _, _ = uid.partition(_SECTOR)
        return head
    if uid.startswith((PATROL_PREFIX, CHECKPOINT_PREFIX)):
        return uid
    return None


def groups_of_object(object_id: str) -> tuple[str, ...]:
    """The groups a purged object of any of these kinds may have been shown as."""
    return operation_uid(object_id), patrol_uid(object_id), checkpoint_uid(object_id)


def type_of(uid: str) -> str:
    """The CoT type an item was sent as, from its uid (for the removal's `<link type>`)."""
    if uid.startswith(OPERATION_PREFIX):
        return AREA_TYPE
    if uid.startswith(PATROL_PREFIX):
        return ROUTE_TYPE
    if uid.startswith(CHECKPOINT_PREFIX):
        return CHECKPOINT_TYPE
    return "none"  # as ATAK's own deletes


def removal_of(uid: str, now: datetime) -> bytes:
    return removal(uid, type_of(uid), now)


def _parsed(kind: str, make: Callable[[], T]) -> T | None:
    """A document as its domain type; None (logged) if it breaks a rule — a partner's copy from
    a later version, say — so that one odd document does not stop the others being shown."""
    try:
        return make()
    except (InvalidInput, KeyError, TypeError, ValueError) as exc:
        log.warning("cot: a %s document is not shown on devices: %s", kind, exc)
        return None


def operation_of(doc: Mapping[str, Any]) -> Operation | None:
    """The operation a viewer's document describes. The viewer's copy lists only the units the
    viewer may see (policy/redact.py); a sector keeps only those too, so that its count tells
    nothing of the others and the document stays an operation."""
    visible = set(doc.get("units") or ())
    sectors = [{**s, "units": [u for u in s.get("units") or () if u in visible]}
               for s in doc.get("sectors") or () if isinstance(s, Mapping)]
    return _parsed("operation", lambda: Operation.from_doc({**doc, "sectors": sectors}))


def patrol_of(doc: Mapping[str, Any]) -> Patrol | None:
    return _parsed("patrol", lambda: Patrol.from_doc(doc))


def checkpoint_of(doc: Mapping[str, Any]) -> Checkpoint | None:
    return _parsed("checkpoint", lambda: Checkpoint.from_doc(doc))


def operation_items(operation: Operation, now: datetime) -> list[tuple[str, bytes]]:
    """Its area and sectors while it is planned, running or paused; nothing once it has ended."""
    return operation_events(operation, now) if shows(operation.status) else []


def patrol_items(patrol: Patrol, operations: Mapping[str, Operation], now: datetime) -> list[tuple[str, bytes]]:
    """Its route while it and its operation run, in the operation's mission. `operations`: those
    the viewer may see by id; an operation the viewer may not see is neither named nor consulted."""
    operation = operations.get(patrol.operation) if patrol.operation else None
    if not shows(patrol.status) or (operation is not None and not shows(operation.status)):
        return []
    missions = [operation.code] if operation is not None else []
    return [(patrol_uid(patrol.id), patrol_event(patrol, now, missions=missions))]


def checkpoint_missions(checkpoint: Checkpoint, patrols: Iterable[Patrol],
                        operations: Mapping[str, Operation]) -> list[str]:
    """The live operations (of those the viewer may see) a checkpoint belongs to: those whose area
    holds it, and those with a running patrol through it."""
    lon, lat = checkpoint.point["coordinates"]
    codes = {op.code for op in operations.values() if shows(op.status) and covers(dict(op.area), lon, lat)}
    for patrol in patrols:
        operation = operations.get(patrol.operation) if patrol.operation else None
        if operation is not None and shows(operation.status) and shows(patrol.status) and any(
                w.checkpoint == checkpoint.id for w in patrol.route):
            codes.add(operation.code)
    return sorted(codes)


def checkpoint_items(checkpoint: Checkpoint, patrols: Iterable[Patrol], operations: Mapping[str, Operation],
                     now: datetime) -> list[tuple[str, bytes]]:
    missions = checkpoint_missions(checkpoint, patrols, operations)
    return [(checkpoint_uid(checkpoint.id), checkpoint_event(checkpoint, now, missions=missions))]


def picture(operations: Iterable[Operation], patrols: Iterable[Patrol], checkpoints: Iterable[Checkpoint],
            now: datetime) -> list[tuple[str, bytes]]:
    """Everything of these one viewer may see, as their devices show it: areas and sectors,
    routes, checkpoints (in that order, so that points are drawn over the shapes)."""
    by_id = {op.id: op for op in operations}
    patrols = list(patrols)
    out = [item for op in by_id.values() for item in operation_items(op, now)]
    out += [item for patrol in patrols for item in patrol_items(patrol, by_id, now)]
    out += [item for cp in checkpoints for item in checkpoint_items(cp, patrols, by_id, now)]
    return out
