"""Who may see an object, and to which partner country it may be released."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.audience import Scope
from ..domain.org import User
from ..domain.report import Report, State

CROSS_BORDER = (Scope.PARTNERS, Scope.ALL_PARTNERS)


@dataclass(frozen=True, slots=True)
class Facts:
    """The fields of an object that need-to-know looks at (the same columns in SQL)."""

    owner_agency: str
    owner_country: str
    scope: Scope
    releasable_to: frozenset[str]
    state: str
    released: bool
    author: str

    @classmethod
    def of_report(cls, report: Report) -> "Facts":
        a = report.audience
        return cls(a.owner_agency, a.owner_country, a.scope, a.releasable_to,
                   report.state.value, report.released, report.author)


def may_view(viewer: User, facts: Facts) -> bool:
    """A draft: its author. Past draft: the owner's part of the audience; other
    countries only once released (validated) and named in `releasable_to`."""
    if not viewer.active:
        return False
    if facts.state == State.DRAFT:
        return viewer.username == facts.author
    if facts.scope is Scope.AGENCY:
        return viewer.agency == facts.owner_agency
    if viewer.country == facts.owner_country:
        return True
    return facts.released and facts.scope in CROSS_BORDER and viewer.country in facts.releasable_to


def may_release(facts: Facts, country: str) -> bool:
    """May this object leave the owner's node for partner `country`?"""
    return (
        facts.released
        and facts.state != State.DRAFT
        and facts.scope in CROSS_BORDER
        and country != facts.owner_country
        and country in facts.releasable_to
    )
