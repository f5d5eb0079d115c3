"""The API's OpenAPI document, made without a running server: `python -m fossatum.api.openapi`
prints it. web/openapi.json is its committed copy, from which `npm run api-types` (in web/)
generates the COP page's TypeScript types; tests/test_openapi.py fails when the two differ."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REGENERATE = "make api-types (or: python -m fossatum.api.openapi > web/openapi.json && cd web && npm run api-types)"


def document() -> dict[str, Any]:
    """The document the node serves at /api/v1/openapi.json; the routes do not depend on the node's
    data, so a throwaway node in a temporary folder serves to build the app."""
    from ..node import init_node
    from .app import create_app

    with tempfile.TemporaryDirectory(prefix="fossatum-openapi-") as folder:
        node = init_node(Path(folder) / "node", country="TUN", name="openapi")
        try:
            return create_app(node).openapi()
        finally:
            node.close()


def text() -> str:
    """The document as committed: stable key order, two-space indent, a final newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(text())
