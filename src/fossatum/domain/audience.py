"""Who an object is for: owner, nested scope, resolved country set, and TLP marking.

Scopes nest: `agency` ⊂ `national` ⊂ `partners` ⊂ `all_partners`. A scope is resolved
once, when it is set, into an explicit `releasable_to` set against the node's partner
roster of that moment, so a country that joins later does not inherit history.
Anything missing or unresolvable falls back to the owner agency alone (deny by default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

from ..errors import InvalidInput

COUNTRY_CODE = re.compile(r"^[A-Z]{3}$")


class Scope(StrEnum):
    AGENCY = "agency"
    NATIONAL = "national"
    PARTNERS = "partners"
    ALL_PARTNERS = "all_partners"


class TLP(StrEnum):
    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"


@dataclass(frozen=True, slots=True)
class Audience:
    owner_agency: str
    owner_country: str
    scope: Scope = Scope.AGENCY
    partners: tuple[str, ...] = ()
    releasable_to: frozenset[str] = field(default_factory=frozenset)
    tlp: TLP = TLP.AMBER

    def to_doc(self) -> dict[str, object]:
        return {
            "owner_agency": self.owner_agency,
            "owner_country": self.owner_country,
            "scope": self.scope.value,
            "partners": list(self.partners),
            "releasable_to": sorted(self.releasable_to),
            "tlp": self.tlp.value,
        }

    def describe(self) -> str:
        """Plain words for the report panel: who can see this."""
        if self.scope is Scope.AGENCY:
            return f"{self.owner_agency} only"
        if self.scope is Scope.NATIONAL:
            return f"all agencies of {self.owner_country}"
        return ", ".join(sorted(self.releasable_to))


def check_country(code: object, *, field: str) -> str:
    if not isinstance(code, str) or not COUNTRY_CODE.match(code):
        raise InvalidInput(f"expected an ISO 3166 alpha-3 country code, got {code!r}", field=field)
    return code


def resolve(
    *,
    owner_agency: str,
    owner_country: str,
    scope: str | None,
    partners: Iterable[str] = (),
    roster: Iterable[str],
    tlp: str | None = None,
) -> Audience:
    """Resolve a requested scope against the roster; raise on what a person typed wrong."""
    roster_set = set(roster)
    try:
        marking = TLP(tlp) if tlp is not None else TLP.AMBER
    except ValueError:
        raise InvalidInput(
            f"unknown TLP {tlp!r}; expected one of {', '.join(t.value for t in TLP)}", field="tlp"
        ) from None
    if scope is None:
        return Audience(owner_agency, owner_country, Scope.AGENCY, (), frozenset({owner_country}), marking)
    try:
        chosen = Scope(scope)
    except ValueError:
        raise InvalidInput(
            f"unknown scope {scope!r}; expected one of {', '.join(s.value for s in Scope)}",
            field="audience.scope",
        ) from None
    # The owner country is always in the audience; naming it among the partners adds nothing.
    listed = tuple(sorted({check_country(p, field="audience.partners") for p in partners} - {owner_country}))
    if chosen is Scope.PARTNERS:
        if not listed:
            raise InvalidInput("scope 'partners' needs at least one partner country besides the owner's",
                               field="audience.partners")
        unknown = [p for p in listed if p not in roster_set]
        if unknown:
            raise InvalidInput(
                f"not on this node's partner roster: {', '.join(unknown)}", field="audience.partners"
            )
        return Audience(
            owner_agency, owner_country, chosen, listed, frozenset({owner_country, *listed}), marking
        )
    if listed:
        raise InvalidInput(f"partners are only allowed with scope 'partners', not {chosen.value!r}", field="audience.partners")
    if chosen is Scope.ALL_PARTNERS:
        return Audience(owner_agency, owner_country, chosen, (), frozenset({owner_country, *roster_set}), marking)
    return Audience(owner_agency, owner_country, chosen, (), frozenset({owner_country}), marking)


def from_doc(doc: object, *, owner_agency: str, owner_country: str) -> Audience:
    """Read a stored or received audience; anything odd narrows to the owner agency."""
    fallback = Audience(owner_agency, owner_country, Scope.AGENCY, (), frozenset({owner_country}), TLP.AMBER)
    if not isinstance(doc, dict):
        return fallback
    try:
        scope = Scope(cast(str, doc.get("scope")))  # not a scope (None included): ValueError below
        tlp = TLP(doc.get("tlp", "AMBER"))
        partners = tuple(check_country(p, field="partners") for p in doc.get("partners") or ())
        countries = frozenset(check_country(c, field="releasable_to") for c in doc.get("releasable_to") or ())
    except (ValueError, TypeError, InvalidInput):
        return fallback
    if scope in (Scope.AGENCY, Scope.NATIONAL):
        countries = frozenset({owner_country})
    return Audience(owner_agency, owner_country, scope, partners, countries | {owner_country}, tlp)
