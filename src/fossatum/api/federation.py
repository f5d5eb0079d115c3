"""/api/v1/federation: the node-to-node stream (signed requests) and its administration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import Forbidden
from ..federation import requests as signed
from ..policy.directory import is_node_admin
from .deps import NodeDep, Viewer

router = APIRouter(prefix="/api/v1/federation", tags=["federation"])


async def _caller(node: NodeDep, request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()
    return await run_in_threadpool(signed.verify, request.headers, request.method, target, body,
                                   node.federation.key_of_node, own_node_id=node.node_id,
                                   first_use=node.federation.first_use)


@router.get("/hello", summary="This node's identity (public; for partner set-up)")
def hello(node: NodeDep) -> dict[str, Any]:
    return {"node_id": node.node_id, "country": node.country, "name": node.name,
            "public_key": node.key.public, "fingerprint": node.key.fingerprint}


@router.get("/stream", summary="Items of this node's stream for the calling partner (signed request)")
async def stream(node: NodeDep, request: Request, after: Annotated[int, Query(ge=0, le=2**62)] = 0,
                 limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> JSONResponse:
    caller = await _caller(node, request)
    page = await run_in_threadpool(node.federation.serve_stream, caller, after=after, limit=limit)
    return JSONResponse(page)


@router.post("/notify", status_code=202, summary="A partner announces new items (signed request)")
async def notify(node: NodeDep, request: Request) -> dict[str, str]:
    caller = await _caller(node, request)
    worker = getattr(request.app.state, "worker", None)
    partner = next((p for p in node.federation.partners() if p.node_id == caller), None)
    if worker is not None and partner is not None:
        # In an API worker without the federation this is a NOTIFY to the one with it (a query).
        await run_in_threadpool(worker.notified, partner.country)
    return {"status": "accepted"}


def _admin(node: NodeDep, viewer: Viewer) -> None:
    # What this node sends to whom is its own country's business: not a partner's admin account.
    if not is_node_admin(viewer, node.country):
        raise Forbidden(f"this needs an administrator of {node.country}")


@router.get("/status", summary="Per partner: last sent / acknowledged, lag, last error (admin)")
def status(node: NodeDep, viewer: Viewer) -> dict[str, Any]:
    _admin(node, viewer)
    return {"items": node.federation.status()}


@router.get("/audit", summary="Release decisions and received batches, newest first (admin)")
def audit(node: NodeDep, viewer: Viewer, partner: str | None = None,
          limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> dict[str, Any]:
    _admin(node, viewer)
    return {"items": node.federation.audit(partner=partner, limit=limit)}
