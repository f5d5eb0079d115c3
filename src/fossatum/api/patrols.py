"""/api/v1/patrols (issue 12). Answers are the node's reads for the viewer (filtered and redacted
by need-to-know in the store), so they need no `shown_doc` here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ..schemas import PatrolIn, PatrolPatch
from . import documents
from .deps import NodeDep, Viewer
from .documents import answers

router = APIRouter(prefix="/api/v1")


@router.get("/patrols", tags=["patrols"], summary="Patrols the viewer may see",
            response_model=None, responses=answers(documents.PatrolList))
def patrols(node: NodeDep, viewer: Viewer) -> dict[str, Any]:
    return {"items": node.patrols(viewer=viewer)}


@router.post("/patrols", tags=["patrols"], status_code=201,
             summary="Plan a patrol of this node's country, joint with the countries named (commander, duty officer)",
             response_model=None, responses=answers(documents.Patrol, 201))
def create_patrol(node: NodeDep, viewer: Viewer, body: Annotated[PatrolIn, Body()]) -> dict[str, Any]:
    return node.create_patrol(actor=viewer, spec=body)


@router.get("/patrols/{patrol_id}", tags=["patrols"], response_model=None, responses=answers(documents.Patrol))
def patrol(node: NodeDep, viewer: Viewer, patrol_id: str) -> dict[str, Any]:
    return node.patrol(viewer=viewer, patrol_id=patrol_id)


@router.patch("/patrols/{patrol_id}", tags=["patrols"],
              summary="Change the route, schedule, countries, units or status (409 naming the allowed EMSI "
                      "transitions)",
              response_model=None, responses=answers(documents.Patrol))
def update_patrol(node: NodeDep, viewer: Viewer, patrol_id: str, body: Annotated[PatrolPatch, Body()]) -> dict[str, Any]:
    return node.update_patrol(actor=viewer, patrol_id=patrol_id, patch=body)
