"""The need-to-know rule of `visibility.may_view` as a portable SQL predicate.

Tables that hold visible objects carry the same columns: owner_agency, owner_country,
scope, releasable_to (",TUN,DZA," — so a LIKE works on every backend), state, released,
author. Inactive viewers get a predicate that matches nothing.
"""

from __future__ import annotations

from ..domain.org import User


def releasable_text(countries: frozenset[str] | set[str]) -> str:
    """Store a country set as `,A,B,` so that membership is `LIKE '%,A,%'`."""
    return "," + ",".join(sorted(countries)) + ","


def visible_sql(viewer: User, alias: str, placeholder: str = "?") -> tuple[str, list[object]]:
    """(sql, params) selecting rows of `alias` that `viewer` may see."""
    if not viewer.active:
        return "1 = 0", []
    p = placeholder
    t = alias
    sql = (
        f"(({t}.state = 'draft' AND {t}.author = {p})"
        f" OR ({t}.state <> 'draft' AND ("
        f"({t}.scope = 'agency' AND {t}.owner_agency = {p})"
        f" OR ({t}.scope <> 'agency' AND {t}.owner_country = {p})"
        f" OR ({t}.released = 1 AND {t}.scope IN ('partners', 'all_partners')"
        f" AND {t}.releasable_to LIKE {p}))))"
    )
    return sql, [viewer.username, viewer.agency, viewer.country, f"%,{viewer.country},%"]
