"""Ending sessions everywhere: the revocation log every process of a node watches.

Logout, a password change and disabling an account write a row into the store's
`session_revocations` (in the same transaction that ends the sessions). Each process that
holds live channels — every API worker's websockets, worker 1's TAK gateway, a single
`fossatum serve` — runs one `SessionWatcher` that polls that table every `POLL_SECONDS`
and hands new rows to its subscribers, which close what the row ends. Polling a small
indexed table (no LISTEN/NOTIFY) works the same on SQLite and PostgreSQL, across workers
and for a `fossatum user passwd` run from another process, and cannot be silenced or forged
by anyone who can only reach the notification channel.

Reasons (what a subscriber ends):
    logout              one session (token): the websockets opened with that token
    logout_everywhere   every session of the user: websockets and password-logged TAK devices
    password_changed    the same; a device must come back with the new password
    disabled            everything of the user, certificate devices too; logins refused
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("fossatum.sessions")

POLL_SECONDS = 0.25
# Two workers' revocations may commit out of seq order (PostgreSQL identities are handed
# out before commit): each poll looks back this many seqs and skips those already handled.
LOOK_BACK = 64

LOGOUT = "logout"
LOGOUT_EVERYWHERE = "logout_everywhere"
PASSWORD_CHANGED = "password_changed"
DISABLED = "disabled"

MESSAGES = {
    LOGOUT: "you logged out",
    LOGOUT_EVERYWHERE: "you logged out everywhere",
    PASSWORD_CHANGED: "the account's password was changed: log in again",
    DISABLED: "the account was disabled",
    "expired": "the session expired: log in again",
}


@dataclass(frozen=True)
class Revocation:
    seq: int
    username: str
    token_hash: str | None  # None: every session of the user
    reason: str
    at: str  # when it was recorded: a channel opened later is not ended by it

    def ends_token(self, username: str, token_hash: str, opened_at: str) -> bool:
        """Whether a channel opened with this token (of this user) at `opened_at` must close."""
        return (username == self.username and opened_at <= self.at
                and (self.token_hash is None or self.token_hash == token_hash))

    def ends_device(self, username: str, opened_at: str, *, by_password: bool) -> bool:
        """Whether a TAK device of `username` must disconnect (certificate devices: only when disabled)."""
        if username != self.username or self.token_hash is not None or opened_at > self.at:
            return False
        return self.reason == DISABLED or by_password

    @property
    def message(self) -> str:
        return MESSAGES.get(self.reason, self.reason)


Subscriber = Callable[[list[Revocation]], None]


class RevocationStore(Protocol):
    """What the watcher needs of a store (both backends have it)."""

    def revocation_head(self) -> int: ...
    def revocations_since(self, seq: int) -> list[tuple[int, str, str | None, str, str]]: ...


class SessionWatcher:
    """Polls the store's revocations from a daemon thread and calls each subscriber with every
    poll's new ones (an empty list too: subscribers also check expiry on each tick)."""

    def __init__(self, store: RevocationStore, *, interval: float = POLL_SECONDS) -> None:
        self.store = store
        self.interval = interval
        self._last = store.revocation_head()
        self._seen: deque[int] = deque(maxlen=4 * LOOK_BACK)
        self._seen.extend(int(row[0]) for row in store.revocations_since(max(0, self._last - LOOK_BACK)))
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._ticking = threading.Lock()
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fossatum-sessions", daemon=True)
                self._thread.start()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def poll(self) -> list[Revocation]:
        """The revocations not handled yet (also used by tests to step without the thread)."""
        rows = self.store.revocations_since(max(0, self._last - LOOK_BACK))
        fresh = [Revocation(int(seq), username, token, reason, at) for seq, username, token, reason, at in rows
                 if int(seq) not in self._seen]
        for revocation in fresh:
            self._seen.append(revocation.seq)
            self._last = max(self._last, revocation.seq)
        return fresh

    def tick(self) -> None:
        """Poll once and hand the news to every subscriber. The node calls it right after a
        revocation of its own, so that in this process it is handled before any later commit
        is pushed; other processes learn of it on their next tick."""
        with self._ticking:
            try:
                fresh = self.poll()
            except Exception as exc:  # a database hiccup: try again on the next tick (one line per outage)
                if not self._failing:
                    log.warning("session watcher: cannot read revocations (%s); retrying", exc)
                self._failing = True
                return
            if self._failing:
                log.warning("session watcher: reading revocations again")
                self._failing = False
            with self._lock:
                subscribers = list(self._subscribers)
            for subscriber in subscribers:
                try:
                    subscriber(fresh)
                except Exception:
                    log.exception("session watcher: a subscriber failed")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()
