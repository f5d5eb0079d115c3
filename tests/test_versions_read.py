"""Reading a report and its versions: each version is shown only to its own audience and
release state; a partner's viewer reads the version released to it, never a later one.

Through the HTTP API of one node (the Tunisian centre, with the Algerian and Libyan liaison
officers as users), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from conftest import sighting

pytestmark = pytest.mark.both_backends

SECRET = "informant Ahmed B., +216 98 765 432"
Clients = Callable[[str], TestClient]


def _ok(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code in (200, 201), response.text
    return response.json()


def _versions(client: TestClient, report_id: str) -> list[int]:
    return [v["version"] for v in _ok(client.get(f"/api/v1/reports/{report_id}/versions"))["items"]]


def _sanitised(client_for: Clients) -> str:
    """amira (TN-GN duty officer) files an agency-only RED report naming an informant, amends
    it to a clean text for Algeria, and validates it (which releases version 3)."""
    amira = client_for("amira")
    rid = _ok(amira.post("/api/v1/reports", json=sighting(audience={"scope": "agency"}, tlp="RED",
                                                           description=f"source: {SECRET}")))["id"]
    _ok(amira.patch(f"/api/v1/reports/{rid}", json={"description": "group moving west", "tlp": "AMBER",
                                                    "audience": {"scope": "partners", "partners": ["DZA"]}}))
    assert _ok(amira.post(f"/api/v1/reports/{rid}/validate"))["release"]["version"] == 3
    return rid


def test_each_version_is_shown_only_to_its_own_audience(client_for: Clients) -> None:
    rid = _sanitised(client_for)
    assert _versions(client_for("amira"), rid) == [1, 2, 3]       # the owner agency: all of it
    assert _versions(client_for("youssef"), rid) == [2, 3]        # another agency: not the agency-only first text
    assert _versions(client_for("karim"), rid) == [3]             # Algeria: what was released to it
    assert client_for("omar").get(f"/api/v1/reports/{rid}/versions").status_code == 404  # Libya: nothing
    for name in ("youssef", "karim", "leila"):
        assert SECRET not in client_for(name).get(f"/api/v1/reports/{rid}/versions").text, name


def test_a_partner_reads_the_released_version_until_the_next_release(client_for: Clients) -> None:
    rid = _sanitised(client_for)
    amira, karim = client_for("amira"), client_for("karim")
    _ok(amira.patch(f"/api/v1/reports/{rid}", json={"description": "second group near the wadi"}))
    seen = _ok(karim.get(f"/api/v1/reports/{rid}"))
    assert seen["version"] == 3 and seen["description"] == "group moving west"
    assert _ok(karim.get("/api/v1/reports", params={"q": "wadi"}))["items"] == []
    assert _ok(karim.get("/api/v1/reports/count", params={"q": "wadi"}))["total"] == 0
    listed = _ok(karim.get("/api/v1/reports"))["items"]
    assert [d["version"] for d in listed if d["id"] == rid] == [3]
    assert _ok(amira.get(f"/api/v1/reports/{rid}"))["version"] == 4  # at home: the current version

    released = _ok(amira.post(f"/api/v1/reports/{rid}/release", json={"version": 4}))
    assert released["version"] == 5 and released["release"] == {
        "version": 5, "countries": ["DZA"], "by": "amira", "at": released["updated_at"]}
    assert _ok(karim.get(f"/api/v1/reports/{rid}"))["description"] == "second group near the wadi"
    assert _versions(karim, rid) == [3, 5]


def test_a_release_names_the_version_reviewed_and_cannot_be_repeated(client_for: Clients) -> None:
    rid = _sanitised(client_for)
    amira = client_for("amira")
    again = amira.post(f"/api/v1/reports/{rid}/release")
    assert again.status_code == 409 and "already released" in again.json()["detail"]
    _ok(amira.patch(f"/api/v1/reports/{rid}", json={"description": "corrected"}))
    stale = amira.post(f"/api/v1/reports/{rid}/release", json={"version": 3})
    assert stale.status_code == 409 and stale.headers["content-type"].startswith("application/problem+json")
    assert amira.post(f"/api/v1/reports/{rid}/release", json={"version": 0}).status_code == 422
    national = _ok(amira.post("/api/v1/reports", json=sighting(audience={"scope": "national"})))["id"]
    _ok(amira.post(f"/api/v1/reports/{national}/validate"))
    assert amira.post(f"/api/v1/reports/{national}/release").status_code == 409  # nothing crosses


def test_a_draft_version_is_seen_by_its_author_only(client_for: Clients) -> None:
    sami = client_for("sami")
    rid = _ok(sami.post("/api/v1/reports", json=sighting(state="draft", description=f"draft: {SECRET}")))["id"]
    _ok(sami.patch(f"/api/v1/reports/{rid}", json={"description": "clean"}))
    _ok(sami.post(f"/api/v1/reports/{rid}/submit"))
    assert _versions(sami, rid) == [1, 2, 3]
    assert _versions(client_for("amira"), rid) == [3]


def test_a_narrowing_withdraws_at_once_and_a_rewidening_waits_for_a_release(client_for: Clients) -> None:
    amira, karim, omar = client_for("amira"), client_for("karim"), client_for("omar")
    rid = _ok(amira.post("/api/v1/reports", json=sighting(audience={"scope": "all_partners"})))["id"]
    _ok(client_for("youssef").post(f"/api/v1/reports/{rid}/validate"))  # another agency: validated at home only
    assert karim.get(f"/api/v1/reports/{rid}").status_code == 404
    _ok(amira.post(f"/api/v1/reports/{rid}/release"))
    assert _ok(omar.get(f"/api/v1/reports/{rid}"))["id"] == rid
    _ok(amira.patch(f"/api/v1/reports/{rid}", json={"audience": {"scope": "partners", "partners": ["DZA"]}}))
    assert omar.get(f"/api/v1/reports/{rid}").status_code == 404      # withdrawn from Libya at once
    assert _ok(karim.get(f"/api/v1/reports/{rid}"))["version"] == 3    # Algeria keeps its version
    _ok(amira.patch(f"/api/v1/reports/{rid}", json={"audience": {"scope": "all_partners"}}))
    assert omar.get(f"/api/v1/reports/{rid}").status_code == 404      # back only by a release decision
    _ok(amira.post(f"/api/v1/reports/{rid}/release"))
    assert _ok(omar.get(f"/api/v1/reports/{rid}"))["version"] == 6
