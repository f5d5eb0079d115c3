"""Joint operations (issue 12): a cordon, a patrol campaign or a checkpoint surge run by
several countries over one area split into sectors, each sector held by one country.

Status follows EMSI's MISSION status code list (ISO/TR 22351; see
shared/reference/operations-dispatch-standards.md): NST, IPR, PAU, COM, CANCLD. ABO (refused)
belongs to a tasking a partner declines, not to an operation, so it is not used here.

Lists whose order means nothing (countries, units, reports, sectors, commanders) are kept
sorted, so that two nodes writing the same operation write the same document; phases keep the
order of their planned start. `to_doc(from_doc(d)) == d` for every document a node writes;
keys a node does not know are kept in `extra`.

The journal is not part of the operation document: each participant writes its own entries
from its own node (`JournalEntry`), and they replicate from their origin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from ..errors import Conflict, InvalidInput
from .audience import check_country
from .polygon import check_polygon, outside_part
from .text import name_problem, text_problem
from .timeutil import normalise, parse

E = TypeVar("E", bound=StrEnum)


class OperationKind(StrEnum):
    CORDON_AND_SEARCH = "cordon_and_search"
    JOINT_PATROL_CAMPAIGN = "joint_patrol_campaign"
    CHECKPOINT_SURGE = "checkpoint_surge"
    OTHER = "other"


class MissionStatus(StrEnum):
    """EMSI MISSION status codes, shared by operations and patrols."""

    NOT_STARTED = "NST"
    IN_PROGRESS = "IPR"
    PAUSED = "PAU"
    COMPLETED = "COM"
    CANCELLED = "CANCLD"


S = MissionStatus
# Completed and cancelled are final: a finished cordon is re-run as a new operation, so that its
# journal and its releases are not reopened under the participants' feet.
TRANSITIONS: Mapping[MissionStatus, frozenset[MissionStatus]] = {
    S.NOT_STARTED: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.PAUSED, S.COMPLETED, S.CANCELLED}),
    S.PAUSED: frozenset({S.IN_PROGRESS, S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}


def enum_value(kind: type[E], value: object, *, field: str) -> E:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError:
        raise InvalidInput(f"unknown value {value!r}; expected one of {', '.join(k.value for k in kind)}",
                           field=field) from None


def check_transition(current: MissionStatus, new: object, *, what: str = "operation") -> MissionStatus:
    """The new status if `current` may change to it; Conflict (409) with the allowed ones if not."""
    target = enum_value(MissionStatus, new, field="status")
    if target == current:
        raise Conflict(f"the {what} is already {current.name.lower().replace('_', ' ')} ({current.value})",
                       field="status")
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(s.value for s in allowed)) or "none: it is final"
        article = "an" if what[:1] in "aeiou" else "a"
        raise Conflict(f"{article} {what} cannot go from {current.value} to {target.value}; allowed from "
                       f"{current.value}: {options}", field="status")
    return target


def check_name(value: object, *, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("expected a non-empty name", field=field)
    problem = name_problem(value)
    if problem:
        raise InvalidInput(f"name {problem}", field=field)
    return value


def check_text(value: object, *, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput("expected a text", field=field)
    problem = text_problem(value)
    if problem:
        raise InvalidInput(f"text {problem}", field=field)
    return value


def check_ids(values: object, *, field: str) -> tuple[str, ...]:
    """A set of ids, sorted; a repeated id is refused (it is a mistake in what was sent)."""
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) and v for v in values):
        raise InvalidInput("expected a list of ids", field=field)
    if len(set(values)) != len(values):
        raise InvalidInput("an id is listed twice", field=field)
    return tuple(sorted(values))


def check_period(start: str | None, end: str | None, *, field: str) -> tuple[str | None, str | None]:
    """Both instants normalised; InvalidInput if the end is before the start."""
    s = normalise(start, field=f"{field}_start") if start is not None else None
    e = normalise(end, field=f"{field}_end") if end is not None else None
    if s is not None and e is not None and parse(e, field=f"{field}_end") < parse(s, field=f"{field}_start"):
        raise InvalidInput(f"ends ({e}) before it starts ({s})", field=f"{field}_end")
    return s, e


@dataclass(frozen=True, slots=True)
class Sector:
    id: str
    name: str
    polygon: Mapping[str, Any]
    country: str
    units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidInput("a sector needs an id", field="sectors.id")
        check_name(self.name, field=f"sectors.{self.id}.name")
        check_polygon(self.polygon, field=f"sectors.{self.id}.polygon")
        check_country(self.country, field=f"sectors.{self.id}.country")
        object.__setattr__(self, "units", check_ids(list(self.units), field=f"sectors.{self.id}.units"))

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "polygon": self.polygon, "country": self.country,
                "units": list(self.units)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Sector:
        return cls(doc["id"], doc["name"], doc["polygon"], doc["country"], tuple(doc["units"]))


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    planned_start: str
    planned_end: str
    actual_start: str | None = None
    actual_end: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, field="phases.name")
        ps, pe = check_period(self.planned_start, self.planned_end, field=f"phases.{self.name}.planned")
        if self.actual_start is None and self.actual_end is not None:
            raise InvalidInput("a phase cannot end before it has started", field=f"phases.{self.name}.actual_end")
        a_s, a_e = check_period(self.actual_start, self.actual_end, field=f"phases.{self.name}.actual")
        for name, value in (("planned_start", ps), ("planned_end", pe), ("actual_start", a_s), ("actual_end", a_e)):
            object.__setattr__(self, name, value)

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "planned_start": self.planned_start, "planned_end": self.planned_end,
                "actual_start": self.actual_start, "actual_end": self.actual_end}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Phase:
        return cls(doc["name"], doc["planned_start"], doc["planned_end"], doc.get("actual_start"),
                   doc.get("actual_end"))


@dataclass(frozen=True, slots=True)
class Command:
    """A participating country's commander and deputy (usernames on that country's node)."""

    country: str
    commander: str
    deputy: str | None = None

    def __post_init__(self) -> None:
        check_country(self.country, field="command.country")
        check_name(self.commander, field=f"command.{self.country}.commander")
        if self.deputy is not None:
            check_name(self.deputy, field=f"command.{self.country}.deputy")
            if self.deputy == self.commander:
                raise InvalidInput("the deputy must be another person than the commander",
                                   field=f"command.{self.country}.deputy")


_KNOWN = ("id", "code", "name", "kind", "status", "lead_country", "participants", "area", "sectors", "phases",
          "units", "reports", "command", "owner_agency", "owner_country", "audience", "created_by", "updated_at",
          "exercise")


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    code: str
    name: str
    kind: OperationKind
    status: MissionStatus
    lead_country: str
    participants: tuple[str, ...]
    area: Mapping[str, Any]
    sectors: tuple[Sector, ...]
    phases: tuple[Phase, ...]
    units: tuple[str, ...]
    reports: tuple[str, ...]
    command: tuple[Command, ...]
    owner_agency: str  # the lead country's agency that created it
    audience: Mapping[str, Any]  # released to the participants (the next layer resolves it)
    created_by: str
    updated_at: str
    # A joint exercise, never to be taken for a live operation (EMSI CONTEXT.MODE = EXERCS). The
    # document carries the key only when true, so that documents written before it existed (and
    # every live operation's) read and round-trip unchanged.
    exercise: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a later version or a partner, kept

    def __post_init__(self) -> None:
        check_name(self.code, field="code")
        check_name(self.name, field="name")
        if not isinstance(self.exercise, bool):
            raise InvalidInput("expected true or false", field="exercise")
        object.__setattr__(self, "kind", enum_value(OperationKind, self.kind, field="kind"))
        object.__setattr__(self, "status", enum_value(MissionStatus, self.status, field="status"))
        participants = {check_country(c, field="participants") for c in self.participants}
        if len(participants) != len(self.participants):
            raise InvalidInput("a country is listed twice", field="participants")
        check_country(self.lead_country, field="lead_country")
        if self.lead_country not in participants:
            raise InvalidInput(f"the lead country {self.lead_country} is not among the participants "
                               f"({', '.join(sorted(participants))})", field="lead_country")
        object.__setattr__(self, "participants", tuple(sorted(participants)))
        check_polygon(self.area, field="area")
        seen: set[str] = set()
        for sector in self.sectors:
            if sector.id in seen:
                raise InvalidInput(f"sector id {sector.id!r} is used twice", field="sectors")
            seen.add(sector.id)
            if sector.country not in participants:
                raise InvalidInput(f"sector {sector.id!r} is assigned to {sector.country}, which does not take "
                                   f"part in the operation ({', '.join(sorted(participants))})",
                                   field=f"sectors.{sector.id}.country")
            why = outside_part(dict(sector.polygon), dict(self.area))
            if why is not None:
                raise InvalidInput(f"sector {sector.id!r} is not inside the operation area: {why}",
                                   field=f"sectors.{sector.id}.polygon")
        object.__setattr__(self, "sectors", tuple(sorted(self.sectors, key=lambda s: s.id)))
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise InvalidInput("a phase name is used twice", field="phases")
        object.__setattr__(self, "phases", tuple(sorted(self.phases, key=lambda p: (p.planned_start, p.name))))
        object.__setattr__(self, "units", check_ids(list(self.units), field="units"))
        missing = sorted({u for s in self.sectors for u in s.units} - set(self.units))
        if missing:
            raise InvalidInput(f"units assigned to a sector but not taking part: {', '.join(missing)}",
                               field="sectors")
        object.__setattr__(self, "reports", check_ids(list(self.reports), field="reports"))
        countries = [c.country for c in self.command]
        if len(set(countries)) != len(countries):
            raise InvalidInput("a country has two command entries", field="command")
        strangers = sorted(set(countries) - participants)
        if strangers:
            raise InvalidInput(f"command given for countries not taking part: {', '.join(strangers)}",
                               field="command")
        object.__setattr__(self, "command", tuple(sorted(self.command, key=lambda c: c.country)))

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id, "code": self.code, "name": self.name, "kind": self.kind.value, "status": self.status.value,
            "lead_country": self.lead_country, "participants": list(self.participants), "area": self.area,
            "sectors": [s.to_doc() for s in self.sectors], "phases": [p.to_doc() for p in self.phases],
            "units": list(self.units), "reports": list(self.reports),
            "command": {c.country: {"commander": c.commander, "deputy": c.deputy} for c in self.command},
            "owner_agency": self.owner_agency, "owner_country": self.owner_country, "audience": dict(self.audience),
            "created_by": self.created_by, "updated_at": self.updated_at,
            **({"exercise": True} if self.exercise else {}), **self.extra,
        }

    @property
    def owner_country(self) -> str:
        """The lead country owns the operation document (its node wrote it); in the document so
        that need-to-know and a receiver read the owner as they do for every other object."""
        return self.lead_country

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Operation:
        """An operation document (KeyError if a field is missing, InvalidInput if it breaks a rule)."""
        return cls(
            id=doc["id"], code=doc["code"], name=doc["name"], kind=doc["kind"], status=doc["status"],
            lead_country=doc["lead_country"], participants=tuple(doc["participants"]), area=doc["area"],
            sectors=tuple(Sector.from_doc(s) for s in doc["sectors"]),
            phases=tuple(Phase.from_doc(p) for p in doc["phases"]),
            units=tuple(doc["units"]), reports=tuple(doc["reports"]),
            command=tuple(Command(c, v["commander"], v.get("deputy")) for c, v in doc["command"].items()),
            owner_agency=doc["owner_agency"], audience=doc["audience"], created_by=doc["created_by"],
            updated_at=doc["updated_at"], exercise=doc.get("exercise", False),
            extra={k: v for k, v in doc.items() if k not in _KNOWN},
        )

    def with_status(self, status: object, *, now: str) -> Operation:
        return dataclasses.replace(self, status=check_transition(self.status, status), updated_at=now)

    def with_sectors(self, sectors: Iterable[Sector], *, now: str) -> Operation:
        """Sectors replaced as a whole: checked all together, nothing half-applied."""
        return dataclasses.replace(self, sectors=tuple(sectors), updated_at=now)

    def sector(self, sector_id: str) -> Sector | None:
        return next((s for s in self.sectors if s.id == sector_id), None)


class JournalKind(StrEnum):
    NOTE = "note"
    STATUS_CHANGE = "status_change"
    ASSIGNMENT = "assignment"
    DECISION = "decision"
    REPORT_LINK = "report_link"


# What each kind's `details` must name; a note or a decision is its text.
_DETAILS: Mapping[JournalKind, tuple[str, ...]] = {
    JournalKind.NOTE: (), JournalKind.DECISION: (), JournalKind.STATUS_CHANGE: ("from", "to"),
    JournalKind.ASSIGNMENT: ("unit", "sector"), JournalKind.REPORT_LINK: ("report",),
}
_JOURNAL_KNOWN = ("id", "operation", "kind", "author", "country", "at", "text", "details", "owner_agency",
                  "owner_country", "audience")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One line of an operation's journal, written and signed on its author's node; the
    `country` is that node's, and only that country's node may write or amend it."""

    id: str
    operation: str
    kind: JournalKind
    author: str
    country: str
    at: str
    text: str
    details: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    owner_agency: str = ""  # the author's agency (need-to-know reads the owner as for every object)
    audience: Mapping[str, Any] = field(default_factory=dict)  # the operation's participants when written

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", enum_value(JournalKind, self.kind, field="kind"))
        check_country(self.country, field="country")
        check_name(self.author, field="author")
        object.__setattr__(self, "at", normalise(self.at, field="at"))
        check_text(self.text, field="text")
        if not isinstance(self.details, Mapping):
            raise InvalidInput("expected an object", field="details")
        missing = [k for k in _DETAILS[self.kind] if not isinstance(self.details.get(k), str) or not self.details[k]]
        if missing:
            raise InvalidInput(f"a {self.kind.value} entry names its {' and '.join(missing)}", field="details")
        if self.kind is JournalKind.STATUS_CHANGE:
            check_transition(enum_value(MissionStatus, self.details["from"], field="details.from"), self.details["to"])
        if self.kind in (JournalKind.NOTE, JournalKind.DECISION) and not self.text.strip():
            raise InvalidInput(f"a {self.kind.value} needs a text", field="text")

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "operation": self.operation, "kind": self.kind.value, "author": self.author,
                "country": self.country, "at": self.at, "text": self.text, "details": dict(self.details),
                "owner_agency": self.owner_agency, "owner_country": self.country, "audience": dict(self.audience),
                **self.extra}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> JournalEntry:
        return cls(doc["id"], doc["operation"], doc["kind"], doc["author"], doc["country"], doc["at"], doc["text"],
                   doc["details"], {k: v for k, v in doc.items() if k not in _JOURNAL_KNOWN},
                   owner_agency=doc.get("owner_agency", ""), audience=doc.get("audience") or {})

    def check_for(self, operation: Operation) -> None:
        """InvalidInput unless this entry may stand in `operation`'s journal."""
        if self.operation != operation.id:
            raise InvalidInput("the entry belongs to another operation", field="operation")
        if self.country not in operation.participants:
            raise InvalidInput(f"{self.country} does not take part in the operation", field="country")
        if self.kind is JournalKind.ASSIGNMENT:
            sector = operation.sector(self.details["sector"])
            if sector is None:
                raise InvalidInput(f"no sector {self.details['sector']!r} in the operation", field="details.sector")
            if sector.country != self.country:
                raise InvalidInput(f"sector {sector.id!r} is {sector.country}'s: only {sector.country} assigns "
                                   "units to it", field="details.sector")
