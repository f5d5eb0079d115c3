"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

For every operation, schemathesis generates requests that fit the schema and requests that
break it (wrong types, missing or extra fields, huge numbers, odd strings: NUL characters,
lone surrogates, very long text), sent with a logged-in user's token. Not one may get a 5xx:
bad input is a 4xx problem, whatever it is. Runs on SQLite and PostgreSQL (a NUL character
is valid in a Python string and in SQLite, and an error in PostgreSQL text).

FUZZ_EXAMPLES sets the examples per operation and mode (default 100: positive and negative,
so up to 200 requests per operation); FUZZ_EXAMPLES=1000 for a longer run before a release.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from conftest import PASSWORD, sighting
from fossatum.api.app import create_app
from fossatum.node import Node

pytestmark = pytest.mark.both_backends

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))


# Run last: a generated logout (or a password change) ends the token the other operations
# use, and a flood of wrong logins may throttle the test client's address.
LAST = ("POST /api/v1/auth/password", "POST /api/v1/auth/logout", "POST /api/v1/auth/token")


@pytest.fixture
def fuzz_tokens(node: Node) -> dict[str, str]:
    """Bearer tokens of a duty officer and of an admin."""
    client = TestClient(create_app(node))
    tokens = {}
    for username in ("amira", "admin"):
        response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        tokens[username] = response.json()["access_token"]
    client.close()
    return tokens


def _user_for(operation: Any) -> str:
    """The admin for admin operations (else they end in 403 before reading their input)."""
    summary = operation.definition.raw.get("summary", "") or ""
    return "admin" if "(admin)" in summary else "amira"


def _fuzz(operation: Any, mode: Any, token: str, sent: list[tuple[str, int]], path: dict[str, str] | None = None) -> str | None:
    """Run one operation's examples in one mode; the shrunk failing request, if any. `path`
    fixes path parameters to objects that exist, so the views get past their 404."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path) if path else \
        operation.as_strategy(generation_mode=mode)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(headers=headers)
        sent.append((operation.label, response.status_code))
        assert response.status_code < 500, (
            f"{response.status_code} for {case.as_curl_command()}\n{response.text[:300]}")

    try:
        run()
    except Unsatisfiable:
        return None  # no request breaks this operation's schema (it takes no input): nothing to try
    except Exception as exc:
        where = f" with {path}" if path else ""
        return f"{operation.label} ({mode.value}{where}): {exc}"
    return None


def _existing(node: Node, tokens: dict[str, str]) -> dict[str, str]:
    """Path parameters naming objects that exist: a report, a unit, a section, an agency and a
    user (sami, so that a generated disable never ends the fuzzing users' own sessions)."""
    client = TestClient(create_app(node))
    amira = {"Authorization": f"Bearer {tokens['amira']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    report = client.post("/api/v1/reports", json=sighting(), headers=amira).json()
    unit = client.post("/api/v1/units", headers=admin, json={"name": "Patrol 7", "kind": "patrol", "agency": "TN-GN",
                                                             "location": {"lat": 35.2, "lon": 8.6}}).json()
    section = client.post("/api/v1/sections", headers=admin, json={
        "id": "kasserine-1", "name": "Kasserine", "geometry": {"type": "LineString",
                                                               "coordinates": [[8.6, 35.2], [8.7, 35.3]]}}).json()
    client.close()
    return {"report_id": report["id"], "unit_id": unit["id"], "section_id": section["id"], "code": "TN-GN",
            "username": "sami"}


def test_no_request_gets_a_server_error(node: Node, fuzz_tokens: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(node))
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=lambda o: o.label in LAST)
    assert len(operations) > 25
    existing = _existing(node, fuzz_tokens)
    sent: list[tuple[str, int]] = []
    failures = []
    for operation in operations:
        token = fuzz_tokens[_user_for(operation)]
        names = [p.name for p in operation.path_parameters]
        for mode in schemathesis.GenerationMode:
            # Conforming requests aim at existing objects (a random id only meets a 404);
            # schema-breaking ones keep their generated path.
            path = {n: existing[n] for n in names if n in existing} \
                if mode == schemathesis.GenerationMode.POSITIVE and names else None
            if failure := _fuzz(operation, mode, token, sent, path):
                failures.append(failure)
    assert not failures, f"{len(failures)} operations answered 5xx ({len(sent)} requests):\n\n" + "\n\n".join(failures)
    assert len(sent) >= EXAMPLES * len(operations) // 2, len(sent)
    # Not all refused at the door: most operations answered a success at least once.
    succeeded = {label for label, status in sent if status < 300}
    assert len(succeeded) >= len(operations) // 2, sorted(succeeded)
    # The admin's token survived until the end: the operations were fuzzed logged in.
    client = TestClient(create_app(node))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {fuzz_tokens['admin']}"})
    client.close()
    assert me.status_code == 200, me.text


# --- what the fuzzer found, replayed one by one -------------------------------------------------

NUL_CASES = [  # (user, method, path, query, body, field): every place a NUL reached PostgreSQL (500)
    ("amira", "post", "/api/v1/reports", None, sighting(links=["\x00"]), "links.0"),
    ("amira", "post", "/api/v1/reports", None, sighting(description="a\x00b"), "description"),
    ("amira", "post", "/api/v1/reports", None, sighting(salute={"size": 3, "activity": "x\x00"}), "salute.activity"),
    ("amira", "get", "/api/v1/reports", {"q": "a\x00"}, None, "q"),
    ("amira", "get", "/api/v1/reports", {"agency": "\x00"}, None, "agency"),
    ("amira", "get", "/api/v1/reports/count", {"country": "T\x00N"}, None, "country"),
    ("amira", "get", "/api/v1/reports/a%00b", None, None, "path"),
    ("amira", "get", "/api/v1/units/a%00b", None, None, "path"),
    ("amira", "get", "/api/v1/sections/a%00b", None, None, "path"),
    ("amira", "post", "/api/v1/auth/token", None, {"username": "a\x00", "password": "x" * 8}, "username"),
    ("admin", "post", "/api/v1/units", None, {"name": "n\x00", "kind": "patrol", "agency": "TN-GN"}, "name"),
    ("admin", "post", "/api/v1/sections", None, {"id": "s1", "name": "n\x00", "geometry": {
        "type": "LineString", "coordinates": [[8.6, 35.2], [8.7, 35.3]]}}, "name"),
]


@pytest.mark.parametrize("user, method, path, query, body, field", NUL_CASES, ids=[f"{c[2]} {c[5]}" for c in NUL_CASES])
def test_a_nul_character_anywhere_is_a_422_naming_the_field(node: Node, fuzz_tokens: dict[str, str], user: str,
                                                           method: str, path: str, query: dict | None,
                                                           body: dict | None, field: str) -> None:
    client = TestClient(create_app(node), raise_server_exceptions=False)
    before = node.store.log_size()
    response = client.request(method, path, params=query, json=body,
                              headers={"Authorization": f"Bearer {fuzz_tokens[user]}"})
    client.close()
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    assert response.json()["field"] == field and "NUL" in response.json()["detail"]
    assert node.store.log_size() == before


def test_a_stream_position_beyond_any_integer_column_is_a_422(node: Node) -> None:
    client = TestClient(create_app(node), raise_server_exceptions=False)
    response = client.get("/api/v1/federation/stream", params={"after": 2**63})
    client.close()
    assert response.status_code == 422 and response.json()["field"] == "after"


def test_a_coordinate_of_400_digits_is_a_422(node: Node, fuzz_tokens: dict[str, str]) -> None:
    """JSON integers have no size limit: math.isfinite() on one overflowed (500)."""
    client = TestClient(create_app(node), raise_server_exceptions=False)
    body = ('{"id": "s-huge", "name": "n", "geometry": {"type": "LineString", "coordinates": [[1%s, 35.2], [8.7, 35.3]]}}'
            % ("0" * 400))
    response = client.post("/api/v1/sections", content=body.encode(),
                           headers={"Authorization": f"Bearer {fuzz_tokens['admin']}", "content-type": "application/json"})
    client.close()
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "geometry.coordinates.lon"
