"""TLS with client certificates of the node's CA, the device register, and anonymous ports."""

from __future__ import annotations

import asyncio
import json
import ssl
import stat
from pathlib import Path

import pytest

from fossatum.cot.pki import Authority
from fossatum.cot.server import CotServer, parse_listen
from fossatum.errors import InvalidInput
from fossatum.node import Node
from fossatum.schemas import UnitIn
from fossatum.store.query import ReportQuery

from .harness import Device, client_tls, connect_tls, event, eventually, has, settings, start_urls
from .test_gateway import run


def _authority(node: Node) -> Authority:
    return Authority(Path(node.store.path).parent, node_name=node.name)


def _issue(node: Node, users, username: str, uid: str = "", callsign: str = ""):
    unit = node.register_device(actor=users[username], uid=uid, callsign=callsign) if uid else None
    return _authority(node).add_device(username=username, callsign=callsign, uid=uid, unit_id=unit)


async def _refused(port: int, ctx: ssl.SSLContext) -> None:
    """The server ends the connection before sending anything (TLS 1.3: after the client's handshake)."""
    try:
        device = await connect_tls(port, ctx)
    except (ssl.SSLError, ConnectionError, OSError):
        return
    try:
        data = await asyncio.wait_for(device.reader.read(65536), 5)
    except (ssl.SSLError, ConnectionError, OSError):
        data = b""
    assert data == b"", f"expected a refusal, got {data[:80]!r}"
    device.writer.transport.abort()


def test_the_ca_is_created_on_first_use_with_private_keys_mode_600(node: Node, users) -> None:
    issued = _issue(node, users, "sami", callsign="GN-7")
    tak = Path(node.store.path).parent / "tak"
    for secret in ("ca.key", "server.key", "devices.json"):
        assert stat.S_IMODE((tak / secret).stat().st_mode) == 0o600, secret
    for secret in (issued.bundle, issued.truststore, issued.package):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert issued.link.startswith("tak://com.atakmap.app/enroll?host=127.0.0.1&username=sami&token=")
    assert issued.password not in (tak / "devices.json").read_text()
    ca_before = (tak / "ca.pem").read_bytes()
    _issue(node, users, "sami", callsign="GN-7")  # same callsign: a second device, same CA
    assert (tak / "ca.pem").read_bytes() == ca_before
    assert sorted(d["name"] for d in _authority(node).devices()) == ["GN-7", "GN-7-2"]


def test_a_device_certificate_is_its_identity_and_plain_tcp_is_unchanged(node: Node, users) -> None:
    issued = _issue(node, users, "sami", uid="ANDROID-TLS-1", callsign="GN-TLS")

    async def scenario() -> None:
        server, (tls_port, tcp_port) = await start_urls(node, ["tls://127.0.0.1:0", "tcp://127.0.0.1:0"])
        try:
            ca = Path(node.store.path).parent / "tak" / "ca.pem"
            sami = await connect_tls(tls_port, client_tls(issued.bundle, issued.password, ca))
            await sami.wait_for(has('type="t-x-takp-v"'))  # admitted without any auth message
            youssef = await Device.connect(tcp_port, "youssef", "ANDROID-YOU", callsign="ARMY-2")
            await youssef.wait_for(has('type="t-x-takp-v"'))
            await sami.send(event("ANDROID-TLS-1", "a-f-G-U-C", 35.31, 8.61, callsign="GN-TLS"))
            await sami.send(event("tls-marker-1", "a-h-G", 35.32, 8.62, remarks="smugglers, two trucks"))
            await youssef.wait_for(has('callsign="GN-TLS"', 'type="a-f-G-U-U-L"'))
            await eventually(lambda: server.ingest.counts["position"] == 1 and server.ingest.counts["marker"] == 1)
            devices = {d["user"]: d for d in server.status()["devices"]}
            assert devices["sami"]["transport"] == "tls" and devices["sami"]["certificate"] == issued.record["serial"]
            assert devices["sami"]["unit"] == "dev-ANDROID-TLS-1"
            assert devices["youssef"]["transport"] == "tcp"
            # plain TCP still requires the auth message first
            anonymous = await Device.connect(tcp_port)
            await anonymous.send(event("ANDROID-NOAUTH", "a-f-G-U-C"))
            await anonymous.wait_closed()
            assert server.counters["auth_missing"] == 1
            for d in (sami, youssef, anonymous):
                await d.close()
        finally:
            await server.stop()

    run(scenario())
    unit = json.loads(node.store.unit_doc(users["amira"], "dev-ANDROID-TLS-1"))
    assert unit["position"]["lat"] == 35.31 and unit["owner_agency"] == "TN-GN"
    docs = [json.loads(d) for d in node.reports(viewer=users["amira"], query=ReportQuery()).items]
    assert [(d["author"], d["state"]) for d in docs] == [("sami", "submitted")]


def test_no_certificate_another_ca_or_a_revoked_certificate_is_refused(node: Node, users, tmp_path: Path) -> None:
    good = _issue(node, users, "sami", uid="ANDROID-GOOD", callsign="GOOD")
    revoked = _issue(node, users, "sami", uid="ANDROID-REVOKED", callsign="REVOKED")
    _authority(node).revoke("REVOKED")
    other = Authority(tmp_path / "rogue", node_name="Rogue").add_device(username="sami", callsign="ROGUE")
    ca = Path(node.store.path).parent / "tak" / "ca.pem"

    async def scenario() -> None:
        server, (port,) = await start_urls(node, ["tls://127.0.0.1:0"])
        try:
            no_cert = ssl.create_default_context(cafile=str(ca))
            no_cert.check_hostname = False
            await _refused(port, no_cert)
            await _refused(port, client_tls(other.bundle, other.password, ca))
            await _refused(port, client_tls(revoked.bundle, revoked.password, ca))
            await eventually(lambda: server.counters["cert_revoked"] == 1)
            assert server.counters["tls_no_certificate"] == 1 and server.counters["tls_bad_certificate"] == 1
            assert server.status()["devices"] == []
            # revoking a connected device disconnects it (the register is re-read every 2 s)
            device = await connect_tls(port, client_tls(good.bundle, good.password, ca))
            await device.wait_for(has('type="t-x-takp-v"'))
            await asyncio.to_thread(_authority(node).revoke, good.record["serial"])
            await device.wait_closed(timeout=6)
            await eventually(lambda: server.counters["cert_revoked"] == 2)
            await _refused(port, client_tls(good.bundle, good.password, ca))
            assert server.counters["cert_revoked"] == 3
        finally:
            await server.stop()

    run(scenario())
    assert node.store.unit_doc(users["amira"], "dev-ANDROID-GOOD") is not None  # registered, never moved


def test_an_anonymous_port_maps_every_device_to_one_unit(node: Node, users) -> None:
    node.add_unit(actor=users["admin"], spec=UnitIn(id="op-ras-jedir", name="OP Ras Jedir", kind="observation_post",
                                                    agency="TN-GN", callsign="OP-RJ"))

    async def scenario() -> None:
        server, (anon_port, tcp_port) = await start_urls(
            node, ["tcp://127.0.0.1:0?anonymous_unit=op-ras-jedir", "tcp://127.0.0.1:0"])
        try:
            assert server.listening[0].endswith("?anonymous_unit=op-ras-jedir")
            sensor = await Device.connect(anon_port)  # no auth message
            await sensor.wait_for(has('type="t-x-takp-v"'))
            amira = await Device.connect(tcp_port, "amira", "ANDROID-AMIRA", callsign="OPS")
            await amira.wait_for(has('type="t-x-takp-v"'))
            await sensor.send(event("SENSOR-1", "a-f-G-U-C", 33.17, 11.55, callsign="cam-1"))
            await amira.wait_for(has("fossatum.unit.op-ras-jedir", 'lat="33.17'))
            devices = {d["user"]: d for d in server.status()["devices"]}
            assert devices["anonymous.op-ras-jedir"]["transport"] == "anonymous"
            assert devices["anonymous.op-ras-jedir"]["unit"] == "op-ras-jedir"
            await sensor.settle(0.3)
            assert "fossatum.unit.op-ras-jedir" not in sensor.uids()  # its own unit is not echoed
            for d in (sensor, amira):
                await d.close()
        finally:
            await server.stop()

    run(scenario())
    unit = json.loads(node.store.unit_doc(users["amira"], "op-ras-jedir"))
    assert unit["position"]["lat"] == 33.17
    assert node.store.device("SENSOR-1") is None  # no device registration, no new unit


def test_listener_urls() -> None:
    assert parse_listen("tls://127.0.0.1:8089").scheme == "tls"
    assert parse_listen("tcp://0.0.0.0:8087?anonymous_unit=op-1").anonymous_unit == "op-1"
    assert parse_listen("https://0.0.0.0:8446").scheme == "https"
    for bad in ("udp://127.0.0.1:8087", "tcp://127.0.0.1", "tcp://h:8087?foo=1", "tls://h:8089?anonymous_unit=x",
                "tcp://h:8087?anonymous_unit=", "https://h:8446?anonymous_unit=x", "http://h:8446"):
        with pytest.raises(InvalidInput):
            parse_listen(bad)


def test_an_anonymous_port_needs_an_existing_unit(node: Node) -> None:
    async def scenario() -> None:
        server = CotServer(node, settings=settings())
        with pytest.raises(InvalidInput, match="no unit"):
            await server.start(["tcp://127.0.0.1:0?anonymous_unit=nope"])
        await server.stop()

    run(scenario())
