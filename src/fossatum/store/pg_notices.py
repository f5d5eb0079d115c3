"""Between the workers of a PostgreSQL node: a NOTIFY is a hint, the store is the truth.

Any login of the database server may `NOTIFY` or `LISTEN` on any channel (PostgreSQL has no
privilege for channels), so nothing a worker does may depend on what a notice says, and a
notice says nothing worth hearing:

- a commit is announced on `COMMITS` with an empty payload. It only wakes the other workers'
  `Listener`, which then reads what it has not seen yet *from the store*: log entries after
  the last `lsn` it saw, and `purges` rows (migration 12: object id and the audience facts the
  viewer rule needs, never a text) after the last id it saw. Its listeners (live websocket,
  TAK fan-out, federation) apply the viewer rules to those rows themselves. A forged or
  replayed notice therefore finds nothing new and sends nothing; a notice lost while the
  listener reconnects is caught up at once, and every `POLL_SECONDS` regardless.
- an announcement (a partner's "new items" reached an API worker) travels on `ANNOUNCE` as
  `{"from", "topic", "value"}` of a few safe characters; it only asks the federation worker
  to pull from a partner now (a pull is signed, verified and idempotent), so a forged one
  costs a pull at most.
- a malformed notice is logged (at most once a minute, with the count of the others) and
  ignored; the listener thread survives anything a notice can do, and is restarted if it
  dies all the same (`Listener.ensure`, called at every commit of the worker).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ..domain.audience import Scope
from ..log.entry import Entry
from ..policy.visibility import Facts
from .base import ENTRY_COLUMNS, row_entry

log = logging.getLogger("fossatum.store")

# Seconds to wait for a PostgreSQL connection, here and in postgres.py (which imports this
# module, so that it cannot import postgres.py back).
CONNECT_SECONDS = 5
COMMITS = "fossatum_commits"
ANNOUNCE = "fossatum_announce"
POLL_SECONDS = 2.0      # the store is read this often even when no notice came
BATCH = 500             # log rows read (and delivered) at a time while catching up
RETRY_SECONDS = 1.0     # pause before the listener connects again
WARN_EVERY = 60.0       # seconds between two log lines about malformed notices
PURGES_KEPT = "1 day"   # a worker that was cut off longer than this misses older removals
_SAFE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass
class Committed:
    """What other workers committed, as read back from the store by this worker."""
    appended: list[Entry]
    purged: list[tuple[str, Facts | None]] = field(default_factory=list)


def facts_text(facts: Facts | None) -> str | None:
    """The audience facts of a purged object for the `purges` table (no text of it)."""
    if facts is None:
        return None
    return json.dumps({"owner_agency": facts.owner_agency, "owner_country": facts.owner_country,
                       "scope": facts.scope.value, "releasable_to": sorted(facts.releasable_to),
                       "state": facts.state, "released": facts.released, "author": facts.author})


def facts_of_text(text: str | None) -> Facts | None:
    if text is None:
        return None
    try:
        d = json.loads(text)
        return Facts(str(d["owner_agency"]), str(d["owner_country"]), Scope(d["scope"]),
                     frozenset(str(c) for c in d["releasable_to"]), str(d["state"]), bool(d["released"]),
                     str(d["author"]))
    except (ValueError, KeyError, TypeError):
        return None


def announcement(worker_id: str, topic: str, value: Any) -> str:
    """The payload of an announcement; only short, plain values travel."""
    if not (isinstance(value, str) and _SAFE.fullmatch(value) and _SAFE.fullmatch(topic)):
        raise ValueError(f"an announcement carries a short plain topic and value, not {topic!r}: {value!r}")
    return json.dumps({"from": worker_id, "topic": topic, "value": value})


def parse_announcement(payload: str) -> tuple[str, str, str] | None:
    """(from, topic, value) of a well-formed announcement, else None."""
    try:
        note = json.loads(payload) if len(payload) <= 256 else None
    except ValueError:
        return None
    if not isinstance(note, dict) or set(note) != {"from", "topic", "value"}:
        return None
    parts = (note["from"], note["topic"], note["value"])
    if not all(isinstance(p, str) and _SAFE.fullmatch(p) for p in parts):
        return None
    return parts


class Listener:
    """One thread per worker process: wakes on notices, reads the store after its cursors,
    and hands its listeners what other workers committed."""

    def __init__(self, store: Any, worker_id: str, remote: list[Callable[[Any], None]],
                 announced: list[Callable[[str, Any], None]], closed: threading.Event) -> None:
        self.store = store
        self.worker_id = worker_id
        self.remote = remote
        self.announced = announced
        self.closed = closed
        self.listening = threading.Event()
        self.restarts = 0
        self.ignored = 0  # malformed notices, counted
        self._thread: threading.Thread | None = None
        self._watch: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_lsn: int | None = None
        self._last_purge = 0
        self._own_spans: list[tuple[int, int]] = []  # lsn ranges this worker committed itself
        self._own_purges: set[int] = set()
        self._unreported = 0
        self._warned_at = 0.0

    # --- the committing side ---------------------------------------------------------------
    def own(self, span: tuple[int, int] | None, purge_ids: list[int]) -> None:
        """Rows this worker committed (called before its commit): its own listeners heard of
        them directly, the catch-up skips them."""
        if self._last_lsn is None:
            return  # not started: nothing to skip
        with self._lock:
            if span is not None:
                self._own_spans.append(span)
            self._own_purges.update(purge_ids)

    # --- supervision ----------------------------------------------------------------------
    def ensure(self, wait: float = 0.0) -> None:
        """Start the thread, or start it again if it died (logged)."""
        if self.closed.is_set():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._thread is not None:
                self.restarts += 1
                log.error("the commit listener thread had died; started again (restart %d)", self.restarts)
            if self._last_lsn is None:  # from now on: what was committed before is no news
                self._last_lsn, self._last_purge = self._cursors()
            self._thread = threading.Thread(target=self._run, name="fossatum-notify", daemon=True)
            self._thread.start()
            if self._watch is None:
                self._watch = threading.Thread(target=self._watchdog, name="fossatum-notify-watch", daemon=True)
                self._watch.start()
        if wait:
            self.listening.wait(wait)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        for thread in (self._thread, self._watch):
            if thread is not None:
                thread.join(timeout)

    def _cursors(self) -> tuple[int, int]:
        row = self.store.read_one("SELECT (SELECT COALESCE(MAX(lsn), 0) FROM log), "
                                  "(SELECT COALESCE(MAX(id), 0) FROM purges)")
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _watchdog(self) -> None:
        """Restart the listener thread should it ever die (it catches everything it expects)."""
        while not self.closed.wait(POLL_SECONDS):
            try:
                self.ensure()
            except Exception:  # e.g. the database is down at this moment: next time
                log.exception("could not restart the commit listener")

    def _run(self) -> None:
        while not self.closed.is_set():
            try:
                self._session()
            except Exception as exc:  # whatever it was: listen again, never die of it
                self.listening.clear()
                log.warning("commit notifications interrupted (%s); listening again",
                            " ".join(str(exc).split()) or type(exc).__name__)
                self.closed.wait(RETRY_SECONDS)
        self.listening.clear()

    def _session(self) -> None:
        with psycopg.connect(self.store.url, autocommit=True, connect_timeout=CONNECT_SECONDS) as conn:
            conn.execute(f"LISTEN {COMMITS}")
            conn.execute(f"LISTEN {ANNOUNCE}")
            self.listening.set()
            self.catch_up()  # whatever was committed while no one listened
            while not self.closed.is_set():
                wake = False
                for note in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                    wake |= self._hear(note)
                for note in conn.notifies(timeout=0.0):  # drain the queue: one read for all of them
                    wake |= self._hear(note)
                self.catch_up()

    # --- notices ----------------------------------------------------------------------------
    def _hear(self, note: Any) -> bool:
        """True for a (well-formed) commit hint; an announcement is handed on; anything else is ignored."""
        if note.channel == COMMITS:
            if note.payload == "":
                return True
            return self._malformed(note)
        parsed = parse_announcement(note.payload) if note.channel == ANNOUNCE else None
        if parsed is None:
            return self._malformed(note)
        sender, topic, value = parsed
        if sender != self.worker_id:
            for announced in self.announced:
                try:
                    announced(topic, value)
                except Exception:
                    log.exception("announcement listener failed")
        return False

    def _malformed(self, note: Any) -> bool:
        self.ignored += 1
        self._unreported += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            log.warning("ignored %d malformed notice(s) on %s (last from server process %s); notices are only "
                        "hints, see docs/security.md", self._unreported, note.channel, note.pid)
            self._warned_at, self._unreported = now, 0
        return False

    # --- the store, after the cursors -------------------------------------------------------
    def catch_up(self) -> None:
        """Deliver what other workers committed after the cursors, read from the store."""
        while not self.closed.is_set():
            assert self._last_lsn is not None
            rows = self.store.read(f"SELECT lsn, {ENTRY_COLUMNS} FROM log WHERE lsn > ? ORDER BY lsn LIMIT ?",
                                   (self._last_lsn, BATCH))
            entries: list[Entry] = []
            for row in rows:
                if not self._is_own(row[0]):
                    try:
                        entries.append(row_entry(row[1:]))
                    except Exception:
                        log.exception("log row %s is unreadable; not delivered", row[0])
            if rows:
                self._last_lsn = rows[-1][0]
                self._forget_own_spans()
            purged = self._purges() if len(rows) < BATCH else []
            if entries or purged:
                self._deliver(Committed(entries, purged))
            if len(rows) < BATCH:
                return

    def _purges(self) -> list[tuple[str, Facts | None]]:
        rows = self.store.read("SELECT id, object_id, facts FROM purges WHERE id > ? ORDER BY id", (self._last_purge,))
        out = []
        for purge_id, object_id, facts in rows:
            self._last_purge = purge_id
            with self._lock:
                if purge_id in self._own_purges:
                    self._own_purges.discard(purge_id)
                    continue
            out.append((object_id, facts_of_text(facts)))
        return out

    def _is_own(self, lsn: int) -> bool:
        with self._lock:
            return any(first <= lsn <= last for first, last in self._own_spans)

    def _forget_own_spans(self) -> None:
        with self._lock:
            self._own_spans = [s for s in self._own_spans if s[1] > (self._last_lsn or 0)]

    def _deliver(self, committed: Committed) -> None:
        for listener in self.remote:
            try:
                listener(committed)
            except Exception:  # one failing listener must not stop the others
                log.exception("commit listener failed")
