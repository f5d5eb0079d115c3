"""The `fossatum` command line, run as real subprocesses.

Contract: success exits 0; any error is exactly one line on stderr starting with
"error:", a non-zero exit code, and no traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD, sighting
from fossatum.node import open_node
from fossatum.schemas import ReportIn
from fossatum.store.query import ReportQuery
from fossatum.store.schema import PROJECTION_TABLES

FOSSATUM = [sys.executable, "-m", "fossatum.cli"]
TIMEOUT = 120


def run(*args: str | Path, stdin: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOSSATUM_")}
    result = subprocess.run([*FOSSATUM, *map(str, args)], input=stdin if stdin is not None else "",
                            capture_output=True, text=True, timeout=TIMEOUT, env=env)
    if check:
        assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def assert_cli_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error:"), line
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for fragment in fragments:
        assert fragment.lower() in line.lower(), line
    return line


def setup_node(data: Path, *, country: str = "TUN", agency: str = "TN-GN", user: str = "amira",
               roles: tuple[str, ...] = ("duty_officer",)) -> None:
    run("init", "--data", data, "--country", country, "--name", f"{country} NCC", check=True)
    run("agency", "add", "--data", data, "--code", agency, "--name", "Garde nationale", "--country", country,
        check=True)
    role_args = [a for r in roles for a in ("--role", r)]
    run("user", "add", "--data", data, "--username", user, "--agency", agency, *role_args, "--password-stdin",
        stdin=PASSWORD + "\n", check=True)


def log_size(data: Path) -> int:
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM log").fetchone()[0]
    finally:
        conn.close()


def report_ids(data: Path) -> list[str]:
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        return [r[0] for r in conn.execute("SELECT id FROM reports ORDER BY id")]
    finally:
        conn.close()


def file_reports(data: Path, username: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = open_node(data)
    try:
        actor = node.store.user(username)
        assert actor is not None
        return [node.file_report(actor=actor, spec=ReportIn.model_validate(b)) for b in bodies]
    finally:
        node.close()


@pytest.fixture(scope="module")
def tun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Tunisian node made with the CLI alone, with a few reports (read-only for the tests)."""
    data = tmp_path_factory.mktemp("cli") / "tun"
    setup_node(data, roles=("duty_officer", "analyst"))
    run("user", "add", "--data", data, "--username", "sami", "--agency", "TN-GN", "--role", "field",
        "--password-stdin", stdin=PASSWORD + "\n", check=True)
    file_reports(data, "amira", [
        sighting(),
        sighting(type="smuggling_fuel", observed_at="2026-11-27T05:00:00Z", location={"mgrs": "32SMD7087095269"},
                 grade={"source": "C", "info": 3}, impact="high", audience={"scope": "agency"}, tlp="RED",
                 links=[], description="Contrebande de carburant"),
        sighting(state="draft", observed_at="2026-11-26T05:00:00Z", salute={"size": "two vehicles"}),
        sighting(observed_at="2026-11-25T05:00:00Z", audience={"scope": "all_partners"}, tlp="GREEN"),
    ])
    return data


# --- the happy path ------------------------------------------------------------------------

def test_init_agency_user_verify(tmp_path: Path) -> None:
    data = tmp_path / "node"
    init = run("init", "--data", data, "--country", "TUN", "--name", "Tunisia NCC", check=True)
    assert "initialised node TUN-" in init.stdout
    added = run("agency", "add", "--data", data, "--code", "TN-GN", "--name", "Garde nationale",
                "--country", "TUN", check=True)
    assert "TN-GN" in added.stdout
    user = run("user", "add", "--data", data, "--username", "amira", "--agency", "TN-GN", "--role", "duty_officer",
               "--role", "analyst", "--password-stdin", stdin=PASSWORD + "\n", check=True)
    assert "amira" in user.stdout
    verified = run("verify", "--data", data, check=True)
    assert verified.stderr == ""
    assert "ok" in verified.stdout and "problem" not in verified.stdout
    listed = run("user", "list", "--data", data, check=True).stdout
    assert "amira\tTN-GN\tTUN\tanalyst,duty_officer\tactive" in listed
    # The password read from stdin is the one that logs in.
    node = open_node(data)
    try:
        token, _, who = node.login(username="amira", password=PASSWORD)
        assert token and who.username == "amira"
    finally:
        node.close()


def test_verify_of_a_populated_node(tun: Path) -> None:
    result = run("verify", "--data", tun, check=True)
    assert result.stdout.count("ok") == 1 and result.stderr == ""


EXPORT_KEEPS = ("type", "observed_at", "location", "uncertainty_m", "salute", "grade", "impact", "reaction",
                "description", "links", "tlp")


def _content(doc: dict[str, Any]) -> dict[str, Any]:
    return {**{k: doc[k] for k in EXPORT_KEEPS}, "scope": doc["audience"]["scope"]}


def test_export_import_round_trip(tun: Path, tmp_path: Path) -> None:
    exported = run("export", "--data", tun, check=True)
    lines = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    assert len(lines) == 4 and "exported 4 reports" in exported.stderr
    own = {d["id"]: d for d in lines}
    assert set(own) == set(report_ids(tun))

    dza = tmp_path / "dza"
    setup_node(dza, country="DZA", agency="DZ-GN", user="karim")
    source = tmp_path / "reports.jsonl"
    source.write_text(exported.stdout, encoding="utf-8")
    before = log_size(dza)
    imported = run("import", "--data", dza, "--as", "karim", source, check=True)
    assert "imported 4 reports" in imported.stdout
    assert log_size(dza) == before + 4

    again = run("export", "--data", dza, check=True)
    back = {d["id"]: d for d in map(json.loads, again.stdout.splitlines())}
    assert set(back) == set(own)
    for report_id, original in own.items():
        copy = back[report_id]
        assert _content(copy) == _content(original), report_id
        assert copy["author"] == "karim" and copy["owner_agency"] == "DZ-GN" and copy["owner_country"] == "DZA"
        assert copy["state"] == ("draft" if original["state"] == "draft" else "submitted")
        assert copy["version"] == 1 and copy["released"] is False

    # Importing the same file again skips what is there and files nothing.
    size = log_size(dza)
    rerun = run("import", "--data", dza, "--as", "karim", source, check=True)
    assert "imported 0 reports" in rerun.stdout and "skipped 4" in rerun.stdout
    assert log_size(dza) == size
    run("verify", "--data", dza, check=True)


def test_import_reads_stdin(tun: Path, tmp_path: Path) -> None:
    data = tmp_path / "other"
    setup_node(data)
    body = json.dumps(sighting(id="6f1c2a3e-0000-4000-8000-000000000001")) + "\n" + json.dumps(sighting(state="draft")) + "\n"
    result = run("import", "--data", data, "--as", "amira", stdin=body, check=True)
    assert "imported 2 reports" in result.stdout
    assert "6f1c2a3e-0000-4000-8000-000000000001" in report_ids(data)


def _projections(data: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(data / "fossatum.db")
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in PROJECTION_TABLES}
    finally:
        conn.close()


def _queries(data: Path) -> dict[str, list[str]]:
    node = open_node(data)
    try:
        out = {}
        for user in node.store.users():
            for name, query in (("all", ReportQuery(limit=1000)),
                                ("bbox", ReportQuery(bbox=(8.0, 34.5, 9.0, 35.5), limit=1000)),
                                ("since", ReportQuery(since="2026-11-26T00:00:00.000000Z", limit=1000)),
                                ("page", ReportQuery(limit=2))):
                out[f"{user.username}/{name}"] = node.reports(viewer=user, query=query).items
        return out
    finally:
        node.close()


def test_rebuild_leaves_every_view_identical(tmp_path: Path, tun: Path) -> None:
    data = tmp_path / "copy"
    setup_node(data, roles=("duty_officer",))
    run("import", "--data", data, "--as", "amira", stdin=run("export", "--data", tun, check=True).stdout, check=True)
    node = open_node(data)
    try:
        amira = node.store.user("amira")
        assert amira is not None
        submitted = [json.loads(d) for d in node.reports(viewer=amira, query=ReportQuery(states=("submitted",))).items]
        node.transition(actor=amira, report_id=submitted[0]["id"], action="validate")
        node.transition(actor=amira, report_id=submitted[1]["id"], action="close", reason="no further action")
    finally:
        node.close()
    queries, tables, size = _queries(data), _projections(data), log_size(data)
    assert any(queries.values())
    result = run("rebuild", "--data", data, check=True)
    assert f"rebuilt from {size} entries" in result.stdout
    assert _queries(data) == queries
    assert _projections(data) == tables
    assert log_size(data) == size
    run("verify", "--data", data, check=True)


# --- errors: one line, "error:", non-zero, nothing changed -----------------------------------

def test_init_twice_in_the_same_folder(tmp_path: Path) -> None:
    data = tmp_path / "node"
    run("init", "--data", data, "--country", "TUN", "--name", "Tunisia NCC", check=True)
    key = (data / "node.key").read_bytes()
    size = log_size(data)
    assert_cli_error(run("init", "--data", data, "--country", "TUN", "--name", "Again"), "already")
    assert (data / "node.key").read_bytes() == key
    assert log_size(data) == size


@pytest.mark.parametrize("country", ["TN", "TUNISIA", "T1N", "", "123"])
def test_init_with_a_bad_country_code(tmp_path: Path, country: str) -> None:
    data = tmp_path / "node"
    assert_cli_error(run("init", "--data", data, "--country", country, "--name", "X"), "country")
    assert not (data / "fossatum.db").exists() and not (data / "node.key").exists()


def test_agency_add_with_a_bad_country_code(tun: Path) -> None:
    size = log_size(tun)
    assert_cli_error(run("agency", "add", "--data", tun, "--code", "XX-GN", "--name", "X", "--country", "XX"),
                     "country")
    assert log_size(tun) == size


def test_user_add_with_an_unknown_agency(tun: Path) -> None:
    size = log_size(tun)
    result = run("user", "add", "--data", tun, "--username", "nadia", "--agency", "TN-NOPE", "--role", "field",
                 "--password-stdin", stdin=PASSWORD + "\n")
    assert_cli_error(result, "TN-NOPE")
    assert log_size(tun) == size


@pytest.mark.parametrize("role", ["general", "ADMIN", "duty officer"])
def test_user_add_with_an_unknown_role(tun: Path, role: str) -> None:
    size = log_size(tun)
    result = run("user", "add", "--data", tun, "--username", "nadia", "--agency", "TN-GN", "--role", role,
                 "--password-stdin", stdin=PASSWORD + "\n")
    assert_cli_error(result, "role")
    assert log_size(tun) == size


@pytest.mark.parametrize(("stdin", "fragment"), [("short\n", "password"), ("\n", "password"), ("", "password")])
def test_user_add_with_a_bad_password(tun: Path, stdin: str, fragment: str) -> None:
    size = log_size(tun)
    result = run("user", "add", "--data", tun, "--username", "nadia", "--agency", "TN-GN", "--role", "field",
                 "--password-stdin", stdin=stdin)
    assert_cli_error(result, fragment)
    assert log_size(tun) == size


def test_user_add_twice(tun: Path) -> None:
    size = log_size(tun)
    result = run("user", "add", "--data", tun, "--username", "amira", "--agency", "TN-GN", "--role", "field",
                 "--password-stdin", stdin=PASSWORD + "\n")
    assert_cli_error(result, "amira")
    assert log_size(tun) == size


@pytest.mark.parametrize(("command", "extra"), [
    pytest.param(["verify"], [], id="verify"),
    pytest.param(["rebuild"], [], id="rebuild"),
    pytest.param(["export"], [], id="export"),
    pytest.param(["agency", "add"], ["--code", "TN-GN", "--name", "X", "--country", "TUN"], id="agency-add"),
    pytest.param(["user", "add"], ["--username", "x1", "--agency", "TN-GN", "--role", "field", "--password-stdin"],
                 id="user-add"),
    pytest.param(["user", "list"], [], id="user-list"),
    pytest.param(["import"], ["--as", "amira"], id="import"),
    pytest.param(["serve"], ["--port", "1"], id="serve"),
])
def test_missing_data_dir(tmp_path: Path, command: list[str], extra: list[str]) -> None:
    missing = tmp_path / "nowhere"
    result = run(*command, "--data", missing, *extra, stdin=PASSWORD + "\n")
    assert_cli_error(result, "no node")
    assert not missing.exists()


def test_import_without_as_is_a_usage_error(tun: Path) -> None:
    result = run("import", "--data", tun, stdin=json.dumps(sighting()) + "\n")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "--as" in result.stderr


def test_import_as_an_unknown_user(tun: Path) -> None:
    size = log_size(tun)
    assert_cli_error(run("import", "--data", tun, "--as", "ghost", stdin=json.dumps(sighting()) + "\n"), "ghost")
    assert log_size(tun) == size


def test_import_of_a_missing_file(tun: Path, tmp_path: Path) -> None:
    result = run("import", "--data", tun, "--as", "amira", tmp_path / "absent.jsonl")
    assert result.returncode != 0 and "Traceback" not in result.stderr


def _three_lines(third: str) -> str:
    return "\n".join([json.dumps(sighting(id="6f1c2a3e-0000-4000-8000-000000000101")), json.dumps(sighting(id="6f1c2a3e-0000-4000-8000-000000000102")),
                      third, json.dumps(sighting(id="6f1c2a3e-0000-4000-8000-000000000104"))]) + "\n"


BAD_THIRD_LINES = [
    pytest.param('{"type": "armed_group_sighting", ', id="malformed-json"),
    pytest.param('["not", "an", "object"]', id="not-an-object"),
    pytest.param(json.dumps(sighting(type="alien_landing")), id="unknown-type"),
    pytest.param(json.dumps(sighting(location={"lat": 91, "lon": 8})), id="lat-out-of-range"),
    pytest.param(json.dumps(sighting(location={"mgrs": "ABC"})), id="bad-mgrs"),
    pytest.param(json.dumps(sighting(colour="red")), id="unknown-field"),
    pytest.param(json.dumps(sighting(descripton="typo of description")), id="misspelt-field"),
    pytest.param(json.dumps(sighting(observed_at="2026-11-28T22:15:00")), id="naive-time"),
    pytest.param(json.dumps(sighting(observed_at="2999-01-01T00:00:00Z")), id="future-time"),
    pytest.param(json.dumps(sighting(audience={"scope": "partners", "partners": ["FRA"]})), id="partner-off-roster"),
    pytest.param(json.dumps(sighting(links=["no-such-report-01"])), id="unknown-link"),
]


@pytest.mark.parametrize("third", BAD_THIRD_LINES)
def test_import_with_a_bad_line_3_imports_nothing(tun: Path, tmp_path: Path, third: str) -> None:
    tun = shutil.copytree(tun, tmp_path / "tun")  # a failing case must not leave imports for the next one
    source = tmp_path / "bad.jsonl"
    source.write_text(_three_lines(third), encoding="utf-8")
    size, ids = log_size(tun), report_ids(tun)
    result = run("import", "--data", tun, "--as", "amira", source)
    assert_cli_error(result, "line 3")
    assert log_size(tun) == size
    assert report_ids(tun) == ids
    assert not any(i.startswith("6f1c2a3e-0000-4000-8000-0000000001") for i in report_ids(tun))


def test_export_as_a_user_shows_only_what_they_may_see(tun: Path) -> None:
    own = run("export", "--data", tun, check=True).stdout.splitlines()
    as_sami = [json.loads(x) for x in run("export", "--data", tun, "--as", "sami", check=True).stdout.splitlines()]
    # sami (TN-GN, field) sees the national and agency reports of his agency, not amira's draft.
    assert len(as_sami) == len(own) - 1
    assert all(d["state"] != "draft" for d in as_sami)
    assert_cli_error(run("export", "--data", tun, "--as", "ghost"), "ghost")


def test_unknown_setting_in_the_environment_is_one_line(tun: Path) -> None:
    env = {**os.environ, "FOSSATUM_COLOUR": "red"}
    result = subprocess.run([*FOSSATUM, "verify", "--data", str(tun)], capture_output=True, text=True,
                            timeout=TIMEOUT, env=env)
    assert_cli_error(result, "FOSSATUM_COLOUR")


def test_the_installed_script_is_the_same_cli(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("fossatum")
    if not script.exists():
        pytest.skip("no console script next to the interpreter")
    result = subprocess.run([str(script), "verify", "--data", str(tmp_path / "none")], capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert_cli_error(result, "no node")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=TIMEOUT)
    assert version.returncode == 0 and "0.1.0" in version.stdout


def test_the_server_socket_is_tcp_so_that_asyncio_disables_nagle() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only when the listening socket's proto is
    TCP; without it every small response waited ~40 ms for a delayed ACK."""
    import socket as socket_mod

    from fossatum.runtime import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket_mod.IPPROTO_TCP
    finally:
        sock.close()


def test_a_port_in_use_is_one_clear_error() -> None:
    from fossatum.errors import FossatumError
    from fossatum.runtime import listening_socket

    first = listening_socket("127.0.0.1", 0)
    first.listen()
    try:
        with pytest.raises(FossatumError, match=r"cannot listen on 127\.0\.0\.1"):
            listening_socket("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


def test_agency_field_audience_is_set_listed_and_checked(tmp_path: Path) -> None:
    data = tmp_path / "tun"
    setup_node(data)
    run("agency", "add", "--data", data, "--code", "DZ-GN", "--name", "Gendarmerie", "--country", "DZA", check=True)
    listed = run("agency", "list", "--data", data, check=True).stdout
    assert "TN-GN\tTUN\tGarde nationale\tfield: node default" in listed
    done = run("agency", "set-field-audience", "--data", data, "TN-GN", "--scope", "partners", "--partner", "dza",
               "--tlp", "GREEN", check=True)
    assert done.stdout.strip() == "field audience of TN-GN: partners DZA TLP:GREEN"
    assert "TN-GN\tTUN\tGarde nationale\tfield: partners DZA TLP:GREEN" in run("agency", "list", "--data", data).stdout
    size = log_size(data)
    assert_cli_error(run("agency", "set-field-audience", "--data", data, "TN-GN", "--scope", "galaxy"), "--scope")
    assert_cli_error(run("agency", "set-field-audience", "--data", data, "TN-GN", "--scope", "partners",
                         "--partner", "FRA"), "partners", "FRA")
    assert_cli_error(run("agency", "set-field-audience", "--data", data, "TN-GN", "--scope", "national",
                         "--partner", "DZA"), "partners")
    assert_cli_error(run("agency", "set-field-audience", "--data", data, "XX-NONE", "--scope", "agency"),
                     "no agency XX-NONE")
    assert_cli_error(run("agency", "set-field-audience", "--data", data, "TN-GN"), "--scope or --clear")
    assert log_size(data) == size  # nothing refused was logged
    assert "field: partners DZA" in run("agency", "list", "--data", data).stdout
    run("agency", "set-field-audience", "--data", data, "TN-GN", "--clear", check=True)
    run("rebuild", "--data", data, check=True)
    assert "TN-GN\tTUN\tGarde nationale\tfield: node default" in run("agency", "list", "--data", data).stdout
