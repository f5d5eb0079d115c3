"""The demo node: a living, need-to-know-correct picture built in one call."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from fossatum import demo
from fossatum.domain import report as rules
from fossatum.domain.timeutil import parse, utcnow
from fossatum.errors import FossatumError
from fossatum.node import Node, init_node, open_node
from fossatum.policy.visibility import Facts, may_view
from fossatum.schemas import ReportIn
from fossatum.store.query import ReportQuery

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "fossatum"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "fossatum.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """One demo for the module: created by `fossatum demo --setup-only`, then reused by `ensure`."""
    data = tmp_path_factory.mktemp("demo") / "demo-data"
    result = run_cli("demo", "--data", str(data), "--setup-only")
    assert result.returncode == 0, result.stderr
    node, logins = demo.ensure(data)
    yield data, node, logins, result.stdout
    node.close()


@pytest.fixture(scope="module")
def node(built) -> Node:
    return built[1]


def all_docs(node: Node) -> list[dict]:
    return [json.loads(row[0]) for row in node.store._reader().execute("SELECT doc FROM reports")]


def visible_ids(node: Node, username: str) -> set[str]:
    viewer = node.store.user(username)
    page = node.reports(viewer=viewer, query=ReportQuery(limit=10_000))
    assert page.next is None
    return {json.loads(doc)["id"] for doc in page.items}


def test_demo_has_agencies_of_three_countries_and_their_roster(node):
    countries = {a["code"]: a["country"] for a in node.store.agencies()}
    assert countries == {"TN-NCC": "TUN", "TN-GN": "TUN", "TN-ARMY": "TUN", "TN-DOUANE": "TUN",
                         "DZ-GN": "DZA", "DZ-ANP": "DZA", "LY-BG": "LBY"}
    assert node.store.roster() == ["DZA", "LBY", "TUN"]
    assert node.country == "TUN" and node.name == demo.NAME


def test_every_login_authenticates_with_the_demo_password(built):
    _, node, logins, _ = built
    assert len(demo.PASSWORD) >= 8
    names = [name for name, _ in logins]
    assert names == ["admin", "amira", "youssef", "leila", "hedi", "patrol.chaambi", "patrol.kef", "karim", "omar"]
    assert all(what for _, what in logins)
    for name in names:
        _, _, user = node.login(username=name, password=demo.PASSWORD)
        assert user.username == name
    assert node.store.user("karim").country == "DZA"
    assert node.store.user("omar").country == "LBY"


def test_sections_come_from_the_border_file_with_responsible_units(node):
    border = json.loads((REPO / "scenarios" / "demo" / "border.json").read_text(encoding="utf-8"))
    amira = node.store.user("amira")
    sections = {json.loads(d)["id"]: json.loads(d) for d in node.store.sections(amira)}
    assert set(sections) == {s["id"] for s in border["sections"]}
    chaambi = sections["TUN-DZA-06"]
    assert chaambi["impact"] == "critical" and chaambi["terrain"] == "mountain"
    assert "tn-gn-patrol-chaambi" in chaambi["responsible"]["TUN"]
    assert sections["TUN-DZA-04"]["impact"] == "high" and sections["TUN-DZA-04"]["impact_set_by"] == "leila"
    # Sections are shared with every partner.
    assert len(node.store.sections(node.store.user("omar"))) == len(border["sections"])


def test_packaged_border_file_is_the_scenario(node):
    packaged = (REPO / "src" / "fossatum" / "demo_data" / "border.json").read_bytes()
    assert packaged == (REPO / "scenarios" / "demo" / "border.json").read_bytes()
    assert demo.load_border()["sections"]


def test_units_sit_on_the_border_and_patrols_have_moved(node):
    amira = node.store.user("amira")
    units = [json.loads(d) for d in node.store.units(amira)]
    assert 8 <= len(units) <= 12
    assert {u["kind"] for u in units} >= {"patrol", "checkpoint", "observation_post", "hq"}
    assert {u["owner_agency"] for u in units} == {"TN-GN", "TN-ARMY", "TN-DOUANE"}
    track = node.store.unit_track(amira, "tn-gn-patrol-chaambi")
    assert len(track) >= 5
    assert track[0]["at"] > track[-1]["at"]
    # The rapid-intervention unit is its agency's only: the other agency's officer does not see it.
    assert node.store.unit_doc(amira, "tn-army-rapid-feriana") is None
    assert node.store.unit_doc(node.store.user("youssef"), "tn-army-rapid-feriana") is not None


def test_reports_are_a_mixed_two_day_picture(node):
    docs = all_docs(node)
    assert 250 <= len(docs) <= 350
    states = Counter(d["state"] for d in docs)
    assert set(states) == {"draft", "submitted", "validated", "returned", "closed"}
    assert states["validated"] > len(docs) / 2
    assert all(d["returned_reason"] for d in docs if d["state"] == "returned")
    assert all(d["closed_reason"] for d in docs if d["state"] == "closed")
    scopes = Counter(d["audience"]["scope"] for d in docs)
    assert set(scopes) == {"agency", "national", "partners", "all_partners"}
    assert len({d["tlp"] for d in docs}) >= 4
    assert len({d["type"] for d in docs}) >= 10
    assert sum(1 for d in docs if d["links"]) >= 10
    assert any(d["version"] > 3 for d in docs)  # returned, amended, submitted again, validated
    assert all(d["grade"] is None or d["grade"]["source"] in "ABCDEF" for d in docs)
    text = json.dumps(docs, ensure_ascii=False)
    assert "individus armés" in text and "مسلحة" in text and "jerrycans" in text
    observed = sorted(rules.from_doc(d).content.observed_at for d in docs)
    span = parse(observed[-1], field="t") - parse(observed[0], field="t")
    assert timedelta(hours=40) < span <= timedelta(hours=48)
    assert utcnow() - parse(observed[-1], field="t") < timedelta(hours=3)
    assert all(d["observed_at"] <= d["reported_at"] <= d["updated_at"] for d in docs)


def test_armed_groups_concentrate_in_the_kasserine_mountains(node):
    from fossatum.demo import inside

    border = demo.load_border()
    mountains = [s["geometry"]["coordinates"][0] for s in border["sections"] if s["impact"] in ("high", "critical")]
    all_rings = [s["geometry"]["coordinates"][0] for s in border["sections"]]
    docs = all_docs(node)
    for d in docs:
        assert any(inside(d["location"]["lon"], d["location"]["lat"], ring) for ring in all_rings)
    armed = [d for d in docs if d["type"].startswith("armed_group")]
    in_mountains = [d for d in armed if any(inside(d["location"]["lon"], d["location"]["lat"], r) for r in mountains)]
    assert len(in_mountains) > 0.75 * len(armed)


def test_validation_is_by_a_duty_officer_of_the_owner_country(node):
    for d in all_docs(node):
        if d["validated_by"]:
            officer = node.store.user(d["validated_by"])
            assert officer.country == d["owner_country"]
            assert "duty_officer" in officer.roles


def test_the_log_is_chronological_and_verifies(node):
    stamps = [e.ts for e in node.store.entries(node.node_id)]
    assert stamps == sorted(stamps)
    assert all(not r.problems for r in node.verify())
    assert node.clock().tzinfo is not None  # the real clock again


def test_duty_officer_sees_many_reports(node):
    assert len(visible_ids(node, "amira")) > 200


def test_algerian_liaison_sees_only_what_was_released_to_algeria(node):
    karim = node.store.user("karim")
    docs = all_docs(node)
    expected = {d["id"] for d in docs if may_view(karim, Facts.of_report(rules.from_doc(d)))}
    seen = visible_ids(node, "karim")
    assert seen == expected
    assert len(seen) > 50
    for d in docs:
        if d["id"] in seen and d["owner_country"] != "DZA":
            assert d["released"] and d["state"] in ("validated", "closed")
            assert "DZA" in d["audience"]["releasable_to"]
            assert d["audience"]["scope"] in ("partners", "all_partners")
    assert any(d["owner_country"] == "DZA" for d in docs if d["id"] in seen)
    assert not any(d["audience"]["scope"] in ("agency", "national") and d["owner_country"] == "TUN"
                   for d in docs if d["id"] in seen)


def test_libyan_liaison_sees_nothing_released_only_to_algeria(node):
    omar = node.store.user("omar")
    docs = all_docs(node)
    seen = visible_ids(node, "omar")
    assert seen == {d["id"] for d in docs if may_view(omar, Facts.of_report(rules.from_doc(d)))}
    only_dza = {d["id"] for d in docs if d["audience"]["partners"] == ["DZA"]}
    assert only_dza and not seen & only_dza
    assert seen and all("LBY" in d["audience"]["releasable_to"] for d in docs if d["id"] in seen)


def test_algerian_reports_released_to_tunisia_reach_tunisians_only_once_validated(node):
    amira = node.store.user("amira")
    docs = [d for d in all_docs(node) if d["owner_country"] == "DZA"]
    assert docs and all(d["author"] == "karim" for d in docs)
    assert all("DZA" not in d["audience"]["partners"] for d in docs)
    seen = visible_ids(node, "amira")
    for d in docs:
        assert (d["id"] in seen) == may_view(amira, Facts.of_report(rules.from_doc(d)))
    assert any(d["id"] in seen for d in docs)
    assert any(d["audience"]["scope"] == "national" and d["id"] not in seen for d in docs)


def test_a_second_ensure_reuses_the_demo(built):
    data, node, logins, _ = built
    again, logins_again = demo.ensure(data)
    try:
        assert again.node_id == node.node_id
        assert len(all_docs(again)) == len(all_docs(node))
        assert logins_again == logins
    finally:
        again.close()


def test_fresh_refuses_a_folder_that_is_not_a_demo(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FossatumError, match="does not look like a demo"):
        demo.ensure(plain, fresh=True)
    assert (plain / "notes.txt").exists()
    with pytest.raises(FossatumError, match="not empty"):
        demo.ensure(plain)


def test_fresh_and_reuse_refuse_a_real_node(tmp_path):
    real = tmp_path / "real"
    init_node(real, country="TUN", name="Tunisia NCC").close()
    with pytest.raises(FossatumError, match="not the demo"):
        demo.ensure(real, fresh=True)
    with pytest.raises(FossatumError, match="not the demo"):
        demo.ensure(real)
    assert (real / "fossatum.db").exists()


def test_fresh_replaces_a_demo_folder_with_the_same_demo(built, tmp_path):
    data, node, _, _ = built
    copy = tmp_path / "copy"
    node.store._writer.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copytree(data, copy)
    changed = open_node(copy)
    spec = ReportIn.model_validate({"type": "other", "location": {"lat": 35.2, "lon": 8.35}})
    changed.file_report(actor=changed.store.user("karim"), spec=spec)
    old_id = changed.node_id
    changed.close()
    fresh, _ = demo.ensure(copy, fresh=True)
    try:
        assert fresh.node_id != old_id
        # Seeded: the same reports again (times relative to the new now).
        key = lambda d: (d["id"], d["type"], d["state"], d["author"], d["audience"]["scope"])  # noqa: E731
        assert sorted(map(key, all_docs(fresh))) == sorted(map(key, all_docs(node)))
    finally:
        fresh.close()
    assert not list(tmp_path.glob(".copy.building-*"))


def test_cli_demo_setup_only_prints_the_logins(built):
    data, node, _, stdout = built
    assert f"demo node {node.node_id} ready" in stdout
    assert demo.PASSWORD in stdout
    for name, what in demo.logins():
        assert name in stdout and what in stdout
