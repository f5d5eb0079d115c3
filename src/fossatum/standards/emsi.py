"""A joint operation as an EMSI message (ISO/TR 22351, carried over from CEN CWA 15931's Tactical
Situation Object), in the JSON layout of the open EMSI JSON Schema that France's Hub Santé uses
between SAMU and NexSIS: upper-case field names, code lists as strings, positions as COORD lists.

    CONTEXT   the message: id, MODE (ACTUAL, or EXERCS for an exercise), MSGTYPE, LEVEL, SECLASS, ORIGIN
    EVENT     the operation as the situation it answers: ETYPE, status, area (EGEO), rendezvous, checkpoints
    MISSION   the operation as a whole, then one per sector and one per patrol (children of the first)
    RESOURCE  one per unit: class, capability, current position (RGEO CUR), status, nationality

The code lists and field names come from shared/reference/operations-dispatch-standards.md §1
(EMSI, read from the open schema and from emsi-lib). Where the reference says nothing about a
value Fossatum needs, the comment says so and names the nearest code the lists do have. The
expansions of most codes (what "PSW" or "LAWENF" stand for) are not confirmed by the reference.

What goes in is what goes out: `to_emsi` exports exactly the operation, patrols, units and
journal entries it is given, and refers (RESOURCE_ID) only to the units it is given. The caller
passes only what the viewer may see: the operation as shown to them, the patrols and units
released to them, their visible journal entries. Nothing here reads anything else.

`emsi.schema.json` beside this module is the JSON Schema (draft 2020-12) of this profile: the
blocks Fossatum always sends are required, every code list it uses is an enum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.checkpoint import Checkpoint
from ..domain.operation import JournalEntry, JournalKind, MissionStatus, Operation, OperationKind, Sector
from ..domain.patrol import Patrol, WaypointKind
from ..domain.timeutil import parse
from ..domain.unit import Unit

COORDSYS = "EPSG-4326"  # WGS84 latitude/longitude, spelled as in the reference's EMSI example

# ISO 3166-1 alpha-3 (Fossatum's country codes) to alpha-2, which EMSI's NATIONALITY and the
# {country}.{organisation} ids use. Hand-written for the countries around the Maghreb borders
# (no country-code package is in the lock); a country not listed keeps its alpha-3 code in ids
# and is sent without NATIONALITY rather than with a wrong one.
ALPHA2 = {
    "DZA": "DZ", "EGY": "EG", "ESP": "ES", "FRA": "FR", "ITA": "IT", "LBY": "LY", "MAR": "MA", "MLI": "ML",
    "MLT": "MT", "MRT": "MR", "NER": "NE", "SDN": "SD", "TCD": "TD", "TUN": "TN",
}

# TLP is a sharing marking, EMSI's SECLASS a classification; the reference gives no mapping. The
# nearest protective reading: CLEAR is unclassified, GREEN and AMBER restricted (NexSIS marks all
# its messages RESTRC), AMBER+STRICT confidential, RED (named recipients only) secret.
SECLASS_OF_TLP = {"CLEAR": "UNCLAS", "GREEN": "RESTRC", "AMBER": "RESTRC", "AMBER+STRICT": "CONFID", "RED": "SECRET"}
DEFAULT_TLP = "AMBER"  # what domain/audience.py falls back to for a marking that is missing


@dataclass(frozen=True, slots=True)
class KindCodes:
    area: str  # EGEO TYPE of the operation's area
    mission: str  # MISSION TYPE of the operation and of its sectors
    actors: tuple[str, ...]  # ETYPE ACTOR: who the operation is after


# EGEO TYPE: GEN/CORDON is the reference's code for a cordon; the other kinds cover an area of
# responsibility (GEN/AOR). MISSION TYPE: GEN/SECRNG (securing) for holding a cordon's or a
# checkpoint surge's sectors, INT/PTRLNG (patrolling) for a patrol campaign, plain GEN otherwise.
# ETYPE ACTOR: a group of people (PPL/GRP: an armed group or a smuggling party) and vehicles.
KIND_CODES: Mapping[OperationKind, KindCodes] = {
    OperationKind.CORDON_AND_SEARCH: KindCodes("GEN/CORDON", "GEN/SECRNG", ("PPL/GRP",)),
    OperationKind.JOINT_PATROL_CAMPAIGN: KindCodes("GEN/AOR", "INT/PTRLNG", ("PPL/GRP", "VEH")),
    OperationKind.CHECKPOINT_SURGE: KindCodes("GEN/AOR", "GEN/SECRNG", ("PPL", "VEH")),
    OperationKind.OTHER: KindCodes("GEN/AOR", "GEN", ("PPL",)),
}
PATROL_MISSION = "INT/PTRLNG"
# ETYPE CATEGORY: border security falls under the reference's PSW branch (its sub-codes, riot,
# pursuit, immigration…, describe incidents, not a planned operation). LOCTYPE: the reference has no
# code list; OTH (other) is the one code its example uses, and the one the open schema advises.
CATEGORY = ("PSW",)
LOCTYPE = ("OTH",)
# EVENT SOURCE: the operation is a commander's assessment (HUMDED, human deduction); one that
# names field reports rests on what people saw (HUMOBS, human observation).
SOURCE_PLANNED, SOURCE_REPORTED = "HUMDED", "HUMOBS"
# EVENT CAUSE: smuggling and armed groups are deliberate acts (DEL).
CAUSE = "DEL"

# EVENT STATUS has its own list (NST, IPR, STOP, COM): a paused operation is STOP (the open
# schema's reading: "under control, no additional resources needed"); the list has no code for
# a cancelled event, and COM (over) is the nearest. The missions carry the exact status.
EVENT_STATUS: Mapping[MissionStatus, str] = {
    MissionStatus.NOT_STARTED: "NST", MissionStatus.IN_PROGRESS: "IPR", MissionStatus.PAUSED: "STOP",
    MissionStatus.COMPLETED: "COM", MissionStatus.CANCELLED: "COM",
}


@dataclass(frozen=True, slots=True)
class UnitCodes:
    rclass: tuple[str, ...]  # RTYPE RCLASS
    capability: tuple[str, ...]  # RTYPE CAPABILITY


# RTYPE: the reference lists RCLASS top levels (FAC, HUM, MAT, ORG) and the open schema their
# sub-codes; a unit is people (HUM/UNIT/…): law enforcement for patrols, checkpoints and rapid
# intervention, reconnaissance for an observation post, command and control for a headquarters.
# CAPABILITY has no code list in the reference: what a unit can do is given in EMSI's own
# vocabulary of effects, the MISSION TYPE codes. CHARACTERISTICS (height, width, length, weight)
# are not held by Fossatum and are not sent.
UNIT_CODES: Mapping[str, UnitCodes] = {
    "patrol": UnitCodes(("HUM/UNIT/LAWENF",), ("INT/PTRLNG",)),
    "checkpoint": UnitCodes(("HUM/UNIT/LAWENF",), ("GEN/SECRNG",)),
    "observation_post": UnitCodes(("HUM/UNIT/RECCE",), ("INT/OBSRNG",)),
    "rapid_intervention": UnitCodes(("HUM/UNIT/LAWENF",), ("MIL/INTCPN",)),
    "hq": UnitCodes(("HUM/UNIT/C2",), ("C2",)),
}
OTHER_UNIT = UnitCodes(("HUM/UNIT",), ())


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sends the message (CONTEXT ORIGIN): the exporting node's agency and the user."""

    org_id: str
    name: str
    user_id: str | None = None


def org_id(country: str, agency: str | None = None) -> str:
    """`{country}.{agency}` in the French profile's `{pays}.{domaine}.{organisation}` spirit and the
    reference's `{country}.{agency}.{local id}` shared-id convention: `tn.tn-army`, or `dz` alone."""
    code = ALPHA2.get(country, country).lower()
    return f"{code}.{agency.lower()}" if agency else code


def main_event_id(operation: Operation) -> str:
    """The id every participant's system knows the operation by: the lead's `{country}.{agency}`
    and the operation's id (EVENT MAIN_EVENT_ID)."""
    return f"{org_id(operation.lead_country, operation.owner_agency)}.{operation.id}"


def emsi_time(text: str) -> str:
    """A stored instant as EMSI writes it: to the second, with a numeric offset (`…T05:00:00+00:00`)."""
    return parse(text, field="time").strftime("%Y-%m-%dT%H:%M:%S+00:00")


def point(lat: float, lon: float, *, name: str | None = None, loc_id: str | None = None) -> dict[str, Any]:
    return _position("POINT", [(lon, lat)], name=name, loc_id=loc_id)


def _position(kind: str, lon_lat: Iterable[Sequence[float]], *, name: str | None = None,
              loc_id: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if loc_id is not None:
        doc["LOC_ID"] = loc_id
    if name is not None:
        doc["NAME"] = name
    doc.update(TYPE=kind, COORDSYS=COORDSYS, COORD=[{"LAT": p[1], "LONG": p[0]} for p in lon_lat])
    return doc


def polygon(geometry: Mapping[str, Any], *, name: str | None = None, loc_id: str | None = None) -> dict[str, Any]:
    """A GeoJSON Polygon's outer ring as an EMSI POLYGON. The ring stays closed (last point = first),
    as drawn: a receiver that closes polygons itself loses nothing, one that expects it closed
    gets it."""
    return _position("POLYGON", geometry["coordinates"][0], name=name, loc_id=loc_id)


def _span(operation: Operation) -> tuple[str | None, str | None]:
    """The operation's start and end: each phase's actual time where it has one, else the planned."""
    starts = [p.actual_start or p.planned_start for p in operation.phases]
    ends = [p.actual_end or p.planned_end for p in operation.phases]
    return (emsi_time(min(starts)) if starts else None, emsi_time(max(ends)) if ends else None)


def _timed(doc: dict[str, Any], start: str | None, end: str | None) -> dict[str, Any]:
    if start is not None:
        doc["START_TIME"] = start
    if end is not None:
        doc["END_TIME"] = end
    return doc


def sector_units(operation: Operation, sector: Sector, journal: Iterable[JournalEntry]) -> tuple[str, ...]:
    """The sector's units: the lead's document's, and those its country assigned in the journal
    (only the sector's own country assigns to it; an entry of another country is ignored)."""
    assigned = {e.details["unit"] for e in journal
                if e.kind is JournalKind.ASSIGNMENT and e.operation == operation.id
                and e.details.get("sector") == sector.id and e.country == sector.country}
    return tuple(sorted(set(sector.units) | assigned))


def _resource_status(unit_id: str, operation: Operation, patrols: Sequence[Patrol]) -> str:
    """EMSI RESOURCE STATUS from what the unit is engaged in (the reference's mapping of
    Fossatum's "en route / on scene"): on a running patrol it moves (IN_USE/MOBILE); in a running
    operation it is on scene (IN_USE/ON_SCENE); for one that has not started or is paused it is
    reserved (RESRVD); once everything it was in is over it is available again (AVAILB)."""
    statuses = [p.status for p in patrols if unit_id in p.units]
    if MissionStatus.IN_PROGRESS in statuses:
        return "IN_USE/MOBILE"
    if operation.status is MissionStatus.IN_PROGRESS:
        return "IN_USE/ON_SCENE"
    waiting = (MissionStatus.NOT_STARTED, MissionStatus.PAUSED)
    if operation.status in waiting or any(s in waiting for s in statuses):
        return "RESRVD"
    return "AVAILB"


def _resource(unit: Unit, operation: Operation, patrols: Sequence[Patrol]) -> dict[str, Any]:
    codes = UNIT_CODES.get(unit.kind, OTHER_UNIT)
    rtype: dict[str, Any] = {"RCLASS": list(codes.rclass)}
    if codes.capability:
        rtype["CAPABILITY"] = list(codes.capability)
    doc: dict[str, Any] = {"RTYPE": rtype, "ID": unit.id, "ORG_ID": org_id(unit.owner_country, unit.owner_agency),
                           "NAME": unit.name}
    if unit.callsign:
        doc["FREETEXT"] = f"callsign {unit.callsign}"
    position = unit.position
    if position is not None and isinstance(position.get("lat"), (int, float)) \
            and isinstance(position.get("lon"), (int, float)):
        rgeo: dict[str, Any] = {"TYPE": "CUR"}
        if unit.position_at is not None:
            rgeo["DATIME"] = emsi_time(unit.position_at)
        # The open schema holds RGEO's POSITION as a list (one per fix); the last known fix is one.
        rgeo["POSITION"] = [point(float(position["lat"]), float(position["lon"]))]
        doc["RGEO"] = [rgeo]
    doc["STATUS"] = _resource_status(unit.id, operation, patrols)
    if unit.owner_country in ALPHA2:
        doc["NATIONALITY"] = ALPHA2[unit.owner_country]
    return doc


def _checkpoint_geometry(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint as EGEO GEN/CKPGEN. EGEO has no status field in the open schema's layout: the
    status (open, closed, reinforced), its reason and who operates it go in FREETEXT, and DATIME
    is when that status was set."""
    entry: dict[str, Any] = {"TYPE": "GEN/CKPGEN"}
    if checkpoint.history:
        entry["DATIME"] = emsi_time(checkpoint.history[-1].at)
    reason = f": {checkpoint.reason}" if checkpoint.reason else ""
    entry["FREETEXT"] = f"checkpoint {checkpoint.status.value}{reason}; operated by {checkpoint.operator}"
    lon, lat = checkpoint.point["coordinates"]
    entry["POSITION"] = point(lat, lon, name=checkpoint.name, loc_id=checkpoint.id)
    return entry


def _event_geometry(operation: Operation, patrols: Sequence[Patrol],
                    checkpoints: Sequence[Checkpoint]) -> list[dict[str, Any]]:
    """EGEO: the area (a cordon, or an area of responsibility), the checkpoints given (with their
    status), then the patrols' rendezvous points at the border (GEN/RNDZPT) and any other
    checkpoint on their routes (GEN/CKPGEN, position only), each once."""
    egeo = [{"TYPE": KIND_CODES[operation.kind].area,
             "POSITION": polygon(operation.area, name=operation.name, loc_id=operation.id)}]
    egeo += [_checkpoint_geometry(c) for c in checkpoints]
    seen: set[str] = {c.id for c in checkpoints}
    for patrol in patrols:
        for waypoint in patrol.route:
            if waypoint.kind is WaypointKind.RENDEZVOUS:
                loc_id = f"{patrol.id}/{waypoint.name}"
                entry: dict[str, Any] = {"TYPE": "GEN/RNDZPT"}
                if waypoint.at is not None:
                    entry["DATIME"] = emsi_time(waypoint.at)
                entry["FREETEXT"] = f"rendezvous {' + '.join(waypoint.countries)} ({patrol.name})"
            elif waypoint.kind is WaypointKind.CHECKPOINT and waypoint.checkpoint is not None:
                loc_id = waypoint.checkpoint
                entry = {"TYPE": "GEN/CKPGEN"}
            else:
                continue
            if loc_id in seen:
                continue
            seen.add(loc_id)
            entry["POSITION"] = point(waypoint.lat, waypoint.lon, name=waypoint.name, loc_id=loc_id)
            egeo.append(entry)
    return egeo


def to_emsi(operation: Operation, patrols: Sequence[Patrol], units: Sequence[Unit],
            journal: Sequence[JournalEntry] = (), *, message_id: str, now: str, origin: Origin,
            declared_at: str | None = None, checkpoints: Sequence[Checkpoint] = ()) -> dict[str, Any]:
    """The operation as one EMSI message (see the module's docstring for what the caller passes).
    `checkpoints`: those of the operation (in its area, or on its patrols' routes) to show with
    their status.

    `message_id` is CONTEXT ID (unique per message); `now` its CREATION; `declared_at` when the
    operation was created (EVENT DECL_DATIME; without it, the earliest journal entry or the
    operation's last change). MODE is EXERCS for an exercise, ACTUAL otherwise. ValueError if a
    patrol belongs to another operation (a caller's mistake, never the viewer's)."""
    strangers = [p.id for p in patrols if p.operation != operation.id]
    if strangers:
        raise ValueError(f"patrols of another operation: {', '.join(strangers)}")
    patrols = sorted(patrols, key=lambda p: p.id)
    units = sorted(units, key=lambda u: u.id)
    checkpoints = sorted(checkpoints, key=lambda c: c.id)
    journal = [e for e in journal if e.operation == operation.id]
    given = {u.id for u in units}
    codes = KIND_CODES[operation.kind]
    shared_id = main_event_id(operation)

    origin_doc: dict[str, Any] = {"ORG_ID": origin.org_id}
    if origin.user_id is not None:
        origin_doc["USER_ID"] = origin.user_id
    origin_doc["NAME"] = origin.name
    tlp = operation.audience.get("tlp", DEFAULT_TLP)
    context = {
        "ID": message_id,
        "MODE": "EXERCS" if operation.exercise else "ACTUAL",
        # A cancelled operation is announced as such; anything else describes the operation as it
        # stands now and replaces what a receiver holds (LINK SPRSDS to the shared case id, as the
        # open schema's profile does for messages that carry missions).
        "MSGTYPE": "CANCEL" if operation.status is MissionStatus.CANCELLED else "UPDATE",
        "CREATION": emsi_time(now),
        "LINK": [{"ID": shared_id, "LINK_ROLE": "SPRSDS"}],
        "LEVEL": "OPR",  # a joint operation is run at the operational level
        "SECLASS": SECLASS_OF_TLP.get(tlp, SECLASS_OF_TLP[DEFAULT_TLP]),
        "FREETEXT": f"Fossatum operation {operation.code}" + (" (EXERCISE)" if operation.exercise else ""),
        "ORIGIN": origin_doc,
    }

    declared = declared_at or min([e.at for e in journal] + [operation.updated_at])
    start, end = _span(operation)
    event: dict[str, Any] = {
        "ID": operation.id,
        "NAME": f"{operation.code} {operation.name}",
        "MAIN_EVENT_ID": shared_id,
        "ETYPE": {"CATEGORY": list(CATEGORY), "ACTOR": list(codes.actors), "LOCTYPE": list(LOCTYPE)},
        "SOURCE": SOURCE_REPORTED if operation.reports else SOURCE_PLANNED,
        # SCALE (1–5) rates how large the event is; Fossatum rates no operation. The nearest
        # honest reading is its reach: 2 for one country's operation, 3 for a joint one.
        "SCALE": "3" if len(operation.participants) > 1 else "2",
        "CERTAINTY": 100,  # a planned operation is not a report that may be wrong
        "DECL_DATIME": emsi_time(declared),
    }
    if start is not None:
        event["OCC_DATIME"] = start
    event.update(EGEO=_event_geometry(operation, patrols, checkpoints), CAUSE=CAUSE,
                 STATUS=EVENT_STATUS[operation.status])

    lead_org = org_id(operation.lead_country, operation.owner_agency)
    sector_missions = []
    for sector in operation.sectors:
        sector_missions.append(_timed({
            "TYPE": codes.mission, "ID": f"{operation.id}/{sector.id}", "ORG_ID": org_id(sector.country),
            "NAME": sector.name, "FREETEXT": f"sector held by {sector.country}",
            "STATUS": operation.status.value,  # a sector has no status of its own: it is the operation's
        }, start, end) | {
            "RESOURCE_ID": [u for u in sector_units(operation, sector, journal) if u in given],
            "PARENT_MISSION_ID": [operation.id],
            "POSITION": polygon(sector.polygon, name=sector.name, loc_id=f"{operation.id}/{sector.id}"),
        })
    patrol_missions = []
    for patrol in patrols:
        patrol_missions.append(_timed({
            "TYPE": PATROL_MISSION, "ID": patrol.id, "ORG_ID": org_id(patrol.owner_country, patrol.owner_agency),
            "NAME": f"{patrol.code} {patrol.name}", "FREETEXT": f"patrol of {' + '.join(patrol.countries)}",
            "STATUS": patrol.status.value,
        }, emsi_time(patrol.planned_start), emsi_time(patrol.planned_end)) | {
            "RESOURCE_ID": [u for u in patrol.units if u in given],
            "PARENT_MISSION_ID": [operation.id],
            "POSITION": _position("LINE", [(w.lon, w.lat) for w in patrol.route], name=patrol.name,
                                  loc_id=patrol.id),
        })
    whole = _timed({
        "TYPE": codes.mission, "ID": operation.id, "ORG_ID": lead_org, "NAME": f"{operation.code} {operation.name}",
        "FREETEXT": f"{operation.kind.value.replace('_', ' ')}; lead {operation.lead_country}; "
                    f"participants {', '.join(operation.participants)}",
        "STATUS": operation.status.value,
    }, start, end) | {
        # every unit taking part: the lead's list, the sectors' assignments and the patrols' crews
        "RESOURCE_ID": sorted(u for u in {*operation.units, *(r for m in sector_missions + patrol_missions
                                                                  for r in m["RESOURCE_ID"])} if u in given),
        "CHILD_MISSION_ID": [m["ID"] for m in sector_missions + patrol_missions],
        "POSITION": polygon(operation.area, name=operation.name, loc_id=operation.id),
    }
    return {
        "CONTEXT": context,
        "EVENT": event,
        "MISSION": [whole, *sector_missions, *patrol_missions],
        "RESOURCE": [_resource(u, operation, patrols) for u in units],
    }
