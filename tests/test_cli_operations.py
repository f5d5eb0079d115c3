"""`fossatum operation …` (issue 12), run as real subprocesses: operational verbs act as a named
user under the same rules as the API; any error is one line on stderr and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PASSWORD
from operations_fixtures import operation_body
from test_cli import assert_cli_error, log_size, run, setup_node

SCHEMA = Path(__file__).resolve().parents[1] / "src" / "fossatum" / "standards" / "emsi.schema.json"


@pytest.fixture(scope="module")
def tun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Tunisian node with an Algerian and a Libyan agency (on its roster), made with the CLI."""
    data = tmp_path_factory.mktemp("cli-ops") / "tun"
    setup_node(data, roles=("duty_officer",))
    for code, country in (("DZ-GN", "DZA"), ("LY-BG", "LBY")):
        run("agency", "add", "--data", data, "--code", code, "--name", code, "--country", country, check=True)
    for username, agency, role in (("sami", "TN-GN", "field"), ("karim", "DZ-GN", "duty_officer"),
                                   ("omar", "LY-BG", "duty_officer")):
        run("user", "add", "--data", data, "--username", username, "--agency", agency, "--role", role,
            "--password-stdin", stdin=PASSWORD + "\n", check=True)
    return data


def create(data: Path, tmp_path: Path, **changes: object) -> str:
    source = tmp_path / "op.json"
    source.write_text(json.dumps(operation_body(**changes)))
    result = run("operation", "create", "--data", data, "--as-user", "amira", "--file", source, check=True)
    assert result.stdout.startswith("created operation op-"), result.stdout
    return result.stdout.split()[2]


def test_create_list_show_status_and_journal(tun: Path, tmp_path: Path) -> None:
    op = create(tun, tmp_path)
    listed = run("operation", "list", "--data", tun, "--as-user", "amira", check=True).stdout
    assert f"{op}\tNST\tCHAAMBI-26-01\tTUN\tDZA,TUN\tCordon Chaambi" in listed.splitlines()
    assert run("operation", "status", "--data", tun, "--as-user", "amira", op, "ipr", check=True).stdout \
        == f"operation {op} is IPR\n"
    written = run("operation", "journal", "--data", tun, "--as-user", "amira", op, "cordon in place at 05:10",
                  check=True).stdout
    assert written.startswith("journal line j-") and "(TUN, note)" in written
    shown = json.loads(run("operation", "show", "--data", tun, "--as-user", "amira", op, check=True).stdout)
    assert shown["status"] == "IPR" and shown["participants"] == ["DZA", "TUN"]
    assert [(x["kind"], x["text"]) for x in shown["journal"]] == [("status_change", ""),
                                                                  ("note", "cordon in place at 05:10")]
    lines = run("operation", "journal", "--data", tun, "--as-user", "karim", op, check=True).stdout.splitlines()
    assert [line.split("\t")[3:] for line in lines] == [["status_change", "from=NST, to=IPR"],
                                                        ["note", "cordon in place at 05:10"]]


def test_a_country_that_does_not_take_part_sees_nothing(tun: Path, tmp_path: Path) -> None:
    op = create(tun, tmp_path)
    assert op not in run("operation", "list", "--data", tun, "--as-user", "omar", check=True).stdout
    assert_cli_error(run("operation", "show", "--data", tun, "--as-user", "omar", op), f"no operation {op}")
    assert_cli_error(run("operation", "journal", "--data", tun, "--as-user", "omar", op), f"no operation {op}")


@pytest.mark.parametrize(("args", "fragments"), [
    (["status", "{op}", "PAU"], ["from NST to PAU", "allowed from NST: CANCLD, IPR"]),
    (["status", "{op}", "DONE"], ["status", "unknown status"]),
    (["status", "op-nowhere", "IPR"], ["no operation op-nowhere"]),
    (["journal", "{op}", ""], ["text", "a note needs a text"]),
])
def test_errors_are_one_line_and_change_nothing(tun: Path, tmp_path: Path, args: list[str],
                                                fragments: list[str]) -> None:
    op = create(tun, tmp_path)
    before = log_size(tun)
    result = run("operation", args[0], "--data", tun, "--as-user", "amira", *[a.format(op=op) for a in args[1:]])
    assert_cli_error(result, *fragments)
    assert log_size(tun) == before


def test_the_command_line_acts_as_a_user_under_the_same_rules(tun: Path, tmp_path: Path) -> None:
    op = create(tun, tmp_path)
    before = log_size(tun)
    assert_cli_error(run("operation", "status", "--data", tun, "--as-user", "karim", op, "IPR"), "liaison")
    assert_cli_error(run("operation", "journal", "--data", tun, "--as-user", "sami", op, "x"), "journal line")
    assert_cli_error(run("operation", "status", "--data", tun, "--as-user", "nobody", op, "IPR"), "no user nobody")
    result = run("operation", "status", "--data", tun, op, "IPR")
    assert result.returncode != 0 and "--as-user" in result.stderr
    assert log_size(tun) == before


@pytest.mark.parametrize(("content", "fragments"), [
    ("{not json", ["malformed json"]),
    (json.dumps({**operation_body(), "colour": "red"}), ["colour"]),
    (json.dumps(operation_body(kind="raid")), ["kind"]),
    (json.dumps(operation_body(area={"type": "Point", "coordinates": [8.5, 35.1]})), ["area", "polygon"]),
    (json.dumps(operation_body(participants=["MAR"])), ["participants", "MAR"]),
])
def test_create_refuses_a_bad_file_in_one_line(tun: Path, tmp_path: Path, content: str, fragments: list[str]) -> None:
    source = tmp_path / "op.json"
    source.write_text(content)
    before = log_size(tun)
    assert_cli_error(run("operation", "create", "--data", tun, "--as-user", "amira", "--file", source), *fragments)
    assert log_size(tun) == before


def test_create_reads_stdin_and_a_missing_file_is_one_line(tun: Path, tmp_path: Path) -> None:
    result = run("operation", "create", "--data", tun, "--as-user", "amira", "--file", "-",
                 stdin=json.dumps(operation_body(participants=[], sectors=[], command={})), check=True)
    assert "released to TUN" in result.stdout
    result = run("operation", "create", "--data", tun, "--as-user", "amira", "--file", tmp_path / "nowhere.json")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_export_writes_emsi_of_what_the_user_may_see(tun: Path, tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    op = create(tun, tmp_path, exercise=True)
    result = run("operation", "export", "--data", tun, "--as-user", "karim", op, check=True)
    doc = json.loads(result.stdout)
    assert list(Draft202012Validator(json.loads(SCHEMA.read_text())).iter_errors(doc)) == []
    assert doc["CONTEXT"]["MODE"] == "EXERCS" and doc["CONTEXT"]["ORIGIN"]["USER_ID"] == "karim"
    assert doc["EVENT"]["ID"] == op and "mode EXERCS" in result.stderr
    written = tmp_path / "op.emsi.json"
    run("operation", "export", "--data", tun, "--as-user", "amira", op, "-o", written, check=True)
    assert json.loads(written.read_text())["EVENT"]["ID"] == op
    # a country that does not take part: the same one line as for an operation that does not exist
    before = log_size(tun)
    assert_cli_error(run("operation", "export", "--data", tun, "--as-user", "omar", op), f"no operation {op}")
    assert_cli_error(run("operation", "export", "--data", tun, "--as-user", "omar", "op-nowhere"),
                     "no operation op-nowhere")
    assert log_size(tun) == before
