"""/api/v1: login, the node, the taxonomy, agencies, users, units and border sections (and their coverage gaps)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from ..domain.coverage import DEFAULT_DISTANCE_M, DEFAULT_HOURS, DISTANCE_RANGE_M, HOURS_RANGE
from ..domain.org import Role
from ..domain.report import State
from ..domain.taxonomy import REPORT_TYPES, ImpactLevel, Layer
from ..policy.directory import accounts_shown
from ..schemas import (
    AgencyIn,
    FieldAudienceIn,
    ImpactIn,
    LoginIn,
    PasswordChangeIn,
    PositionIn,
    SectionIn,
    UnitIn,
    UserIn,
)
from . import documents
from .client_address import client_address, parse_trusted
from .deps import NodeDep, Token, Viewer
from .documents import answers
from .json_response import items, raw

router = APIRouter(prefix="/api/v1")


def _client(node: NodeDep, request: Request) -> str:
    """The source address the login throttle counts (X-Forwarded-For only from trusted proxies)."""
    peer = request.client.host if request.client else ""
    return client_address(peer, request.headers.getlist("x-forwarded-for"),
                          parse_trusted(node.settings.trusted_proxies))


@router.post("/auth/token", tags=["auth"], summary="Log in: a bearer token for one shift",
             response_model=None, responses=answers(documents.Token))
def login(node: NodeDep, request: Request, body: Annotated[LoginIn, Body()]) -> dict[str, str]:
    token, expires_at, _ = node.login(username=body.username, password=body.password, client=_client(node, request))
    return {"access_token": token, "token_type": "bearer", "expires_at": expires_at}


@router.post("/auth/logout", tags=["auth"], status_code=204,
             summary="End this token's session (everywhere=true: every session and live channel of the user)")
def logout(node: NodeDep, token: Token, viewer: Viewer, everywhere: Annotated[bool, Query()] = False) -> Response:
    node.logout(token, everywhere=everywhere)
    return Response(status_code=204)


@router.post("/auth/password", tags=["auth"],
             summary="Change one's own password: every session ends; a new token for this one",
             response_model=None, responses=answers(documents.Token))
def change_password(node: NodeDep, request: Request, viewer: Viewer,
                    body: Annotated[PasswordChangeIn, Body()]) -> dict[str, str]:
    token, expires_at = node.change_own_password(actor=viewer, current=body.current_password, new=body.new_password,
                                                 client=_client(node, request))
    return {"access_token": token, "token_type": "bearer", "expires_at": expires_at}


@router.get("/me", tags=["auth"], summary="The logged-in user", response_model=None, responses=answers(documents.Me))
def me(viewer: Viewer) -> dict[str, Any]:
    return viewer.to_doc()


@router.get("/node", tags=["node"], summary="This node: id, country, public key, partner roster",
            response_model=None, responses=answers(documents.NodeInfo))
def node_info(node: NodeDep, viewer: Viewer) -> dict[str, Any]:
    return node.info()


@router.get("/health", tags=["node"], summary="Liveness (no login needed)")
def health(node: NodeDep) -> dict[str, Any]:
    return {"status": "ok", "node_id": node.node_id, "country": node.country}


@router.get("/taxonomy", tags=["node"], summary="Report types, layers, states, impact levels, grades",
            response_model=None, responses=answers(documents.Taxonomy))
def taxonomy() -> dict[str, Any]:
    return {
        "types": [{"code": t, "layer": layer.value} for t, layer in REPORT_TYPES.items()],
        "layers": [x.value for x in Layer],
        "states": [s.value for s in State],
        "impact_levels": [i.value for i in ImpactLevel],
        "roles": [r.value for r in Role],
        "grade": {"source": list("ABCDEF"), "info": [1, 2, 3, 4, 5, 6]},
    }


@router.get("/agencies", tags=["directory"], response_model=None, responses=answers(documents.AgencyList))
def agencies(node: NodeDep, viewer: Viewer) -> dict[str, Any]:
    items = node.agencies()
    if viewer.country != node.country:
        # Whom this country shares its field reports with is its own business: a partner's
        # liaison officer does not learn which other partners are named.
        items = [{k: v for k, v in a.items() if k != "field_audience"} for a in items]
    return {"items": items}


@router.post("/agencies", tags=["directory"], status_code=201, summary="Register an agency (admin)")
def add_agency(node: NodeDep, viewer: Viewer, body: Annotated[AgencyIn, Body()]) -> dict[str, Any]:
    return node.add_agency(actor=viewer, code=body.code, name=body.name, country=body.country)


@router.put("/agencies/{code}/field-audience", tags=["directory"],
            summary="Set the default audience of reports the agency's field devices file (admin)")
def set_field_audience(node: NodeDep, viewer: Viewer, code: str,
                       body: Annotated[FieldAudienceIn, Body()]) -> dict[str, Any]:
    return node.set_field_audience(actor=viewer, agency=code, scope=body.scope.value, partners=body.partners,
                                   tlp=body.tlp.value if body.tlp else None)


@router.delete("/agencies/{code}/field-audience", tags=["directory"],
               summary="Clear the agency's field audience: the node's cot_report_scope applies (admin)")
def clear_field_audience(node: NodeDep, viewer: Viewer, code: str) -> dict[str, Any]:
    return node.set_field_audience(actor=viewer, agency=code, scope=None)


@router.get("/users", tags=["directory"])
def users(node: NodeDep, viewer: Viewer) -> dict[str, Any]:
    # A partner's liaison officer: their own country's accounts and the host's duty desk only.
    return {"items": accounts_shown(viewer, node.users(), node.country)}


@router.post("/users", tags=["directory"], status_code=201, summary="Create an account (admin)")
def add_user(node: NodeDep, viewer: Viewer, body: Annotated[UserIn, Body()]) -> dict[str, Any]:
    user = node.add_user(actor=viewer, username=body.username, agency=body.agency, roles=body.roles,
                         password=body.password, full_name=body.full_name)
    return user.to_doc()


@router.post("/users/{username}/disable", tags=["directory"],
             summary="Disable an account: logins refused, every session and live channel ended (admin)")
def disable_user(node: NodeDep, viewer: Viewer, username: str) -> dict[str, Any]:
    return node.set_user_active(actor=viewer, username=username, active=False).to_doc()


@router.post("/users/{username}/enable", tags=["directory"], summary="Enable a disabled account again (admin)")
def enable_user(node: NodeDep, viewer: Viewer, username: str) -> dict[str, Any]:
    return node.set_user_active(actor=viewer, username=username, active=True).to_doc()


@router.get("/units", tags=["units"], summary="Units the viewer may see, with last position",
            responses=answers(documents.UnitList))
def units(node: NodeDep, viewer: Viewer) -> Response:
    return items(node.units(viewer=viewer))


@router.post("/units", tags=["units"], status_code=201, summary="Register a unit (admin)",
             responses=answers(documents.Unit, 201))
def add_unit(node: NodeDep, viewer: Viewer, body: Annotated[UnitIn, Body()]) -> Response:
    doc = node.add_unit(actor=viewer, spec=body)
    return raw(json.dumps(node.shown_doc(viewer, "unit", doc), ensure_ascii=False), status_code=201)


@router.get("/units/{unit_id}", tags=["units"], responses=answers(documents.Unit))
def unit(node: NodeDep, viewer: Viewer, unit_id: str) -> Response:
    return raw(node.unit(viewer=viewer, unit_id=unit_id))


@router.get("/units/{unit_id}/track", tags=["units"], summary="Position history, newest first")
def unit_track(node: NodeDep, viewer: Viewer, unit_id: str) -> dict[str, Any]:
    return {"items": node.unit_track(viewer=viewer, unit_id=unit_id)}


@router.post("/units/{unit_id}/position", tags=["units"], summary="Report a unit's position",
             responses=answers(documents.Unit))
def move_unit(node: NodeDep, viewer: Viewer, unit_id: str, body: Annotated[PositionIn, Body()]) -> Response:
    doc = node.move_unit(actor=viewer, unit_id=unit_id, position=body.location.position(), at=body.at)
    return raw(json.dumps(node.shown_doc(viewer, "unit", doc), ensure_ascii=False))


@router.get("/sections", tags=["sections"], summary="Border sections with their impact level",
            responses=answers(documents.SectionList))
def sections(node: NodeDep, viewer: Viewer) -> Response:
    return items(node.sections(viewer=viewer))


@router.post("/sections", tags=["sections"], status_code=201, summary="Add a border section (admin)",
             responses=answers(documents.Section, 201))
def add_section(node: NodeDep, viewer: Viewer, body: Annotated[SectionIn, Body()]) -> Response:
    doc = node.add_section(actor=viewer, spec=body)
    return raw(json.dumps(node.shown_doc(viewer, "section", doc), ensure_ascii=False), status_code=201)


@router.get("/sections/{section_id}", tags=["sections"], responses=answers(documents.Section))
def section(node: NodeDep, viewer: Viewer, section_id: str) -> Response:
    return raw(node.section(viewer=viewer, section_id=section_id))


@router.get("/sections/{section_id}/coverage", tags=["sections"], response_model=None,
            summary="Coverage gaps: the stretches no unit the viewer may see came within distance_m of in the "
                    "last hours, and since when", responses=answers(documents.SectionCoverage))
def section_coverage(node: NodeDep, viewer: Viewer, section_id: str,
                     hours: Annotated[int, Query(ge=HOURS_RANGE[0], le=HOURS_RANGE[1])] = DEFAULT_HOURS,
                     distance_m: Annotated[int, Query(ge=DISTANCE_RANGE_M[0], le=DISTANCE_RANGE_M[1])]
                     = DEFAULT_DISTANCE_M) -> dict[str, Any]:
    return node.section_coverage(viewer=viewer, section_id=section_id, hours=hours, distance_m=distance_m)


@router.post("/sections/{section_id}/impact", tags=["sections"], summary="Set the impact level (analyst/duty officer)",
             responses=answers(documents.Section))
def set_impact(node: NodeDep, viewer: Viewer, section_id: str, body: Annotated[ImpactIn, Body()]) -> Response:
    doc = node.set_section_impact(actor=viewer, section_id=section_id, impact=body.impact.value, reason=body.reason)
    return raw(json.dumps(node.shown_doc(viewer, "section", doc), ensure_ascii=False))
