"""The need-to-know rule of `visibility.may_view` as a portable SQL predicate.

Tables that hold visible objects carry the same columns: owner_agency, owner_country,
scope, releasable_to (",TUN,DZA," — so a LIKE works on every backend), state, released,
author. Inactive viewers get a predicate that matches nothing.

The same rule, over the viewer a transaction declares (`session_sql`), is PostgreSQL's
row-level-security policy: a second wall under `visible_sql` for a read that forgets it.
"""

from __future__ import annotations

from ..domain.org import User

# Transaction-local settings (`set_config(name, value, true)`) read by the RLS policies.
VIEWER_USERNAME = "fossatum.viewer_username"
VIEWER_AGENCY = "fossatum.viewer_agency"
VIEWER_COUNTRY = "fossatum.viewer_country"
SYSTEM = "fossatum.system"  # 'on': the node's own service paths (projector, federation, verify, export)


def releasable_text(countries: frozenset[str] | set[str]) -> str:
    """Store a country set as `,A,B,` so that membership is `LIKE '%,A,%'`."""
    return "," + ",".join(sorted(countries)) + ","


def _rule(t: str, username: str, agency: str, country: str, country_pattern: str) -> str:
    """The rule over row alias `t`, given SQL expressions for the viewer's fields."""
    return (
        f"(({t}.state = 'draft' AND {t}.author = {username})"
        f" OR ({t}.state <> 'draft' AND ("
        f"({t}.scope = 'agency' AND {t}.owner_agency = {agency})"
        f" OR ({t}.scope <> 'agency' AND {t}.owner_country = {country})"
        f" OR ({t}.released = 1 AND {t}.scope IN ('partners', 'all_partners')"
        f" AND {t}.releasable_to LIKE {country_pattern}))))"
    )


def visible_sql(viewer: User, alias: str, placeholder: str = "?") -> tuple[str, list[object]]:
    """(sql, params) selecting rows of `alias` that `viewer` may see."""
    if not viewer.active:
        return "1 = 0", []
    p = placeholder
    return _rule(alias, p, p, p, p), [viewer.username, viewer.agency, viewer.country, f"%,{viewer.country},%"]


def report_doc_sql(viewer: User, alias: str, placeholder: str = "?") -> tuple[str, list[object]]:
    """(sql, params): the document of report row `alias` that `viewer` reads — the current
    version in the owner country, the last released version abroad (`visibility.sees_released_version`)."""
    # A draft is seen by its author alone, as written.
    return (f"(CASE WHEN {alias}.owner_country = {placeholder} OR {alias}.state = 'draft' THEN {alias}.doc "
            f"ELSE {alias}.released_doc END)", [viewer.country])


def session_values(viewer: User | None, *, system: bool = False) -> dict[str, str]:
    """The settings a transaction declares for `session_sql`; an inactive viewer (or none)
    declares nobody, and sees nothing."""
    active = viewer is not None and viewer.active
    return {
        VIEWER_USERNAME: viewer.username if active and viewer else "",
        VIEWER_AGENCY: viewer.agency if active and viewer else "",
        VIEWER_COUNTRY: viewer.country if active and viewer else "",
        SYSTEM: "on" if system else "off",
    }


def _setting(name: str) -> str:
    # missing_ok: a session that never declared a viewer reads NULL, which matches no row.
    # A sub-select is evaluated once per query (an InitPlan), not once per row.
    return f"(SELECT current_setting('{name}', true))"


def session_sql(alias: str) -> str:
    """`visible_sql`'s rule over the viewer declared in the transaction (no parameters):
    no viewer declared (empty or unset settings) matches nothing."""
    username, agency, country = _setting(VIEWER_USERNAME), _setting(VIEWER_AGENCY), _setting(VIEWER_COUNTRY)
    pattern = f"(SELECT '%,' || current_setting('{VIEWER_COUNTRY}', true) || ',%')"
    declared = (f"(SELECT current_setting('{VIEWER_COUNTRY}', true) <> '' "
                f"AND current_setting('{VIEWER_USERNAME}', true) <> '')")  # once per query, too
    return f"({declared} AND {_rule(alias, username, agency, country, pattern)})"



def system_sql() -> str:
    """True in a transaction of the node's own service paths (they see and write every row)."""
    return f"{_setting(SYSTEM)} = 'on'"
