"""The EMSI export (standards/emsi.py) of a joint cordon validates against the profile's JSON Schema
(standards/emsi.schema.json, draft 2020-12) with the `jsonschema` library; every code list of the
schema refuses a code outside it; an exercise is MODE EXERCS; and the export holds nothing but
what it was given (the caller passes only what the viewer may see)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from fossatum.domain.checkpoint import Checkpoint, CheckpointStatus, StatusChange
from fossatum.domain.operation import (
    Command,
    JournalEntry,
    JournalKind,
    MissionStatus,
    Operation,
    OperationKind,
    Phase,
    Sector,
)
from fossatum.domain.patrol import Patrol, Waypoint, WaypointKind
from fossatum.domain.unit import Unit
from fossatum.standards import emsi
from fossatum.standards.emsi import Origin, to_emsi

SCHEMA = json.loads((Path(emsi.__file__).parent / "emsi.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())

# Jebel Chaambi and the Algerian slopes across the border (lon 8.28 to 8.80): the Tunisian sector
# east of 8.45, the Algerian one west of it.
AREA = {"type": "Polygon", "coordinates": [[[8.28, 35.10], [8.80, 35.10], [8.80, 35.35], [8.28, 35.35],
                                            [8.28, 35.10]]]}
TUN_SECTOR = {"type": "Polygon", "coordinates": [[[8.45, 35.10], [8.80, 35.10], [8.80, 35.35], [8.45, 35.35],
                                                  [8.45, 35.10]]]}
DZA_SECTOR = {"type": "Polygon", "coordinates": [[[8.28, 35.10], [8.45, 35.10], [8.45, 35.35], [8.28, 35.35],
                                                  [8.28, 35.10]]]}
NOW = "2026-12-07T05:40:00.000000Z"


def cordon(**changes: Any) -> Operation:
    base: dict[str, Any] = {
        "id": "op-chaambi-1", "code": "CHAAMBI-26-01", "name": "Bouclage du Chaambi",
        "kind": OperationKind.CORDON_AND_SEARCH, "status": MissionStatus.IN_PROGRESS, "lead_country": "TUN",
        "participants": ("TUN", "DZA"), "area": AREA,
        "sectors": (Sector("s-est", "Secteur Est (Kasserine)", TUN_SECTOR, "TUN", ("tn-army-patrol-kef",)),
                    Sector("s-ouest", "Secteur Ouest (Chambi DZ)", DZA_SECTOR, "DZA", ("dz-gn-patrol-1",))),
        "phases": (Phase("bouclage", "2026-12-07T04:30:00.000000Z", "2026-12-07T08:00:00.000000Z",
                         "2026-12-07T04:42:00.000000Z"),
                   Phase("fouille", "2026-12-07T08:00:00.000000Z", "2026-12-07T16:00:00.000000Z")),
        "units": ("tn-army-patrol-kef", "dz-gn-patrol-1", "tn-gn-patrol-chaambi", "tn-army-hq-kasserine"),
        "reports": ("r-armed-group-1",),
        "command": (Command("TUN", "hedi", "youssef"), Command("DZA", "karim")),
        "owner_agency": "TN-ARMY", "audience": {"scope": "partners", "partners": ["DZA"], "tlp": "AMBER"},
        "created_by": "hedi", "updated_at": "2026-12-07T04:42:00.000000Z",
    }
    base.update(changes)
    return Operation(**base)


def joint_patrol(**changes: Any) -> Patrol:
    base: dict[str, Any] = {
        "id": "jp-1", "code": "JP-26-07", "name": "Patrouille mixte borne 212", "operation": "op-chaambi-1",
        "route": (Waypoint("Bouchebka", 8.47, 35.17),
                  Waypoint("RV borne 212", 8.45, 35.20, WaypointKind.RENDEZVOUS, ("TUN", "DZA"),
                           at="2026-12-07T06:00:00.000000Z"),
                  Waypoint("CP piste nord", 8.44, 35.26, WaypointKind.CHECKPOINT, checkpoint="cp-piste-nord")),
        "planned_start": "2026-12-07T05:00:00.000000Z", "planned_end": "2026-12-07T09:00:00.000000Z",
        "status": MissionStatus.IN_PROGRESS, "countries": ("TUN", "DZA"),
        "units": ("tn-gn-patrol-chaambi", "dz-gn-patrol-1"), "owner_agency": "TN-GN", "owner_country": "TUN",
        "audience": {"scope": "partners", "partners": ["DZA"]}, "created_by": "amira", "updated_at": NOW,
    }
    base.update(changes)
    return Patrol(**base)


def unit(uid: str, kind: str, agency: str, country: str, lat: float | None = None, lon: float | None = None,
         callsign: str = "") -> Unit:
    position = {"lat": lat, "lon": lon, "mgrs": ""} if lat is not None else None
    return Unit(uid, uid.replace("-", " ").title(), kind, callsign, agency, country, {"scope": "partners"},
                position, "2026-12-07T05:35:12.250000Z" if position else None, NOW)


UNITS = (
    unit("tn-army-patrol-kef", "patrol", "TN-ARMY", "TUN", 35.22, 8.61, "LION-3"),
    unit("tn-gn-patrol-chaambi", "patrol", "TN-GN", "TUN", 35.19, 8.47, "FAUCON-1"),
    unit("tn-army-hq-kasserine", "hq", "TN-ARMY", "TUN", 35.1676, 8.8365, "KASR-HQ"),
    unit("dz-gn-patrol-1", "patrol", "DZ-GN", "DZA", 35.21, 8.40),
)
ORIGIN = Origin(emsi.org_id("TUN", "TN-NCC"), "Tunisia NCC", "hedi")


def export(operation: Operation | None = None, patrols: tuple[Patrol, ...] | None = None,
           units: tuple[Unit, ...] = UNITS, journal: tuple[JournalEntry, ...] = ()) -> dict[str, Any]:
    return to_emsi(operation or cordon(), (joint_patrol(),) if patrols is None else patrols, units, journal,
                   message_id="msg-1", now=NOW, origin=ORIGIN, declared_at="2026-12-06T20:00:00.000000Z")


def errors(doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def test_the_schema_is_a_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_joint_cordon_at_dawn_exports_as_valid_emsi() -> None:
    doc = export()
    assert errors(doc) == []
    context, event = doc["CONTEXT"], doc["EVENT"]
    assert context["MODE"] == "ACTUAL" and context["MSGTYPE"] == "UPDATE" and context["LEVEL"] == "OPR"
    assert context["SECLASS"] == "RESTRC" and context["CREATION"] == "2026-12-07T05:40:00+00:00"
    assert context["ORIGIN"] == {"ORG_ID": "tn.tn-ncc", "USER_ID": "hedi", "NAME": "Tunisia NCC"}
    assert context["LINK"] == [{"ID": "tn.tn-army.op-chaambi-1", "LINK_ROLE": "SPRSDS"}]
    assert event["MAIN_EVENT_ID"] == "tn.tn-army.op-chaambi-1" and event["STATUS"] == "IPR"
    assert event["ETYPE"] == {"CATEGORY": ["PSW"], "ACTOR": ["PPL/GRP"], "LOCTYPE": ["OTH"]}
    assert event["SOURCE"] == "HUMOBS"  # it names a field report
    assert event["DECL_DATIME"] == "2026-12-06T20:00:00+00:00"
    assert event["OCC_DATIME"] == "2026-12-07T04:42:00+00:00"  # the actual start of the first phase
    area, rendezvous, checkpoint = event["EGEO"]
    assert area["TYPE"] == "GEN/CORDON" and area["POSITION"]["TYPE"] == "POLYGON"
    assert area["POSITION"]["COORD"][0] == {"LAT": 35.10, "LONG": 8.28} == area["POSITION"]["COORD"][-1]
    assert rendezvous["TYPE"] == "GEN/RNDZPT" and rendezvous["DATIME"] == "2026-12-07T06:00:00+00:00"
    assert rendezvous["POSITION"]["COORD"] == [{"LAT": 35.20, "LONG": 8.45}]
    assert checkpoint["TYPE"] == "GEN/CKPGEN" and checkpoint["POSITION"]["LOC_ID"] == "cp-piste-nord"

    whole, east, west, patrol = doc["MISSION"]
    assert (whole["ID"], whole["TYPE"], whole["STATUS"], whole["ORG_ID"]) == (
        "op-chaambi-1", "GEN/SECRNG", "IPR", "tn.tn-army")
    assert whole["START_TIME"] == "2026-12-07T04:42:00+00:00" and whole["END_TIME"] == "2026-12-07T16:00:00+00:00"
    assert whole["CHILD_MISSION_ID"] == ["op-chaambi-1/s-est", "op-chaambi-1/s-ouest", "jp-1"]
    assert (east["ORG_ID"], east["RESOURCE_ID"], east["PARENT_MISSION_ID"]) == (
        "tn", ["tn-army-patrol-kef"], ["op-chaambi-1"])
    assert (west["ORG_ID"], west["RESOURCE_ID"]) == ("dz", ["dz-gn-patrol-1"])
    assert west["POSITION"]["COORD"][1] == {"LAT": 35.10, "LONG": 8.45}
    assert (patrol["TYPE"], patrol["STATUS"], patrol["ORG_ID"]) == ("INT/PTRLNG", "IPR", "tn.tn-gn")
    assert (patrol["START_TIME"], patrol["END_TIME"]) == ("2026-12-07T05:00:00+00:00", "2026-12-07T09:00:00+00:00")
    assert patrol["RESOURCE_ID"] == ["dz-gn-patrol-1", "tn-gn-patrol-chaambi"]
    assert patrol["POSITION"]["TYPE"] == "LINE" and len(patrol["POSITION"]["COORD"]) == 3

    resources = {r["ID"]: r for r in doc["RESOURCE"]}
    assert set(resources) == {u.id for u in UNITS}
    dz = resources["dz-gn-patrol-1"]
    assert dz["NATIONALITY"] == "DZ" and dz["ORG_ID"] == "dz.dz-gn" and dz["STATUS"] == "IN_USE/MOBILE"
    assert dz["RTYPE"] == {"RCLASS": ["HUM/UNIT/LAWENF"], "CAPABILITY": ["INT/PTRLNG"]}
    assert dz["RGEO"] == [{"TYPE": "CUR", "DATIME": "2026-12-07T05:35:12+00:00",
                           "POSITION": [{"TYPE": "POINT", "COORDSYS": "EPSG-4326",
                                         "COORD": [{"LAT": 35.21, "LONG": 8.40}]}]}]
    assert resources["tn-army-patrol-kef"]["STATUS"] == "IN_USE/ON_SCENE"  # holds its sector, not on the patrol
    assert resources["tn-army-hq-kasserine"]["RTYPE"]["RCLASS"] == ["HUM/UNIT/C2"]
    assert resources["tn-gn-patrol-chaambi"]["NATIONALITY"] == "TN"


def test_the_checkpoints_given_are_shown_with_their_status() -> None:
    reinforced = Checkpoint(
        "cp-piste-nord", "Piste nord", {"type": "Point", "coordinates": [8.44, 35.26]}, "TUN-DZA-06", "joint",
        CheckpointStatus.REINFORCED, "groupe armé signalé à 2 km",
        (StatusChange(CheckpointStatus.OPEN, "", "amira", "2026-12-06T18:00:00.000000Z"),
         StatusChange(CheckpointStatus.REINFORCED, "groupe armé signalé à 2 km", "amira",
                      "2026-12-07T05:10:00.000000Z")),
        ("tn-gn-patrol-chaambi",), "TN-GN", "TUN", {"scope": "partners"}, "amira", NOW)
    doc = to_emsi(cordon(), (joint_patrol(),), UNITS, message_id="m", now=NOW, origin=ORIGIN,
                  checkpoints=(reinforced,))
    assert errors(doc) == []
    checkpoints = [e for e in doc["EVENT"]["EGEO"] if e["TYPE"] == "GEN/CKPGEN"]
    # the one on the patrol's route is the checkpoint given, once, with its status
    assert checkpoints == [{"TYPE": "GEN/CKPGEN", "DATIME": "2026-12-07T05:10:00+00:00",
                            "FREETEXT": "checkpoint reinforced: groupe armé signalé à 2 km; operated by joint",
                            "POSITION": {"LOC_ID": "cp-piste-nord", "NAME": "Piste nord", "TYPE": "POINT",
                                         "COORDSYS": "EPSG-4326", "COORD": [{"LAT": 35.26, "LONG": 8.44}]}}]


def test_every_reference_in_the_message_resolves() -> None:
    doc = export()
    missions = {m["ID"] for m in doc["MISSION"]}
    resources = {r["ID"] for r in doc["RESOURCE"]}
    for mission in doc["MISSION"]:
        assert set(mission["RESOURCE_ID"]) <= resources
        assert set(mission.get("PARENT_MISSION_ID", [])) | set(mission.get("CHILD_MISSION_ID", [])) <= missions


def test_an_exercise_is_sent_as_exercs_and_a_live_operation_as_actual() -> None:
    drill = export(cordon(exercise=True))
    assert errors(drill) == []
    assert drill["CONTEXT"]["MODE"] == "EXERCS" and "EXERCISE" in drill["CONTEXT"]["FREETEXT"]
    assert export()["CONTEXT"]["MODE"] == "ACTUAL"


@pytest.mark.parametrize("status", list(MissionStatus))
def test_every_status_of_an_operation_and_a_patrol_exports_valid(status: MissionStatus) -> None:
    doc = export(cordon(status=status), (joint_patrol(status=status),))
    assert errors(doc) == []
    assert {m["STATUS"] for m in doc["MISSION"]} == {status.value}
    assert doc["EVENT"]["STATUS"] == emsi.EVENT_STATUS[status]
    assert doc["CONTEXT"]["MSGTYPE"] == ("CANCEL" if status is MissionStatus.CANCELLED else "UPDATE")
    expected = {MissionStatus.NOT_STARTED: "RESRVD", MissionStatus.IN_PROGRESS: "IN_USE/MOBILE",
                MissionStatus.PAUSED: "RESRVD", MissionStatus.COMPLETED: "AVAILB",
                MissionStatus.CANCELLED: "AVAILB"}[status]
    assert {r["ID"]: r["STATUS"] for r in doc["RESOURCE"]}["dz-gn-patrol-1"] == expected


@pytest.mark.parametrize("kind", list(OperationKind))
@pytest.mark.parametrize("tlp", [*emsi.SECLASS_OF_TLP, None])
def test_every_kind_and_marking_exports_valid(kind: OperationKind, tlp: str | None) -> None:
    audience = {"scope": "partners", "partners": ["DZA"], **({"tlp": tlp} if tlp else {})}
    doc = export(cordon(kind=kind, audience=audience, reports=(), participants=("TUN", "DZA", "LBY")))
    assert errors(doc) == []
    assert doc["CONTEXT"]["SECLASS"] == emsi.SECLASS_OF_TLP[tlp or "AMBER"]
    assert doc["EVENT"]["EGEO"][0]["TYPE"] == emsi.KIND_CODES[kind].area and doc["EVENT"]["SOURCE"] == "HUMDED"


def test_an_operation_without_phases_patrols_units_or_positions_still_validates() -> None:
    bare = cordon(phases=(), sectors=(), units=(), status=MissionStatus.NOT_STARTED)
    doc = export(bare, (), (unit("u-x", "a_kind_of_later_version", "TN-GN", "XXX"),))
    assert errors(doc) == []
    assert "START_TIME" not in doc["MISSION"][0] and "OCC_DATIME" not in doc["EVENT"]
    (resource,) = doc["RESOURCE"]
    assert resource["RTYPE"] == {"RCLASS": ["HUM/UNIT"]} and "NATIONALITY" not in resource and "RGEO" not in resource
    assert resource["ORG_ID"] == "xxx.tn-gn"


# -- the schema can fail: one wrong code per code list, and wrong shapes ---------------------------------

def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = doc
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value


_DELETE = object()
WRONG = [
    ("CONTEXT.MODE", "EXERCISE"),  # the word, not EMSI's code EXERCS
    ("CONTEXT.MSGTYPE", "REPORT"),
    ("CONTEXT.LEVEL", "OPERATIONAL"),
    ("CONTEXT.SECLASS", "AMBER"),  # a TLP colour is not a classification
    ("CONTEXT.LINK.0.LINK_ROLE", "REPLACES"),
    ("CONTEXT.CREATION", "2026-12-07T05:40:00Z"),  # EMSI writes a numeric offset
    ("CONTEXT.CREATION", "2026-12-07T05:40:00.123+00:00"),
    ("CONTEXT.CREATION", "2026-13-07T05:40:00+00:00"),
    ("CONTEXT.ORIGIN.ORG_ID", "TN-NCC"),
    ("EVENT.STATUS", "PAU"),  # a mission code, not an event code
    ("EVENT.SOURCE", "HUMINT"),
    ("EVENT.SCALE", "6"),
    ("EVENT.SCALE", 3),
    ("EVENT.CERTAINTY", 101),
    ("EVENT.CAUSE", "CRIME"),
    ("EVENT.ETYPE.CATEGORY", ["SMUGGLING"]),
    ("EVENT.ETYPE.CATEGORY", []),
    ("EVENT.ETYPE.ACTOR", ["ARMED_GROUP"]),
    ("EVENT.ETYPE.LOCTYPE", ["MOUNTAIN"]),
    ("EVENT.EGEO.0.TYPE", "CORDON"),
    ("EVENT.MAIN_EVENT_ID", "op-chaambi-1"),
    ("MISSION.1.STATUS", "DONE"),
    ("MISSION.1.STATUS", "IPR101"),
    ("MISSION.3.STATUS", "EN_ROUTE"),
    ("MISSION.0.TYPE", "CORDON"),
    ("MISSION.0.PRIORITY", "9"),
    ("RESOURCE.0.STATUS", "EN_ROUTE"),
    ("RESOURCE.0.STATUS", "IN_USE"),  # emsi-lib's bare IN_USE is not in the open schema's list
    ("RESOURCE.0.RTYPE.RCLASS", ["PATROL"]),
    ("RESOURCE.0.RTYPE.CAPABILITY", ["PATROL"]),
    ("RESOURCE.0.RGEO.0.TYPE", "LAST"),
    ("RESOURCE.0.RGEO.0.POSITION.0.TYPE", "SPOT"),
    ("RESOURCE.0.RGEO.0.POSITION.0.COORDSYS", "WGS84"),
    ("RESOURCE.0.RGEO.0.POSITION.0.COORD.0.LAT", 91),
    ("RESOURCE.0.RGEO.0.POSITION.0.COORD", [{"LAT": 35.2, "LONG": 8.4}, {"LAT": 35.3, "LONG": 8.4}]),  # a POINT
    ("RESOURCE.0.NATIONALITY", "TUN"),  # alpha-3: EMSI wants alpha-2
    ("MISSION.0.POSITION.COORD", [{"LAT": 35.1, "LONG": 8.3}] * 3),  # a POLYGON of three points
    ("MISSION.3.POSITION.COORD", [{"LAT": 35.1, "LONG": 8.3}]),  # a LINE of one point
    ("CONTEXT.ID", _DELETE),
    ("EVENT.ETYPE", _DELETE),
    ("MISSION.0.STATUS", _DELETE),
    ("RESOURCE.0.RTYPE", _DELETE),
    ("CONTEXT", _DELETE),
    ("EVENT.COLOUR", "red"),  # a field EMSI does not have
    ("RESOURCE.0.CALLSIGN", "LION-3"),
]


@pytest.mark.parametrize(("path", "value"), WRONG, ids=[f"{p}={v!r}"[:60] for p, v in WRONG])
def test_a_wrong_code_or_shape_fails_validation(path: str, value: Any) -> None:
    doc = export()
    assert errors(doc) == []
    broken = copy.deepcopy(doc)
    _set(broken, path, value)
    assert errors(broken), f"{path} = {value!r} passed the schema"


# -- need-to-know: the export holds what it is given, nothing more ----------------------------------------

def test_units_not_given_leave_no_trace_in_the_message() -> None:
    """The caller passes the units the viewer may see; a unit of the operation that was not passed
    (here the Algerian patrol, not released to this viewer) is named nowhere: no resource, no
    RESOURCE_ID in a sector, a patrol or the operation as a whole."""
    visible = tuple(u for u in UNITS if u.owner_country == "TUN")
    doc = export(units=visible)
    assert errors(doc) == []
    text = json.dumps(doc)
    assert "dz-gn-patrol-1" not in text and "Dz Gn Patrol 1" not in text
    assert [r["NATIONALITY"] for r in doc["RESOURCE"]] == ["TN", "TN", "TN"]


def test_a_patrol_not_given_leaves_no_trace_in_the_message() -> None:
    doc = export(patrols=())
    assert errors(doc) == []
    text = json.dumps(doc)
    for secret in ("jp-1", "JP-26-07", "Bouchebka", "RV borne 212", "cp-piste-nord"):
        assert secret not in text
    assert [m["TYPE"] for m in doc["MISSION"]] == ["GEN/SECRNG"] * 3 and [e["TYPE"] for e in doc["EVENT"]["EGEO"]] == ["GEN/CORDON"]
    # without the patrol, its crew is on scene in the running cordon, not on the move
    assert {r["ID"]: r["STATUS"] for r in doc["RESOURCE"]}["tn-gn-patrol-chaambi"] == "IN_USE/ON_SCENE"


def test_a_patrol_of_another_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="another operation"):
        export(patrols=(joint_patrol(operation="op-other"),))


def test_a_sector_lists_the_assignments_its_own_country_made_in_the_journal() -> None:
    def assignment(country: str, unit_id: str, sector: str, op: str = "op-chaambi-1") -> JournalEntry:
        return JournalEntry(f"j-{country}-{unit_id}", op, JournalKind.ASSIGNMENT, "karim", country, NOW, "",
                            {"unit": unit_id, "sector": sector})

    dz_reserve = unit("dz-gn-reserve", "rapid_intervention", "DZ-GN", "DZA", 35.25, 8.35)
    journal = (assignment("DZA", "dz-gn-reserve", "s-ouest"),
               assignment("TUN", "tn-army-hq-kasserine", "s-ouest"),  # not TUN's sector: no effect
               assignment("DZA", "dz-gn-reserve", "s-est"),  # not DZA's sector: no effect
               assignment("DZA", "tn-gn-patrol-chaambi", "s-ouest", op="op-other"))  # another operation's
    doc = export(units=(*UNITS, dz_reserve), journal=journal)
    assert errors(doc) == []
    whole, east, west, _ = doc["MISSION"]
    assert west["RESOURCE_ID"] == ["dz-gn-patrol-1", "dz-gn-reserve"]
    assert east["RESOURCE_ID"] == ["tn-army-patrol-kef"]
    assert "dz-gn-reserve" in whole["RESOURCE_ID"]
    assert {r["ID"]: r["RTYPE"]["CAPABILITY"] for r in doc["RESOURCE"]}["dz-gn-reserve"] == ["MIL/INTCPN"]
    # an assignment whose unit the viewer may not see stays out of the message
    doc = export(units=UNITS, journal=journal)
    assert "dz-gn-reserve" not in json.dumps(doc)


# -- any operation the domain accepts exports valid EMSI ------------------------------------------------

_instants = st.integers(min_value=0, max_value=5000).map(
    lambda m: f"2026-12-{7 + m // 1440:02d}T{m % 1440 // 60:02d}:{m % 60:02d}:{m % 7:02d}.{m:06d}Z")


@given(st.sampled_from(list(OperationKind)), st.sampled_from(list(MissionStatus)), st.booleans(),
       st.lists(st.tuples(_instants, _instants), max_size=3), st.sets(st.sampled_from([u.id for u in UNITS])),
       st.sampled_from(list(MissionStatus)))
def test_any_operation_exports_valid_emsi(kind: OperationKind, status: MissionStatus, exercise: bool,
                                          periods: list[tuple[str, str]], shown: set[str],
                                          patrol_status: MissionStatus) -> None:
    phases = tuple(Phase(f"phase {i}", *sorted(p)) for i, p in enumerate(periods))
    doc = export(cordon(kind=kind, status=status, exercise=exercise, phases=phases),
                 (joint_patrol(status=patrol_status),), tuple(u for u in UNITS if u.id in shown))
    assert errors(doc) == []
    assert doc["CONTEXT"]["MODE"] == ("EXERCS" if exercise else "ACTUAL")
    assert {r["ID"] for r in doc["RESOURCE"]} == shown
    assert all(set(m["RESOURCE_ID"]) <= shown for m in doc["MISSION"])
