"""The report workflow and need-to-know, through the node's service layer."""

from __future__ import annotations

import json

import pytest

from conftest import sighting
from fossatum.domain.org import User
from fossatum.errors import Conflict, Forbidden, InvalidInput, NotFound
from fossatum.node import Node
from fossatum.schemas import ReportIn, ReportPatch
from fossatum.store.query import ReportQuery

pytestmark = pytest.mark.both_backends


def file(node: Node, author: User, **overrides: object) -> dict:
    return node.file_report(actor=author, spec=ReportIn.model_validate(sighting(**overrides)))


def visible_ids(node: Node, viewer: User) -> set[str]:
    return {json.loads(d)["id"] for d in node.store.list_reports(viewer, ReportQuery(limit=1000))}


def test_a_report_is_submitted_unless_filed_as_draft(node: Node, users: dict[str, User]) -> None:
    assert file(node, users["sami"])["state"] == "submitted"
    assert file(node, users["sami"], state="draft")["state"] == "draft"


def test_a_draft_is_seen_by_its_author_only(node: Node, users: dict[str, User]) -> None:
    draft = file(node, users["sami"], state="draft")
    assert draft["id"] in visible_ids(node, users["sami"])
    for other in ("amira", "youssef", "karim", "admin"):
        assert draft["id"] not in visible_ids(node, users[other])


def test_agency_only_report_is_invisible_to_the_other_agencies(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["amira"], audience={"scope": "agency"})
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    assert report["id"] in visible_ids(node, users["sami"])  # same agency
    for other in ("youssef", "leila", "karim", "omar"):
        assert report["id"] not in visible_ids(node, users[other])
        with pytest.raises(NotFound):
            node.report(viewer=users[other], report_id=report["id"])


def test_partners_see_a_report_only_after_national_validation(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["sami"], audience={"scope": "partners", "partners": ["DZA"]})
    assert report["id"] in visible_ids(node, users["youssef"])  # the owner country sees it at once
    assert report["id"] not in visible_ids(node, users["karim"])
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    assert report["id"] in visible_ids(node, users["karim"])      # released to Algeria
    assert report["id"] not in visible_ids(node, users["omar"])   # and to no one else


def test_all_partners_is_resolved_against_the_roster_when_set(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["amira"], audience={"scope": "all_partners"})
    assert report["audience"]["releasable_to"] == ["DZA", "LBY", "TUN"]
    node.add_agency(actor=None, code="MA-GR", name="Gendarmerie royale", country="MAR")
    node.add_user(actor=None, username="youness", agency="MA-GR", roles=["analyst"], password="a-long-password")
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    moroccan = node.store.user("youness")
    assert moroccan is not None
    assert report["id"] not in visible_ids(node, moroccan)  # joined later: no history
    assert report["id"] in visible_ids(node, users["omar"])


def test_closing_keeps_a_released_report_visible_to_partners(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["amira"], audience={"scope": "all_partners"})
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    closed = node.transition(actor=users["amira"], report_id=report["id"], action="close", reason="group left the area")
    assert closed["state"] == "closed" and closed["closed_reason"] == "group left the area"
    assert report["id"] in visible_ids(node, users["karim"])


def test_a_report_closed_before_validation_never_crosses_the_border(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["sami"], audience={"scope": "all_partners"})
    node.transition(actor=users["amira"], report_id=report["id"], action="close", reason="did not happen")
    assert report["id"] not in visible_ids(node, users["karim"])


def test_return_and_resubmit(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["sami"])
    returned = node.transition(actor=users["amira"], report_id=report["id"], action="return", reason="grid is off by 1 km")
    assert returned["state"] == "returned" and returned["returned_reason"] == "grid is off by 1 km"
    node.amend_report(actor=users["sami"], report_id=report["id"],
                      patch=ReportPatch.model_validate({"location": {"mgrs": "32SMD7087095269"}}))
    again = node.transition(actor=users["sami"], report_id=report["id"], action="submit")
    assert again["state"] == "submitted" and again["version"] == 4 and again["returned_reason"] is None


@pytest.mark.parametrize("actor, action, error", [
    ("sami", "validate", Forbidden),      # a field user cannot validate
    ("karim", "validate", NotFound),      # a partner cannot even see an unreleased report
    ("youssef", "submit", Forbidden),     # only the author submits
])
def test_who_may_move_a_report(node: Node, users: dict[str, User], actor: str, action: str, error: type) -> None:
    report = file(node, users["sami"])
    with pytest.raises(error):
        node.transition(actor=users[actor], report_id=report["id"], action=action)


def test_a_duty_officer_of_another_country_cannot_validate(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["amira"], audience={"scope": "all_partners"})
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    with pytest.raises(Conflict):
        node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    with pytest.raises(Forbidden):
        node.transition(actor=users["karim"], report_id=report["id"], action="close", reason="x")


def test_amendments_keep_every_version(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["sami"])
    node.amend_report(actor=users["sami"], report_id=report["id"],
                      patch=ReportPatch.model_validate({"description": "نص معدل — texte modifié"}))
    versions = [json.loads(v) for v in node.store.report_versions(users["sami"], report["id"])]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["description"] == report["description"]
    assert versions[1]["description"] == "نص معدل — texte modifié"


def test_a_field_user_cannot_change_a_validated_report(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["sami"])
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    with pytest.raises(Forbidden):
        node.amend_report(actor=users["sami"], report_id=report["id"],
                          patch=ReportPatch.model_validate({"description": "changed after validation"}))


def test_narrowing_the_audience_hides_the_report_from_partners(node: Node, users: dict[str, User]) -> None:
    report = file(node, users["amira"], audience={"scope": "partners", "partners": ["DZA"]})
    node.transition(actor=users["amira"], report_id=report["id"], action="validate")
    node.amend_report(actor=users["amira"], report_id=report["id"],
                      patch=ReportPatch.model_validate({"audience": {"scope": "national"}}))
    assert report["id"] not in visible_ids(node, users["karim"])


def test_links_must_point_to_reports_the_author_can_see(node: Node, users: dict[str, User]) -> None:
    hidden = file(node, users["youssef"], audience={"scope": "agency"})
    with pytest.raises(InvalidInput) as caught:
        file(node, users["sami"], links=[hidden["id"]])
    assert caught.value.field == "links"
    first = file(node, users["sami"])
    follow_up = file(node, users["sami"], links=[first["id"]])
    assert follow_up["links"] == [first["id"]]


def test_location_is_returned_in_degrees_and_mgrs(node: Node, users: dict[str, User]) -> None:
    by_mgrs = file(node, users["sami"], location={"mgrs": "32S MD 70870 95269"})
    assert by_mgrs["location"]["mgrs"] == "32SMD7087095269"
    assert by_mgrs["location"]["lat"] == pytest.approx(35.2, abs=1e-4)
    by_degrees = file(node, users["sami"], location={"lat": 35.2, "lon": 8.68})
    assert by_degrees["location"]["mgrs"].startswith("32SMD")


def test_a_partner_country_not_on_the_roster_is_refused(node: Node, users: dict[str, User]) -> None:
    with pytest.raises(InvalidInput) as caught:
        file(node, users["amira"], audience={"scope": "partners", "partners": ["FRA"]})
    assert "FRA" in str(caught.value)
