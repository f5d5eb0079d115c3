"""HTTP API (FastAPI): thin views over `fossatum.node`. OpenAPI at /api/v1/openapi.json."""
