"""The demo: three federated nodes (TUN, DZA, LBY), each a living, need-to-know-correct picture,
built in one call; each already holds exactly what the others released to it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from fossatum import demo
from fossatum.domain import report as rules
from fossatum.domain.timeutil import parse, utcnow
from fossatum.errors import FossatumError
from fossatum.node import Node, init_node, open_node
from fossatum.policy.visibility import Facts, may_release, may_view
from fossatum.schemas import ReportIn
from fossatum.store.query import ReportQuery

REPO = Path(__file__).resolve().parents[1]
BORDER = REPO / "src" / "fossatum" / "demo" / "border.json"  # the one copy, shipped as package data


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
    ready = demo.ensure(data)
    yield data, ready, result.stdout
    ready.close()


@pytest.fixture(scope="module")
def nodes(built) -> dict[str, Node]:
    return built[1].nodes


@pytest.fixture(scope="module")
def node(nodes) -> Node:
    return nodes["TUN"]


def checkpoint(ready: demo.Demo) -> None:
    """Fold the WAL into the database files, so that a plain copy of the folder is complete."""
    for each in ready.nodes.values():
        each.store._writer.execute("PRAGMA wal_checkpoint(FULL)")


def all_docs(node: Node) -> list[dict]:
    return [json.loads(row[0]) for row in node.store._reader().execute("SELECT doc FROM reports")]


def own_docs(node: Node) -> list[dict]:
    """The reports filed at `node` (not the partners' copies it holds)."""
    return [d for d in all_docs(node) if d["origin"] == node.node_id]


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


def test_every_login_authenticates_with_the_demo_password(node):
    logins = demo.logins()
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
    border = json.loads(BORDER.read_text(encoding="utf-8"))
    amira = node.store.user("amira")
    sections = {json.loads(d)["id"]: json.loads(d) for d in node.store.sections(amira)}
    assert set(sections) == {s["id"] for s in border["sections"]}
    chaambi = sections["TUN-DZA-06"]
    assert chaambi["impact"] == "critical" and chaambi["terrain"] == "mountain"
    assert "tn-gn-patrol-chaambi" in chaambi["responsible"]["TUN"]
    assert sections["TUN-DZA-04"]["impact"] == "high" and sections["TUN-DZA-04"]["impact_set_by"] == "leila"
    # Sections are shared with every partner.
    assert len(node.store.sections(node.store.user("omar"))) == len(border["sections"])


def test_the_border_file_is_one_file_shipped_in_the_demo_package(node):
    tracked = subprocess.run(["git", "ls-files", "--", "*border.json"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode == 0:
        assert tracked.stdout.split() == [BORDER.relative_to(REPO).as_posix()]
    assert demo.load_border() == json.loads(BORDER.read_text(encoding="utf-8"))
    assert demo.load_border()["sections"]


def test_units_sit_on_the_border_and_patrols_have_moved(node):
    amira = node.store.user("amira")
    units = [json.loads(d) for d in node.store.units(amira)]
    partners = [u for u in units if u["owner_country"] != "TUN"]
    assert {u["owner_country"] for u in partners} == {"DZA", "LBY"}  # released to Tunisia by its partners
    units = [u for u in units if u["owner_country"] == "TUN"]
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
    docs = own_docs(node)
    for d in docs:
        assert any(inside(d["location"]["lon"], d["location"]["lat"], ring) for ring in all_rings)
    armed = [d for d in docs if d["type"].startswith("armed_group")]
    in_mountains = [d for d in armed if any(inside(d["location"]["lon"], d["location"]["lat"], r) for r in mountains)]
    assert len(in_mountains) > 0.75 * len(armed)


def test_validation_is_by_a_duty_officer_of_the_owner_country(node):
    for d in own_docs(node):
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
    docs = [d for d in own_docs(node) if d["owner_country"] == "DZA"]  # filed at the Tunisian centre
    assert docs and all(d["author"] == "karim" for d in docs)
    assert all("DZA" not in d["audience"]["partners"] for d in docs)
    seen = visible_ids(node, "amira")
    for d in docs:
        assert (d["id"] in seen) == may_view(amira, Facts.of_report(rules.from_doc(d)))
    assert any(d["id"] in seen for d in docs)
    assert any(d["audience"]["scope"] == "national" and d["id"] not in seen for d in docs)


# --- the three federated nodes ---------------------------------------------------------
def test_three_node_folders_each_with_its_own_country_and_name(built, nodes):
    data = built[0]
    assert sorted(p.name for p in data.iterdir()) == ["DZA", "LBY", "TUN"]
    for country, each in nodes.items():
        assert (data / country / "fossatum.db").is_file() and (data / country / "node.key").is_file()
        assert each.country == country and each.name == demo.NAMES[country]
    assert len({each.node_id for each in nodes.values()}) == 3


def test_each_node_has_the_two_others_as_partners_at_the_next_ports(nodes):
    assert demo.urls("127.0.0.1", 8000) == {
        "TUN": "http://127.0.0.1:8000", "DZA": "http://127.0.0.1:8001", "LBY": "http://127.0.0.1:8002"}
    urls = demo.partner_urls("127.0.0.1", 8000)  # the nodes talk TLS to each other, pinned to their keys
    assert urls == {"TUN": "https://127.0.0.1:8003", "DZA": "https://127.0.0.1:8004", "LBY": "https://127.0.0.1:8005"}
    for country, each in nodes.items():
        others = {c: n for c, n in nodes.items() if c != country}
        partners = {p.country: p for p in each.federation.partners()}
        assert set(partners) == set(others)
        for c, p in partners.items():
            assert p.url == urls[c] and p.public_key == others[c].key.public and p.node_id == others[c].node_id
            assert p.link == "pinned"
        assert set(each.store.roster()) == {"TUN", "DZA", "LBY"}


def test_usernames_are_unique_across_the_nodes_and_all_log_in(nodes):
    logins = demo.all_logins()
    names = [name for country in logins for name, _ in logins[country]]
    assert len(names) == len(set(names))
    for country, each in nodes.items():
        local = {u.username for u in each.store.users()}
        assert local == {name for name, _ in logins[country]}
        for name, what in logins[country]:
            assert what
            if country != "TUN":  # the Tunisian logins are tried above
                _, _, user = each.login(username=name, password=demo.PASSWORD)
                assert user.username == name
    algeria, libya = nodes["DZA"].store, nodes["LBY"].store
    assert {a["code"] for a in algeria.agencies()} >= {"DZ-GN", "DZ-ANP", "DZ-DOUANE"}
    assert {r for name, _ in logins["DZA"] for r in algeria.user(name).roles} >= {
        "duty_officer", "analyst", "field", "admin"}
    assert all(algeria.user(name).country == "DZA" for name, _ in logins["DZA"])
    assert all(libya.user(name).country == "LBY" for name, _ in logins["LBY"])
    assert any("duty_officer" in libya.user(name).roles for name, _ in logins["LBY"])


def test_algerian_reports_lie_on_the_algerian_side_of_the_border(nodes):
    border = demo.load_border()
    docs = own_docs(nodes["DZA"])
    assert 30 <= len(docs) <= 60
    for d in docs:
        lon, lat = d["location"]["lon"], d["location"]["lat"]
        edge = demo.border_lon(border["border_line"], lat)
        assert edge is not None and lon < edge
        assert d["owner_country"] == "DZA"
    validated = [d for d in docs if d["state"] in ("validated", "closed")]
    assert all(nodes["DZA"].store.user(d["validated_by"]).country == "DZA" for d in validated)
    to_tunisia = [d for d in validated if "TUN" in d["audience"]["releasable_to"]]
    assert {d["audience"]["scope"] for d in to_tunisia} == {"partners", "all_partners"}
    assert len(to_tunisia) >= 8


def test_libyan_reports_lie_near_ras_jedir_and_dehiba_on_the_libyan_side(nodes):
    from fossatum.demo.partners import LBY_BORDER

    docs = own_docs(nodes["LBY"])
    assert 10 <= len(docs) <= 15
    for d in docs:
        lon, lat = d["location"]["lon"], d["location"]["lat"]
        assert 32.0 <= lat <= 33.2 and 10.9 <= lon <= 11.7
        assert lon > demo.border_lon(LBY_BORDER, lat)
    assert sum(1 for d in docs if d["released"] and d["audience"]["releasable_to"] == ["LBY", "TUN"]) >= 3


def expected_at(origin: Node, country: str) -> set[str]:
    """The origin country's reports that `country`'s node must hold: those released to it
    (`may_release`) — for a follow-up, only if every report it links to is one `country` may see."""
    docs = {d["id"]: d for d in own_docs(origin)}
    facts = {i: Facts.of_report(rules.from_doc(d)) for i, d in docs.items()}

    def linkable(i: str) -> bool:
        return i not in docs or docs[i]["owner_country"] == country or may_release(facts[i], country)

    return {i for i, d in docs.items() if d["owner_country"] == origin.country and may_release(facts[i], country)
            and all(map(linkable, d["links"]))}


@pytest.mark.parametrize("origin,receiver", [("TUN", "DZA"), ("TUN", "LBY"), ("DZA", "TUN"), ("DZA", "LBY"),
                                             ("LBY", "TUN"), ("LBY", "DZA")])
def test_each_node_holds_exactly_what_the_others_released_to_it(nodes, origin, receiver):
    source, target = nodes[origin], nodes[receiver]
    docs = {d["id"]: d for d in own_docs(source)}
    held = {d["id"] for d in all_docs(target) if d["origin"] == source.node_id}
    assert held <= set(docs)
    national = {i for i in held if docs[i]["owner_country"] == origin}
    assert national == expected_at(source, receiver)
    # Reports filed at the origin by the receiver's own liaison officer are the receiver's
    # own: it may hold them (past draft), never those of a third country.
    assert all(docs[i]["owner_country"] == receiver and docs[i]["state"] != "draft" for i in held - national)
    released = {i for i, d in docs.items() if may_release(Facts.of_report(rules.from_doc(d)), receiver)}
    if (origin, receiver) in (("TUN", "DZA"), ("TUN", "LBY"), ("DZA", "TUN"), ("LBY", "TUN")):
        assert len(national & released) >= 5
    if origin == "TUN":  # containment keeps some follow-ups home; most released reports travel
        assert len(national) > 0.75 * len({i for i in released if docs[i]["owner_country"] == "TUN"})


def test_tunis_reports_released_only_to_algeria_are_in_algiers_not_in_tripoli(nodes):
    tunis = own_docs(nodes["TUN"])
    only_dza = {d["id"] for d in tunis if d["released"] and d["audience"]["partners"] == ["DZA"]}
    at_dza = {d["id"] for d in all_docs(nodes["DZA"])}
    at_lby = {d["id"] for d in all_docs(nodes["LBY"])}
    assert only_dza & at_dza and not only_dza & at_lby
    national = {d["id"] for d in tunis if d["audience"]["scope"] in ("agency", "national")
                and d["owner_country"] == "TUN"}
    assert national and not national & (at_dza | at_lby)


def test_every_node_verifies(nodes):
    for each in nodes.values():
        reports = each.verify()
        assert len(reports) == 3  # its own chain and the two partners' entries
        assert all(not r.problems for r in reports), [r.problems for r in reports]
    for each in nodes.values():
        assert all(s["last_error"] is None and s["lag"] == 0 for s in each.federation.status())


def test_a_second_ensure_reuses_the_demo(built):
    data, ready, _ = built
    again = demo.ensure(data)
    try:
        for country, each in again.nodes.items():
            assert each.node_id == ready.nodes[country].node_id
            assert len(all_docs(each)) == len(all_docs(ready.nodes[country]))
        assert again.logins == ready.logins
    finally:
        again.close()


def test_reuse_on_other_ports_moves_the_partner_urls(built, tmp_path):
    data, ready, _ = built
    checkpoint(ready)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    moved = demo.ensure(copy, host="127.0.0.1", port=9100)
    try:
        for country, each in moved.nodes.items():
            urls = {p.country: p.url for p in each.federation.partners()}
            assert urls == {c: u for c, u in demo.partner_urls("127.0.0.1", 9100).items() if c != country}
            assert all(not r.problems for r in each.verify())
    finally:
        moved.close()


def test_an_earlier_one_node_demo_becomes_the_tunisian_node(built, tmp_path):
    data, ready, _ = built
    checkpoint(ready)
    old = tmp_path / "old"
    shutil.copytree(data / "TUN", old)
    upgraded = demo.ensure(old)
    try:
        assert upgraded.nodes["TUN"].node_id == ready.nodes["TUN"].node_id
        assert sorted(p.name for p in old.iterdir()) == ["DZA", "LBY", "TUN"]
        tunis = upgraded.nodes["TUN"]
        assert {d["origin"] for d in all_docs(upgraded.nodes["DZA"])} >= {tunis.node_id}
    finally:
        upgraded.close()
    assert not list(tmp_path.glob(".old.building-*"))


def test_fresh_refuses_a_folder_that_is_not_a_demo(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FossatumError, match="does not look like a demo"):
        demo.ensure(plain, fresh=True)
    assert (plain / "notes.txt").exists()
    with pytest.raises(FossatumError, match="not empty"):
        demo.ensure(plain)
    # A country folder that holds something else than a node is not a demo either.
    mixed = tmp_path / "mixed"
    (mixed / "TUN").mkdir(parents=True)
    (mixed / "TUN" / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FossatumError, match="does not look like a demo"):
        demo.ensure(mixed, fresh=True)
    assert (mixed / "TUN" / "notes.txt").exists()


def test_fresh_and_reuse_refuse_a_real_node(tmp_path):
    real = tmp_path / "real"
    init_node(real, country="TUN", name="Tunisia NCC").close()
    with pytest.raises(FossatumError, match="not the demo"):
        demo.ensure(real, fresh=True)
    with pytest.raises(FossatumError, match="not the demo"):
        demo.ensure(real)
    assert (real / "fossatum.db").exists()
    # The same inside a country folder of the demo layout.
    nested = tmp_path / "nested"
    init_node(nested / "DZA", country="DZA", name="Algeria NCC").close()
    with pytest.raises(FossatumError, match="not the demo"):
        demo.ensure(nested, fresh=True)
    with pytest.raises(FossatumError, match="incomplete demo"):
        demo.ensure(nested)
    assert (nested / "DZA" / "fossatum.db").exists()


def test_fresh_replaces_a_demo_folder_with_the_same_demo(built, tmp_path):
    data, ready, _ = built
    checkpoint(ready)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    changed = open_node(copy / "TUN")
    spec = ReportIn.model_validate({"type": "other", "location": {"lat": 35.2, "lon": 8.35}})
    changed.file_report(actor=changed.store.user("karim"), spec=spec)
    old_id = changed.node_id
    changed.close()
    fresh = demo.ensure(copy, fresh=True)
    try:
        assert fresh.nodes["TUN"].node_id != old_id
        # Seeded: the same reports again (times relative to the new now).
        key = lambda d: (d["id"], d["type"], d["state"], d["author"], d["audience"]["scope"])  # noqa: E731
        for country in demo.COUNTRIES:
            assert sorted(map(key, all_docs(fresh.nodes[country]))) == sorted(map(key, all_docs(ready.nodes[country])))
    finally:
        fresh.close()
    assert not list(tmp_path.glob(".copy.building-*"))


def test_cli_demo_setup_only_prints_the_nodes_urls_and_logins(built):
    data, ready, stdout = built
    for country, each in ready.nodes.items():
        assert f"demo node {each.node_id} ready in {data / country}" in stdout
        assert each.name in stdout
    for url in demo.urls("127.0.0.1", 8000).values():
        assert url in stdout
    assert demo.PASSWORD in stdout
    for logins in demo.all_logins().values():
        for name, what in logins:
            assert name in stdout and what in stdout


# --- end to end: three servers in one process ------------------------------------------
def free_base_port() -> int:
    """A port p such that p to p+5 are all free now (pages, then the nodes' TLS ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        try:
            held = []
            for port in range(base, base + 6):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise AssertionError("no three consecutive free ports")


def test_a_report_filed_in_tunis_appears_in_algiers_and_not_in_tripoli(built, tmp_path):
    data, ready, _ = built
    checkpoint(ready)
    copy = tmp_path / "demo-data"
    shutil.copytree(data, copy)
    port = free_base_port()
    exe = Path(sys.executable).parent / "fossatum"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "fossatum.cli"]
    env = {**os.environ, "FOSSATUM_SYNC_INTERVAL": "30"}  # only the push may bring it within 3 s
    proc = subprocess.Popen([*command, "demo", "--data", str(copy), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    urls = {c: f"http://127.0.0.1:{port + i}" for i, c in enumerate(demo.COUNTRIES)}
    try:
        with httpx.Client(timeout=5) as client:
            deadline = time.monotonic() + 60
            for url in urls.values():
                while True:
                    assert proc.poll() is None, proc.communicate()[1]
                    try:
                        if client.get(f"{url}/api/v1/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, "the demo nodes did not come up"
                    time.sleep(0.1)

            def token(url: str, username: str) -> dict[str, str]:
                r = client.post(f"{url}/api/v1/auth/token", json={"username": username, "password": demo.PASSWORD})
                assert r.status_code == 200, r.text
                return {"authorization": f"Bearer {r.json()['access_token']}"}

            amira, youssef = token(urls["TUN"], "amira"), token(urls["TUN"], "youssef")
            nadia, salem = token(urls["DZA"], "nadia"), token(urls["LBY"], "salem")
            r = client.post(f"{urls['TUN']}/api/v1/reports", headers=amira, json={
                "type": "armed_group_movement", "location": {"lat": 35.21, "lon": 8.37},
                "salute": {"size": 6, "activity": "Groupe armé se dirigeant vers la frontière"},
                "audience": {"scope": "partners", "partners": ["DZA"]}, "tlp": "AMBER"})
            assert r.status_code == 201, r.text
            report_id = r.json()["id"]
            r = client.post(f"{urls['TUN']}/api/v1/reports/{report_id}/validate", headers=youssef)
            assert r.status_code == 200, r.text
            # Validated by another agency's officer: crossing is the owner agency's decision.
            assert r.json()["release"] is None
            r = client.post(f"{urls['TUN']}/api/v1/reports/{report_id}/release", headers=amira)
            assert r.status_code == 200, r.text
            validated = time.monotonic()
            while True:
                r = client.get(f"{urls['DZA']}/api/v1/reports/{report_id}", headers=nadia)
                if r.status_code == 200:
                    break
                assert r.status_code == 404, r.text
                assert time.monotonic() - validated < 3, "the report did not reach Algiers within 3 s"
                time.sleep(0.05)
            seen = r.json()
            assert seen["id"] == report_id and seen["owner_country"] == "TUN" and seen["state"] == "validated"
            assert client.get(f"{urls['LBY']}/api/v1/reports/{report_id}", headers=salem).status_code == 404
        # it crossed over TLS: the partners' port speaks nothing else, and serves a certificate
        # bound to the node's key (what the partners pin)
        from fossatum.federation import tls
        from fossatum.log.signing import NodeKey

        tun_tls = demo.tls_ports(port)["TUN"]
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{tun_tls}/api/v1/health", timeout=5)
        context = tls.pinned_client_context()
        with socket.create_connection(("127.0.0.1", tun_tls), timeout=5) as raw, context.wrap_socket(raw) as conn:
            der = conn.getpeercert(True)
        tun_key = NodeKey.load(copy / "TUN" / "node.key")
        hello = httpx.get(f"{urls['TUN']}/api/v1/federation/hello", timeout=5).json()
        assert tls.binding_problem(der, tun_key.public, hello["node_id"]) is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the demo did not stop on SIGINT: {err}")
    assert proc.returncode == 0, err
    for url in urls.values():
        assert url in out
    assert "Traceback" not in err, err
