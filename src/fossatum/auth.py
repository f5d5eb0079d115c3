"""Passwords (argon2), bearer tokens (random, stored hashed) and a login throttle."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import TooManyRequests

_hasher = PasswordHasher()
# Verifying against a fixed hash for unknown users keeps the timing of a miss the same.
_DUMMY_HASH = _hasher.hash("fossatum-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0


@dataclass
class LoginThrottle:
    """After `free` failures for a username, each further failure doubles a wait (1 s, 2 s,
    4 s … up to `max_wait`) during which attempts are refused without checking the password.
    A client address gets `address_factor` times as many free failures (a whole centre may
    sit behind one address) and catches one host spraying many usernames. A success clears
    the username's count only."""

    free: int = 5
    address_factor: int = 4
    max_wait: float = 300.0
    clock: object = time.monotonic
    _state: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, *keys: str) -> None:
        now = self.clock()  # type: ignore[operator]
        with self._lock:
            wait = max((self._state[k].blocked_until - now for k in keys if k in self._state), default=0.0)
        if wait > 0:
            raise TooManyRequests(
                f"too many failed logins; try again in {int(wait) + 1} s", retry_after=int(wait) + 1
            )

    def failed(self, *keys: str) -> None:
        now = self.clock()  # type: ignore[operator]
        with self._lock:
            for key in keys:
                free = self.free * (self.address_factor if key.startswith("client:") else 1)
                state = self._state.setdefault(key, _Failures())
                state.count += 1
                if state.count >= free:
                    state.blocked_until = now + min(self.max_wait, 2.0 ** (state.count - free))

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)
