"""Wires the node into an ASGI application."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from .. import __version__
from ..federation.worker import Relay, Worker
from ..node import Node
from . import checkpoints, directory, federation, field, live, operations, patrols, problems, reports
from .client_address import parse_trusted
from .limits import BodyLimit
from .security_headers import SecurityHeaders
from .text import RefuseNul
from .worker_header import WorkerHeader, identity

DIST = Path(__file__).resolve().parents[1] / "web" / "dist"

_LANDING = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Fossatum — {name}</title>
<body>
<h1>Fossatum</h1><p>{name} ({country}) · node <code>{node_id}</code></p>
<p>The API is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.
Log in with <code>POST /api/v1/auth/token</code>.</p></body></html>"""


def create_app(node: Node, *, worker: int = 1, sync: Relay | Worker | None = None) -> FastAPI:
    """The node's ASGI app; `worker` is this process's index among `fossatum serve --workers N`,
    `sync` what a partner's notice wakes (the federation worker, or its relay; none in tests)."""
    app = FastAPI(
        title="Fossatum",
        version=__version__,
        description="Joint border-security coordination node: reports under need-to-know.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the bundled docs pages load scripts from a CDN; a node makes no outside requests
        redoc_url=None,
    )
    app.state.node = node
    app.state.worker = sync
    parse_trusted(node.settings.trusted_proxies)  # a malformed FOSSATUM_TRUSTED_PROXIES: one line at start
    problems.install(app)
    app.include_router(directory.router)
    app.include_router(reports.router)
    app.include_router(field.router)
    app.include_router(operations.router)
    app.include_router(checkpoints.router)
    app.include_router(patrols.router)
    app.include_router(federation.router)
    app.include_router(live.router)
    app.state.live = live.LiveHub(node)
    app.add_middleware(BodyLimit, max_bytes=node.settings.max_body_bytes)
    app.add_middleware(RefuseNul)
    # The COP pulls hundreds of reports at a time over links that may be thin.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(WorkerHeader, value=identity(worker))
    # Outermost: every answer, a 413 of the body limit included, carries the browser hardening.
    app.add_middleware(SecurityHeaders)

    if (DIST / "index.html").exists():
        # The COP page (built by `make run` from web/): served by the node itself, no CDN.
        app.mount("/", StaticFiles(directory=DIST, html=True), name="cop")
    else:
        @app.get("/", include_in_schema=False)
        def landing() -> HTMLResponse:
            return HTMLResponse(_LANDING.format(name=escape(node.name), country=escape(node.country),
                                                node_id=escape(node.node_id)))

    return app
