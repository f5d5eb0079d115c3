"""TAK certificate enrolment over HTTPS: a one-time token and a CSR give a device certificate."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from fossatum.cot.pki import Authority, token_hash
from fossatum.cot.server import CotServer
from fossatum.errors import FossatumError
from fossatum.node import Node

from .harness import Device, client_tls_key, connect_tls, event, eventually, has, settings, start_urls
from .test_gateway import run
from .test_tls import _refused

SIGN = "/Marti/api/tls/signClient/v2"


def _authority(node: Node) -> Authority:
    return Authority(Path(node.store.path).parent, node_name=node.name)


def _ca(node: Node) -> Path:
    return Path(node.store.path).parent / "tak" / "ca.pem"


def _issue(node: Node, users, username: str, uid: str = "", callsign: str = "", **kw):
    unit = node.register_device(actor=users[username], uid=uid, callsign=callsign) if uid else None
    return _authority(node).add_device(username=username, callsign=callsign, uid=uid, unit_id=unit, **kw)


def _csr(key, *, pem: bool = False, cn: str = "admin") -> bytes:
    """A CSR as ATAK sends it (bare base64 DER), with a subject the node must ignore."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                                        "Someone Else")])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm)
    if pem:
        return csr.public_bytes(serialization.Encoding.PEM)
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER))


def _https(node: Node, port: int) -> httpx.AsyncClient:
    """A client that verifies the enrolment server with the node's CA (and its name, 127.0.0.1)."""
    return httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=ssl.create_default_context(
        cafile=str(_ca(node))), timeout=20)


def _cert(b64: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(b64))


def _set_enrolment(node: Node, serial: str, **changes: str) -> None:
    authority = _authority(node)
    devices = authority._load()
    devices[serial]["enrolment"].update(changes)
    authority._save(devices)


def test_a_device_enrols_by_csr_and_its_certificate_is_its_identity_on_tls(node: Node, users) -> None:
    issued = _issue(node, users, "sami", callsign="GN-ENROL")
    token = issued.token
    key = ec.generate_private_key(ec.SECP384R1())
    assert issued.link == f"tak://com.atakmap.app/enroll?host=127.0.0.1&username=sami&token={token}"
    assert token != issued.password
    register = (Path(node.store.path).parent / "tak" / "devices.json").read_text()
    assert token not in register and token_hash(token) in register

    async def scenario() -> None:
        server, (https_port, tls_port, tcp_port) = await start_urls(
            node, ["https://127.0.0.1:0", "tls://127.0.0.1:0", "tcp://127.0.0.1:0"])
        try:
            assert server.listening[0] == f"https://127.0.0.1:{https_port}"
            async with _https(node, https_port) as http:
                config = await http.get("/Marti/api/tls/config", auth=("sami", token))
                assert config.status_code == 200 and config.headers["content-type"].startswith("application/xml")
                root = ElementTree.fromstring(config.content)
                assert root.tag == "{com.bbn.marti.config}certificateConfig" and root.get("validityDays") == "730"
                entries = {e.get("name"): e.get("value") for e in root.iter("{http://bbn.com/marti/xml/config}nameEntry")}
                assert entries == {"O": "Fossatum", "OU": "Tunisia NCC"}
                signed = await http.post(f"{SIGN}?clientUid=ANDROID-ENROL-1&version=4.10.0", content=_csr(key),
                                         auth=("sami", token), headers={"Content-Type": "text/plain",
                                                                        "Accept": "application/json"})
                assert signed.status_code == 200, signed.text
                body = signed.json()
                again = await http.post(f"{SIGN}?clientUid=ANDROID-ENROL-1", content=_csr(key), auth=("sami", token))
                assert again.status_code == 401 and "already used" in again.json()["detail"]
                assert again.headers["www-authenticate"].startswith("Basic")
                profile = await http.get("/Marti/api/tls/profile/enrollment?clientUid=ANDROID-ENROL-1",
                                         auth=("sami", token))
                assert profile.status_code == 204
            cert, ca = _cert(body["signedCert"]), _cert(body["ca0"])
            assert ca == x509.load_pem_x509_certificate(_ca(node).read_bytes())
            assert cert.issuer == ca.subject and cert.public_key() == key.public_key()
            assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "GN-ENROL-enrolled"
            assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Fossatum"
            record = _authority(node).lookup(cert.serial_number)
            assert record is not None and (record["username"], record["uid"], record["unit_id"]) == (
                "sami", "ANDROID-ENROL-1", "dev-ANDROID-ENROL-1")

            # the enrolled certificate is the device's identity on the TLS CoT listener
            ctx = client_tls_key(key, cert, _ca(node))
            sami = await connect_tls(tls_port, ctx)
            await sami.wait_for(has('type="t-x-takp-v"'))
            youssef = await Device.connect(tcp_port, "youssef", "ANDROID-YOU", callsign="ARMY-2")
            await youssef.wait_for(has('type="t-x-takp-v"'))
            await sami.send(event("ANDROID-ENROL-1", "a-f-G-U-C", 35.41, 8.71, callsign="GN-ENROL"))
            await youssef.wait_for(has("fossatum.unit.dev-ANDROID-ENROL-1", 'lat="35.41'))
            devices = {d["user"]: d for d in server.status()["devices"]}
            assert devices["sami"]["certificate"] == record["serial"]
            assert devices["sami"]["unit"] == "dev-ANDROID-ENROL-1" and devices["sami"]["transport"] == "tls"

            # revoking the enrolled certificate disconnects the device and refuses it from then on
            await asyncio.to_thread(_authority(node).revoke, "GN-ENROL-enrolled")
            await sami.wait_closed(timeout=6)
            await _refused(tls_port, ctx)
            await eventually(lambda: server.counters["cert_revoked"] == 2)
            assert server.counters["enrolled"] == 1
            await youssef.close()
        finally:
            await server.stop()

    run(scenario())
    unit = json.loads(node.store.unit_doc(users["amira"], "dev-ANDROID-ENROL-1"))
    assert unit["position"]["lat"] == 35.41 and unit["owner_agency"] == "TN-GN"
    # the unit of a Tunisian device is national: partners' liaison officers do not see it
    assert node.store.unit_doc(users["karim"], "dev-ANDROID-ENROL-1") is None
    assert node.store.unit_doc(users["omar"], "dev-ANDROID-ENROL-1") is None
    names = {d["name"]: d for d in _authority(node).devices()}
    assert names["GN-ENROL"]["enrolment"]["serial"] == names["GN-ENROL-enrolled"]["serial"]
    assert names["GN-ENROL-enrolled"]["revoked_at"] and not names["GN-ENROL"]["revoked_at"]


def test_goatak_style_csr_rsa_key_and_an_xml_answer(node: Node, users) -> None:
    issued = _issue(node, users, "sami", uid="ANDROID-XML", callsign="GN-XML")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    async def scenario() -> None:
        server, (port,) = await start_urls(node, ["https://127.0.0.1:0"])
        try:
            async with _https(node, port) as http:
                # goatak's shape: PEM without its armour lines (base64 in 64-column lines), `clientUID`
                body = b"\n".join(_csr(key, pem=True).strip().splitlines()[1:-1])
                answer = await http.post(f"{SIGN}?clientUID=ANDROID-XML", content=body, auth=("sami", issued.token),
                                         headers={"Accept": "application/xml"})
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
            root = ElementTree.fromstring(answer.content)
            assert root.tag == "enrollment"
            assert _cert(root.findtext("signedCert")).public_key() == key.public_key()
            assert _cert(root.findtext("ca")) == x509.load_pem_x509_certificate(_ca(node).read_bytes())
        finally:
            await server.stop()

    run(scenario())
    enrolled = [d for d in _authority(node).devices() if d["name"] == "GN-XML-enrolled"]
    assert [(d["uid"], d["unit_id"]) for d in enrolled] == [("ANDROID-XML", "dev-ANDROID-XML")]


def test_bad_requests_are_refused_precisely_and_issue_nothing(node: Node, users) -> None:
    issued = _issue(node, users, "sami", uid="ANDROID-BAD", callsign="GN-BAD")
    token = issued.token
    good = ec.generate_private_key(ec.SECP256R1())
    valid_der = bytearray(base64.b64decode(_csr(good)))
    valid_der[-1] ^= 0x01  # the last byte of the signature: parses, does not verify
    forged = base64.b64encode(bytes(valid_der))
    node.add_user(actor=None, username="dz.field", agency="DZ-GN", roles=["field"], password="correct-horse-1")
    node.register_device(actor=node.store.user("dz.field"), uid="ANDROID-DZ", callsign="DZ-1")
    other = _issue(node, users, "youssef", callsign="ARMY-ENROL")
    before = len(_authority(node).devices())

    async def scenario() -> None:
        server, (port,) = await start_urls(node, ["https://127.0.0.1:0"])
        try:
            async with _https(node, port) as http:
                async def sign(content: bytes = _csr(good), auth=("sami", token), query: str = "") -> httpx.Response:
                    return await http.post(SIGN + query, content=content, auth=auth)

                for response in (await http.get("/Marti/api/tls/config"), await sign(auth=None)):
                    assert response.status_code == 401
                    assert response.headers["www-authenticate"].startswith("Basic realm=")
                    assert response.headers["content-type"] == "application/problem+json"
                    assert "Basic credentials required" in response.json()["detail"]
                for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc"):
                    response = await http.post(SIGN, content=_csr(good), headers={"Authorization": header})
                    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
                    assert "Basic credentials" in response.json()["detail"], header
                wrong = await sign(auth=("sami", "not-the-token"))
                assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong username or enrolment token"
                assert wrong.headers["www-authenticate"].startswith("Basic")
                assert (await sign(auth=("youssef", token))).status_code == 401  # another user's name
                cases = {
                    "not base64 at all!": (b"not base64 at all!", "not a PKCS#10"),
                    "base64 of junk": (base64.b64encode(b"junk" * 20), "not a PKCS#10"),
                    "empty": (b"", "empty"),
                    "forged signature": (forged, "signature does not match"),
                    "RSA 1024": (_csr(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
                                 "1024 bits is not accepted"),
                    "P-521": (_csr(ec.generate_private_key(ec.SECP521R1())), "secp521r1 is not accepted"),
                    "Ed25519": (_csr(ed25519.Ed25519PrivateKey.generate()), "Ed25519 key is not accepted"),
                }
                for what, (content, reason) in cases.items():
                    response = await sign(content)
                    assert response.status_code == 400, (what, response.text)
                    assert reason in response.json()["detail"], (what, response.json())
                    assert response.json()["field"] == "csr"
                mismatch = await sign(query="?clientUid=ANDROID-OTHER")
                assert mismatch.status_code == 400 and "for device ANDROID-BAD" in mismatch.json()["detail"]
                too_large = await sign(b"A" * (64 * 1024 + 1))
                assert too_large.status_code == 413
                unknown = await http.get("/Marti/api/tls/signClient/v3", auth=("sami", token))
                assert unknown.status_code == 404 and unknown.json()["status"] == 404
                # a clientUid that is another agency's device: refused before anything is issued
                youssef_dz = await http.post(SIGN + "?clientUid=ANDROID-DZ", content=_csr(good),
                                             auth=("youssef", other.token))
                assert youssef_dz.status_code == 403 and "DZ-GN" in youssef_dz.json()["detail"]
                assert len(_authority(node).devices()) == before  # nothing half-issued
                # after all that, the token still works (here with a PEM CSR), once
                assert (await sign(_csr(good, pem=True))).status_code == 200
                assert (await sign()).status_code == 401
                assert (await http.post(SIGN + "?clientUid=ANDROID-YOU-2", content=_csr(good),
                                        auth=("youssef", other.token))).status_code == 200
        finally:
            await server.stop()

    run(scenario())
    assert len(_authority(node).devices()) == before + 2
    assert node.store.device("ANDROID-DZ")["username"] == "dz.field"


def test_an_expired_or_revoked_token_or_a_disabled_user_is_refused_with_the_reason(node: Node, users) -> None:
    expired = _issue(node, users, "sami", callsign="GN-OLD")
    _set_enrolment(node, expired.record["serial"], expires_at=(dt.datetime.now(dt.UTC)
                                                               - dt.timedelta(minutes=1)).isoformat())
    revoked = _issue(node, users, "sami", callsign="GN-GONE")
    _authority(node).revoke("GN-GONE")
    disabled = _issue(node, users, "leila", callsign="ARMY-AN")
    node.set_user_active(actor=None, username="leila", active=False)
    key = ec.generate_private_key(ec.SECP256R1())

    async def scenario() -> None:
        server, (port,) = await start_urls(node, ["https://127.0.0.1:0"])
        try:
            async with _https(node, port) as http:
                for who, token, reason in (("sami", expired.token, "expired at"), ("sami", revoked.token, "revoked"),
                                           ("leila", disabled.token, "unknown or disabled")):
                    for response in (await http.get("/Marti/api/tls/config", auth=(who, token)),
                                     await http.post(SIGN, content=_csr(key), auth=(who, token))):
                        assert response.status_code == 401, response.text
                        assert reason in response.json()["detail"]
        finally:
            await server.stop()

    run(scenario())
    assert {d["name"] for d in _authority(node).devices()} == {"GN-OLD", "GN-GONE", "ARMY-AN"}


def test_repeated_failures_are_throttled_like_logins(node: Node, users) -> None:
    issued = _issue(node, users, "sami", callsign="GN-THROTTLE")

    async def scenario() -> None:
        server, (port,) = await start_urls(node, ["https://127.0.0.1:0"])
        try:
            async with _https(node, port) as http:
                statuses = [(await http.get("/Marti/api/tls/config", auth=("sami", "guess"))).status_code
                            for _ in range(3)]
                assert statuses == [401, 401, 429]
                blocked = await http.get("/Marti/api/tls/config", auth=("sami", issued.token))
                assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        finally:
            await server.stop()

    node.throttle.free = 2  # the node's login throttle (FOSSATUM_LOGIN_FREE_FAILURES), shared with API logins
    run(scenario())


def test_an_enrolment_port_in_use_is_one_clear_error(node: Node) -> None:
    async def scenario() -> None:
        first, (port,) = await start_urls(node, ["https://127.0.0.1:0"])
        second = CotServer(node, settings=settings())
        try:
            with pytest.raises(FossatumError, match=f"cannot listen on 127.0.0.1:{port}"):
                await second.start([f"https://127.0.0.1:{port}"])  # stops what it started
        finally:
            await first.stop()

    run(scenario())


def test_two_requests_with_one_token_issue_one_certificate(node: Node, users) -> None:
    issued = _issue(node, users, "sami", callsign="GN-RACE")
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]

    async def scenario() -> None:
        server, (port,) = await start_urls(node, ["https://127.0.0.1:0"])
        try:
            async with _https(node, port) as http:
                answers = await asyncio.gather(*(http.post(SIGN, content=_csr(k), auth=("sami", issued.token))
                                                 for k in keys))
            assert sorted(a.status_code for a in answers) == [200, 401]
        finally:
            await server.stop()

    run(scenario())
    assert [d["name"] for d in _authority(node).devices()] == ["GN-RACE", "GN-RACE-enrolled"]


def test_revoking_a_device_revokes_the_certificate_enrolled_with_its_token(node: Node, users) -> None:
    authority = _authority(node)
    issued = _issue(node, users, "sami", callsign="GN-LOST")
    key = ec.generate_private_key(ec.SECP256R1())
    enrolled, _ = authority.enrol(username="sami", token=issued.token, public_key=key.public_key(), uid=None,
                                  unit_id=None)
    other = _issue(node, users, "sami", callsign="GN-KEPT")
    revoked = authority.revoke("GN-LOST")
    assert [r["name"] for r in revoked] == ["GN-LOST", "GN-LOST-enrolled"]
    state = {d["name"]: d["revoked_at"] for d in authority.devices()}
    assert state["GN-LOST"] and state["GN-LOST-enrolled"] and state["GN-KEPT"] is None
    assert other.record["serial"] != enrolled["serial"]


def test_fossatum_serve_enrols_over_https_and_admits_the_certificate_on_tls(node: Node, tmp_path: Path) -> None:
    """The operator's path: `fossatum serve --cot https://… --cot tls://…`, `fossatum device add`."""
    data = Path(node.store.path).parent
    node.close()
    ports = []
    for _ in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    api, enrol, tls = ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOSSATUM_")}
    fossatum = [sys.executable, "-m", "fossatum.cli"]
    added = subprocess.run([*fossatum, "device", "add", "--data", str(data), "--username", "sami", "--callsign",
                            "GN-CLI", "--enrol-port", str(enrol)], capture_output=True, text=True, env=env, timeout=60)
    assert added.returncode == 0, added.stderr
    token = next(line.split()[2] for line in added.stdout.splitlines() if "enrolment token:" in line)
    assert f"host=127.0.0.1%3A{enrol}&username=sami&token={token}" in added.stdout
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*fossatum, "serve", "--data", str(data), "--port", str(api), "--cot",
                                 f"https://127.0.0.1:{enrol}", "--cot", f"tls://127.0.0.1:{tls}"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while b"TAK gateway at" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert f"https://127.0.0.1:{enrol}, tls://127.0.0.1:{tls}" in log.read_text()
        key = ec.generate_private_key(ec.SECP256R1())
        ca = _ca(node)
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=20) as http:
            signed = http.post(f"https://127.0.0.1:{enrol}{SIGN}?clientUid=ANDROID-CLI", content=_csr(key),
                               auth=("sami", token))
        assert signed.status_code == 200, signed.text
        ctx = client_tls_key(key, _cert(signed.json()["signedCert"]), ca)
        with socket.create_connection(("127.0.0.1", tls), timeout=10) as raw, ctx.wrap_socket(raw) as device:
            received = b""
            while b"t-x-takp-v" not in received:
                chunk = device.recv(65536)
                assert chunk, f"closed by the server: {log.read_text()}"
                received += chunk
        listed = subprocess.run([*fossatum, "device", "list", "--data", str(data)], capture_output=True, text=True,
                                env=env, timeout=60)
        assert "GN-CLI-enrolled" in listed.stdout and "ANDROID-CLI" in listed.stdout
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()
