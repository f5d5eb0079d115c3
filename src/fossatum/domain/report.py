"""Reports and their workflow: draft → submitted → validated (or returned) → closed,
and retracted (withdrawn as wrong) from any state past draft.

Every transition returns a new version; the caller records it in the log. Validation by a
duty officer of the owner country makes a report official at home. What crosses the border
is decided apart, by a *release*: a duty officer of the owner **agency** releases one
version to the partner countries its audience names at that moment (validation by such an
officer releases the validated version at once). Partners keep exactly the version they
were released: later amendments, flags and closing stay at home until the next release. A
narrowing takes effect at once (the release record shrinks with the audience, so a later
re-widening needs a new release); a retraction withdraws the release. See docs/release.md.
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
class Release:
    """A release decision: `version` went to `countries` (explicit, resolved when released)."""

    version: int
    countries: frozenset[str]
    by: str
    at: str

    def to_doc(self) -> dict[str, object]:
        return {"version": self.version, "countries": sorted(self.countries), "by": self.by, "at": self.at}


def _release_from_doc(doc: dict[str, Any], audience: Audience) -> Release | None:
    if "release" not in doc:
        # A document written before releases were recorded: then every validated version of
        # a cross-border report went to its audience as it stood, so it reads as released.
        if doc.get("released") and audience.scope in (aud.Scope.PARTNERS, aud.Scope.ALL_PARTNERS):
            return Release(int(doc["version"]), audience.releasable_to - {audience.owner_country},
                           str(doc.get("validated_by") or ""), str(doc.get("validated_at") or ""))
        return None
    raw = doc.get("release")
    if not isinstance(raw, dict):
        return None
    try:
        countries = frozenset(aud.check_country(c, field="release.countries") for c in raw.get("countries") or ())
        return Release(int(raw["version"]), countries - {audience.owner_country}, str(raw.get("by", "")),
                       str(raw.get("at", "")))
    except (KeyError, TypeError, ValueError, InvalidInput):
        return None  # deny by default


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    version: int
    origin: str
    author: str
    audience: Audience
    content: Content
    state: State
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
    release: Release | None = None   # the last release decision, carried by later versions

    @property
    def partner_countries(self) -> frozenset[str]:
        """The partner countries that hold a released version of this report now."""
        if self.release is None or self.state in (State.DRAFT, State.RETRACTED):
            return frozenset()
        return self.release.countries

    @property
    def released(self) -> bool:
        """Some partner country holds a released version."""
        return bool(self.partner_countries)

    @property
    def is_released_version(self) -> bool:
        """This version is the one partners were given (a release decision made it)."""
        return self.release is not None and self.release.version == self.version and self.released

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
            "release": self.release.to_doc() if self.release else None,
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
    audience = aud.from_doc(doc.get("audience"), owner_agency=doc["owner_agency"], owner_country=doc["owner_country"])
    return Report(
        id=doc["id"],
        version=doc["version"],
        origin=doc["origin"],
        author=doc["author"],
        audience=audience,
        content=content,
        state=State(doc["state"]),
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
        release=_release_from_doc(doc, audience),
    )


# --- rules -----------------------------------------------------------------------------
# State rules only (409): who may do what is decided by `policy.actions` (RULES), which the
# node asks before calling any of these.

def _next(report: Report, actor: User, now: datetime, **changes: Any) -> Report:
    """The next version. Its release record is the last one, narrowed to the new audience: a
    narrowing withdraws at once, a widening waits for a release decision (`release`)."""
    new = dataclasses.replace(
        report, version=report.version + 1, updated_at=to_text(now), updated_by=actor.username, **changes
    )
    if new.release is not None and "release" not in changes:
        cross = new.audience.scope in (aud.Scope.PARTNERS, aud.Scope.ALL_PARTNERS)
        kept = new.release.countries & new.audience.releasable_to if cross else frozenset()
        new = dataclasses.replace(new, release=dataclasses.replace(new.release, countries=kept))
    return new


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
        content=content, state=State.DRAFT if draft else State.SUBMITTED,
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


def validate(report: Report, *, actor: User, now: datetime, release: bool = False) -> Report:
    """Validate for the owner country. `release`: the validator may also make the release
    decision (policy/actions.py, REPORT_RELEASE), so the validated version crosses at once."""
    if report.state is not State.SUBMITTED:
        raise Conflict(f"a {report.state.value} report cannot be validated")
    stamp = to_text(now)
    new = _next(report, actor, now, state=State.VALIDATED, validated_by=actor.username, validated_at=stamp)
    if release and is_cross_border(report):
        new = dataclasses.replace(new, release=Release(new.version, _partners_of(new), actor.username, stamp))
    return new


def is_cross_border(report: Report) -> bool:
    return report.audience.scope in (aud.Scope.PARTNERS, aud.Scope.ALL_PARTNERS)


def _partners_of(report: Report) -> frozenset[str]:
    return report.audience.releasable_to - {report.audience.owner_country}


def release(report: Report, *, actor: User, now: datetime, version: int | None = None) -> Report:
    """Release the current version to the partner countries its audience names now: a new
    version, the one partners get. `version`: the version the officer reviewed (409 if newer).
    Who may decide is policy/actions.py's (REPORT_RELEASE); this checks the report's state."""
    if version is not None and version != report.version:
        raise Conflict(f"the report is at version {report.version}, not {version}: review it again")
    if report.state not in (State.VALIDATED, State.CLOSED):
        raise Conflict(f"a {report.state.value} report cannot be released; validate it first")
    if not is_cross_border(report):
        raise Conflict(f"the audience is {report.audience.scope.value}: nothing crosses the border")
    if report.is_released_version:
        raise Conflict(f"version {report.version} is already released")
    stamp = to_text(now)
    new = _next(report, actor, now)
    return dataclasses.replace(new, release=Release(new.version, _partners_of(new), actor.username, stamp))


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
    return _next(report, actor, now, state=State.RETRACTED, release=None, closed_reason=reason.strip())


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
