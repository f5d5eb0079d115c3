"""Finding 13: an instant outside 1900–2200 (year 0100 answered 500 text/plain) is a 422
problem+json naming the field, on every endpoint that takes one, and in `fossatum import`
(exit 1, one line, nothing imported); nothing is written.

Every endpoint and field that takes an instant is in ENDPOINTS; a test reads the OpenAPI
document and fails when a new one (a parameter or body field named `at`, `*_at`, `since`,
`until`, `*_since`) is not, so the next object kinds are covered from their first day.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD, build_node, sighting
from fossatum.api.app import create_app
from fossatum.domain import timeutil
from fossatum.errors import InvalidInput
from fossatum.node import Node

pytestmark = pytest.mark.both_backends

PROBLEM = "application/problem+json"
OUT_OF_RANGE = ["0100-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "1899-12-31T23:59:59.999999Z",
                "2201-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
MALFORMED = ["2026-13-01T00:00:00Z", "2026-11-28T25:00:00Z", "2026-11-28", "2026-11-28T22:15:00",
             "٢٠٢٦-١١-٢٨T22:15:00Z", "2026-11-28T22:15:00Z\x00", "1" * 500]
IN_RANGE = ["1900-01-01T00:00:00Z", "2200-12-31T23:59:59.999999Z", "2026-11-28T23:15:00+01:00"]

# (method, path template, where, field): `where` is "query" or "body"
ENDPOINTS = [
    ("get", "/api/v1/reports", "query", "since"),
    ("get", "/api/v1/reports", "query", "until"),
    ("get", "/api/v1/reports", "query", "updated_since"),
    ("get", "/api/v1/reports/count", "query", "since"),
    ("get", "/api/v1/reports/count", "query", "until"),
    ("post", "/api/v1/reports", "body", "observed_at"),
    ("patch", "/api/v1/reports/{report_id}", "body", "observed_at"),
    ("post", "/api/v1/units/{unit_id}/position", "body", "at"),
]


def _instant_named(name: str) -> bool:
    return name in ("at", "since", "until", "ts") or name.endswith(("_at", "_since", "_until"))


# --- the one parse function --------------------------------------------------------------

@pytest.mark.parametrize("text", OUT_OF_RANGE + MALFORMED + ["", "Z"])
def test_parse_refuses_with_the_field_named(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        timeutil.parse(text, field="observed_at")
    assert caught.value.field == "observed_at" and caught.value.status == 422


@pytest.mark.parametrize("text", IN_RANGE)
def test_parse_accepts_the_range_and_stores_fixed_width(text: str) -> None:
    stored = timeutil.normalise(text, field="since")
    assert len(stored) == len("2026-11-28T22:15:00.000000Z") and stored.endswith("Z")


@pytest.mark.parametrize("ms", [-2208988800001, 7289654400000, 2**64 - 1, -(2**63), True, 1.5])
def test_epoch_milliseconds_out_of_range_are_refused(ms: Any) -> None:
    with pytest.raises(InvalidInput):
        timeutil.from_epoch_ms(ms, field="time")


# --- every endpoint -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared(store_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = request.getfixturevalue("pg_databases").create("instants") if store_backend == "postgres" else None
    node = build_node(tmp_path_factory.mktemp("instants") / "tun", database_url=url)
    clients: dict[str, TestClient] = {}
    for username in ("amira", "admin"):
        client = TestClient(create_app(node), raise_server_exceptions=False)
        token = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        clients[username] = client
    report = clients["amira"].post("/api/v1/reports", json=sighting()).json()
    unit = clients["admin"].post("/api/v1/units", json={"name": "Patrol 7", "kind": "patrol", "agency": "TN-GN",
                                                        "location": {"lat": 35.2, "lon": 8.6}}).json()
    yield node, clients["amira"], {"report_id": report["id"], "unit_id": unit["id"]}
    for client in clients.values():
        client.close()
    node.close()


def _state(node: Node) -> tuple[int, int]:
    row = node.store.read_one("SELECT COUNT(*) FROM reports", system=True)
    assert row is not None
    return node.store.log_size(), int(row[0])


def _send(client: TestClient, ids: dict[str, str], method: str, path: str, where: str, field: str,
          value: str) -> Any:
    url = path.format(**ids)
    if where == "query":
        return client.request(method, url, params={field: value})
    body: dict[str, Any] = {"post /api/v1/reports": sighting(),
                            "patch /api/v1/reports/{report_id}": {},
                            "post /api/v1/units/{unit_id}/position": {"location": {"lat": 35.21, "lon": 8.61}},
                            }[f"{method} {path}"]
    return client.request(method, url, json={**body, field: value})


@pytest.mark.parametrize("value", OUT_OF_RANGE + MALFORMED[:5])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]} {e[3]}")
def test_every_endpoint_answers_422_naming_the_field(shared: Any, endpoint: tuple[str, str, str, str],
                                                     value: str) -> None:
    node, client, ids = shared
    method, path, where, field = endpoint
    before = _state(node)
    response = _send(client, ids, method, path, where, field, value)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM
    body = response.json()
    assert body["status"] == 422 and body.get("field") == field, body
    assert _state(node) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]} {e[3]}")
def test_the_edges_of_the_range_are_accepted(shared: Any, endpoint: tuple[str, str, str, str]) -> None:
    _node, client, ids = shared
    method, path, where, field = endpoint
    # A report's observation and a unit's fix may not lie in the future: the past edge for those.
    value = "2200-12-31T23:59:59Z" if where == "query" else "1900-01-01T00:00:00Z"
    response = _send(client, ids, method, path, where, field, value)
    assert response.status_code in (200, 201), response.text


def test_every_instant_of_the_api_is_in_the_table(shared: Any) -> None:
    _, client, _ = shared
    spec = client.get("/api/v1/openapi.json").json()
    schemas = spec.get("components", {}).get("schemas", {})
    found: set[tuple[str, str, str, str]] = set()

    def props(schema: dict[str, Any], seen: frozenset[str] = frozenset()) -> set[str]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return set() if name in seen else props(schemas[name], seen | {name})
        names = {n for n in schema.get("properties", {}) if _instant_named(n)}
        for sub in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
            names |= props(sub, seen)
        return names

    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if _instant_named(parameter["name"]):
                    found.add((method, path, "query", parameter["name"]))
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            for name in props(content.get("schema", {})):
                found.add((method, path, "body", name))
    assert found == set(ENDPOINTS), (
        f"instants in the API but not in ENDPOINTS: {sorted(found - set(ENDPOINTS))}; "
        f"in ENDPOINTS but not in the API: {sorted(set(ENDPOINTS) - found)}")


# --- fossatum import ------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0100-01-01T00:00:00Z", "2201-01-01T00:00:00Z"])
def test_import_refuses_the_line_with_one_line_and_exit_1(tmp_path: Path, value: str) -> None:
    """On SQLite: the CLI reads the same schemas, whichever the backend."""
    data = tmp_path / "tun"
    build_node(data).close()
    lines = "\n".join(json.dumps(b) for b in (sighting(), sighting(observed_at=value))) + "\n"
    result = subprocess.run([sys.executable, "-m", "fossatum.cli", "import", "--data", str(data), "--as", "amira"],
                            input=lines, capture_output=True, text=True, timeout=120,
                            env={**_clean_env(), "PYTHONPATH": ":".join(sys.path)})
    assert result.returncode == 1, result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    line = result.stderr.strip()
    assert line.startswith("error: line 2: observed_at") and "range" in line and "nothing was imported" in line, line
    from fossatum.node import open_node

    node = open_node(data)
    try:
        row = node.store.read_one("SELECT COUNT(*) FROM reports", system=True)
        assert row is not None and row[0] == 0
    finally:
        node.close()


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("FOSSATUM_")}

