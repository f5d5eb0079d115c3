"""The background of a serving node: release and announce own changes, pull partners'.

One thread per node. It wakes when this node commits an entry of its own (then it
releases and notifies partners, who pull within milliseconds), when a partner notifies
it, and every `interval` seconds regardless, so that a missed notification or a link
that came back is caught up. A partner that cannot be reached is retried with a backoff
(doubling up to a minute), reset as soon as that partner is heard from.
"""

from __future__ import annotations

import logging
import threading
import time

from ..store.contract import Transaction
from .service import Federation
from .transport import LinkDown

log = logging.getLogger("fossatum.federation")
NOTIFIED = "federation.notified"  # announced by an API worker that does not run the federation


class Relay:
    """Stands in for the `Worker` in an API worker process that does not run the federation:
    a partner's notice reaches the process that does, through the store."""

    def __init__(self, federation: Federation) -> None:
        self.federation = federation

    def notified(self, country: str) -> None:
        self.federation.node.store.announce(NOTIFIED, country)


class Worker:
    def __init__(self, federation: Federation, *, interval: float = 5.0) -> None:
        self.federation = federation
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._outbound_dirty = True
        self._inbound_due: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"federation-{federation.node.country}", daemon=True)
        # Other workers' commits too (several API processes on PostgreSQL): a report filed
        # through any of them is released and announced by the one process that runs this.
        federation.node.store.on_commit(self._committed, other_workers=True)
        federation.node.store.on_announce(self._announced)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop after its current round (returns at once)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _committed(self, tx: Transaction) -> None:
        own = self.federation.node.node_id
        if any(e.origin == own and e.object_id for e in tx.appended):
            with self._lock:
                self._outbound_dirty = True
            self._wake.set()

    def _announced(self, topic: str, value: object) -> None:
        if topic == NOTIFIED and isinstance(value, str):
            self.notified(value)

    def notified(self, country: str) -> None:
        """A partner says it has new items: pull from it now."""
        with self._lock:
            self._inbound_due.add(country)
            self._retry_at.pop(country, None)
            self._backoff.pop(country, None)
        self._wake.set()

    def _run(self) -> None:
        next_round = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=max(0.0, next_round - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return
            periodic = time.monotonic() >= next_round
            try:
                self._once(periodic)
            except Exception:  # a worker that dies silently would stop replication: log and go on
                log.exception("federation round failed")
            if periodic:
                next_round = time.monotonic() + self.interval

    def _once(self, periodic: bool) -> None:
        with self._lock:
            outbound, self._outbound_dirty = self._outbound_dirty, False
            due, self._inbound_due = self._inbound_due, set()
        if outbound or periodic:
            if self.federation.release_all():
                self.federation.notify_all()
        now = time.monotonic()
        for partner in self.federation.partners():
            if partner.country not in due and not (periodic and now >= self._retry_at.get(partner.country, 0.0)):
                continue
            try:
                self.federation.pull(partner)
                self._backoff.pop(partner.country, None)
                self._retry_at.pop(partner.country, None)
            except LinkDown as exc:
                wait = min(60.0, self._backoff.get(partner.country, self.interval / 2) * 2)
                self._backoff[partner.country] = wait
                self._retry_at[partner.country] = now + wait
                log.warning("%s: %s (retry in %.0f s)", partner.country, exc, wait)
