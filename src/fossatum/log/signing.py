"""The node's Ed25519 key: kept in a file beside the database, readable by the node only."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import FossatumError


class NodeKey:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> NodeKey:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise FossatumError(f"node key not found at {path}; run 'fossatum init' first") from None
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise FossatumError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def save(self, path: Path) -> None:
        pem = self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())

    @property
    def public(self) -> str:
        """The public key as base64 (what partners register)."""
        return base64.b64encode(self.public_raw).decode("ascii")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, digest_hex: str) -> str:
        return base64.b64encode(self._private.sign(bytes.fromhex(digest_hex))).decode("ascii")


def fingerprint(public_b64: str) -> str:
    digest = hashlib.sha256(base64.b64decode(public_b64)).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def verify_signature(public_b64: str, digest_hex: str, sig_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
        key.verify(base64.b64decode(sig_b64), bytes.fromhex(digest_hex))
    except (InvalidSignature, ValueError):
        return False
    return True
