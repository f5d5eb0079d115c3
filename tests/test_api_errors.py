"""Bad input gets a precise 4xx problem (RFC 9457) and leaves the store unchanged.

Every case checks the status, the `application/problem+json` media type, the field (or
detail) naming what was wrong, and that neither the log nor the reports table moved.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD, build_node, sighting
from fossatum.api.app import create_app
from fossatum.domain.timeutil import utcnow
from fossatum.node import Node
from fossatum.store.query import encode_cursor

PROBLEM = "application/problem+json"
Clients = Callable[[str], TestClient]


# --- helpers -------------------------------------------------------------------------------

def report_count(node: Node) -> int:
    row = node.store.read_one("SELECT COUNT(*) FROM reports", system=True)  # every row, under row-level security too
    assert row is not None
    return int(row[0])


def snapshot(node: Node) -> tuple[int, int]:
    return node.store.log_size(), report_count(node)


def assert_problem(response: Any, status: int, *, field: str | None = None, detail: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM, response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"] and isinstance(body["detail"], str) and body["detail"]
    assert body.get("type") == "about:blank"
    if field is not None:
        assert body.get("field") == field, body
    if detail is not None:
        assert detail.lower() in body["detail"].lower(), body
    return body


def with_location(**location: Any) -> dict[str, Any]:
    return sighting(location=location)


def nested(key: str, **values: Any) -> dict[str, Any]:
    base = sighting()
    inner = dict(base[key]) if isinstance(base.get(key), dict) else {}  # type: ignore[arg-type]
    inner.update(values)
    return sighting(**{key: inner})


pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def shared(store_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One node and one logged-in duty officer for the table-driven cases: each case
    leaves the store unchanged (that is what it checks), so they can share it."""
    url = request.getfixturevalue("pg_databases").create("errors") if store_backend == "postgres" else None
    node = build_node(tmp_path_factory.mktemp("shared") / "tun", database_url=url)
    client = TestClient(create_app(node))
    token = client.post("/api/v1/auth/token", json={"username": "amira", "password": PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    existing = client.post("/api/v1/reports", json=sighting()).json()
    yield node, client, existing
    client.close()
    node.close()


def _future() -> str:
    return (utcnow() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- POST /api/v1/reports with bad bodies ----------------------------------------------------
# (id, body: dict | raw text | callable → dict, status, field or None, detail fragment or None)
def _case(case: Any) -> Any:
    """A table row as a pytest.param (rows that are params already keep their marks)."""
    if hasattr(case, "values"):
        i, b, s, f, d = case.values
        return pytest.param(b, s, f, d, id=i, marks=case.marks)
    i, b, s, f, d = case
    return pytest.param(b, s, f, d, id=i)


BAD_BODIES: list[Any] = [
    ("malformed-json", '{"type": "armed_group_sighting", ', 400, None, "malformed JSON"),
    ("malformed-json-trailing-comma", '{"type": "x",}', 400, None, "malformed JSON"),
    ("not-an-object", "[]", 422, None, None),
    ("lat-string", with_location(lat="north", lon=8.68), 422, "location.lat", None),
    ("lon-object", with_location(lat=35.2, lon={"deg": 8}), 422, "location.lon", None),
    ("salute-list", sighting(salute=["6", "moving"]), 422, "salute", None),
    ("uncertainty-string", sighting(uncertainty_m="wide"), 422, "uncertainty_m", None),
    ("lat-91", with_location(lat=91, lon=8.68), 422, "location.lat", "out of range"),
    ("lat-minus-90.0001", with_location(lat=-90.0001, lon=8.68), 422, "location.lat", "out of range"),
    ("lon-minus-181", with_location(lat=35.2, lon=-181), 422, "location.lon", "out of range"),
    ("lat-NaN-raw", json.dumps(sighting()).replace('"lat": 35.2064', '"lat": NaN'), 422, "location.lat", None),
    ("lon-Infinity-raw", json.dumps(sighting()).replace('"lon": 8.6825', '"lon": Infinity'), 422,
     "location.lon", None),
    ("location-empty", sighting(location={}), 422, "location", None),
    ("lat-without-lon", with_location(lat=35.2), 422, "location.lon", None),
    ("mgrs-32SXX", with_location(mgrs="32SXX"), 422, "location.mgrs", None),
    ("mgrs-ABC", with_location(mgrs="ABC"), 422, "location.mgrs", None),
    ("mgrs-99ZZZ12", with_location(mgrs="99ZZZ12"), 422, "location.mgrs", None),
    ("mgrs-odd-digits", with_location(mgrs="32SMD70870"), 422, "location.mgrs", None),
    ("mgrs-zone-0", with_location(mgrs="0SMD7087095269"), 422, "location.mgrs", None),
    ("type-unknown", sighting(type="alien_landing"), 422, "type", "alien_landing"),
    ("type-missing", {k: v for k, v in sighting().items() if k != "type"}, 422, "type", "required"),
    ("location-missing", {k: v for k, v in sighting().items() if k != "location"}, 422, "location", None),
    ("tlp-unknown", sighting(tlp="PURPLE"), 422, "tlp", None),
    ("tlp-lower-case", sighting(tlp="amber"), 422, "tlp", None),
    ("scope-unknown", sighting(audience={"scope": "world"}), 422, "audience.scope", None),
    ("grade-source-G", nested("grade", source="G"), 422, "grade.source", None),
    ("grade-info-7", nested("grade", info=7), 422, "grade.info", None),
    ("grade-info-0", nested("grade", info=0), 422, "grade.info", None),
    ("impact-unknown", sighting(impact="apocalyptic"), 422, "impact", None),
    ("state-validated", sighting(state="validated"), 422, "state", None),
    ("partner-not-on-roster", sighting(audience={"scope": "partners", "partners": ["FRA"]}), 422,
     "audience.partners", "FRA"),
    ("partner-lower-case", sighting(audience={"scope": "partners", "partners": ["dza"]}), 422,
     "audience.partners.0", None),
    ("partners-without-partner-scope", sighting(audience={"scope": "national", "partners": ["DZA"]}), 422,
     "audience.partners", None),
    ("partners-scope-empty", sighting(audience={"scope": "partners", "partners": []}), 422,
     "audience.partners", None),
    ("unknown-top-field", sighting(colour="red"), 422, "colour", "unknown field"),
    ("unknown-nested-field", with_location(lat=35.2, lon=8.6, alt=900), 422, "location.alt", "unknown field"),
    ("unknown-salute-field", nested("salute", weather="rain"), 422, "salute.weather", "unknown field"),
    ("description-too-long", sighting(description="x" * 10_001), 422, "description", None),
    ("equipment-too-long", nested("salute", equipment="y" * 10_001), 422, "salute.equipment", None),
    ("salute-unit-too-long", nested("salute", unit="z" * 201), 422, "salute.unit", None),
    ("size-negative", nested("salute", size=-3), 422, "salute.size", None),
    ("size-list", nested("salute", size=[6]), 422, "salute.size", None),
    ("uncertainty-negative", sighting(uncertainty_m=-1), 422, "uncertainty_m", None),
    ("observed-at-future", lambda: sighting(observed_at=_future()), 422, "observed_at", "future"),
    ("observed-at-naive", sighting(observed_at="2026-11-28T22:15:00"), 422, "observed_at", "time zone"),
    ("observed-at-garbage", sighting(observed_at="yesterday evening"), 422, "observed_at", None),
    ("id-bad-shape", sighting(id="a b"), 422, "id", None),
    ("links-unknown", sighting(links=["00000000-0000-0000-0000-000000000000"]), 422, "links", None),
]


@pytest.mark.parametrize(("body", "status", "field", "detail"),
                         [_case(c) for c in BAD_BODIES])
def test_bad_report_body_is_refused_and_changes_nothing(shared: Any, body: Any, status: int,
                                                         field: str | None, detail: str | None) -> None:
    node, client, _ = shared
    before = snapshot(node)
    if callable(body):
        body = body()
    if isinstance(body, str):
        response = client.post("/api/v1/reports", content=body.encode(),
                               headers={"content-type": "application/json"})
    else:
        response = client.post("/api/v1/reports", json=body)
    problem = assert_problem(response, status, field=field, detail=detail)
    if status == 422 and field and "errors" in problem:
        assert problem["errors"][0]["field"] == field
    assert snapshot(node) == before


def test_a_valid_body_is_accepted(node: Node, client_for: Clients) -> None:
    """The control for the table above: the base body itself is fine."""
    before = snapshot(node)
    response = client_for("amira").post("/api/v1/reports", json=sighting())
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "submitted"
    assert snapshot(node) == (before[0] + 1, before[1] + 1)


def test_mgrs_is_accepted_when_valid(node: Node, client_for: Clients) -> None:
    response = client_for("amira").post("/api/v1/reports", json=with_location(mgrs="32SMD7087095269"))
    assert response.status_code == 201, response.text


def test_description_at_the_limit_is_accepted(node: Node, client_for: Clients) -> None:
    response = client_for("amira").post("/api/v1/reports", json=sighting(description="x" * 10_000))
    assert response.status_code == 201, response.text


def test_body_over_one_mebibyte_is_413(node: Node, client_for: Clients) -> None:
    client = client_for("amira")
    before = snapshot(node)
    body = json.dumps(sighting(description="x" * (1_048_576 + 10))).encode()
    response = client.post("/api/v1/reports", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 413)
    assert snapshot(node) == before


def test_body_over_one_mebibyte_without_content_length_is_413(node: Node, client_for: Clients) -> None:
    """A chunked upload declares no length: the limit is counted while reading."""
    client = client_for("amira")
    before = snapshot(node)
    body = json.dumps(sighting(description="x" * (1_048_576 + 10))).encode()

    def chunks() -> Any:
        for i in range(0, len(body), 65_536):
            yield body[i:i + 65_536]

    response = client.post("/api/v1/reports", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(response, 413)
    assert snapshot(node) == before


# --- PATCH with bad bodies -----------------------------------------------------------------

BAD_PATCHES: list[tuple[str, Any, int, str | None]] = [
    ("lat-91", {"location": {"lat": 91, "lon": 8.6}}, 422, "location.lat"),
    ("mgrs-ABC", {"location": {"mgrs": "ABC"}}, 422, "location.mgrs"),
    ("type-unknown", {"type": "alien_landing"}, 422, "type"),
    ("tlp-unknown", {"tlp": "PURPLE"}, 422, "tlp"),
    ("partner-not-on-roster", {"audience": {"scope": "partners", "partners": ["FRA"]}}, 422, "audience.partners"),
    ("unknown-field", {"state": "validated"}, 422, "state"),
    ("description-too-long", {"description": "x" * 10_001}, 422, "description"),
    ("observed-at-naive", {"observed_at": "2026-11-28T22:15:00"}, 422, "observed_at"),
    ("malformed-json", '{"description": ', 400, None),
]


@pytest.mark.parametrize(("body", "status", "field"),
                         [pytest.param(b, s, f, id=i) for i, b, s, f in BAD_PATCHES])
def test_bad_amendment_is_refused_and_changes_nothing(shared: Any, body: Any, status: int,
                                                       field: str | None) -> None:
    node, client, created = shared
    before = snapshot(node)
    if isinstance(body, str):
        response = client.patch(f"/api/v1/reports/{created['id']}", content=body.encode(),
                                headers={"content-type": "application/json"})
    else:
        response = client.patch(f"/api/v1/reports/{created['id']}", json=body)
    assert_problem(response, status, field=field)
    assert snapshot(node) == before
    assert client.get(f"/api/v1/reports/{created['id']}").json() == created


# --- GET /api/v1/reports with bad query parameters -----------------------------------------

BAD_QUERIES: list[tuple[str, dict[str, str], str]] = [
    ("bbox-three-numbers", {"bbox": "8,35,9"}, "bbox"),
    ("bbox-words", {"bbox": "west,south,east,north"}, "bbox"),
    ("bbox-min-above-max", {"bbox": "9,35,8,36"}, "bbox"),
    ("bbox-lat-out-of-range", {"bbox": "8,-91,9,36"}, "bbox"),
    ("bbox-lon-out-of-range", {"bbox": "-181,35,9,36"}, "bbox"),
    ("bbox-nan", {"bbox": "nan,35,9,36"}, "bbox"),
    ("since-garbage", {"since": "last tuesday"}, "since"),
    ("since-naive", {"since": "2026-11-28T00:00:00"}, "since"),
    ("until-garbage", {"until": "2026-13-45T00:00:00Z"}, "until"),
    ("type-unknown", {"type": "armed_group_sighting,alien_landing"}, "type"),
    ("state-unknown", {"state": "lost"}, "state"),
    ("limit-zero", {"limit": "0"}, "limit"),
    ("limit-negative", {"limit": "-5"}, "limit"),
    ("limit-huge", {"limit": "1000000"}, "limit"),
    ("limit-word", {"limit": "many"}, "limit"),
    ("cursor-garbage", {"cursor": "not-a-cursor"}, "cursor"),
    ("cursor-not-base64", {"cursor": "%%%"}, "cursor"),
]


@pytest.mark.parametrize(("params", "field"), [pytest.param(p, f, id=i) for i, p, f in BAD_QUERIES])
def test_bad_query_parameter_is_422_naming_it(shared: Any, params: dict[str, str], field: str) -> None:
    node, client, _ = shared
    before = snapshot(node)
    assert_problem(client.get("/api/v1/reports", params=params), 422, field=field)
    assert snapshot(node) == before


@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/reports/count"])
def test_count_and_list_refuse_the_same_bad_bbox(shared: Any, path: str) -> None:
    assert_problem(shared[1].get(path, params={"bbox": "1,2"}), 422, field="bbox")


def test_a_cursor_from_the_api_works_and_pages_do_not_overlap(client_for: Clients) -> None:
    client = client_for("amira")
    ids = {client.post("/api/v1/reports", json=sighting(observed_at=f"2026-11-2{i}T10:00:00Z")).json()["id"]
           for i in range(3)}
    first = client.get("/api/v1/reports", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next"]
    second = client.get("/api/v1/reports", params={"limit": 2, "cursor": first["next"]}).json()
    assert second["next"] is None
    assert {r["id"] for r in first["items"] + second["items"]} == ids
    # A well-formed cursor of a position that holds nothing is an empty page, not an error.
    empty = client.get("/api/v1/reports", params={"cursor": encode_cursor("1900-01-01T00:00:00.000000Z", "0")})
    assert empty.status_code == 200 and empty.json()["items"] == []


# --- authentication -------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    pytest.param({}, id="missing"),
    pytest.param({"Authorization": "Bearer not-a-real-token"}, id="unknown-token"),
    pytest.param({"Authorization": "Bearer "}, id="empty-token"),
    pytest.param({"Authorization": "Basic YW1pcmE6Y29ycmVjdC1ob3JzZS0x"}, id="basic-scheme"),
    pytest.param({"Authorization": "not-a-header"}, id="garbage"),
])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/reports"), ("POST", "/api/v1/reports"), ("GET", "/api/v1/me"),
])
def test_bad_or_missing_token_is_401_with_www_authenticate(shared: Any, headers: dict[str, str], method: str,
                                                           path: str) -> None:
    node = shared[0]
    before = snapshot(node)
    with TestClient(create_app(node)) as client:
        response = client.request(method, path, headers=headers, json=sighting() if method == "POST" else None)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert snapshot(node) == before


def test_expired_token_is_401(node: Node, client_for: Clients) -> None:
    client = client_for("amira")
    assert client.get("/api/v1/me").status_code == 200
    real_clock = node.clock
    node.clock = lambda: real_clock() + timedelta(hours=node.settings.session_hours, minutes=1)
    try:
        response = client.get("/api/v1/reports")
        assert_problem(response, 401, detail="expired")
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    finally:
        node.clock = real_clock
    assert client.get("/api/v1/me").status_code == 200  # still valid at the real time


def test_login_returns_the_contract_shape(node: Node) -> None:
    with TestClient(create_app(node)) as client:
        response = client.post("/api/v1/auth/token", json={"username": "amira", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_at"}
    assert body["token_type"] == "bearer" and body["access_token"] and body["expires_at"].endswith("Z")


@pytest.mark.parametrize(("body", "status"), [
    pytest.param({"username": "amira", "password": "wrong-password"}, 401, id="wrong-password"),
    pytest.param({"username": "nobody", "password": PASSWORD}, 401, id="unknown-user"),
    pytest.param({"username": "amira"}, 422, id="no-password"),
    pytest.param({"username": "amira", "password": PASSWORD, "otp": "1"}, 422, id="unknown-field"),
    pytest.param({"username": ["amira"], "password": PASSWORD}, 422, id="username-list"),
])
def test_bad_login_bodies(node: Node, body: dict[str, Any], status: int) -> None:
    before = snapshot(node)
    with TestClient(create_app(node)) as client:
        response = client.post("/api/v1/auth/token", json=body)
    problem = assert_problem(response, status)
    if status == 401:
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        # Unknown user and wrong password read the same: no account enumeration.
        assert problem["detail"] == "wrong username or password"
    assert snapshot(node) == before


def test_repeated_failed_logins_slow_down_even_the_right_password(node: Node) -> None:
    with TestClient(create_app(node)) as client:
        for attempt in range(5):
            response = client.post("/api/v1/auth/token", json={"username": "leila", "password": f"guess-{attempt}"})
            assert_problem(response, 401)
        response = client.post("/api/v1/auth/token", json={"username": "leila", "password": PASSWORD})
        assert_problem(response, 429)
        retry_after = response.headers["retry-after"]
        assert retry_after.isdigit() and int(retry_after) >= 1
        assert "access_token" not in response.json()


# --- need-to-know and workflow errors ------------------------------------------------------

def _shape(body: dict[str, Any], report_id: str) -> dict[str, Any]:
    return {k: (v.replace(report_id, "<id>") if isinstance(v, str) else v) for k, v in body.items()}


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("GET", "", None),
    ("GET", "/versions", None),
    ("PATCH", "", {"description": "changed"}),
    ("POST", "/validate", None),
    ("POST", "/close", {"reason": "done"}),
])
def test_invisible_report_is_404_exactly_like_a_random_id(node: Node, client_for: Clients, method: str,
                                                          suffix: str, body: Any) -> None:
    hidden = client_for("youssef").post("/api/v1/reports", json=sighting(audience={"scope": "agency"})).json()
    assert hidden["audience"]["scope"] == "agency" and hidden["owner_agency"] == "TN-ARMY"
    random_id = "6b1f3c9e-0d7a-4c55-9a8e-3f2b1d0c4e5a"
    client = client_for("amira")  # TN-GN: another agency of the same country
    before = snapshot(node)
    seen = client.request(method, f"/api/v1/reports/{hidden['id']}{suffix}", json=body)
    absent = client.request(method, f"/api/v1/reports/{random_id}{suffix}", json=body)
    assert_problem(seen, 404)
    assert_problem(absent, 404)
    assert _shape(seen.json(), hidden["id"]) == _shape(absent.json(), random_id)
    assert seen.headers["content-type"] == absent.headers["content-type"]
    assert snapshot(node) == before


def test_field_user_cannot_validate(node: Node, client_for: Clients) -> None:
    sami = client_for("sami")
    report = sami.post("/api/v1/reports", json=sighting()).json()
    before = snapshot(node)
    assert_problem(sami.post(f"/api/v1/reports/{report['id']}/validate"), 403)
    assert snapshot(node) == before
    assert sami.get(f"/api/v1/reports/{report['id']}").json()["state"] == "submitted"


def test_partner_duty_officer_cannot_validate(node: Node, client_for: Clients) -> None:
    report = client_for("amira").post("/api/v1/reports", json=sighting(
        audience={"scope": "partners", "partners": ["DZA"]})).json()
    before = snapshot(node)
    # Not yet validated, so not yet released: the Algerian officer cannot even see it.
    assert_problem(client_for("karim").post(f"/api/v1/reports/{report['id']}/validate"), 404)
    assert snapshot(node) == before


def test_validating_a_draft_is_409(node: Node, client_for: Clients) -> None:
    amira = client_for("amira")
    draft = amira.post("/api/v1/reports", json=sighting(state="draft")).json()
    assert draft["state"] == "draft"
    before = snapshot(node)
    assert_problem(amira.post(f"/api/v1/reports/{draft['id']}/validate"), 409, detail="draft")
    assert snapshot(node) == before


def test_validating_twice_is_409(node: Node, client_for: Clients) -> None:
    amira = client_for("amira")
    report = amira.post("/api/v1/reports", json=sighting()).json()
    assert amira.post(f"/api/v1/reports/{report['id']}/validate").status_code == 200
    before = snapshot(node)
    assert_problem(amira.post(f"/api/v1/reports/{report['id']}/validate"), 409)
    assert snapshot(node) == before


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": "   "}],
                         ids=["no-body", "empty-object", "empty-reason", "blank-reason"])
def test_return_without_reason_is_422(node: Node, client_for: Clients, body: Any) -> None:
    report = client_for("sami").post("/api/v1/reports", json=sighting()).json()
    amira = client_for("amira")
    before = snapshot(node)
    assert_problem(amira.post(f"/api/v1/reports/{report['id']}/return", json=body), 422, field="reason")
    assert snapshot(node) == before


def test_transition_body_with_unknown_field_is_422(node: Node, client_for: Clients) -> None:
    report = client_for("sami").post("/api/v1/reports", json=sighting()).json()
    before = snapshot(node)
    response = client_for("amira").post(f"/api/v1/reports/{report['id']}/return", json={"why": "blurred"})
    assert_problem(response, 422, field="why")
    assert snapshot(node) == before


def test_closed_report_cannot_be_amended(node: Node, client_for: Clients) -> None:
    amira = client_for("amira")
    report = amira.post("/api/v1/reports", json=sighting()).json()
    closed = amira.post(f"/api/v1/reports/{report['id']}/close", json={"reason": "no further action"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    before = snapshot(node)
    assert_problem(amira.patch(f"/api/v1/reports/{report['id']}", json={"description": "later"}), 409,
                   detail="closed")
    assert_problem(amira.post(f"/api/v1/reports/{report['id']}/close", json={"reason": "again"}), 409)
    assert snapshot(node) == before


def test_submit_by_someone_else_is_403(node: Node, client_for: Clients) -> None:
    draft = client_for("amira").post("/api/v1/reports", json=sighting(state="draft")).json()
    # A draft is seen by its author only, so another user gets the same 404 as for nothing.
    assert_problem(client_for("sami").post(f"/api/v1/reports/{draft['id']}/submit"), 404)


@pytest.mark.parametrize("username", ["amira", "sami", "leila", "karim"])
def test_admin_endpoint_as_non_admin_is_403(node: Node, client_for: Clients, username: str) -> None:
    before = snapshot(node)
    agencies_before = node.store.agencies()
    response = client_for(username).post("/api/v1/agencies",
                                         json={"code": "TN-DOUANE", "name": "Douane", "country": "TUN"})
    assert_problem(response, 403)
    assert snapshot(node) == before
    assert node.store.agencies() == agencies_before


def test_admin_endpoint_bad_input_is_422_for_admin(node: Node, client_for: Clients) -> None:
    admin = client_for("admin")
    before = snapshot(node)
    assert_problem(admin.post("/api/v1/agencies", json={"code": "TN-DOUANE", "name": "Douane", "country": "tun"}),
                   422, field="country")
    assert_problem(admin.post("/api/v1/agencies", json={"code": "bad code", "name": "Douane", "country": "TUN"}),
                   422, field="code")
    assert_problem(admin.post("/api/v1/agencies", json={"code": "TN-GN", "name": "Again", "country": "TUN"}), 409)
    assert snapshot(node) == before


def test_unknown_route_is_a_problem_too(client_for: Clients) -> None:
    assert_problem(client_for("amira").get("/api/v1/nothing-here"), 404)
