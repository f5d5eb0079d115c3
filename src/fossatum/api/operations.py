"""/api/v1/operations: joint operations, their sectors and journals (issue 12).

Every answer is the node's read model for the viewer (services/operations.py): filtered and
redacted by need-to-know, so it needs no `shown_doc` here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ..schemas import JournalIn, OperationIn, OperationPatch, SectorsIn
from . import documents
from .deps import NodeDep, Viewer
from .documents import answers

router = APIRouter(prefix="/api/v1")


@router.get("/operations", tags=["operations"], summary="Joint operations the viewer may see",
            response_model=None, responses=answers(documents.OperationList))
def operations(node: NodeDep, viewer: Viewer) -> dict[str, Any]:
    return {"items": node.operations(viewer=viewer)}


@router.post("/operations", tags=["operations"], status_code=201,
             summary="Plan an operation led by this node's country (commander, duty officer)",
             response_model=None, responses=answers(documents.Operation, 201))
def create_operation(node: NodeDep, viewer: Viewer, body: Annotated[OperationIn, Body()]) -> dict[str, Any]:
    return node.create_operation(actor=viewer, spec=body)


# Before `/operations/{operation_id}`: that route's parameter would take "op-1.emsi" whole.
@router.get("/operations/{operation_id}.emsi", tags=["operations"],
            summary="The operation as an EMSI message (ISO/TR 22351, JSON): only the patrols and units the "
                    "viewer may see; 404 like any operation they may not see",
            response_model=None, responses=answers(documents.EmsiMessage))
def operation_emsi(node: NodeDep, viewer: Viewer, operation_id: str) -> dict[str, Any]:
    return node.operation_emsi(viewer=viewer, operation_id=operation_id)


@router.get("/operations/{operation_id}", tags=["operations"], response_model=None,
            responses=answers(documents.Operation))
def operation(node: NodeDep, viewer: Viewer, operation_id: str) -> dict[str, Any]:
    return node.operation(viewer=viewer, operation_id=operation_id)


@router.patch("/operations/{operation_id}", tags=["operations"],
              summary="Change the lead's document: name, phases, participants, command, units, reports, status "
                      "(409 naming the allowed EMSI transitions)",
              response_model=None, responses=answers(documents.Operation))
def update_operation(node: NodeDep, viewer: Viewer, operation_id: str,
                     body: Annotated[OperationPatch, Body()]) -> dict[str, Any]:
    return node.update_operation(actor=viewer, operation_id=operation_id, patch=body)


@router.get("/operations/{operation_id}/journal", tags=["operations"],
            summary="The journal lines the viewer may see, oldest first",
            response_model=None, responses=answers(documents.JournalList))
def journal(node: NodeDep, viewer: Viewer, operation_id: str) -> dict[str, Any]:
    return {"items": node.journal(viewer=viewer, operation_id=operation_id)}


@router.post("/operations/{operation_id}/journal", tags=["operations"], status_code=201,
             summary="Write a journal line of this node's country (note, decision, assignment, report link)",
             response_model=None, responses=answers(documents.JournalLine, 201))
def write_journal(node: NodeDep, viewer: Viewer, operation_id: str,
                  body: Annotated[JournalIn, Body()]) -> dict[str, Any]:
    return node.write_journal(actor=viewer, operation_id=operation_id, spec=body)


@router.get("/operations/{operation_id}/sectors", tags=["operations"], response_model=None,
            responses=answers(documents.SectorList))
def sectors(node: NodeDep, viewer: Viewer, operation_id: str) -> dict[str, Any]:
    return {"items": node.sectors(viewer=viewer, operation_id=operation_id)}


@router.put("/operations/{operation_id}/sectors", tags=["operations"],
            summary="Replace the sectors as a whole (each inside the area, of a participating country)",
            response_model=None, responses=answers(documents.SectorList))
def set_sectors(node: NodeDep, viewer: Viewer, operation_id: str,
                body: Annotated[SectorsIn, Body()]) -> dict[str, Any]:
    return {"items": node.set_sectors(actor=viewer, operation_id=operation_id, sectors=body.sectors)}
