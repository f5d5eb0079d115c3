"""Responses built from stored JSON documents without parsing them again."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response


def raw(doc: str, status_code: int = 200) -> Response:
    return Response(doc.encode("utf-8"), status_code=status_code, media_type="application/json")


def items(docs: list[str], **extra: Any) -> Response:
    tail = "".join(f",{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}" for k, v in extra.items())
    return Response(f'{{"items":[{",".join(docs)}]{tail}}}'.encode(), media_type="application/json")
