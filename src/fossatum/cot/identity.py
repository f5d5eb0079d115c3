"""Who a TAK device is: its auth message checked against the node's users.

Password checks (argon2, tens of milliseconds each) run off the event loop. A device that
reconnects with the same credentials is recognised from a short-lived in-memory cache (keyed
by an HMAC with a per-process secret, and tied to the stored hash, so a password change or a
disabled account takes effect at once): after a mass disconnect, a few hundred devices come
back without a few hundred argon2 runs. Failures go through the node's login throttle.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from .. import auth
from ..domain.org import User
from ..errors import Unauthorized

if TYPE_CHECKING:
    from ..node import Node

CACHE_SECONDS = 600.0


class Identity:
    def __init__(self, node: Node, *, executor: Executor | None = None) -> None:
        self.node = node
        self.executor = executor
        self._secret = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, str]] = {}  # key -> (expires, stored hash)
        self._pending: dict[bytes, asyncio.Future[tuple[User, str]]] = {}  # in flight, shared by identical logins

    def _key(self, username: str, password: str) -> bytes:
        return hmac.new(self._secret, f"{username}\0{password}".encode(), hashlib.sha256).digest()

    async def check(self, username: str, password: str, *, client: str = "") -> User:
        """The active user with these credentials; Unauthorized (or TooManyRequests) if not."""
        return (await self.check_hash(username, password, client=client))[0]

    async def check_hash(self, username: str, password: str, *, client: str = "") -> tuple[User, str]:
        """The user and the stored hash the password matched (the gateway re-checks it once
        the device is admitted: a password changed meanwhile ends the connection)."""
        node = self.node
        key = self._key(username, password)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            user = node.user(username)
            if user is not None and user.active and node.password_hash(username) == cached[1]:
                return user, cached[1]
        pending = self._pending.get(key)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(self.executor, self._check_slow, username, password, client, key)
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(pending)

    def _check_slow(self, username: str, password: str, client: str, key: bytes) -> tuple[User, str]:
        throttle = self.node.throttle
        throttle.check(username, client)
        stored = self.node.password_hash(username)
        user = self.node.user(username)
        if not auth.check_password(stored, password) or user is None or not user.active:
            throttle.failed(username, client)
            raise Unauthorized("wrong username or password")
        throttle.succeeded(username, client)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + CACHE_SECONDS, stored or "")
        return user, stored or ""
