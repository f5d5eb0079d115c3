"""Certificate signing requests as TAK clients send them, read and checked before anything is issued.

ATAK and iTAK post the PKCS#10 request as bare base64 of its DER (no PEM armour, sometimes
with line breaks); other clients (TAK Server scripts, openssl) post PEM or raw DER. All three
are accepted. The request's subject is ignored (the node names the certificate); what counts
is its public key, which must be one a TAK client and our TLS listener both handle well.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from ..errors import FossatumError

RSA_MIN_BITS = 2048
RSA_MAX_BITS = 8192  # a larger key is no safer in practice and makes every handshake slow
CURVES = ("secp256r1", "secp384r1")


class BadCsr(FossatumError):
    """The request body is not a usable CSR (400, with what is wrong)."""

    status = 400
    title = "Bad certificate request"


def read_csr(body: bytes) -> x509.CertificateSigningRequest:
    """The CSR in `body` (PEM, base64 DER or DER), its signature verified."""
    text = body.strip()
    if not text:
        raise BadCsr("the request body is empty: expected a PKCS#10 CSR (base64 DER or PEM)", field="csr")
    try:
        if text.startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(text)
        else:
            try:
                der = base64.b64decode(b"".join(text.split()), validate=True)
            except binascii.Error:
                der = body  # not base64: raw DER, or garbage that the DER reader names
            csr = x509.load_der_x509_csr(der)
    except (ValueError, binascii.Error) as exc:
        raise BadCsr(f"not a PKCS#10 certificate request (base64 DER or PEM): {exc}", field="csr") from None
    try:
        valid = csr.is_signature_valid
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm & co. for exotic signatures
        raise BadCsr(f"the CSR's signature cannot be checked: {exc}", field="csr") from None
    if not valid:
        raise BadCsr("the CSR's signature does not match its public key", field="csr")
    return csr


def accepted_key(csr: x509.CertificateSigningRequest) -> CertificatePublicKeyTypes:
    """The CSR's public key if it is EC P-256/P-384 or RSA of 2048-8192 bits; else BadCsr."""
    try:
        key = csr.public_key()
    except Exception as exc:
        raise BadCsr(f"the CSR's public key cannot be read: {exc}", field="csr") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in CURVES:
            raise BadCsr(f"EC curve {key.curve.name} is not accepted (use P-256 or P-384)", field="csr")
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if not RSA_MIN_BITS <= key.key_size <= RSA_MAX_BITS:
            raise BadCsr(f"an RSA key of {key.key_size} bits is not accepted "
                         f"(use {RSA_MIN_BITS} to {RSA_MAX_BITS} bits)", field="csr")
        return key
    raise BadCsr(f"a {type(key).__name__.removeprefix('_').replace('PublicKey', '')} key is not accepted "
                 "(use EC P-256/P-384 or RSA of at least 2048 bits)", field="csr")
