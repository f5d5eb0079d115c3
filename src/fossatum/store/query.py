"""Report queries: the filters a COP or a list asks for, as portable SQL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidInput

BBox = tuple[float, float, float, float]
# (alias, bbox, since, until) -> SQL selecting exactly the reports in the box and the time
# window, through the backend's space-time index (each backend words the exact window so
# that its planner keeps to that index)
SpatialSQL = Callable[[str, BBox, str | None, str | None], tuple[str, list[object]]]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    bbox: BBox | None = None
    since: str | None = None
    until: str | None = None
    types: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    grade_sources: tuple[str, ...] = ()     # Admiralty source reliability, A-F
    credibilities: tuple[int, ...] = ()     # Admiralty information credibility, 1-6
    impacts: tuple[str, ...] = ()
    text: str | None = None
    updated_since: str | None = None
    after: tuple[str, str] | None = None  # (observed_at, id) of the last item of the previous page
    limit: int = 100


def encode_cursor(observed_at: str, report_id: str) -> str:
    return base64.urlsafe_b64encode(f"{observed_at}|{report_id}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        observed_at, report_id = raw.split("|", 1)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("not a cursor returned by this API", field="cursor") from None
    return observed_at, report_id


def _any_of(column: str, values: tuple[object, ...]) -> tuple[str, list[object]]:
    return f" AND {column} IN ({', '.join('?' for _ in values)})", list(values)


def time_window(alias: str, since: str | None, until: str | None, *, collate: str = "") -> str:
    """" AND ..." for since <= observed_at < until (params: since, until, those set).

    `collate` (e.g. ' COLLATE "C"') compares as bytes, as SQLite does, whatever the
    database's collation; on PostgreSQL it also keeps the planner off the observed_at
    btree when the space-time index already covers the window."""
    sql = f" AND {alias}.observed_at{collate} >= ?" if since else ""
    return sql + (f" AND {alias}.observed_at{collate} < ?" if until else "")


def report_filters(
    q: ReportQuery, *, alias: str, spatial: SpatialSQL, paging: bool = True
) -> tuple[str, list[object]]:
    """(" AND ...", params) for every filter set in `q`."""
    sql: list[str] = []
    params: list[object] = []
    if q.bbox is not None:
        clause, p = spatial(alias, q.bbox, q.since, q.until)
        sql.append(f" AND {clause}")
        params += p
    else:
        sql.append(time_window(alias, q.since, q.until))
        params += [t for t in (q.since, q.until) if t]
    for column, values in (("type", q.types), ("state", q.states), ("layer", q.layers),
                           ("owner_agency", q.agencies), ("owner_country", q.countries),
                           ("grade_source", q.grade_sources), ("grade_info", q.credibilities),
                           ("impact", q.impacts)):
        if values:
            clause, p = _any_of(f"{alias}.{column}", values)
            sql.append(clause)
            params += p
    if q.updated_since:
        sql.append(f" AND {alias}.updated_at >= ?")
        params.append(q.updated_since)
    if q.text:
        # Plain substring search over the stored document (description, SALUTE, reaction);
        # LIKE special characters are escaped so that a user's '%' is a '%'.
        needle = q.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql.append(f" AND {alias}.doc LIKE ? ESCAPE '\\'")
        params.append(f"%{needle}%")
    if paging and q.after is not None:
        sql.append(f" AND ({alias}.observed_at < ? OR ({alias}.observed_at = ? AND {alias}.id < ?))")
        params += [q.after[0], q.after[0], q.after[1]]
    return "".join(sql), params
