"""Every error leaves the API as RFC 9457 problem details naming the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import FossatumError, TooManyRequests, Unauthorized
from ..schemas import field_path

MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, *, field: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _describe(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        ctx = err.get("ctx") or {}
        where = err.get("loc", ("", ""))[-1]
        return f"malformed JSON at character {where}: {ctx.get('error', err.get('msg'))}"
    if err.get("type") == "extra_forbidden":
        return "unknown field"
    if err.get("type") == "missing":
        return "required"
    return str(err.get("msg"))


def install(app: FastAPI) -> None:
    @app.exception_handler(FossatumError)
    async def _fossatum(request: Request, exc: FossatumError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        return problem(exc.status, exc.title, str(exc), field=exc.field, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = []
        for e in exc.errors():
            entry = {"field": "" if e.get("type") == "json_invalid" else field_path(tuple(e.get("loc", ()))),
                     "message": _describe(e)}
            if all(x["field"] != entry["field"] for x in errors):  # one line per field, not per union branch
                errors.append(entry)
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        status = 400 if any(e.get("type") == "json_invalid" for e in exc.errors()) else 422
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(status, "Malformed request" if status == 400 else "Invalid input", detail,
                       field=first["field"] or None, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=getattr(exc, "headers", None))
