"""`fossatum device add / list / revoke`."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import pkcs12

from fossatum.cli import cli
from fossatum.node import Node


def _closed(node: Node) -> Path:
    """The node's data folder, the node closed (the CLI opens it itself)."""
    node.close()
    return Path(node.store.path).parent


def test_device_add_list_revoke(node: Node, users) -> None:
    data = _closed(node)
    runner = CliRunner()
    out = runner.invoke(cli, ["device", "add", "--data", str(data), "--username", "sami", "--callsign", "GN-7",
                              "--uid", "ANDROID-SAMI", "--host", "ncc.example.tn"])
    assert out.exit_code == 0, out.output
    assert "unit dev-ANDROID-SAMI" in out.output
    password = re.search(r"bundle password:\s+(\S+)", out.output).group(1)
    link = re.search(r"enrolment link:\s+(\S+)", out.output).group(1)
    token = re.search(r"enrolment token:\s+(\S+)", out.output).group(1)
    assert token != password  # the link carries the one-time enrolment token, not the bundle's password
    assert link == f"tak://com.atakmap.app/enroll?host=ncc.example.tn&username=sami&token={token}"
    register = (data / "tak" / "devices.json").read_text()
    assert token not in register and password not in register
    bundle = data / "tak" / "devices" / "GN-7" / "GN-7.p12"
    key, cert, cas = pkcs12.load_key_and_certificates(bundle.read_bytes(), password.encode())
    assert key is not None and cert is not None and len(cas) == 1
    listed = runner.invoke(cli, ["device", "list", "--data", str(data)])
    assert listed.exit_code == 0 and "GN-7" in listed.output and "valid until" in listed.output
    assert "enrolment token until" in listed.output
    assert password not in listed.output and token not in listed.output
    revoked = runner.invoke(cli, ["device", "revoke", "--data", str(data), "GN-7"])
    assert revoked.exit_code == 0 and "revoked device GN-7" in revoked.output
    assert "revoked 20" in runner.invoke(cli, ["device", "list", "--data", str(data)]).output
    unknown = runner.invoke(cli, ["device", "add", "--data", str(data), "--username", "nobody"])
    assert unknown.exit_code != 0


def test_device_add_enrolment_port_and_token_lifetime(node: Node, users) -> None:
    data, runner = _closed(node), CliRunner()
    out = runner.invoke(cli, ["device", "add", "--data", str(data), "--username", "sami", "--host", "ncc.example.tn",
                              "--enrol-port", "9446", "--enrol-hours", "2"])
    assert out.exit_code == 0, out.output
    assert "enroll?host=ncc.example.tn%3A9446&username=sami&token=" in out.output
    assert "https://HOST:9446" in out.output
    for bad in ("0", "-1", "721", "soon"):
        refused = runner.invoke(cli, ["device", "add", "--data", str(data), "--username", "sami",
                                      "--enrol-hours", bad])
        assert refused.exit_code != 0 and "--enrol-hours" in refused.output, bad
    assert len(re.findall(r"^\S+\s+[0-9a-f]{30,}", runner.invoke(
        cli, ["device", "list", "--data", str(data)]).output, re.M)) == 1  # nothing issued by the refusals
