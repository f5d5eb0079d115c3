"""Reports and their workflow: draft → submitted → validated (or returned) → closed,
and retracted (withdrawn as wrong) from any state past draft.

Every transition returns a new version; the caller records it in the log. A report is
seen by other countries only while it is `released`: from its validation by a duty officer
of its owner country, through closing, until it is retracted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..errors import Conflict, Forbidden, InvalidInput
from . import audience as aud
from .audience import Audience
from .geo import Position
from .org import User
from .taxonomy import REPORT_TYPES, ImpactLevel, Layer
from .timeutil import to_text


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VALIDATED = "validated"
    RETURNED = "returned"
    CLOSED = "closed"
    RETRACTED = "retracted"


@dataclass(frozen=True, slots=True)
class Salute:
    size: int | str | None = None
    activity: str = ""
    unit: str = ""
    equipment: str = ""

    def to_doc(self) -> dict[str, object]:
        return {"size": self.size, "activity": self.activity, "unit": self.unit, "equipment": self.equipment}


@dataclass(frozen=True, slots=True)
class Grade:
    """Admiralty code: source reliability A-F, information credibility 1-6."""

    source: str
    info: int

    def to_doc(self) -> dict[str, object]:
        return {"source": self.source, "info": self.info, "code": f"{self.source}{self.info}"}


@dataclass(frozen=True, slots=True)
class Content:
    """What was seen: the part of a report its author writes and amends."""

    type: str
    observed_at: str
    position: Position
    uncertainty_m: float = 0.0
    salute: Salute = Salute()
    grade: Grade | None = None
    impact: ImpactLevel | None = None
    reaction: str = ""
    description: str = ""
    links: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in REPORT_TYPES:
            raise InvalidInput(
                f"unknown report type {self.type!r}; see /api/v1/taxonomy", field="type"
            )

    @property
    def layer(self) -> Layer:
        return REPORT_TYPES[self.type]


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    version: int
    origin: str
    author: str
    audience: Audience
    content: Content
    state: State
    released: bool
    reported_at: str
    updated_at: str
    updated_by: str
    validated_by: str | None = None
    validated_at: str | None = None
    returned_reason: str | None = None
    closed_reason: str | None = None
    handler: str | None = None      # the duty officer handling it ("in progress" in triage)
    urgent: bool = False
    urgent_note: str = ""

    def to_doc(self) -> dict[str, Any]:
        c = self.content
        return {
            "id": self.id,
            "version": self.version,
            "origin": self.origin,
            "author": self.author,
            "owner_agency": self.audience.owner_agency,
            "owner_country": self.audience.owner_country,
            "type": c.type,
            "layer": c.layer.value,
            "state": self.state.value,
            "released": self.released,
            "observed_at": c.observed_at,
            "reported_at": self.reported_at,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            "location": c.position.to_doc(),
            "uncertainty_m": c.uncertainty_m,
            "salute": c.salute.to_doc(),
            "grade": c.grade.to_doc() if c.grade else None,
            "impact": c.impact.value if c.impact else None,
            "reaction": c.reaction,
            "description": c.description,
            "links": list(c.links),
            "audience": self.audience.to_doc(),
            "tlp": self.audience.tlp.value,
            "visible_to": self.audience.describe(),
            "validated_by": self.validated_by,
            "validated_at": self.validated_at,
            "returned_reason": self.returned_reason,
            "closed_reason": self.closed_reason,
            "handler": self.handler,
            "urgent": self.urgent,
            "urgent_note": self.urgent_note,
        }


def from_doc(doc: dict[str, Any]) -> Report:
    """Rebuild a report from its stored document (the inverse of `Report.to_doc`)."""
    grade = doc.get("grade")
    salute = doc.get("salute") or {}
    content = Content(
        type=doc["type"],
        observed_at=doc["observed_at"],
        position=Position(lat=doc["location"]["lat"], lon=doc["location"]["lon"]),
        uncertainty_m=doc.get("uncertainty_m", 0.0),
        salute=Salute(
            size=salute.get("size"),
            activity=salute.get("activity", ""),
            unit=salute.get("unit", ""),
            equipment=salute.get("equipment", ""),
        ),
        grade=Grade(grade["source"], grade["info"]) if grade else None,
        impact=ImpactLevel(doc["impact"]) if doc.get("impact") else None,
        reaction=doc.get("reaction", ""),
        description=doc.get("description", ""),
        links=tuple(doc.get("links") or ()),
    )
    return Report(
        id=doc["id"],
        version=doc["version"],
        origin=doc["origin"],
        author=doc["author"],
        audience=aud.from_doc(
            doc.get("audience"), owner_agency=doc["owner_agency"], owner_country=doc["owner_country"]
        ),
        content=content,
        state=State(doc["state"]),
        released=bool(doc["released"]),
        reported_at=doc["reported_at"],
        updated_at=doc["updated_at"],
        updated_by=doc.get("updated_by", doc["author"]),
        validated_by=doc.get("validated_by"),
        validated_at=doc.get("validated_at"),
        returned_reason=doc.get("returned_reason"),
        closed_reason=doc.get("closed_reason"),
        handler=doc.get("handler"),
        urgent=bool(doc.get("urgent", False)),
        urgent_note=doc.get("urgent_note", ""),
    )


# --- rules -----------------------------------------------------------------------------
# State rules only (409): who may do what is decided by `policy.actions` (RULES), which the
# node asks before calling any of these.

def _next(report: Report, actor: User, now: datetime, **changes: Any) -> Report:
    return dataclasses.replace(
        report, version=report.version + 1, updated_at=to_text(now), updated_by=actor.username, **changes
    )


def file(
    *, report_id: str, origin: str, author: User, audience: Audience, content: Content,
    draft: bool, now: datetime,
) -> Report:
    """A new report, owned by its author's agency."""
    if audience.owner_agency != author.agency or audience.owner_country != author.country:
        raise Forbidden("a report is owned by its author's agency")
    stamp = to_text(now)
    if content.observed_at > stamp:
        raise InvalidInput("observed_at is in the future", field="observed_at")
    return Report(
        id=report_id, version=1, origin=origin, author=author.username, audience=audience,
        content=content, state=State.DRAFT if draft else State.SUBMITTED, released=False,
        reported_at=stamp, updated_at=stamp, updated_by=author.username,
    )


def amend(report: Report, *, actor: User, content: Content, audience: Audience, now: datetime) -> Report:
    """A new version of the content or audience; the earlier version stays in the log."""
    if report.state in (State.CLOSED, State.RETRACTED):
        raise Conflict(f"a {report.state.value} report cannot be amended; file a linked report instead")
    if content.observed_at > to_text(now):
        raise InvalidInput("observed_at is in the future", field="observed_at")
    return _next(report, actor, now, content=content, audience=audience)


def submit(report: Report, *, actor: User, now: datetime) -> Report:
    if report.state not in (State.DRAFT, State.RETURNED):
        raise Conflict(f"a {report.state.value} report cannot be submitted")
    return _next(report, actor, now, state=State.SUBMITTED, returned_reason=None)


def validate(report: Report, *, actor: User, now: datetime) -> Report:
    if report.state is not State.SUBMITTED:
        raise Conflict(f"a {report.state.value} report cannot be validated")
    stamp = to_text(now)
    return _next(report, actor, now, state=State.VALIDATED, released=True,
                 validated_by=actor.username, validated_at=stamp)


def return_(report: Report, *, actor: User, reason: str, now: datetime) -> Report:
    if report.state is not State.SUBMITTED:
        raise Conflict(f"a {report.state.value} report cannot be returned")
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    return _next(report, actor, now, state=State.RETURNED, returned_reason=reason.strip())


def close(report: Report, *, actor: User, reason: str, now: datetime) -> Report:
    if report.state in (State.DRAFT, State.CLOSED, State.RETRACTED):
        raise Conflict(f"a {report.state.value} report cannot be closed")
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    return _next(report, actor, now, state=State.CLOSED, closed_reason=reason.strip())


def retract(report: Report, *, actor: User, reason: str, now: datetime) -> Report:
    """Withdraw a report as wrong: partners lose their copies, the owner keeps the history."""
    if report.state in (State.DRAFT, State.RETRACTED):
        raise Conflict(f"a {report.state.value} report cannot be retracted")
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    return _next(report, actor, now, state=State.RETRACTED, released=False, closed_reason=reason.strip())


def claim(report: Report, *, actor: User, now: datetime) -> Report:
    """A duty officer takes a report in hand (triage: "in progress")."""
    if report.state not in (State.SUBMITTED, State.RETURNED):
        raise Conflict(f"a {report.state.value} report is not in the triage queue")
    if report.handler == actor.username:
        raise Conflict("you are already handling this report")
    return _next(report, actor, now, handler=actor.username)


def unclaim(report: Report, *, actor: User, now: datetime) -> Report:
    if report.handler is None:
        raise Conflict("nobody is handling this report")
    return _next(report, actor, now, handler=None)


def flag(report: Report, *, actor: User, urgent: bool, note: str, now: datetime) -> Report:
    """Raise (or clear) the urgent flag: every duty officer who may see the report is alerted."""
    if report.state in (State.DRAFT, State.RETRACTED):
        raise Conflict(f"a {report.state.value} report cannot be flagged")
    if report.urgent == urgent:
        raise Conflict("the report is already " + ("urgent" if urgent else "not urgent"))
    return _next(report, actor, now, urgent=urgent, urgent_note=note.strip() if urgent else "")
