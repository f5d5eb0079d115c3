"""TLS between nodes, without a CA: a certificate bound to the node's Ed25519 key.

`fossatum serve --tls auto` serves a self-made ECDSA P-256 certificate (tls-auto.pem in the
data folder, 0600: key and certificate). The node's Ed25519 key — the one partners registered
with `partner add --key` — signs the certificate's public key and expiry; the signature rides
in a private X.509 extension. A partner accepts the certificate only if that signature
verifies with the key it holds for this node ("pinning"): a network attacker can copy the
extension but not the TLS private key it vouches for, and the handshake proves that key.

A CA-issued certificate (`--tls-cert/--tls-key`) carries no binding; partners that reach
such a node verify it the ordinary way (`partner add --tls-verify ca`: chain + host name).

The client side checks the certificate during the TLS handshake, before the first byte of a
request is sent (`PinningTransport`): a request sent to an impostor and verified afterwards
would already have handed it a signed request it could replay to the real node.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpcore
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import FossatumError
from ..log.signing import NodeKey, verify_signature
from ..settings import Settings

AUTO_FILE = "tls-auto.pem"
# OID 2.25.<UUID> (ITU-T X.667): a unique arc without registration; fixed for ever.
BINDING_OID = x509.ObjectIdentifier("2.25.227349207914316283396012329862546470553")
_CONTEXT = b"fossatum tls binding v1\n"
VALID_DAYS = 365
RENEW_DAYS = 30  # `serve` makes a new certificate when the old one expires within this


class TlsError(FossatumError):
    """A TLS set-up problem (certificate files, settings)."""


# --- the binding ---------------------------------------------------------------------------
def _binding_digest(spki_der: bytes, node_id: str, not_after: dt.datetime) -> str:
    expiry = not_after.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return hashlib.sha256(_CONTEXT + node_id.encode() + b"\n" + expiry.encode() + b"\n" + spki_der).hexdigest()


def _der_octets(data: bytes) -> bytes:
    assert len(data) < 128
    return bytes([0x04, len(data)]) + data


def _from_der_octets(data: bytes) -> bytes | None:
    if len(data) < 2 or data[0] != 0x04 or data[1] != len(data) - 2:
        return None
    return data[2:]


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def make_auto_certificate(key: NodeKey, node_id: str, hosts: Iterable[str] = (), *,
                          now: dt.datetime | None = None, days: int = VALID_DAYS) -> bytes:
    """PEM of a new private key and its self-signed certificate, bound to `key`."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    private = ec.generate_private_key(ec.SECP256R1())
    spki = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    not_after = now + dt.timedelta(days=days)
    sig = base64.b64decode(key.sign(_binding_digest(spki, node_id, not_after)))
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in {h for h in hosts if h and h not in ("0.0.0.0", "::")}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host))
    if not any(isinstance(n, x509.IPAddress) for n in names):
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fossatum node")])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))  # a partner's clock may be a little behind
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.UnrecognizedExtension(BINDING_OID, _der_octets(sig)), critical=False)
            .sign(private, hashes.SHA256()))
    return (private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
            + cert.public_bytes(serialization.Encoding.PEM))


def binding_problem(cert_der: bytes, public_key: str, node_id: str, *, now: dt.datetime | None = None) -> str | None:
    """None if the certificate is bound to the node key `public_key` of `node_id` and current."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError:
        return "the certificate cannot be read"
    try:
        ext = cert.extensions.get_extension_for_oid(BINDING_OID).value
    except x509.ExtensionNotFound:
        return "the certificate is not bound to a Fossatum node key"
    sig = _from_der_octets(ext.value) if isinstance(ext, x509.UnrecognizedExtension) else None
    if sig is None:
        return "the certificate's node-key binding is malformed"
    if not verify_signature(public_key, _binding_digest(_spki(cert), node_id, _not_after(cert)),
                            base64.b64encode(sig).decode()):
        return f"the certificate is not bound to the key registered for {node_id}"
    now = now or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return "the certificate is expired or not yet valid"
    return None


# --- the server side --------------------------------------------------------------------------
def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable by the node only, atomically (a reader sees old or new)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_auto_certificate(data_dir: Path, key: NodeKey, node_id: str, hosts: Iterable[str] = ()) -> Path:
    """tls-auto.pem in `data_dir`: reused while bound to this key and not expiring soon."""
    path = Path(data_dir) / AUTO_FILE
    hosts = list(hosts)
    if path.exists():
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=RENEW_DAYS)
            der = cert.public_bytes(serialization.Encoding.DER)
            if binding_problem(der, key.public, node_id) is None and cert.not_valid_after_utc > soon:
                os.chmod(path, 0o600)
                return path
        except ValueError:
            pass  # unreadable: made again below
    _write_private(path, make_auto_certificate(key, node_id, hosts))
    return path


def server_context(certfile: Path | str, keyfile: Path | str | None = None) -> ssl.SSLContext:
    """The context `serve` listens with: TLS 1.2+, the library's secure defaults."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot use the TLS certificate {certfile}: {exc}") from None
    return context


class ServingTls:
    """The server's context and where its certificate comes from. `refresh` (called by
    `serve` every `REFRESH_SECONDS`) renews tls-auto.pem before it expires, and loads a
    certificate whose files changed (a CA-issued one replaced by the operator) into the
    same context: new connections get it, without a restart."""

    REFRESH_SECONDS = 3600.0

    def __init__(self, files: tuple[str, str | None], renew: Callable[[], object] | None = None) -> None:
        self.files = files
        self.renew = renew
        self.context = server_context(*files)
        self._loaded = self._stamp()

    def _stamp(self) -> tuple[float, ...]:
        return tuple(os.stat(f).st_mtime_ns for f in self.files if f)

    def renew_files(self) -> None:
        """The slow part (a new key, a signature, a file write): off the event loop."""
        if self.renew is not None:
            self.renew()

    def reload_if_changed(self) -> bool:
        stamp = self._stamp()
        if stamp == self._loaded:
            return False
        self.context.load_cert_chain(*self.files)
        self._loaded = stamp
        return True

    def refresh(self) -> bool:
        self.renew_files()
        return self.reload_if_changed()


def serving_tls(settings: Settings, data_dir: Path, key: NodeKey, node_id: str, host: str) -> ServingTls | None:
    """From the settings `tls`, `tls_cert`, `tls_key`: how the server serves TLS, or None for plain HTTP."""
    mode = (settings.tls or "off").lower()
    cert, keyfile = settings.tls_cert, settings.tls_key
    if mode not in ("off", "auto"):
        raise TlsError(f"--tls must be auto or off, got {settings.tls!r}")
    if bool(cert) != bool(keyfile):
        raise TlsError("--tls-cert and --tls-key go together")
    if cert and mode == "auto":
        raise TlsError("choose --tls auto or --tls-cert/--tls-key, not both")
    if cert:
        return ServingTls((str(cert), str(keyfile)))
    if mode == "auto":
        def renew() -> Path:
            return ensure_auto_certificate(data_dir, key, node_id, [host])
        return ServingTls((str(renew()), None), renew)
    return None


def serving_context(settings: Settings, data_dir: Path, key: NodeKey, node_id: str, host: str) -> ssl.SSLContext | None:
    served = serving_tls(settings, data_dir, key, node_id, host)
    return served.context if served else None


# --- the client side ----------------------------------------------------------------------------
Check = Callable[[bytes], "str | None"]


class _PinnedStream(httpcore.NetworkStream):
    """A TCP stream whose TLS handshake is followed at once by the pinning check."""

    def __init__(self, inner: httpcore.NetworkStream, check: Check) -> None:
        self._inner, self._check = inner, check

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        ssl_object = tls.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(True) if ssl_object is not None else None  # DER (positional only)
        problem = self._check(der) if der else "the server sent no certificate"
        if problem:
            tls.close()
            raise httpcore.ConnectError(f"TLS: {problem}")
        return tls


class _PinnedBackend(httpcore.NetworkBackend):
    def __init__(self, check: Check) -> None:
        self._inner = httpcore.SyncBackend()
        self._check = check

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _PinnedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options),
                             self._check)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used between nodes")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def pinned_client_context() -> ssl.SSLContext:
    """No CA and no host name: the certificate is checked against the node key instead
    (`_PinnedStream`), right after the handshake and before anything is sent."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def ca_client_context(ca_file: str | None) -> ssl.SSLContext:
    """Chain and host name against `ca_file` (PEM), or the system's trust store."""
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot read the CA bundle {ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class PinningTransport(httpx.HTTPTransport):
    """httpx's transport, its connection pool on a network backend that checks every new
    TLS connection with `check` before the connection is used."""

    def __init__(self, check: Check, *, limits: httpx.Limits | None = None) -> None:
        context = pinned_client_context()
        limits = limits or httpx.Limits(max_connections=10, max_keepalive_connections=4, keepalive_expiry=30.0)
        super().__init__(verify=context, trust_env=False, limits=limits)
        # httpx builds its pool without a network backend parameter: replace it with one that
        # has ours (same settings). tests/federation/test_tls.py fails if this stops working.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=_PinnedBackend(check))
