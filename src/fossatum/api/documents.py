"""The JSON documents the API answers with, declared for the OpenAPI document (and through it the
COP page's TypeScript types, web/src/api/schema.d.ts).

The answers themselves are the domain's stored documents, sent without being parsed again: these
models describe them and validate nothing at run time. tests/test_openapi.py checks that real
answers match them, so a field added to a document without being declared here fails a test.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatLon(_Doc):
    lat: float
    lon: float
    mgrs: str = Field(description="MGRS at 1 m precision; '' in polar areas")


class Audience(_Doc):
    owner_agency: str
    owner_country: str
    scope: str
    partners: list[str]
    releasable_to: list[str]
    tlp: str


class Salute(_Doc):
    size: int | str | None
    activity: str
    unit: str
    equipment: str


class Grade(_Doc):
    source: str
    info: int
    code: str


class Release(_Doc):
    version: int
    countries: list[str]
    by: str
    at: str


class Report(_Doc):
    id: str
    version: int
    origin: str
    author: str
    owner_agency: str
    owner_country: str
    type: str
    layer: str
    state: str
    released: bool
    observed_at: str
    reported_at: str
    updated_at: str
    updated_by: str
    location: LatLon
    uncertainty_m: float
    salute: Salute
    grade: Grade | None
    impact: str | None
    reaction: str
    description: str
    links: list[str]
    audience: Audience
    tlp: str
    visible_to: str = Field(description="who may see it, in plain words")
    validated_by: str | None
    validated_at: str | None
    returned_reason: str | None
    closed_reason: str | None
    handler: str | None = Field(description="the duty officer handling it (triage: in progress)")
    urgent: bool
    urgent_note: str
    release: Release | None


class ReportPage(_Doc):
    items: list[Report]
    next: str | None = Field(description="the cursor of the next page, null on the last")


class ReportList(_Doc):
    items: list[Report]


class Unit(_Doc):
    id: str
    callsign: str
    name: str
    kind: str
    owner_agency: str
    owner_country: str
    position: LatLon | None
    position_at: str | None
    updated_at: str
    audience: Audience


class UnitList(_Doc):
    items: list[Unit]


class Section(_Doc):
    id: str
    name: str
    terrain: str
    geometry: dict[str, Any] = Field(description="a GeoJSON geometry")
    responsible: dict[str, list[str]]
    impact: str
    impact_set_by: str
    impact_set_at: str
    impact_reason: str
    created_by: str
    owner_agency: str
    owner_country: str
    updated_at: str
    audience: Audience


class SectionList(_Doc):
    items: list[Section]


class LineString(_Doc):
    type: str = Field(description="LineString")
    coordinates: list[list[float]] = Field(description="[lon, lat] positions")


class CoverageGap(_Doc):
    from_m: float = Field(description="where the stretch begins, in metres along the section's line")
    to_m: float
    length_m: float
    geometry: LineString
    since: str | None = Field(description="the last time a unit the viewer may see came within the distance of "
                                          "the stretch; null: not since `since_searched_from`")


class SectionCoverage(_Doc):
    section: str
    hours: int
    distance_m: int
    from_: str = Field(alias="from", description="the window's start (now minus `hours`)")
    to: str = Field(description="the window's end (now)")
    since_searched_from: str
    line: LineString = Field(description="the line assessed: the section's own, or a strip polygon's axis")
    length_m: float
    covered_m: float
    covered_fraction: float
    gaps: list[CoverageGap]


class Sector(_Doc):
    id: str
    name: str
    polygon: dict[str, Any] = Field(description="a GeoJSON Polygon inside the operation's area")
    country: str
    units: list[str] = Field(description="the lead's units of the sector and the units its country assigned "
                                         "(journal), as far as the viewer may see them")


class SectorList(_Doc):
    items: list[Sector]


class Phase(_Doc):
    name: str
    planned_start: str
    planned_end: str
    actual_start: str | None
    actual_end: str | None


class CommandPost(_Doc):
    commander: str
    deputy: str | None


class Operation(_Doc):
    id: str
    code: str
    name: str
    kind: str = Field(description="cordon_and_search, joint_patrol_campaign, checkpoint_surge, other")
    status: str = Field(description="EMSI mission status: NST, IPR, PAU, COM, CANCLD")
    lead_country: str
    participants: list[str]
    area: dict[str, Any] = Field(description="a GeoJSON Polygon")
    sectors: list[Sector]
    phases: list[Phase]
    units: list[str]
    reports: list[str]
    command: dict[str, CommandPost] = Field(description="per participating country")
    owner_agency: str
    owner_country: str
    audience: Audience
    created_by: str
    updated_at: str
    exercise: bool = Field(default=False, description="a joint exercise (EMSI MODE); present only when true")


class OperationList(_Doc):
    items: list[Operation]


class JournalLine(_Doc):
    id: str
    operation: str
    kind: str = Field(description="note, status_change, assignment, decision, report_link")
    author: str
    country: str = Field(description="the country whose node wrote and signed it")
    at: str
    text: str
    details: dict[str, str] = Field(description="status_change: from, to; assignment: unit, sector; "
                                                "report_link: report")
    owner_agency: str
    owner_country: str
    audience: Audience


class JournalList(_Doc):
    items: list[JournalLine]


class CheckpointChange(_Doc):
    status: str
    reason: str
    by: str
    at: str


class Checkpoint(_Doc):
    id: str
    name: str
    point: dict[str, Any] = Field(description="a GeoJSON Point [lon, lat]")
    section: str = Field(description="the border section's id")
    operator: str = Field(description="the country that mans it, or 'joint'")
    status: str = Field(description="open, closed or reinforced")
    reason: str
    history: list[CheckpointChange] = Field(description="every status change, oldest first; the last is the current")
    units: list[str]
    owner_agency: str
    owner_country: str
    audience: Audience
    created_by: str
    updated_at: str


class CheckpointList(_Doc):
    items: list[Checkpoint]


class EmsiMessage(_Doc):
    """An EMSI message (ISO/TR 22351) in Fossatum's profile; each block is laid out and coded as
    the JSON Schema standards/emsi.schema.json says (upper-case field names, EMSI code lists)."""

    CONTEXT: dict[str, Any] = Field(description="ID, MODE (ACTUAL or EXERCS), MSGTYPE, CREATION, LINK, LEVEL, "
                                                "SECLASS, ORIGIN")
    EVENT: dict[str, Any] = Field(description="ID, NAME, MAIN_EVENT_ID, ETYPE, SOURCE, SCALE, CERTAINTY, "
                                              "DECL_DATIME, OCC_DATIME, EGEO (area, rendezvous, checkpoints), CAUSE, "
                                              "STATUS")
    MISSION: list[dict[str, Any]] = Field(description="the operation, then one per sector and one per patrol: TYPE, "
                                                      "ID, NAME, ORG_ID, STATUS (NST, IPR, PAU, COM, CANCLD, ABO), "
                                                      "START_TIME, END_TIME, RESOURCE_ID, PARENT_MISSION_ID, "
                                                      "CHILD_MISSION_ID, POSITION")
    RESOURCE: list[dict[str, Any]] = Field(description="one per unit the viewer may see: RTYPE, ID, ORG_ID, NAME, "
                                                       "RGEO (current position), STATUS, NATIONALITY")


class Waypoint(_Doc):
    name: str
    lon: float
    lat: float
    kind: str = Field(description="waypoint, rendezvous (two countries' units meet) or checkpoint")
    countries: list[str] | None = Field(default=None, description="a rendezvous: the two countries")
    at: str | None = Field(default=None, description="a rendezvous: when the units meet")
    checkpoint: str | None = Field(default=None, description="a checkpoint on the route: its id")


class Patrol(_Doc):
    id: str
    code: str
    name: str
    operation: str | None = Field(description="the operation it belongs to, if any")
    route: list[Waypoint] = Field(description="in driving order")
    planned_start: str
    planned_end: str
    status: str = Field(description="EMSI mission status: NST, IPR, PAU, COM, CANCLD")
    countries: list[str]
    units: list[str]
    owner_agency: str
    owner_country: str
    audience: Audience
    created_by: str
    updated_at: str


class PatrolList(_Doc):
    items: list[Patrol]


class FieldAlert(_Doc):
    uid: str
    claimed_uid: str
    device_uid: str
    kind: str
    state: str = Field(description="raised or cancelled")
    position: LatLon
    callsign: str
    text: str
    at: str
    raised_by: str
    owner_agency: str
    owner_country: str
    audience: Audience
    cancelled_by: str | None = None
    cancelled_at: str | None = None


class FieldAlertList(_Doc):
    items: list[FieldAlert]


class ChatMessage(_Doc):
    id: str
    message_id: str
    room: str
    text: str
    sender_uid: str
    callsign: str
    position: LatLon
    at: str
    author: str
    owner_agency: str
    owner_country: str
    audience: Audience


class ChatList(_Doc):
    items: list[ChatMessage]


class Me(_Doc):
    username: str
    agency: str
    country: str
    roles: list[str]
    full_name: str
    active: bool


class NodeInfo(_Doc):
    node_id: str
    country: str
    name: str
    public_key: str
    fingerprint: str
    roster: list[str]


class Agency(_Doc):
    code: str
    name: str
    country: str
    field_audience: dict[str, Any] | None = Field(default=None, description="absent for a partner's officer")


class AgencyList(_Doc):
    items: list[Agency]


class ReportType(_Doc):
    code: str
    layer: str


class GradeScale(_Doc):
    source: list[str]
    info: list[int]


class Taxonomy(_Doc):
    types: list[ReportType]
    layers: list[str]
    states: list[str]
    impact_levels: list[str]
    roles: list[str]
    grade: GradeScale


class Token(_Doc):
    access_token: str
    token_type: str
    expires_at: str


def answers(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route whose answer is `model` (documented only: nothing is validated)."""
    return {status: {"model": model}}
