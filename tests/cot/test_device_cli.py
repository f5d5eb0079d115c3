"""`fossatum device add / list / revoke`."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import pkcs12

from fossatum.cli import cli
from fossatum.node import Node


def test_device_add_list_revoke(node: Node, users) -> None:
    data = Path(node.store.path).parent
    node.close()
    runner = CliRunner()
    out = runner.invoke(cli, ["device", "add", "--data", str(data), "--username", "sami", "--callsign", "GN-7",
                              "--uid", "ANDROID-SAMI", "--host", "ncc.example.tn"])
    assert out.exit_code == 0, out.output
    assert "unit dev-ANDROID-SAMI" in out.output
    password = re.search(r"bundle password:\s+(\S+)", out.output).group(1)
    link = re.search(r"enrolment link:\s+(\S+)", out.output).group(1)
    assert link == f"tak://com.atakmap.app/enroll?host=ncc.example.tn&username=sami&token={password}"
    bundle = data / "tak" / "devices" / "GN-7" / "GN-7.p12"
    key, cert, cas = pkcs12.load_key_and_certificates(bundle.read_bytes(), password.encode())
    assert key is not None and cert is not None and len(cas) == 1
    listed = runner.invoke(cli, ["device", "list", "--data", str(data)])
    assert listed.exit_code == 0 and "GN-7" in listed.output and "valid until" in listed.output
    assert password not in listed.output
    revoked = runner.invoke(cli, ["device", "revoke", "--data", str(data), "GN-7"])
    assert revoked.exit_code == 0 and "revoked device GN-7" in revoked.output
    assert "revoked 20" in runner.invoke(cli, ["device", "list", "--data", str(data)]).output
    unknown = runner.invoke(cli, ["device", "add", "--data", str(data), "--username", "nobody"])
    assert unknown.exit_code != 0
