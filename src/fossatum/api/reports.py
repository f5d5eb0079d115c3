"""/api/v1/reports: file, read, list, amend and move reports through their workflow."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from ..domain.report import State
from ..domain.taxonomy import REPORT_TYPES, ImpactLevel, Layer
from ..domain.timeutil import normalise
from ..errors import InvalidInput
from ..schemas import ReasonIn, ReleaseIn, ReportIn, ReportPatch, UrgentIn
from ..store.query import ReportQuery, decode_cursor
from . import documents
from .deps import NodeDep, Viewer
from .documents import answers
from .json_response import items, raw

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


def _listed(value: str | None, allowed: object, field: str) -> tuple[str, ...]:
    if not value:
        return ()
    values = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in values if v not in allowed]  # type: ignore[operator]
    if unknown:
        raise InvalidInput(f"unknown value(s): {', '.join(unknown)}", field=field)
    return values


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput("expected bbox=minlon,minlat,maxlon,maxlat in decimal degrees", field="bbox") from None
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InvalidInput("bbox out of range or min > max (minlon,minlat,maxlon,maxlat)", field="bbox")
    return min_lon, min_lat, max_lon, max_lat


def build_query(node: NodeDep, *, bbox: str | None, since: str | None, until: str | None, type: str | None,
                state: str | None, layer: str | None, agency: str | None, country: str | None,
                q: str | None, cursor: str | None, limit: int, updated_since: str | None = None,
                grade: str | None = None, credibility: str | None = None, impact: str | None = None) -> ReportQuery:
    if not 1 <= limit <= node.settings.page_max:
        raise InvalidInput(f"limit must be between 1 and {node.settings.page_max}", field="limit")
    return ReportQuery(
        bbox=_bbox(bbox),
        since=normalise(since, field="since") if since else None,
        until=normalise(until, field="until") if until else None,
        types=_listed(type, REPORT_TYPES, "type"),
        states=_listed(state, {s.value for s in State}, "state"),
        layers=_listed(layer, {x.value for x in Layer}, "layer"),
        agencies=tuple(a for a in (agency or "").split(",") if a),
        countries=tuple(c for c in (country or "").split(",") if c),
        grade_sources=_listed(grade, set("ABCDEF"), "grade"),
        credibilities=tuple(int(c) for c in _listed(credibility, {"1", "2", "3", "4", "5", "6"}, "credibility")),
        impacts=_listed(impact, {i.value for i in ImpactLevel}, "impact"),
        text=q[:200] if q else None,
        updated_since=normalise(updated_since, field="updated_since") if updated_since else None,
        after=decode_cursor(cursor) if cursor else None,
        limit=limit,
    )



@router.post("", status_code=201, summary="File a report (submitted unless state is draft)",
             description="A client may send `id` (a UUID it chose, e.g. to retry safely from a device that "
                         "files offline). It is the client's key, not the report's id: the report's id is derived "
                         "from this node, the author and the key, so two authors never collide and the answer "
                         "never says whether another's report exists. The first call answers 201; a retry by the "
                         "same author with the same key answers 200 with that report as it is now (the body "
                         "of the retry is not applied: amend with PATCH).",
             responses={201: {"model": documents.Report},
                        200: {"model": documents.Report,
                              "description": "A retry: the report this author filed with this client key"}})
def file_report(node: NodeDep, viewer: Viewer, spec: Annotated[ReportIn, Body()]) -> Response:
    doc, created = node.file_client_report(actor=viewer, spec=spec)
    return raw(json.dumps(node.shown_doc(viewer, "report", doc), ensure_ascii=False),
               status_code=201 if created else 200)


@router.get("", summary="Reports the viewer may see, newest observation first", responses=answers(documents.ReportPage))
def list_reports(
    node: NodeDep, viewer: Viewer,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    since: Annotated[str | None, Query(description="observed at or after (ISO 8601)")] = None,
    until: Annotated[str | None, Query(description="observed before (ISO 8601)")] = None,
    type: Annotated[str | None, Query(description="comma-separated report types")] = None,
    state: Annotated[str | None, Query(description="comma-separated workflow states")] = None,
    layer: Annotated[str | None, Query()] = None,
    agency: Annotated[str | None, Query(description="owner agency codes")] = None,
    country: Annotated[str | None, Query(description="owner country codes")] = None,
    grade: Annotated[str | None, Query(description="Admiralty source reliability letters, e.g. A,B")] = None,
    credibility: Annotated[str | None, Query(description="Admiralty information credibility, e.g. 1,2")] = None,
    impact: Annotated[str | None, Query(description="impact levels, e.g. high,critical")] = None,
    q: Annotated[str | None, Query(description="text search")] = None,
    cursor: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    limit: int = 100,
    updated_since: Annotated[str | None, Query(description="changed at or after (catch-up after a reconnect)")] = None,
) -> Response:
    query = build_query(node, bbox=bbox, since=since, until=until, type=type, state=state, layer=layer,
                        agency=agency, country=country, q=q, cursor=cursor, limit=limit,
                        updated_since=updated_since, grade=grade, credibility=credibility, impact=impact)
    page = node.reports(viewer=viewer, query=query)
    return items(page.items, next=page.next)


@router.get("/count", summary="How many visible reports match, in total and by type and state")
def count_reports(
    node: NodeDep, viewer: Viewer, bbox: str | None = None, since: str | None = None, until: str | None = None,
    type: str | None = None, state: str | None = None, layer: str | None = None, agency: str | None = None,
    country: str | None = None, q: str | None = None, grade: str | None = None, credibility: str | None = None,
    impact: str | None = None,
) -> dict[str, object]:
    query = build_query(node, bbox=bbox, since=since, until=until, type=type, state=state, layer=layer,
                        agency=agency, country=country, q=q, cursor=None, limit=node.settings.page_max,
                        grade=grade, credibility=credibility, impact=impact)
    return {
        "total": node.count_reports(viewer=viewer, query=query)["total"],
        "by_type": node.count_reports(viewer=viewer, query=query, group_by="type"),
        "by_state": node.count_reports(viewer=viewer, query=query, group_by="state"),
        "by_country": node.count_reports(viewer=viewer, query=query, group_by="owner_country"),
    }


@router.get("/{report_id}", summary="One report (404 if absent or not visible)", responses=answers(documents.Report))
def get_report(node: NodeDep, viewer: Viewer, report_id: str) -> Response:
    return raw(node.report(viewer=viewer, report_id=report_id))


@router.get("/{report_id}/versions", summary="Every version of a report, oldest first",
            responses=answers(documents.ReportList))
def report_versions(node: NodeDep, viewer: Viewer, report_id: str) -> Response:
    return items(node.report_versions(viewer=viewer, report_id=report_id))  # 404 unless visible


@router.patch("/{report_id}", summary="Amend a report: a new version with the fields given",
              responses=answers(documents.Report))
def amend_report(node: NodeDep, viewer: Viewer, report_id: str, patch: Annotated[ReportPatch, Body()]) -> Response:
    doc = node.amend_report(actor=viewer, report_id=report_id, patch=patch)
    return raw(json.dumps(node.shown_doc(viewer, "report", doc), ensure_ascii=False))


def _transition(action: str, summary: str) -> None:
    def view(node: NodeDep, viewer: Viewer, report_id: str,
             body: Annotated[ReasonIn | None, Body()] = None) -> Response:
        doc = node.transition(actor=viewer, report_id=report_id, action=action,
                              reason=body.reason if body else "")
        return raw(json.dumps(node.shown_doc(viewer, "report", doc), ensure_ascii=False))

    view.__name__ = f"{action}_report"
    router.add_api_route(f"/{{report_id}}/{action}", view, methods=["POST"], summary=summary,
                         responses=answers(documents.Report))


_transition("submit", "Submit a draft or returned report")
_transition("validate", "Validate (duty officer of the owner country); by a duty officer of the owner agency "
                        "it also releases the validated version to its partners")
_transition("return", "Return to the author with a reason")
_transition("close", "Close with a reason")
_transition("retract", "Retract as wrong, with a reason: partners lose their copies (duty officer)")
_transition("claim", "Take the report in hand (triage: in progress; duty officer)")
_transition("unclaim", "Give the report back to the triage queue")


@router.post("/{report_id}/urgent", summary="Raise or clear the urgent flag: alerts every duty officer who may see it",
             responses=answers(documents.Report))
def flag_report(node: NodeDep, viewer: Viewer, report_id: str, body: Annotated[UrgentIn, Body()]) -> Response:
    doc = node.flag_report(actor=viewer, report_id=report_id, urgent=body.urgent, note=body.note)
    return raw(json.dumps(node.shown_doc(viewer, "report", doc), ensure_ascii=False))


@router.post("/{report_id}/release",
             summary="Release the current version to the partners its audience names (duty officer of the owner agency)",
             responses=answers(documents.Report))
def release_report(node: NodeDep, viewer: Viewer, report_id: str,
                   body: Annotated[ReleaseIn | None, Body()] = None) -> Response:
    doc = node.release_report(actor=viewer, report_id=report_id, version=body.version if body else None)
    return raw(json.dumps(node.shown_doc(viewer, "report", doc), ensure_ascii=False))
