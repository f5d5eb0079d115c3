"""/api/v1/checkpoints (issue 12). Answers are the node's reads for the viewer (filtered and
redacted by need-to-know in the store), so they need no `shown_doc` here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ..schemas import CheckpointIn, CheckpointPatch, CheckpointStatusIn
from . import documents
from .deps import NodeDep, Viewer
from .documents import answers

router = APIRouter(prefix="/api/v1")


@router.get("/checkpoints", tags=["checkpoints"], summary="Checkpoints the viewer may see",
            response_model=None, responses=answers(documents.CheckpointList))
def checkpoints(node: NodeDep, viewer: Viewer) -> dict[str, Any]:
    return {"items": node.checkpoints(viewer=viewer)}


@router.post("/checkpoints", tags=["checkpoints"], status_code=201,
             summary="Set up a checkpoint on a border section (commander, duty officer)",
             response_model=None, responses=answers(documents.Checkpoint, 201))
def create_checkpoint(node: NodeDep, viewer: Viewer, body: Annotated[CheckpointIn, Body()]) -> dict[str, Any]:
    return node.create_checkpoint(actor=viewer, spec=body)


@router.get("/checkpoints/{checkpoint_id}", tags=["checkpoints"], response_model=None,
            responses=answers(documents.Checkpoint))
def checkpoint(node: NodeDep, viewer: Viewer, checkpoint_id: str) -> dict[str, Any]:
    return node.checkpoint(viewer=viewer, checkpoint_id=checkpoint_id)


@router.patch("/checkpoints/{checkpoint_id}", tags=["checkpoints"],
              summary="Change its name, position, partners or units (status: POST .../status)",
              response_model=None, responses=answers(documents.Checkpoint))
def update_checkpoint(node: NodeDep, viewer: Viewer, checkpoint_id: str,
                      body: Annotated[CheckpointPatch, Body()]) -> dict[str, Any]:
    return node.update_checkpoint(actor=viewer, checkpoint_id=checkpoint_id, patch=body)


@router.post("/checkpoints/{checkpoint_id}/status", tags=["checkpoints"],
             summary="Open, close or reinforce it, with the reason (kept in its history)",
             response_model=None, responses=answers(documents.Checkpoint))
def set_checkpoint_status(node: NodeDep, viewer: Viewer, checkpoint_id: str,
                          body: Annotated[CheckpointStatusIn, Body()]) -> dict[str, Any]:
    return node.set_checkpoint_status(actor=viewer, checkpoint_id=checkpoint_id, status=body.status.value,
                                      reason=body.reason)
