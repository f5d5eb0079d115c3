"""Finding 6: the link between centres is TLS, pinned to the node keys; signed federation
requests are bound to their recipient and single use.

Real `fossatum serve --tls auto` processes, partnered through the CLI. Between TUN and DZA
sits a TCP relay the test controls — the network attacker: it can send TUN's connections
to another server (a genuine node with another key) instead of DZA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fossatum.federation import requests as signed
from fossatum.federation import tls
from fossatum.federation.inbound import Partner
from fossatum.federation.transport import STREAM_PATH, HttpTransport, LinkDown
from fossatum.log.signing import NodeKey

from .cluster import Cluster
from .procs import (
    Server,
    build_node,
    cli,
    cli_ok,
    file_and_validate,
    free_port,
    partner_add,
    public_key,
    report_ids,
    sync_status,
    wait_for,
)

pytestmark = pytest.mark.slow
COUNTRIES = ("TUN", "DZA", "LBY")
TARGET = f"{STREAM_PATH}?after=0&limit=10"
HEADER_SECONDS = 3  # the guard's deadline for the TLS handshake and request head (api/guard.py)


class Relay:
    """A TCP relay on loopback whose upstream the test switches (bytes pass untouched)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            self._open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def switch(self, upstream: int) -> None:
        """New connections go to `upstream`; the open ones are cut (the caller reconnects)."""
        self.upstream = upstream
        for s in list(self._open):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._open.clear()

    def close(self) -> None:
        self._listener.close()


def node_id(server: Server) -> str:
    return httpx.get(f"{server.base}/api/v1/federation/hello", timeout=5, verify=False).json()["node_id"]


def peer_certificate(port: int) -> bytes:
    context = tls.pinned_client_context()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as conn:
        der = conn.getpeercert(binary_form=True)
    assert der
    return der


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Server], Relay]]:
    root = tmp_path_factory.mktemp("tls")
    servers = {c: Server(root / c, free_port(), root / f"{c}.log",
                         {"sync_interval": 1, "tls": "auto", "http_header_seconds": HEADER_SECONDS})
               for c in COUNTRIES}
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda c: build_node(servers[c].data, c), COUNTRIES))
    keys = {c: public_key(servers[c].data) for c in COUNTRIES}
    relay = Relay(servers["DZA"].port)
    for c in COUNTRIES:
        for other, peer in servers.items():
            if other != c:
                url = f"https://127.0.0.1:{relay.port}" if (c, other) == ("TUN", "DZA") else peer.base
                partner_add(servers[c].data, other, url, keys[other])
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(Server.start, servers.values()))
        yield servers, relay
    finally:
        for s in servers.values():
            s.kill()
        relay.close()


# --- HTTPS, pinned ---------------------------------------------------------------------------
def test_serve_tls_auto_serves_https_with_a_certificate_bound_to_the_node_key(network) -> None:
    servers, _ = network
    tun, dza = servers["TUN"], servers["DZA"]
    der = peer_certificate(tun.port)
    assert tls.binding_problem(der, public_key(tun.data), node_id(tun)) is None
    assert "not bound" in tls.binding_problem(der, public_key(dza.data), node_id(tun))   # another node's key
    assert "not bound" in tls.binding_problem(der, public_key(tun.data), node_id(dza))   # another node's id
    pem = tun.data / tls.AUTO_FILE
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    with pytest.raises(httpx.HTTPError):  # no plain HTTP on the node's port
        httpx.get(f"http://127.0.0.1:{tun.port}/api/v1/health", timeout=5)
    with pytest.raises(httpx.ConnectError):  # nor a certificate any CA vouches for
        httpx.get(f"{tun.base}/api/v1/health", timeout=5)


def test_a_report_crosses_over_pinned_tls_and_partners_are_listed_as_pinned(network) -> None:
    servers, _ = network
    tun, dza, lby = servers["TUN"], servers["DZA"], servers["LBY"]
    with tun.client("tun.officer") as t:
        rid = file_and_validate(t, 1, scope="partners", partners=["DZA", "LBY"])
    wait_for(lambda: rid in report_ids(dza.data) and rid in report_ids(lby.data), 15.0, what="the report at DZA, LBY")
    listed = cli_ok("partner", "list", "--data", str(tun.data))
    assert listed.count("TLS, pinned to its key") == 2 and "INSECURE" not in listed
    status = sync_status(tun.data)
    assert set(status) == {"DZA", "LBY"} and all("INSECURE" not in r["line"] for r in status.values())


def test_a_network_attacker_with_another_nodes_certificate_is_refused(network) -> None:
    """The relay sends TUN's connections for DZA to LBY's server: a real node, a valid
    certificate, but bound to LBY's key. TUN refuses it, says so in `sync status`, and
    takes nothing from it; once the path is DZA's again, replication resumes."""
    servers, relay = network
    tun, dza, lby = servers["TUN"], servers["DZA"], servers["LBY"]
    relay.switch(lby.port)
    try:
        with dza.client("dza.officer") as d:
            rid = file_and_validate(d, 2, scope="partners", partners=["TUN"])
        line = wait_for(lambda: (sync_status(tun.data).get("DZA") or {}).get("line", "")
                        if "not bound" in (sync_status(tun.data).get("DZA") or {}).get("line", "") else None,
                        15.0, interval=0.3, what="TUN's error for DZA")
        assert f"not bound to the key registered for {node_id(dza)}" in line
        assert rid not in report_ids(tun.data)
    finally:
        relay.switch(dza.port)
    wait_for(lambda: rid in report_ids(tun.data), 20.0, interval=0.3, what="the report at TUN once the path is clean")


def test_the_pinning_check_refuses_before_a_single_byte_of_the_request_is_sent(tmp_path: Path) -> None:
    """An impostor holding a certificate bound to another key gets no request (which it
    could otherwise replay to the real node) — the check runs inside the handshake."""
    genuine, impostor_key = NodeKey.generate(), NodeKey.generate()
    pem = tmp_path / "impostor.pem"
    pem.write_bytes(tls.make_auto_certificate(impostor_key, "DZA-00000000"))
    context = tls.server_context(pem)
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_once() -> None:
        raw, _ = listener.accept()
        raw.settimeout(5)
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                while chunk := conn.recv(4096):
                    received.append(chunk)
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    transport = HttpTransport(NodeKey.generate(), "TUN-00000000")
    partner = Partner("DZA", "DZA-00000000", f"https://127.0.0.1:{port}", genuine.public)
    try:
        with pytest.raises(LinkDown) as caught:
            transport.fetch(partner, 0, 10)
        assert "not bound to the key registered for DZA-00000000" in str(caught.value)
        thread.join(10)
        assert received == []
    finally:
        transport.close()
        listener.close()


def test_a_tls_handshake_trickled_a_byte_at_a_time_is_cut_at_the_header_deadline(network) -> None:
    """serve --tls auto behind the slowloris guard: the handshake counts against the deadline."""
    import time

    servers, _ = network
    tun = servers["TUN"]
    with socket.create_connection(("127.0.0.1", tun.port), timeout=HEADER_SECONDS + 5) as raw:
        opened = time.monotonic()
        raw.sendall(b"\x16\x03\x01\x02\x00")  # a ClientHello record header, then a byte at a time
        raw.settimeout(0.5)
        closed = None
        while time.monotonic() - opened < HEADER_SECONDS + 5:
            try:
                if raw.recv(4096) == b"":
                    closed = time.monotonic() - opened
                    break
            except TimeoutError:
                try:
                    raw.sendall(b"\x01")
                except OSError:
                    closed = time.monotonic() - opened
                    break
            except OSError:
                closed = time.monotonic() - opened
                break
    assert closed is not None and HEADER_SECONDS - 0.5 <= closed <= HEADER_SECONDS + 2.5, closed
    assert httpx.get(f"{tun.base}/api/v1/health", timeout=5, verify=False).status_code == 200


# --- plain http ------------------------------------------------------------------------------
def test_plain_http_partners_are_refused_except_on_loopback_or_insecure_and_then_flagged(tmp_path: Path) -> None:
    data = tmp_path / "TUN"
    build_node(data, "TUN")
    keys = {c: NodeKey.generate().public for c in ("DZA", "LBY", "MAR")}
    refused = cli("partner", "add", "--data", str(data), "--country", "DZA", "--url", "http://dza-ncc.example:8000",
                  "--key", keys["DZA"])
    assert refused.returncode != 0 and "plain http:// is refused" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "DZA" not in cli_ok("partner", "list", "--data", str(data))
    partner_add(data, "LBY", "http://127.0.0.1:9", keys["LBY"])                         # loopback: allowed
    partner_add(data, "DZA", "http://dza-ncc.example:8000", keys["DZA"], "--insecure")  # said out loud
    partner_add(data, "MAR", "https://mar-ncc.example:8000", keys["MAR"])
    wrong = cli("partner", "add", "--data", str(tmp_path / "TUN"), "--country", "ESP", "--url",
                "https://esp.example", "--key", NodeKey.generate().public, "--insecure")
    assert wrong.returncode != 0 and "--insecure is for http://" in wrong.stderr
    listed = {line.split("\t")[0]: line for line in cli_ok("partner", "list", "--data", str(data)).splitlines()}
    assert "INSECURE: plain HTTP" in listed["DZA"]
    assert "plain HTTP on loopback" in listed["LBY"] and "INSECURE" not in listed["LBY"]
    assert "TLS, pinned to its key" in listed["MAR"]
    status = sync_status(data)
    assert "INSECURE" in status["DZA"]["line"]
    assert "INSECURE" not in status["LBY"]["line"] and "INSECURE" not in status["MAR"]["line"]


def test_the_federation_status_api_flags_an_insecure_partner(client_for, node) -> None:
    node.federation.add_partner(country="DZA", url="http://10.1.2.3:8000", key=NodeKey.generate().public,
                                insecure=True)
    node.federation.add_partner(country="LBY", url="https://10.1.2.4:8000", key=NodeKey.generate().public)
    admin = client_for("admin")
    items = {r["country"]: r for r in admin.get("/api/v1/federation/status").json()["items"]}
    assert items["DZA"]["insecure"] is True and items["DZA"]["link"] == "insecure"
    assert items["LBY"]["insecure"] is False and items["LBY"]["link"] == "pinned"


def test_partners_registered_before_links_were_recorded_keep_working_and_plain_http_is_flagged(tmp_path: Path) -> None:
    """A partner.added entry of before this change (no "link"): https stays CA-verified as it
    was (re-register to pin), http off loopback is flagged insecure — also after a rebuild."""
    from fossatum.node import open_node

    data = tmp_path / "TUN"
    build_node(data, "TUN")
    node = open_node(data)
    try:
        for country, url in (("DZA", "https://dza-ncc.example:8000"), ("LBY", "http://lby-ncc.example:8000"),
                             ("MAR", "http://127.0.0.1:8002")):
            key = NodeKey.generate().public
            with node.store.transaction() as tx:
                tx.append(ts="2026-11-01T00:00:00.000000Z", author="node-admin", kind="partner.added",
                          payload={"country": country, "node_id": f"{country}-{key[:4]}", "url": url,
                                   "public_key": key, "active": True},
                          audience={"scope": "agency", "owner_agency": "", "owner_country": "TUN", "local": True})
    finally:
        node.close()
    for _ in range(2):
        listed = {line.split("\t")[0]: line for line in cli_ok("partner", "list", "--data", str(data)).splitlines()}
        assert "TLS, CA-verified" in listed["DZA"]
        assert "INSECURE: plain HTTP" in listed["LBY"]
        assert "plain HTTP on loopback" in listed["MAR"]
        assert "INSECURE" in sync_status(data)["LBY"]["line"]
        cli_ok("rebuild", "--data", str(data))  # the projection decides the same from the log


# --- signed requests: recipient and nonce ---------------------------------------------------------
def test_a_replayed_federation_request_is_refused(network) -> None:
    servers, _ = network
    tun, dza = servers["TUN"], servers["DZA"]
    headers = signed.sign(NodeKey.load(dza.data / "node.key"), node_id(dza), "GET", TARGET, to=node_id(tun))
    first = httpx.get(tun.base + TARGET, headers=headers, timeout=5, verify=False)
    assert first.status_code == 200 and first.json()["from"] == node_id(tun)
    again = httpx.get(tun.base + TARGET, headers=headers, timeout=5, verify=False)
    assert again.status_code == 401 and "replayed" in again.json()["detail"], again.text
    assert "items" not in again.text
    notify = signed.sign(NodeKey.load(dza.data / "node.key"), node_id(dza), "POST", "/api/v1/federation/notify",
                         b'{"last": 1}', to=node_id(tun))
    for expected in (202, 401):
        answer = httpx.post(f"{tun.base}/api/v1/federation/notify", content=b'{"last": 1}', timeout=5, verify=False,
                            headers={**notify, "content-type": "application/json"})
        assert answer.status_code == expected, answer.text


def test_a_request_signed_for_another_node_is_refused(network) -> None:
    """DZA's genuine request to TUN, sent to LBY (which knows DZA's key): refused."""
    servers, _ = network
    tun, dza, lby = servers["TUN"], servers["DZA"], servers["LBY"]
    dza_key = NodeKey.load(dza.data / "node.key")
    for_tun = signed.sign(dza_key, node_id(dza), "GET", TARGET, to=node_id(tun))
    answer = httpx.get(lby.base + TARGET, headers=for_tun, timeout=5, verify=False)
    assert answer.status_code == 401 and f"signed for node {node_id(tun)}" in answer.json()["detail"], answer.text
    assert "items" not in answer.text
    for_lby = signed.sign(dza_key, node_id(dza), "GET", TARGET, to=node_id(lby))   # the control: let through
    assert httpx.get(lby.base + TARGET, headers=for_lby, timeout=5, verify=False).status_code == 200
    unbound = {k: v for k, v in signed.sign(dza_key, node_id(dza), "GET", TARGET, to=node_id(lby)).items()
               if k != "Fossatum-To"}
    assert httpx.get(lby.base + TARGET, headers=unbound, timeout=5, verify=False).status_code == 401
    forged = {**signed.sign(dza_key, node_id(dza), "GET", TARGET, to=node_id(tun)), "Fossatum-To": node_id(lby)}
    assert httpx.get(lby.base + TARGET, headers=forged, timeout=5, verify=False).status_code == 401


@pytest.mark.both_backends
def test_replay_and_redirection_are_refused_on_both_backends(cluster: Cluster) -> None:
    """The same attacks through the API of an in-process node, on SQLite and PostgreSQL
    (the nonces are kept in the store, shared by every worker of a node)."""
    from fastapi.testclient import TestClient

    from fossatum.api.app import create_app

    tun, dza, lby = (cluster.nodes[c] for c in COUNTRIES)
    with TestClient(create_app(tun)) as client:
        headers = signed.sign(dza.key, dza.node_id, "GET", TARGET, to=tun.node_id)
        assert client.get(TARGET, headers=headers).status_code == 200
        replay = client.get(TARGET, headers=headers)
        assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
        elsewhere = signed.sign(dza.key, dza.node_id, "GET", TARGET, to=lby.node_id)
        assert client.get(TARGET, headers=elsewhere).status_code == 401
    # a nonce is forgotten only once its request is refused for its date anyway
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert tun.federation.first_use(dza.node_id, "x" * 22, past) is True
    assert tun.federation.first_use(dza.node_id, "y" * 22, past) is True
    count = tun.store.read_one("SELECT COUNT(*) FROM federation_nonces WHERE node_id = ?", (dza.node_id,))[0]
    assert count <= 2  # the earlier expired ones were pruned on the way


# --- a CA-issued certificate -------------------------------------------------------------------
def _ca(tmp_path: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    path = tmp_path / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def _issue(tmp_path: Path, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert_path, key_path


def test_ca_mode_a_node_with_a_ca_issued_certificate_replicates_and_another_ca_is_refused(tmp_path: Path) -> None:
    ca_key, ca_cert, ca_file = _ca(tmp_path, "test-ca")
    _, _, other_file = _ca(tmp_path, "other-ca")
    cert, key = _issue(tmp_path, ca_key, ca_cert, "dza")
    tun = Server(tmp_path / "TUN", free_port(), tmp_path / "tun.log",
                 {"sync_interval": 1, "tls": "auto", "tls_ca": str(ca_file)})
    dza = Server(tmp_path / "DZA", free_port(), tmp_path / "dza.log",
                 {"sync_interval": 1, "tls_cert": str(cert), "tls_key": str(key)})
    for s, c in ((tun, "TUN"), (dza, "DZA")):
        build_node(s.data, c)
    partner_add(tun.data, "DZA", dza.base, public_key(dza.data), "--tls-verify", "ca")
    partner_add(dza.data, "TUN", tun.base, public_key(tun.data))
    assert "TLS, CA-verified" in cli_ok("partner", "list", "--data", str(tun.data))
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(Server.start, (tun, dza)))
        with dza.client("dza.officer") as d:
            rid = file_and_validate(d, 3, scope="partners", partners=["TUN"])
        wait_for(lambda: rid in report_ids(tun.data), 20.0, interval=0.3, what="DZA's report at TUN over CA-verified TLS")
        # the CA-issued certificate is no node-key binding: a pinned partner refuses it
        assert "not bound" in tls.binding_problem(peer_certificate(dza.port), public_key(dza.data), node_id(dza))
        # a client trusting another CA refuses DZA before sending anything
        transport = HttpTransport(NodeKey.generate(), "TUN-00000000", ca_file=str(other_file))
        try:
            with pytest.raises(LinkDown) as caught:
                transport.fetch(Partner("DZA", node_id(dza), dza.base, public_key(dza.data), link="ca"), 0, 1)
            assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate verify failed" in str(caught.value)
        finally:
            transport.close()
    finally:
        for s in (tun, dza):
            s.kill()


# --- several workers (PostgreSQL) -------------------------------------------------------------
def test_two_workers_serve_tls_auto_and_a_nonce_used_on_one_worker_is_refused_by_the_other(
        pg_databases, tmp_path: Path) -> None:
    """`serve --workers 2 --tls auto`: both workers serve the one key-bound certificate (made
    once by the supervisor), a pinned partner replicates with them, and the nonce store is the
    node's: a request replayed onto the other worker is refused too."""
    from fossatum.node import init_node, open_node

    header = "X-Fossatum-Worker"
    url = pg_databases.create("tls_workers")
    tun_data, dza_data = tmp_path / "TUN", tmp_path / "DZA"
    node = init_node(tun_data, country="TUN", name="TUN NCC", database_url=url)
    try:
        node.add_agency(actor=None, code="TN-GN", name="TUN border agency", country="TUN")
        node.add_user(actor=None, username="tun.officer", agency="TN-GN", roles=["duty_officer"],
                      password="correct-horse-1")
    finally:
        node.close()
    build_node(dza_data, "DZA")
    tun = Server(tun_data, free_port(), tmp_path / "tun.log",
                 {"database_url": url, "workers": 2, "sync_interval": 1, "tls": "auto"})
    dza = Server(dza_data, free_port(), tmp_path / "dza.log", {"sync_interval": 1, "tls": "auto"})
    tun_key = NodeKey.load(tun_data / "node.key").public
    pg_node = open_node(tun_data, database_url=url)
    try:
        pg_node.federation.add_partner(country="DZA", url=dza.base, key=public_key(dza_data))
    finally:
        pg_node.close()
    partner_add(dza_data, "TUN", tun.base, tun_key)
    try:
        dza.start()
        tun.start()
        wait_for(lambda: "with 2 workers" in tun.log.read_text(errors="replace"), 60, what="TUN's workers")
        assert f"at https://127.0.0.1:{tun.port}/" in tun.log.read_text(errors="replace")
        assert tls.binding_problem(peer_certificate(tun.port), tun_key, node_id(tun)) is None
        with tun.client("tun.officer") as t:
            rid = file_and_validate(t, 4, scope="partners", partners=["DZA"])
        wait_for(lambda: rid in report_ids(dza_data), 30.0, interval=0.3, what="TUN's report at DZA")

        headers = signed.sign(NodeKey.load(dza_data / "node.key"), node_id(dza), "GET", TARGET, to=node_id(tun))
        first = httpx.get(tun.base + TARGET, headers=headers, timeout=10, verify=False)
        assert first.status_code == 200, first.text
        used_on = first.headers[header].split(";")[0]
        other_worker_seen = False
        for _ in range(60):  # new connections until one lands on the other worker
            again = httpx.get(tun.base + TARGET, headers=headers, timeout=10, verify=False)
            assert again.status_code == 401 and "replayed" in again.json()["detail"], again.text
            if again.headers[header].split(";")[0] != used_on:
                other_worker_seen = True
                break
        assert other_worker_seen, "no replay reached the other worker"
    finally:
        tun.stop()
        dza.stop()


# --- renewal ---------------------------------------------------------------------------------
def _served_certificate(context: ssl.SSLContext) -> x509.Certificate:
    """The certificate a handshake with `context` presents now (in-process, loopback)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        raw, _ = listener.accept()
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                conn.recv(1)
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        return x509.load_der_x509_certificate(peer_certificate(listener.getsockname()[1]))
    finally:
        thread.join(5)
        listener.close()


def test_an_auto_certificate_is_renewed_before_it_expires_without_a_restart(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    key = NodeKey.generate()
    settings = type("S", (), {"tls": "auto", "tls_cert": "", "tls_key": ""})()
    pem = tmp_path / tls.AUTO_FILE
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=tls.VALID_DAYS - tls.RENEW_DAYS - 2)
    pem.write_bytes(tls.make_auto_certificate(key, "TUN-00000000", now=old))   # 32 days left: kept
    served = tls.serving_tls(settings, tmp_path, key, "TUN-00000000", "127.0.0.1")
    before = _served_certificate(served.context)
    assert served.refresh() is False
    assert _served_certificate(served.context).serial_number == before.serial_number
    monkeypatch.setattr(tls, "RENEW_DAYS", tls.RENEW_DAYS + 5)                  # now within the window
    assert served.refresh() is True
    after = _served_certificate(served.context)
    assert after.serial_number != before.serial_number and after.not_valid_after_utc > before.not_valid_after_utc
    der = after.public_bytes(serialization.Encoding.DER)
    assert tls.binding_problem(der, key.public, "TUN-00000000") is None
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
