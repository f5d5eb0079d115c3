"""/api/v1/alerts and /api/v1/chat: what field devices raised and said, as far as the viewer may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from . import documents
from .deps import NodeDep, Viewer
from .documents import answers
from .json_response import items

router = APIRouter(prefix="/api/v1", tags=["field"])


@router.get("/alerts", summary="Field alerts (911, troops in contact), newest first; active only unless all=1",
            responses=answers(documents.FieldAlertList))
def alerts(node: NodeDep, viewer: Viewer,
           show_all: Annotated[bool, Query(alias="all", description="also cancelled alerts")] = False) -> Response:
    return items(node.alerts(viewer=viewer, active_only=not show_all))


@router.get("/chat", summary="GeoChat messages from the field, newest first", responses=answers(documents.ChatList))
def chat(node: NodeDep, viewer: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    return items(node.chat(viewer=viewer, limit=limit))
