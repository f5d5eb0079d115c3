"""Refuse NUL characters in a request's path and query before any view sees them.

A NUL is a valid character of a Python string and of SQLite text but an error in PostgreSQL
text, and never part of anything a person typed: a path or query parameter holding one
(raw or as %00) is a 422 problem naming the parameter, on every route, the next ones too.
Bodies are checked by the input schemas (schemas.Strict), which name the field.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

NUL = "\x00"


def nul_parameter(path: str, query_string: bytes) -> str | None:
    """The name of the first parameter holding a NUL ("path" for the path itself), else None."""
    if NUL in path or NUL in unquote(path):
        return "path"
    query = query_string.decode("latin-1")
    if NUL not in query and "%00" not in query:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if NUL in name or NUL in value:
            return name.replace(NUL, "") or "query"
    return "query"


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = nul_parameter(scope.get("path", ""), scope.get("query_string", b""))
        if field is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"type": "about:blank", "title": "Invalid input", "status": 422,
                           "detail": f"{field}: NUL characters are not allowed", "field": field}).encode()
        await send({"type": "http.response.start", "status": 422,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
