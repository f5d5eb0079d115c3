"""The login throttle: per source address and per (account, address), kept in the store.

Every way in that checks a secret (API login, self-service password change, TAK auth
message, certificate enrolment) asks it before the check and tells it the outcome. The
counts live in the store's `login_throttle` table, so every worker of a node (and a restart)
sees the same ones.

- An address that failed `free × ADDRESS_FACTOR` times (any accounts) waits, doubling with
  each further failure up to `MAX_WAIT`: one host spraying many usernames.
- An (account, address) pair that failed `free` times waits the same way: one host
  guessing one password.
- An account failing from `SPREAD` or more addresses within `WINDOW` (a distributed
  guess) refuses addresses that never logged in to it successfully in `KNOWN_FOR`.

What it never does is block an account as such: a flood of wrong passwords from one address
(or a few) does not lock the officer out from another address, and a correct password from
an address that is not blocked itself is always checked. Failures count again from one
after `WINDOW` without failures; a success clears its pair (not the address).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Protocol

from .errors import TooManyRequests

ADDRESS_FACTOR = 4
MAX_WAIT = 300.0
WINDOW = 3600.0
SPREAD = 10
KNOWN_FOR = 30 * 86400.0
PRUNE_EVERY = 64  # on average, one failure in this many prunes stale rows


class ThrottleStore(Protocol):
    """What the throttle needs of a store (both backends have it)."""

    def throttle_rows(self, account: str, address: str) -> dict[tuple[str, str], tuple[int, float, float, float]]: ...
    def throttle_failing_addresses(self, account: str, since: float) -> int: ...
    def throttle_failed(self, account: str, address: str, now: float, window: float) -> int: ...
    def throttle_block(self, account: str, address: str, until: float) -> None: ...
    def throttle_succeeded(self, account: str, address: str, now: float) -> None: ...
    def throttle_prune(self, before: float) -> None: ...


class LoginThrottle:
    def __init__(self, store: ThrottleStore, *, free: int = 5, first_wait: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.free = free
        self.first_wait = first_wait
        self.clock = clock

    def check(self, account: str, address: str) -> None:
        """Refuse (429, with the wait) before the secret is even checked."""
        now = self.clock()
        address = address or "unknown"
        rows = self.store.throttle_rows(account, address)
        waits = [row[1] - now for row in rows.values()]
        wait = max(waits, default=0.0)
        if wait > 0:
            raise TooManyRequests(f"too many failed logins from this address; try again in {int(wait) + 1} s",
                                  retry_after=int(wait) + 1)
        pair = rows.get((account, address))
        known = pair is not None and pair[3] >= now - KNOWN_FOR
        if not known and self.store.throttle_failing_addresses(account, now - WINDOW) >= SPREAD:
            raise TooManyRequests(
                f"{account!r} is being guessed from many addresses: log in from an address that used it "
                f"before, or try again later", retry_after=int(WINDOW / 4))

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        address = address or "unknown"
        for key, free in (((account, address), self.free), (("", address), self.free * ADDRESS_FACTOR)):
            count = self.store.throttle_failed(*key, now, WINDOW)
            if count >= free:
                self.store.throttle_block(*key, now + min(MAX_WAIT, self.first_wait * 2.0 ** (count - free)))
        if random.randrange(PRUNE_EVERY) == 0:
            self.store.throttle_prune(now - max(WINDOW, KNOWN_FOR))

    def succeeded(self, account: str, address: str) -> None:
        self.store.throttle_succeeded(account, address or "unknown", self.clock())
