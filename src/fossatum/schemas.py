"""Input shapes of the API and of `fossatum import`, validated with pydantic.

They only check form; the domain checks meaning (MGRS, ranges, roster, workflow) and both
kinds of error reach the client as problem details naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .domain import geo
from .domain.audience import TLP, Scope
from .domain.checkpoint import CheckpointStatus
from .domain.geo import Position
from .domain.operation import MissionStatus, OperationKind
from .domain.org import Role, UnitKind
from .domain.patrol import WaypointKind
from .domain.report import Content, Grade, Salute
from .domain.taxonomy import ImpactLevel
from .domain.text import name_problem
from .domain.timeutil import normalise
from .errors import InvalidInput

Text = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=10_000)]


def _one_line(value: str) -> str:
    why = name_problem(value)
    if why:
        raise ValueError(why)
    return value


# A name or callsign: what partners accept too (domain/text.py), so nothing written here is refused there.
Name = Annotated[str, Field(max_length=200), AfterValidator(_one_line)]


_UNION_TAGS = {"int", "str", "float", "bool", "list", "dict", "none"}


def field_path(loc: tuple[object, ...]) -> str:
    """A dotted field path from a pydantic error location, without union-branch tags
    (`salute.size.constrained-int` → `salute.size`) and without FastAPI's `body`/`query`."""
    parts: list[str] = []
    for part in loc:
        text = str(part)
        if part in ("body", "query", "path"):
            continue
        if parts and not isinstance(part, int) and ("[" in text or "-" in text or text in _UNION_TAGS):
            continue
        parts.append(text)
    return ".".join(parts)


def first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    return field_path(tuple(err.get("loc", ()))), str(err.get("msg"))


def _instant(value: str | None, field: str) -> str | None:
    return normalise(value, field=field) if value is not None else None


def nul_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding a NUL character, else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key).replace("\x00", "")
            where = f"{path}.{name}" if path else name
            if "\x00" in str(key):
                return where or "body"
            found = nul_field(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_field(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


class Strict(BaseModel):
    """Every input shape: unknown fields refused, and no NUL character anywhere (valid in a
    Python string and SQLite, an error in PostgreSQL text, never typed by a person)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        where = nul_field(data)
        if where is not None:
            raise InvalidInput("NUL characters are not allowed", field=where)
        return data


class LocationIn(Strict):
    lat: float | None = None
    lon: float | None = None
    mgrs: Annotated[str, Field(max_length=40)] | None = None

    def position(self) -> Position:
        return geo.parse_location(self.model_dump(exclude_none=True))


class SaluteIn(Strict):
    size: Annotated[int, Field(ge=0, le=100_000)] | Text | None = None
    activity: LongText = ""
    unit: Text = ""
    equipment: LongText = ""


class GradeIn(Strict):
    source: Literal["A", "B", "C", "D", "E", "F"]
    info: Annotated[int, Field(ge=1, le=6)]


class AudienceIn(Strict):
    scope: Scope
    partners: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]], Field(max_length=50)] = []


class ReportIn(Strict):
    type: str
    observed_at: str | None = None
    location: LocationIn
    uncertainty_m: Annotated[float, Field(ge=0, le=100_000)] = 0.0
    salute: SaluteIn = SaluteIn()
    grade: GradeIn | None = None
    impact: ImpactLevel | None = None
    reaction: LongText = ""
    description: LongText = ""
    links: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] = []
    audience: AudienceIn | None = None
    tlp: TLP | None = None
    state: Literal["draft", "submitted"] = "submitted"
    # A client may choose an id (e.g. a device filing offline, retrying safely). Through the API
    # it is the client's key, from which the report's id is derived (domain/ids.py: no probing
    # for reports the client is not shown); `fossatum import` (the node's administrator) keeps it.
    id: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                             description="client key (a UUID): the report's id is derived from node, author "
                                         "and key; a retry with the same key returns the same report")] | None = None

    @field_validator("observed_at")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return _instant(value, "observed_at")

    def content(self, *, default_observed_at: str) -> Content:
        return Content(
            type=self.type,
            observed_at=self.observed_at or default_observed_at,
            position=self.location.position(),
            uncertainty_m=self.uncertainty_m,
            salute=Salute(**self.salute.model_dump()),
            grade=Grade(self.grade.source, self.grade.info) if self.grade else None,
            impact=self.impact,
            reaction=self.reaction,
            description=self.description,
            links=tuple(dict.fromkeys(self.links)),
        )


class ReportPatch(Strict):
    """An amendment: only the fields given change."""

    type: str | None = None
    observed_at: str | None = None
    location: LocationIn | None = None
    uncertainty_m: Annotated[float, Field(ge=0, le=100_000)] | None = None
    salute: SaluteIn | None = None
    grade: GradeIn | None = None
    impact: ImpactLevel | None = None
    reaction: LongText | None = None
    description: LongText | None = None
    links: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None = None
    audience: AudienceIn | None = None
    tlp: TLP | None = None

    @field_validator("observed_at")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return _instant(value, "observed_at")

    def apply(self, content: Content) -> Content:
        given = self.model_fields_set
        changes: dict[str, Any] = {}
        if "type" in given and self.type is not None:
            changes["type"] = self.type
        if "observed_at" in given and self.observed_at is not None:
            changes["observed_at"] = self.observed_at
        if "location" in given and self.location is not None:
            changes["position"] = self.location.position()
        if "uncertainty_m" in given and self.uncertainty_m is not None:
            changes["uncertainty_m"] = self.uncertainty_m
        if "salute" in given and self.salute is not None:
            changes["salute"] = Salute(**self.salute.model_dump())
        if "grade" in given:
            changes["grade"] = Grade(self.grade.source, self.grade.info) if self.grade else None
        if "impact" in given:
            changes["impact"] = self.impact
        for name in ("reaction", "description"):
            if name in given and getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        if "links" in given and self.links is not None:
            changes["links"] = tuple(dict.fromkeys(self.links))
        fields = {f: getattr(content, f) for f in Content.__slots__}
        return Content(**{**fields, **changes})


class ReasonIn(Strict):
    reason: LongText = ""


class ReleaseIn(Strict):
    """A release decision; `version`: the version the officer reviewed (409 if it changed since)."""

    version: Annotated[int, Field(ge=1)] | None = None


class UrgentIn(Strict):
    urgent: bool = True
    note: LongText = ""


class LoginIn(Strict):
    username: Annotated[str, Field(max_length=64)]
    password: Annotated[str, Field(max_length=1024)]


class PasswordChangeIn(Strict):
    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Annotated[str, Field(min_length=8, max_length=1024)]


class AgencyIn(Strict):
    code: str
    name: Name
    country: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class FieldAudienceIn(AudienceIn):
    """An agency's default audience for reports its field devices file (TAK markers)."""

    tlp: TLP | None = None


class UserIn(Strict):
    username: str
    agency: str
    roles: Annotated[list[Role], Field(min_length=1)]
    full_name: Name = ""
    password: Annotated[str, Field(min_length=8, max_length=1024)]


class UnitIn(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{2,64}$")] | None = None
    name: Name
    kind: UnitKind
    agency: str
    callsign: Name = ""
    location: LocationIn | None = None
    audience: AudienceIn | None = None


class PositionIn(Strict):
    location: LocationIn
    at: str | None = None

    @field_validator("at")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return _instant(value, "at")


class SectionIn(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{2,64}$")]
    name: Name
    geometry: dict[str, Any]
    terrain: Name = ""
    impact: ImpactLevel = ImpactLevel.LOW
    responsible: dict[str, list[str]] = {}
    audience: AudienceIn | None = None


class ImpactIn(Strict):
    impact: ImpactLevel
    reason: LongText = ""


# --- joint operations, patrols, checkpoints (issue 12) -----------------------------------------
# Ids of objects a partner may replicate: what federation/shapes.py accepts (`identifier`).
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Ids = Annotated[list[Ident], Field(max_length=500)]


class SectorIn(Strict):
    id: Ident
    name: Name
    polygon: dict[str, Any] = Field(description="a GeoJSON Polygon inside the operation's area")
    country: Country
    units: Ids = []


class PhaseIn(Strict):
    name: Name
    planned_start: str
    planned_end: str
    actual_start: str | None = None
    actual_end: str | None = None


class CommandIn(Strict):
    commander: Name
    deputy: Name | None = None


class OperationIn(Strict):
    """A new operation, led by this node's country (always a participant)."""

    id: Ident | None = None
    code: Name
    name: Name
    kind: OperationKind
    participants: Annotated[list[Country], Field(max_length=20)] = []
    area: dict[str, Any] = Field(description="a GeoJSON Polygon")
    sectors: Annotated[list[SectorIn], Field(max_length=100)] = []
    phases: Annotated[list[PhaseIn], Field(max_length=50)] = []
    units: Ids = []
    reports: Ids = []
    command: dict[Country, CommandIn] = {}
    tlp: TLP | None = None
    exercise: bool = False  # a joint exercise, never to be taken for a live operation (EMSI MODE)


class OperationPatch(Strict):
    """A change of the lead's document: only the fields given change (sectors: PUT .../sectors)."""

    name: Name | None = None
    phases: Annotated[list[PhaseIn], Field(max_length=50)] | None = None
    participants: Annotated[list[Country], Field(max_length=20)] | None = None
    command: dict[Country, CommandIn] | None = None
    units: Ids | None = None
    reports: Ids | None = None
    status: MissionStatus | None = None


class SectorsIn(Strict):
    """The sectors as a whole (replaced together, checked together)."""

    sectors: Annotated[list[SectorIn], Field(max_length=100)]


class JournalDetailsIn(Strict):
    unit: Ident | None = None
    sector: Ident | None = None
    report: Ident | None = None


class JournalIn(Strict):
    """A journal line of this node's country (status changes are written by PATCH status)."""

    kind: Literal["note", "decision", "assignment", "report_link"]
    text: LongText = ""
    details: JournalDetailsIn = JournalDetailsIn()


class CheckpointIn(Strict):
    """A checkpoint of this node's country. `operator`: the country that mans it, or "joint";
    `partners`: the countries it is shared with (the operator, if another, always is)."""

    id: Ident | None = None
    name: Name
    location: LocationIn
    section: Ident
    operator: Annotated[str, Field(pattern=r"^([A-Z]{3}|joint)$")]
    partners: Annotated[list[Country], Field(max_length=20)] = []
    status: CheckpointStatus = CheckpointStatus.OPEN
    reason: LongText = ""
    units: Ids = []
    tlp: TLP | None = None


class CheckpointPatch(Strict):
    name: Name | None = None
    location: LocationIn | None = None
    partners: Annotated[list[Country], Field(max_length=20)] | None = None
    units: Ids | None = None


class CheckpointStatusIn(Strict):
    status: CheckpointStatus
    reason: LongText = ""


class WaypointIn(Strict):
    name: Name
    lat: float
    lon: float
    kind: WaypointKind = WaypointKind.WAYPOINT
    countries: Annotated[list[Country], Field(max_length=2)] = []  # a rendezvous: the two countries meeting
    checkpoint: Ident | None = None  # a checkpoint on the route: its id
    at: str | None = None  # a rendezvous: when the units meet

    @field_validator("at")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return _instant(value, "at")


class PatrolIn(Strict):
    """A patrol of this node's country (always taking part), joint with the `countries` named."""

    id: Ident | None = None
    code: Name
    name: Name
    operation: Ident | None = None
    route: Annotated[list[WaypointIn], Field(min_length=2, max_length=500)]
    planned_start: str
    planned_end: str
    countries: Annotated[list[Country], Field(max_length=20)] = []
    units: Ids = []
    tlp: TLP | None = None


class PatrolPatch(Strict):
    name: Name | None = None
    route: Annotated[list[WaypointIn], Field(min_length=2, max_length=500)] | None = None
    planned_start: str | None = None
    planned_end: str | None = None
    countries: Annotated[list[Country], Field(max_length=20)] | None = None
    units: Ids | None = None
    status: MissionStatus | None = None
