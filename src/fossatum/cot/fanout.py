"""Node commits out to devices: each device gets what its user may see, never more.

The store calls `Fanout.committed` after each commit (on the writer's thread); the fan-out
hops onto the event loop and, per entry, renders the CoT event once and decides per device
with `policy.may_view` — the same rule as every read. An item a device was sent and may no
longer see (narrowed, retracted, purged) is deleted on the device with `t-x-d-d`.
On connect, `snapshot` gives the latest state of everything the user may see.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from ..domain import audience as aud
from ..domain import report as rules
from ..domain.org import User
from ..log.entry import Entry
from ..policy import redact
from ..policy.visibility import Facts, may_view, sees_released_version
from ..store.query import ReportQuery
from . import codec

SHOWN_STATES = ("validated",)
RENDER_SECONDS = 30.0  # a cached CoT rendering is reused this long (its `time` is at most this old)
RENDER_CACHE_MAX = 200_000  # renderings kept before the cache is emptied (memory bound)
UNIT_PREFIX = codec.unit_uid("")
# A batch longer than this means the gateway is behind: of a unit's several fixes in it, only the
# newest is fanned out (all stay in the node's log and the unit's track), so the work per batch
# is bounded by units × devices however far behind it is, and the backlog drains.
COALESCE_BATCH = 64


class Device(Protocol):
    user: User
    unit_id: str | None
    device_uid: str | None
    sent: set[str]
    fresh: set[str] | None  # while its snapshot is being read: uids the fan-out has decided since

    def send(self, key: str, message: bytes, *, withdraw: bool = False) -> None: ...


def _facts(doc: dict[str, Any], author: str, state: str = "active", released: bool = True) -> Facts:
    a = aud.from_doc(doc.get("audience"), owner_agency=str(doc.get("owner_agency", "")),
                     owner_country=str(doc.get("owner_country", "")))
    return Facts(a.owner_agency, a.owner_country, a.scope, a.releasable_to, state, released, author)


def _superseded_units(entries: list[Entry]) -> frozenset[int]:
    """Positions of the unit entries that a later entry of the same unit in this batch replaces."""
    latest: dict[str, int] = {}
    older: list[int] = []
    for n, entry in enumerate(entries):
        if entry.kind.startswith("unit."):
            unit_id = entry.payload.get("id")
            if unit_id in latest:
                older.append(latest[unit_id])
            latest[unit_id] = n
    return frozenset(older)


class Fanout:
    def __init__(self, node: Any, settings: Any, devices: Callable[[], Iterable[Device]]) -> None:
        self.node = node
        self.settings = settings
        self.devices = devices
        self.loop: Any = None
        # (kind, stored document text) → (CoT uid, rendering or None, monotonic time rendered)
        self._rendered: dict[tuple[str, str], tuple[str, bytes | None, float]] = {}
        # Commits of the node's other API workers too: a report validated through any of them
        # reaches the devices connected to the one process that runs the gateway.
        node.store.on_commit(self.committed, other_workers=True)

    def committed(self, tx: Any) -> None:
        if self.loop is None or self.loop.is_closed():
            return
        entries = list(tx.appended)
        purged = list(getattr(tx, "purged", []))
        try:
            self.loop.call_soon_threadsafe(self.dispatch, entries, purged)
        except RuntimeError:  # the loop closed meanwhile (shutting down)
            pass

    def dispatch(self, entries: list[Entry], purged: list[tuple[str, Any]]) -> None:
        devices = list(self.devices())
        if not devices:
            return
        now = self.node.clock()
        # Devices of equal users see the same: visibility is decided once per distinct user and
        # entry (a fleet has many devices and few users), so the per-device cost is the queueing.
        classes: dict[User, int] = {}
        klass = [classes.setdefault(device.user, len(classes)) for device in devices]
        users = list(classes)
        superseded = _superseded_units(entries) if len(entries) > COALESCE_BATCH else frozenset()
        for n, entry in enumerate(entries):
            if n in superseded:
                continue
            out = self._render(entry, now)
            if out is None:
                continue
            uid, facts, message, shown, skip = out
            unit_id = uid[len(UNIT_PREFIX):] if uid.startswith(UNIT_PREFIX) else None
            removal: bytes | None = None
            visible = [shown and may_view(user, facts) for user in users]
            messages = self._redacted(entry, users, visible, message, now)
            # A partner's user keeps the version released to it until the next release.
            held = ([sees_released_version(u, facts) and may_view(u, facts) for u in users]
                    if entry.kind.startswith("report.") and not rules.from_doc(entry.payload["report"]).is_released_version
                    else [False] * len(users))
            for device, k in zip(devices, klass):
                if held[k]:
                    continue
                if device.fresh is not None:
                    device.fresh.add(uid)  # newer than what a snapshot being read may hold
                if (skip is not None and device.device_uid == skip) or (
                        unit_id is not None and device.unit_id == unit_id):
                    continue  # its own position or chat line: the device shows it already
                if visible[k]:
                    device.sent.add(uid)
                    device.send(uid, messages[k])
                elif uid in device.sent:
                    device.sent.discard(uid)
                    removal = removal or codec.delete(uid, now)
                    device.send(uid, removal, withdraw=True)
        for object_id, _before in purged:
            uid = codec.report_uid(object_id)
            for device in devices:
                if device.fresh is not None:
                    device.fresh.add(uid)
                if uid in device.sent:
                    device.sent.discard(uid)
                    device.send(uid, codec.delete(uid, now), withdraw=True)

    def _redacted(self, entry: Entry, users: list[User], visible: list[bool], message: bytes,
                  now: datetime) -> list[bytes]:
        """The entry's event per user class: as each user may see its document (policy/redact.py,
        e.g. a section's owner-only impact reason), rendered once per distinct document."""
        kind = entry.kind.split(".", 1)[0]
        doc = entry.payload.get("report") if kind == "report" else entry.payload
        if kind == "section":  # as stored: with the owner's notes (impact reason), shown to whom they concern
            doc = self.node.store.current_doc("section", doc["id"]) or doc
        if kind not in redact.SHAPES or not isinstance(doc, dict) or not redact.needs(kind, doc):
            return [message] * len(users)
        facts_of = redact.memo(self.node.store.facts_of)
        rendered: dict[str, bytes] = {}
        out = []
        for user, seen in zip(users, visible):
            if not seen:
                out.append(message)  # not sent
                continue
            shown = redact.redact(user, kind, [doc], facts_of)[0]
            key = redact.dumps(shown)
            if key not in rendered:
                variant = replace(entry, payload={**entry.payload, "report": shown} if kind == "report" else shown)
                again = self._render(variant, now)
                rendered[key] = again[2] if again is not None else message
            out.append(rendered[key])
        return out

    def _render(self, entry: Entry, now: datetime) -> tuple[str, Facts, bytes, bool, str | None] | None:
        """(CoT uid, facts, message, shown?, uid of the device not to echo to) of an entry."""
        kind, p = entry.kind, entry.payload
        s = self.settings
        if kind.startswith("report."):
            doc = p["report"]
            facts = Facts.of_report(rules.from_doc(doc))
            shown = doc["state"] in SHOWN_STATES
            message = codec.report_event(doc, now, stale_hours=s.cot_report_stale_hours) if shown else b""
            return codec.report_uid(doc["id"]), facts, message, shown, None
        if kind.startswith("unit."):
            doc = {k: v for k, v in p.items() if k != "fix"}
            message = codec.unit_event(doc, now, stale_minutes=s.cot_unit_stale_minutes)
            if message is None:
                return None
            return codec.unit_uid(doc["id"]), _facts(doc, entry.author), message, True, doc.get("device_uid")
        if kind.startswith("section."):
            message = codec.section_event(p, now, stale_hours=s.cot_report_stale_hours)
            return codec.section_uid(p["id"]), _facts(p, p.get("created_by", entry.author)), message, True, None
        if kind.startswith("alert."):
            # The raising device has the alert under its own uid: not echoed to it.
            skip = p.get("device_uid") or None if kind == "alert.raised" else None
            return p["uid"], _facts(p, entry.author), codec.alert_event(p, now), True, skip
        if kind == "chat.posted":
            uid = f"GeoChat.{p['sender_uid']}.{p['room']}.{p['message_id']}"
            return uid, _facts(p, entry.author), codec.chat_event(p, now), True, p["sender_uid"]
        return None

    def snapshot(self, user: User, *, own_unit: str | None) -> list[tuple[str, bytes]]:
        """(uid, message) of the latest state of everything `user` may see (store reads).

        The store query decides what `user` may see; the CoT rendering of each returned document
        depends on the document alone, so it is cached by the document's stored text (a changed
        object is a new text) for RENDER_SECONDS: a crowd of devices connecting at once costs one
        rendering of the picture, not one per device."""
        now = self.node.clock()
        s = self.settings
        store = self.node.store
        out: list[tuple[str, bytes]] = []
        sources: list[tuple[str, Iterable[str], Callable[[dict[str, Any]], tuple[str, bytes | None]]]] = [
            ("section", store.sections(user), lambda d: (codec.section_uid(d["id"]), codec.section_event(
                d, now, stale_hours=s.cot_report_stale_hours))),
            ("unit", store.units(user), lambda d: (codec.unit_uid(d["id"]), codec.unit_event(
                d, now, stale_minutes=s.cot_unit_stale_minutes))),
            ("report", self.node.reports(viewer=user, query=ReportQuery(states=SHOWN_STATES,
                                                                        limit=s.cot_snapshot_max)).items,
             lambda d: (codec.report_uid(d["id"]), codec.report_event(d, now, stale_hours=s.cot_report_stale_hours))),
            ("alert", store.alerts(user), lambda d: (d["uid"], codec.alert_event(d, now))),
        ]
        own = codec.unit_uid(own_unit) if own_unit is not None else None
        clock = time.monotonic()
        if len(self._rendered) > RENDER_CACHE_MAX:
            self._rendered.clear()
        for kind, raws, render in sources:
            for raw in raws:
                hit = self._rendered.get((kind, raw))
                if hit is None or clock - hit[2] >= RENDER_SECONDS:
                    uid, message = render(json.loads(raw))
                    hit = self._rendered[(kind, raw)] = (uid, message, clock)
                uid, message, _ = hit
                if message is not None and uid != own:
                    out.append((uid, message))
        return out
