"""The node's own TAK certificate authority and its register of device certificates.

Everything lives in `<data>/tak/` (local to this node, never replicated):

    ca.key            the CA's private key (EC P-256, mode 600)
    ca.pem            the CA certificate (10 years): what devices trust and what client certs chain to
    server.key/.pem   the TLS listener's certificate, issued by the CA (mode 600 for the key)
    devices.json      the register: certificate serial → device (user, callsign, uid, issued, revoked,
                      and for `device add` entries the hash and state of the enrolment token)
    devices.lock      what `flock` holds while the register is rewritten
    devices/<name>/   what `fossatum device add` hands over: <name>.p12 (client key + cert + CA),
                      truststore.p12 (the CA), ca.pem and <name>-connection.zip (an ATAK data package)

The CA is created on first use. A device is identified on TLS by the serial number of the
verified client certificate; the register maps it to a node user (and, with `--uid`, to the
device's unit). A revoked serial is refused at the handshake's end, and a running gateway
re-reads the register when it changes, so `fossatum device revoke` also disconnects the device.

Enrolment: `add_device` also makes a one-time enrolment token (random, 24 h by default; only
its SHA-256 is kept, in the device's register entry). With it, the device's user name and the
node's HTTPS enrolment endpoint (`cot/enrol.py`, TAK's /Marti/api/tls on 8446) a TAK client
sends a CSR and gets a certificate of its own key: a new register entry (`<name>-enrolled`),
revocable like any other (revoking the `device add` entry revokes it too). The token works
once, expires, and dies with its device's revocation.

The register is read-modified-written under a thread lock and an `flock` on `devices.lock`,
because `fossatum device add/revoke` (one process) and a serving node's enrolment (another)
both write it.

PKCS#12 files are written with the legacy algorithms (3DES / SHA-1 MAC) because ATAK's
Android keystore reads those everywhere, while AES-PBES2 bundles fail on older devices. The
file password is printed once by the CLI and never stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import ssl
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import Conflict, InvalidInput, NotFound, Unauthorized

TAK_DIR = "tak"
REGISTER = "devices.json"
CA_YEARS = 10
DEVICE_DAYS = 730
ENROL_HOURS = 24.0
ENROL_PORT = 8446
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_lock = threading.Lock()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file created with mode 600 (never world-readable, not even briefly)."""
    for folder in reversed([path.parent, *path.parent.parents]):  # each new level 700, not only the last
        if not folder.exists():
            folder.mkdir(mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def token_hash(token: str) -> str:
    """What the register keeps of an enrolment token (tokens are random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _write_public(path: Path, data: bytes) -> None:
    """A certificate: public by nature, yet 600 like every file of the data folder (the
    administrator hands it out; other local accounts have no business reading the folder)."""
    _write_private(path, data)


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
    token: str


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

    def _issue(self, common_name: str, *, server: bool, names: Sequence[str] = (), days: int = DEVICE_DAYS,
               public_key: CertificatePublicKeyTypes | None = None,
               ) -> tuple[ec.EllipticCurvePrivateKey | None, x509.Certificate]:
        """A certificate of the CA: for a new key, or for `public_key` (a CSR's) with no key returned."""
        ca_key, ca_cert = self._ca()
        key: ec.EllipticCurvePrivateKey | None = None
        if public_key is None:
            key = ec.generate_private_key(ec.SECP256R1())
            public_key = key.public_key()
        now = _now()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fossatum"),
                                            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])]))
                   .issuer_name(ca_cert.subject).public_key(public_key)
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
        assert key is not None
        _write_private(self.dir / "server.key", _pem_key(key))
        _write_public(self.dir / "server.pem", cert.public_bytes(serialization.Encoding.PEM)
                      + self.ca_path.read_bytes())

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the TLS listener: client certificates of this CA are required."""
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
            devices: dict[str, dict[str, Any]] = json.loads(path.read_text())["devices"]
        except FileNotFoundError:
            return {}
        return devices

    def _save(self, devices: dict[str, dict[str, Any]]) -> None:
        _write_private(self.dir / REGISTER, json.dumps({"devices": devices}, indent=1, sort_keys=True).encode())

    def devices(self) -> list[dict[str, Any]]:
        return sorted(self._load().values(), key=lambda d: (d["issued_at"], d["name"]))  # one order, also within a second

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

    @contextlib.contextmanager
    def _register_locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The register for a read-modify-write, locked against this process's threads and other
        processes (`fossatum device …` beside a serving node); save it with `_save` inside."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _lock, os.fdopen(os.open(self.dir / "devices.lock", os.O_RDWR | os.O_CREAT, 0o600), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self._load()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add_device(self, *, username: str, callsign: str = "", uid: str = "", unit_id: str | None = None,
                   host: str = "127.0.0.1", port: int = 8089, enrol_port: int = ENROL_PORT,
                   enrol_hours: float = ENROL_HOURS) -> Issued:
        """Issue a client certificate for a device of `username`; write its bundle and data package,
        and make its one-time enrolment token (valid `enrol_hours`)."""
        if not 0 < enrol_hours <= 24 * 30:
            raise InvalidInput("the enrolment token's lifetime must be more than 0 and at most 720 hours",
                               field="enrol_hours")
        self.ensure()
        label = _NAME.sub("-", callsign or uid or username).strip("-")[:40] or username
        token = secrets.token_urlsafe(24)
        with self._register_locked() as devices:
            name = _free_name(devices, label)
            key, cert = self._issue(f"{name}", server=False)
            assert key is not None
            serial = format(cert.serial_number, "x")
            now = _now()
            record = {"serial": serial, "name": name, "username": username, "callsign": callsign, "uid": uid or None,
                      "unit_id": unit_id, "issued_at": now.isoformat(), "expires_at":
                      cert.not_valid_after_utc.isoformat(), "revoked_at": None,
                      "enrolment": {"token_sha256": token_hash(token), "expires_at":
                                    (now + dt.timedelta(hours=enrol_hours)).isoformat(), "used_at": None,
                                    "serial": None}}
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
                      enrolment_link(host, enrol_port, username, token), token)

    # --- enrolment by CSR ------------------------------------------------------------------------
    def check_enrolment(self, username: str, token: str) -> dict[str, Any]:
        """The register entry whose enrolment token this is; Unauthorized with the reason if none is usable."""
        return _usable_enrolment(self._load(), username, token)

    def enrol(self, *, username: str, token: str, public_key: CertificatePublicKeyTypes, uid: str | None,
              unit_id: str | None) -> tuple[dict[str, Any], x509.Certificate]:
        """Spend the token and certify `public_key` as a new device of `username` (one register write:
        the token is used if and only if the certificate is recorded)."""
        self.ensure()
        with self._register_locked() as devices:
            parent = _usable_enrolment(devices, username, token)
            name = _free_name(devices, f"{parent['name']}-enrolled")
            _, cert = self._issue(name, server=False, public_key=public_key)
            serial = format(cert.serial_number, "x")
            now = _now().isoformat()
            record = {"serial": serial, "name": name, "username": username, "callsign": parent["callsign"],
                      "uid": uid, "unit_id": unit_id, "issued_at": now,
                      "expires_at": cert.not_valid_after_utc.isoformat(), "revoked_at": None,
                      "enrolled_from": parent["serial"]}
            parent["enrolment"].update(used_at=now, serial=serial)
            devices[serial] = record
            self._save(devices)
        return record, cert

    def ca_certificate(self) -> x509.Certificate:
        self.ensure()
        return self._ca()[1]

    def revoke(self, which: str) -> list[dict[str, Any]]:
        """Revoke a device certificate by serial (hex) or device name, with the certificates enrolled
        by its token (one device to the operator: revoking a lost phone's name must leave nothing
        of it valid). The named entry comes first."""
        with self._register_locked() as devices:
            hits = [d for s, d in devices.items() if which.lower() in (s, d["name"].lower())]
            if not hits:
                raise NotFound(f"no device certificate {which!r} (see 'fossatum device list')")
            if len(hits) > 1:
                raise InvalidInput(f"{which!r} names several devices; give the serial", field="device")
            record = hits[0]
            if record["revoked_at"]:
                raise Conflict(f"device {record['name']} was revoked at {record['revoked_at']}")
            now = _now().isoformat()
            revoked = [record] + [d for d in devices.values()
                                  if d.get("enrolled_from") == record["serial"] and not d["revoked_at"]]
            for each in revoked:
                each["revoked_at"] = now
            self._save(devices)
        return revoked


def _free_name(devices: dict[str, dict[str, Any]], label: str) -> str:
    taken = {d["name"] for d in devices.values()}
    name, n = label, 1
    while name in taken:
        n += 1
        name = f"{label}-{n}"
    return name


def _usable_enrolment(devices: dict[str, dict[str, Any]], username: str, token: str) -> dict[str, Any]:
    """The entry of `username` holding this token, if it may still enrol; else Unauthorized saying why."""
    digest = token_hash(token)
    for record in devices.values():
        enrolment = record.get("enrolment")
        if record["username"] != username or not enrolment:
            continue
        if not hmac.compare_digest(enrolment["token_sha256"], digest):
            continue
        if enrolment["used_at"]:
            raise Unauthorized(f"this enrolment token was already used at {enrolment['used_at']} "
                               f"(certificate {enrolment['serial']}); ask for a new one ('fossatum device add')")
        if record["revoked_at"]:
            raise Unauthorized(f"device {record['name']} was revoked at {record['revoked_at']}; "
                               "its enrolment token is void")
        if dt.datetime.fromisoformat(enrolment["expires_at"]) <= _now():
            raise Unauthorized(f"this enrolment token expired at {enrolment['expires_at']}; "
                               "ask for a new one ('fossatum device add')")
        return record
    raise Unauthorized("wrong username or enrolment token")


def enrolment_link(host: str, port: int, username: str, token: str) -> str:
    """The de-facto ATAK/iTAK enrolment deep link (also what QR codes carry).

    No formal spec was found: this is the shape TAK clients accept in practice
    (`tak://com.atakmap.app/enroll?host=<host>[:port]&username=<u>&token=<t>`, per
    OmniTAK-Android PR #101 and the TAK-Portal / goatak threads). `port` is the HTTPS enrolment
    port (`fossatum serve --cot https://HOST:8446`), left out when it is TAK's default 8446;
    `token` is the one-time enrolment token, which the client sends as its Basic-auth password
    with `username` to /Marti/api/tls/signClient/v2.
    """
    return "tak://com.atakmap.app/enroll?" + urlencode(
        {"host": f"{host}:{port}" if port != ENROL_PORT else host, "username": username, "token": token},
        quote_via=quote)


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
