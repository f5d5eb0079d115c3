"""The change feed: what each commit changed, and who may have seen it before and now.

For every committed entry about an object (a report, unit, section, field alert or chat
message) and every purge, the feed derives one `Change` — once, in this module — with the
object's need-to-know facts after the entry (`facts_now`) and before it (`facts_before`,
None for a new object), read from the store's own history: the object's previous log entry
(a report's previous version), or the facts a purge recorded. The live websocket hub, the TAK
fan-out and every later consumer (a STIX/TAXII feed, webhooks) subscribe and keep only their
own question — which of *their* viewers may see it now, which could before — and their
transport. None of them reads an entry to work out facts.

The feed hears the store's commits through `on_commit(..., other_workers=True)`: on the
committing thread for this process's commits, on the notice listener's thread for the
commits of the node's other PostgreSQL workers (store/pg_notices.py reads them back from the
store). Subscribers are called on that thread, each in turn; one that raises is logged and the
others still get the batch, and the commit stands. The hop onto an event loop is the
subscriber's: the websocket hub and the TAK gateway may run on different loops (or none yet),
and each knows whether it has anyone to tell.

A batch is derived only when some subscriber says it is `active` (has viewers or devices):
the store reads it costs are not paid by a node nobody watches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .domain import report as rules
from .domain.org import User
from .log.entry import Entry
from .policy import redact
from .policy.release import facts_of_entry, facts_of_field_entry
from .policy.visibility import Facts

log = logging.getLogger("fossatum.changes")


class ChangeStore(Protocol):
    """What the feed reads: the history that says what was before, and documents as held."""

    def on_commit(self, listener: Callable[[Any], None], *, other_workers: bool = False) -> None: ...

    def entries_before(self, object_ids: Sequence[str], origin: str, seq: int) -> Mapping[str, Entry]: ...

    def current_doc(self, kind: str, object_id: str) -> dict[str, Any] | None: ...

    def facts_of(self, kind: str, ids: frozenset[str]) -> Mapping[str, Facts]: ...


@dataclass(frozen=True, eq=False)
class Change:
    """One committed change of one object (or its purge), derived once for every consumer.

    `doc` is the object's document as this node holds it (a section's with its owner's notes),
    which `shown(user)` redacts for one viewer (policy/redact.py) — also once per distinct user,
    whichever consumer asks first. `held_abroad`: a report version that is not a released one,
    which a partner's viewer does not get (they keep the version released to them).
    `urgent`: the entry raised the report's urgent flag."""

    object_kind: str                 # "report", "unit", "section", "alert", "chat"
    object_id: str
    entry: Entry | None              # None for a purge
    doc: dict[str, Any] | None       # None for a purge
    facts_now: Facts | None          # None for a purge: nobody may see it now
    facts_before: Facts | None       # None: new (or, for a purge, no facts were recorded)
    removed: bool = False
    held_abroad: bool = False
    urgent: bool = False
    _facts_of: Callable[[str, frozenset[str]], Mapping[str, Facts]] | None = field(default=None, repr=False)
    _views: dict[User, dict[str, Any]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def needs_redaction(self) -> bool:
        """Whether some viewer may be shown less than `doc` (else every viewer gets `doc` itself)."""
        return self.doc is not None and redact.needs(self.object_kind, self.doc)

    def shown(self, user: User) -> dict[str, Any]:
        """`doc` as `user` may see it; the same object for every user when nothing is redacted."""
        assert self.doc is not None, "a purge has no document"
        if not self.needs_redaction or self._facts_of is None:
            return self.doc
        with self._lock:  # consumers on different threads share one redaction per user
            if user not in self._views:
                self._views[user] = redact.redact(user, self.object_kind, [self.doc], self._facts_of)[0]
            return self._views[user]


Subscriber = Callable[[Sequence[Change]], None]


@dataclass
class _Subscription:
    deliver: Subscriber
    active: Callable[[], bool]


class ChangeFeed:
    """Derives the `Change`s of each commit once and hands them to every subscriber."""

    def __init__(self, store: ChangeStore) -> None:
        self.store = store
        self.derived = 0  # batches derived (tests: once per commit, however many consumers)
        self._subscriptions: list[_Subscription] = []
        store.on_commit(self.committed, other_workers=True)

    def subscribe(self, deliver: Subscriber, *, active: Callable[[], bool] = lambda: True) -> None:
        """Call `deliver(changes)` after each commit (on the committing or listener thread),
        when `active()` says the subscriber has anyone to tell."""
        self._subscriptions.append(_Subscription(deliver, active))

    def committed(self, tx: Any) -> None:
        """(The store's commit listener.) `tx.appended` entries, `tx.purged` (id, facts) pairs."""
        listening = [s for s in self._subscriptions if _asks(s)]
        if not listening:
            return
        try:
            changes = self.derive(list(tx.appended), list(getattr(tx, "purged", [])))
        except Exception:  # the commit stands; consumers catch up on reconnect
            log.exception("could not derive the changes of a commit; nothing pushed for it")
            return
        if not changes:
            return
        for subscription in listening:
            try:
                subscription.deliver(changes)
            except Exception:  # one failing consumer must not stop the others
                log.exception("change feed subscriber %r failed", subscription.deliver)

    def derive(self, entries: Sequence[Entry], purged: Iterable[tuple[str, Facts | None]]) -> tuple[Change, ...]:
        """The changes of one batch, in commit order, purges last."""
        self.derived += 1
        facts_of = redact.memo(self.store.facts_of)
        about = [(entry, _object_of(entry)) for entry in entries]
        known = [(e, o) for e, o in about if o is not None]
        before = self._history(known)
        out: list[Change] = []
        for entry, obj in known:
            assert obj is not None
            kind, object_id, doc = obj
            now = _facts(kind, entry)
            if now is None:
                continue  # node-internal: nobody outside the node's own processes is told
            previous = before.get((kind, object_id))
            report = rules.from_doc(doc) if kind == "report" else None
            if kind == "section":  # as stored: with the owner's notes, which `shown` gives to whom they concern
                doc = self.store.current_doc("section", object_id) or doc
            out.append(Change(
                kind, object_id, entry, doc, now, previous,
                held_abroad=report is not None and not report.is_released_version,
                urgent=entry.kind == "report.flagged" and bool(doc.get("urgent")),
                _facts_of=facts_of))
            before[(kind, object_id)] = now
        for object_id, facts in purged:
            out.append(Change("report", object_id, None, None, None, facts, removed=True))
        return tuple(out)

    def _history(self, known: list[tuple[Entry, tuple[str, str, dict[str, Any]] | None]]) -> dict[tuple[str, str], Facts]:
        """The facts each object of the batch had before its first entry in the batch: from its
        previous log entry (one read for the batch). Alerts and chat are not in the log's
        object index: a chat message is always new; an alert keeps the audience it was raised
        with (Node.raise_alert, cancel_alert), so a cancel was seen by whom its facts name now."""
        if not known:
            return {}
        first = known[0][0]
        logged = [o[1] for e, o in known if o is not None and o[0] in _LOGGED]
        previous = self.store.entries_before(sorted(set(logged)), first.origin, first.seq) if logged else {}
        out: dict[tuple[str, str], Facts] = {}
        for object_id, entry in previous.items():
            obj = _object_of(entry)
            facts = _facts(obj[0], entry) if obj is not None else None
            if obj is not None and facts is not None:
                out[(obj[0], object_id)] = facts
        for entry, obj in known:
            if obj is not None and entry.kind == "alert.cancelled" and (obj[0], obj[1]) not in out:
                facts = _facts("alert", entry)
                if facts is not None:
                    out[(obj[0], obj[1])] = facts
        return out


_LOGGED = ("report", "unit", "section")  # kinds whose entries carry the log's object_id


def _asks(subscription: _Subscription) -> bool:
    try:
        return subscription.active()
    except Exception:
        log.exception("change feed subscriber's active() failed")
        return False


def _object_of(entry: Entry) -> tuple[str, str, dict[str, Any]] | None:
    """(object kind, object id, document after the entry) of an entry about an object."""
    kind = entry.kind.split(".", 1)[0]
    p = entry.payload
    if kind == "report" and isinstance(p.get("report"), dict):
        return kind, str(p["report"]["id"]), p["report"]
    if kind in ("unit", "section", "chat") and "id" in p:
        return kind, str(p["id"]), {k: v for k, v in p.items() if k != "fix"}
    if kind == "alert" and "uid" in p:
        return kind, str(p["uid"]), p
    return None


def _facts(kind: str, entry: Entry) -> Facts | None:
    if kind == "report":
        return Facts.of_report(rules.from_doc(entry.payload["report"]))
    if kind in ("alert", "chat"):
        return facts_of_field_entry(entry)
    return facts_of_entry(entry)
