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
from .log.kinds import ALERT_CANCELLED, REPORT, REPORT_FLAGGED, UNIT, ObjectKind, object_of
from .policy import redact
from .policy.release import facts_of_entry, facts_of_field_entry
from .policy.visibility import Facts

log = logging.getLogger("fossatum.changes")
LATE_FIX = "fix"  # a unit entry's late position fix (Node._move)
_About = tuple[ObjectKind, str, dict[str, Any]]  # (object kind, object id, its document)


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

    object_kind: str                 # its name in log/kinds.py: "report", "unit", "section", "alert", "chat"
    object_id: str
    entry: Entry | None              # None for a purge
    doc: dict[str, Any] | None       # None for a purge
    facts_now: Facts | None          # None for a purge: nobody may see it now
    facts_before: Facts | None       # None: new (or, for a purge, no facts were recorded)
    removed: bool = False
    held_abroad: bool = False
    urgent: bool = False
    # A contained object (an operation's journal line, log/kinds.py `contained_in`): the facts of
    # its parent as held after the commit, None if it is not held. Shown only to who may see both.
    facts_parent: Facts | None = None
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
        known = [(entry, about) for entry in entries if (about := _object_of(entry)) is not None]
        before = self._history(known)
        out: list[Change] = []
        for entry, (obj, object_id, doc) in known:
            now = _facts(obj, entry)
            if now is None:
                continue  # node-internal: nobody outside the node's own processes is told
            report = rules.from_doc(doc) if obj is REPORT else None
            if obj.owner_notes:  # as stored: with the owner's notes, which `shown` gives to whom they concern
                doc = self.store.current_doc(obj.name, object_id) or doc
            parent = obj.parent(entry.payload)
            out.append(Change(
                obj.name, object_id, entry, doc, now, before.get((obj.name, object_id)),
                held_abroad=report is not None and not report.is_released_version,
                urgent=entry.kind == REPORT_FLAGGED and bool(doc.get("urgent")),
                facts_parent=facts_of(parent[0], frozenset({parent[1]})).get(parent[1]) if parent else None,
                _facts_of=facts_of))
            before[(obj.name, object_id)] = now
        # Of partners' objects (federation/inbound.py): a report with the facts of who may have seen
        # it; another object (an operation) with none — consumers that kept what they sent remove it.
        for object_id, facts in purged:
            out.append(Change(REPORT.name, object_id, None, None, None, facts, removed=True))
        return tuple(out)

    def _history(self, known: list[tuple[Entry, _About]]) -> dict[tuple[str, str], Facts]:
        """The facts each object of the batch had before its first entry in the batch: from its
        previous log entry (one read for the batch). Objects that do not federate (alerts, chat)
        are not in the log's object index: a chat message is always new; an alert keeps the
        audience it was raised with (Node.raise_alert, cancel_alert), so a cancel was seen by
        whom its facts name now."""
        if not known:
            return {}
        first = known[0][0]
        logged = sorted({object_id for _, (obj, object_id, _) in known if obj.federates})
        previous = self.store.entries_before(logged, first.origin, first.seq) if logged else {}
        out: dict[tuple[str, str], Facts] = {}
        for object_id, entry in previous.items():
            about = _object_of(entry)
            facts = _facts(about[0], entry) if about is not None else None
            if about is not None and facts is not None:
                out[(about[0].name, object_id)] = facts
        for entry, (obj, object_id, _) in known:
            if entry.kind == ALERT_CANCELLED and (obj.name, object_id) not in out:
                facts = _facts(obj, entry)
                if facts is not None:
                    out[(obj.name, object_id)] = facts
        return out


def _asks(subscription: _Subscription) -> bool:
    try:
        return subscription.active()
    except Exception:
        log.exception("change feed subscriber's active() failed")
        return False


def _object_of(entry: Entry) -> _About | None:
    """(object kind, object id, document after the entry) of an entry about an object."""
    obj = object_of(entry.kind)
    if obj is None:
        return None
    doc, object_id = obj.document(entry.payload), obj.object_id(entry.payload)
    if not isinstance(doc, dict) or object_id is None:
        return None
    if obj is UNIT:  # a late fix is history only, not the unit's state (store/projector.py)
        doc = {k: v for k, v in doc.items() if k != LATE_FIX}
    return obj, object_id, doc


def _facts(obj: ObjectKind, entry: Entry) -> Facts | None:
    if obj is REPORT:  # as a whole: its owner country by its current audience, partners as released
        return Facts.of_report(rules.from_doc(REPORT.document(entry.payload)))
    return facts_of_entry(entry) if obj.federates else facts_of_field_entry(entry)
