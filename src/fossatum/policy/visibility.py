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
    def of_report(cls, report: Report) -> Facts:
        """The report as a whole: its owner country sees it by its current audience, a partner
        country only as far as a release reached it (the released version, see `view_of`)."""
        a = report.audience
        return cls(a.owner_agency, a.owner_country, a.scope, frozenset({a.owner_country}) | report.partner_countries,
                   report.state.value, report.released, report.author)

    @classmethod
    def of_version(cls, report: Report) -> Facts:
        """One version of the history: seen by its own audience at home, and abroad only if
        it is a version that was released (and only by the countries it was released to)."""
        a = report.audience
        released = report.is_released_version
        countries = frozenset({a.owner_country}) | (report.partner_countries if released else frozenset())
        return cls(a.owner_agency, a.owner_country, a.scope, countries, report.state.value, released, report.author)


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


def sees_released_version(viewer: User, facts: Facts) -> bool:
    """A viewer outside the owner country sees a report only as it was released to them."""
    return viewer.country != facts.owner_country and facts.state != State.DRAFT


def may_release(facts: Facts, country: str) -> bool:
    """May this object leave the owner's node for partner `country`?"""
    return (
        facts.released
        and facts.state != State.DRAFT
        and facts.scope in CROSS_BORDER
        and country != facts.owner_country
        and country in facts.releasable_to
    )
