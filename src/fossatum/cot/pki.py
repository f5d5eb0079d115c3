"""The node's own TAK certificate authority and its register of device certificates.

Everything lives in `<data>/tak/` (local to this node, never replicated):

    ca.key            the CA's private key (EC P-256, mode 600)
    ca.pem            the CA certificate (10 years): what devices trust and what client certs chain to
    server.key/.pem   the TLS listener's certificate, issued by the CA (mode 600 for the key)
    devices.json      the register: certificate serial → device (user, callsign, uid, issued, revoked)
    devices/<name>/   what `fossatum device add` hands over: <name>.p12 (client key + cert + CA),
                      truststore.p12 (the CA), ca.pem and <name>-connection.zip (an ATAK data package)

The CA is created on first use. A device is identified on TLS by the serial number of the
verified client certificate; the register maps it to a node user (and, with `--uid`, to the
device's unit). A revoked serial is refused at the handshake's end, and a running gateway
re-reads the register when it changes, so `fossatum device revoke` also disconnects the device.

PKCS#12 files are written with the legacy algorithms (3DES / SHA-1 MAC) because ATAK's
Android keystore reads those everywhere, while AES-PBES2 bundles fail on older devices. The
file password is printed once by the CLI and never stored.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import Conflict, InvalidInput, NotFound

TAK_DIR = "tak"
REGISTER = "devices.json"
CA_YEARS = 10
DEVICE_DAYS = 730
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_lock = threading.Lock()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file created with mode 600 (never world-readable, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _p12_encryption(password: str) -> serialization.KeySerializationEncryption:
    return (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(50_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
            .build(password.encode()))


@dataclass(frozen=True)
class Issued:
    """What `add_device` produced (paths, and the bundle password to print once)."""

    record: dict[str, Any]
    folder: Path
    bundle: Path
    truststore: Path
    package: Path
    password: str
    link: str


class Authority:
    """The CA of one node (`<data>/tak`), created on first use."""

    def __init__(self, data_dir: Path | str, *, node_name: str = "Fossatum") -> None:
        self.dir = Path(data_dir) / TAK_DIR
        self.node_name = node_name
        self._register_mtime: float | None = None
        self._register: dict[str, dict[str, Any]] = {}

    # --- the CA and the server certificate ---------------------------------------------------
    @property
    def ca_path(self) -> Path:
        return self.dir / "ca.pem"

    def ensure(self) -> None:
        """Create the CA (and the server certificate) if they do not exist yet."""
        with _lock:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not (self.dir / "ca.key").exists():
                self._create_ca()
            if not (self.dir / "server.key").exists():
                self._create_server()

    def _create_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fossatum"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"{self.node_name} TAK CA"[:64])])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        _write_private(self.dir / "ca.key", _pem_key(key))
        _write_public(self.dir / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
        (self.dir / "server.key").unlink(missing_ok=True)  # a new CA: the server certificate follows

    def _ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(self.ca_path.read_bytes())

    def _issue(self, common_name: str, *, server: bool, names: list[str] = (), days: int = DEVICE_DAYS,
               ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        ca_key, ca_cert = self._ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fossatum"),
                                            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if names:
            alt: list[x509.GeneralName] = []
            for n in names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(n)))
                except ValueError:
                    alt.append(x509.DNSName(n))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    def _create_server(self) -> None:
        import socket

        names = sorted({"localhost", "127.0.0.1", "::1", socket.gethostname()})
        key, cert = self._issue(f"{self.node_name} TAK server", server=True, names=names, days=365 * 2)
        _write_private(self.dir / "server.key", _pem_key(key))
        _write_public(self.dir / "server.pem", cert.public_bytes(serialization.Encoding.PEM)
                      + self.ca_path.read_bytes())

    def server_context(self) -> Any:
        """An SSL context for the TLS listener: client certificates of this CA are required."""
        import ssl

        self.ensure()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.dir / "server.pem", self.dir / "server.key")
        ctx.load_verify_locations(cafile=str(self.ca_path))
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    # --- the register of devices --------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        path = self.dir / REGISTER
        try:
            return json.loads(path.read_text())["devices"]
        except FileNotFoundError:
            return {}

    def _save(self, devices: dict[str, dict[str, Any]]) -> None:
        _write_private(self.dir / REGISTER, json.dumps({"devices": devices}, indent=1, sort_keys=True).encode())

    def devices(self) -> list[dict[str, Any]]:
        return sorted(self._load().values(), key=lambda d: d["issued_at"])

    def lookup(self, serial: int) -> dict[str, Any] | None:
        """The register entry of a certificate serial (re-read when the file changed)."""
        path = self.dir / REGISTER
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if mtime != self._register_mtime:
            self._register, self._register_mtime = self._load(), mtime
        return self._register.get(format(serial, "x"))

    def changed(self) -> bool:
        """Whether the register changed since the last lookup (the server then re-checks devices)."""
        try:
            return (self.dir / REGISTER).stat().st_mtime_ns != self._register_mtime
        except FileNotFoundError:
            return False

    def add_device(self, *, username: str, callsign: str = "", uid: str = "", unit_id: str | None = None,
                   host: str = "127.0.0.1", port: int = 8089) -> Issued:
        """Issue a client certificate for a device of `username`; write its bundle and data package."""
        self.ensure()
        label = _NAME.sub("-", callsign or uid or username).strip("-")[:40] or username
        with _lock:
            devices = self._load()
            taken = {d["name"] for d in devices.values()}
            name, n = label, 1
            while name in taken:
                n += 1
                name = f"{label}-{n}"
            key, cert = self._issue(f"{name}", server=False)
            serial = format(cert.serial_number, "x")
            record = {"serial": serial, "name": name, "username": username, "callsign": callsign, "uid": uid or None,
                      "unit_id": unit_id, "issued_at": _now().isoformat(), "expires_at":
                      cert.not_valid_after_utc.isoformat(), "revoked_at": None}
            devices[serial] = record
            self._save(devices)
        _, ca_cert = self._ca()
        password = secrets.token_urlsafe(12)
        folder = self.dir / "devices" / name
        bundle, truststore = folder / f"{name}.p12", folder / "truststore.p12"
        _write_private(bundle, pkcs12.serialize_key_and_certificates(
            name.encode(), key, cert, [ca_cert], _p12_encryption(password)))
        _write_private(truststore, pkcs12.serialize_key_and_certificates(
            b"fossatum-ca", None, None, [ca_cert], _p12_encryption(password)))
        _write_public(folder / "ca.pem", self.ca_path.read_bytes())
        package = folder / f"{name}-connection.zip"
        _write_private(package, _data_package(name, host, port, self.node_name, bundle, truststore, password))
        return Issued(record, folder, bundle, truststore, package, password,
                      enrolment_link(host, port, username, password))

    def revoke(self, which: str) -> dict[str, Any]:
        """Revoke a device certificate by serial (hex) or device name."""
        with _lock:
            devices = self._load()
            hits = [d for s, d in devices.items() if which.lower() in (s, d["name"].lower())]
            if not hits:
                raise NotFound(f"no device certificate {which!r} (see 'fossatum device list')")
            if len(hits) > 1:
                raise InvalidInput(f"{which!r} names several devices; give the serial", field="device")
            record = hits[0]
            if record["revoked_at"]:
                raise Conflict(f"device {record['name']} was revoked at {record['revoked_at']}")
            record["revoked_at"] = _now().isoformat()
            self._save(devices)
        return record


def enrolment_link(host: str, port: int, username: str, token: str) -> str:
    """The de-facto ATAK/iTAK enrolment deep link (also what QR codes carry).

    No formal spec was found: this is the shape TAK clients accept in practice
    (`tak://com.atakmap.app/enroll?host=<host>[:port]&username=<u>&token=<t>`, per
    OmniTAK-Android PR #101 and the TAK-Portal / goatak threads). With it a client enrols by CSR
    over HTTPS (TAK Server's /Marti/api/tls on 8446), which this node does not serve yet, so the
    link is printed for when it does; today the device imports the data package or the .p12.
    """
    return "tak://com.atakmap.app/enroll?" + urlencode(
        {"host": f"{host}:{port}" if port != 8089 else host, "username": username, "token": token}, quote_via=quote)


def _data_package(name: str, host: str, port: int, node_name: str, bundle: Path, truststore: Path,
                  password: str) -> bytes:
    """An ATAK "connection" data package: the server entry, the client and trust stores.

    Carries the bundle password (ATAK reads it from the .pref), so it is as secret as the
    .p12 itself: mode 600, hand it over like a key.
    """
    import io
    import uuid
    from xml.sax.saxutils import escape, quoteattr

    pref = f"""<?xml version='1.0' encoding='ASCII' standalone='yes'?>
<preferences>
  <preference version="1" name="cot_streams">
    <entry key="count" class="class java.lang.Integer">1</entry>
    <entry key="description0" class="class java.lang.String">{escape(node_name)}</entry>
    <entry key="enabled0" class="class java.lang.Boolean">true</entry>
    <entry key="connectString0" class="class java.lang.String">{escape(host)}:{port}:ssl</entry>
  </preference>
  <preference version="1" name="com.atakmap.app_preferences">
    <entry key="displayServerConnectionWidget" class="class java.lang.Boolean">true</entry>
    <entry key="caLocation" class="class java.lang.String">cert/truststore.p12</entry>
    <entry key="caPassword" class="class java.lang.String">{escape(password)}</entry>
    <entry key="clientPassword" class="class java.lang.String">{escape(password)}</entry>
    <entry key="certificateLocation" class="class java.lang.String">cert/{escape(name)}.p12</entry>
  </preference>
</preferences>
"""
    manifest = f"""<MissionPackageManifest version="2">
  <Configuration>
    <Parameter name="uid" value={quoteattr(str(uuid.uuid4()))}/>
    <Parameter name="name" value={quoteattr(f"{name}-connection")}/>
    <Parameter name="onReceiveDelete" value="true"/>
  </Configuration>
  <Contents>
    <Content ignore="false" zipEntry="certs/config.pref"/>
    <Content ignore="false" zipEntry="certs/truststore.p12"/>
    <Content ignore="false" zipEntry={quoteattr(f"certs/{name}.p12")}/>
  </Contents>
</MissionPackageManifest>
"""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("MANIFEST/manifest.xml", manifest)
        z.writestr("certs/config.pref", pref)
        z.write(truststore, "certs/truststore.p12")
        z.write(bundle, f"certs/{name}.p12")
    return out.getvalue()
