"""Node commits out to devices: each device gets what its user may see, never more.

The change feed (changes.py) hands `Fanout.committed` what each commit changed (on the
writer's or the notice listener's thread); the fan-out hops onto the gateway's event loop and,
per change, renders the CoT event once and decides per device with `policy.may_view` on the
change's facts — the same rule as every read. An item a device was sent and may no
longer see (narrowed, retracted, purged) is deleted on the device with `t-x-d-d`.
On connect, `snapshot` gives the latest state of everything the user may see.

Joint operations, patrols and checkpoints (issue 12) are groups of items (an operation's area
and its sectors; a patrol's route; a checkpoint): a change replaces the group on each device
whose user may see it — a sector dropped, or the whole group once the operation ended or the
user lost it, is removed with `t-x-d-d` — and an operation that ends takes its patrols' routes
with it (cot/operations.py says what each viewer's devices show). An operation is shown as
its read model (services/operations.py), so a country's journal line assigning its units to its
sector re-sends that operation. A checkpoint joins the
missions of the operations around it; when an operation or patrol changes those, it is re-sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..changes import Change
from ..domain.checkpoint import Checkpoint
from ..domain.operation import JournalKind, Operation
from ..domain.org import User
from ..domain.patrol import Patrol
from ..log.kinds import ALERT, CHAT, CHECKPOINT, JOURNAL, OPERATION, PATROL, REPORT, SECTION, UNIT, object_kind
from ..policy import redact
from ..policy.visibility import may_view, sees_released_version
from ..store.query import ReportQuery
from . import codec
from . import operations as ops

SHOWN_STATES = ("validated",)
RENDER_SECONDS = 30.0  # a cached CoT rendering is reused this long (its `time` is at most this old)
RENDER_CACHE_MAX = 200_000  # renderings kept before the cache is emptied (memory bound)
UNIT_PREFIX = codec.unit_uid("")
# A batch longer than this means the gateway is behind: of a unit's several fixes in it, only the
# newest is fanned out (all stay in the node's log and the unit's track), so the work per batch
# is bounded by units × devices however far behind it is, and the backlog drains.
COALESCE_BATCH = 64
GROUPED = {OPERATION.name: ops.operation_uid, PATROL.name: ops.patrol_uid, CHECKPOINT.name: ops.checkpoint_uid}


class Device(Protocol):
    user: User
    unit_id: str | None
    device_uid: str | None
    sent: set[str]
    fresh: set[str] | None  # while its snapshot is being read: uids the fan-out has decided since

    def send(self, key: str, message: bytes, *, withdraw: bool = False) -> None: ...


def _superseded_units(changes: Sequence[Change]) -> frozenset[int]:
    """Positions of the unit changes that a later change of the same unit in this batch replaces."""
    latest: dict[str, int] = {}
    older: list[int] = []
    for n, change in enumerate(changes):
        if change.object_kind == UNIT.name and not change.removed:
            if change.object_id in latest:
                older.append(latest[change.object_id])
            latest[change.object_id] = n
    return frozenset(older)


class Fanout:
    def __init__(self, node: Any, settings: Any, devices: Callable[[], Iterable[Device]]) -> None:
        self.node = node
        self.settings = settings
        self.devices = devices
        self.loop: Any = None
        # (kind, stored document text) → (CoT uid, rendering or None, monotonic time rendered)
        self._rendered: dict[tuple[str, str], tuple[str, bytes | None, float]] = {}
        # (user, checkpoint id) → the missions its event last named on that user's devices: an
        # operation or patrol that changes around a checkpoint re-sends it only if they change.
        self._checkpoint_missions: dict[tuple[User, str], tuple[str, ...]] = {}
        # Commits of the node's other API workers too (the feed hears them): a report validated
        # through any of them reaches the devices connected to the one process that runs the gateway.
        node.changes.subscribe(self.committed, active=self.active)

    def active(self) -> bool:
        """(Any thread.) Whether the gateway runs: the devices are the loop's to count."""
        return self.loop is not None and not self.loop.is_closed()

    def committed(self, changes: Sequence[Change]) -> None:
        """(The change feed, on the committing or listener thread.) Hop onto the gateway's loop."""
        if not self.active():
            return
        try:
            self.loop.call_soon_threadsafe(self.dispatch, changes)
        except RuntimeError:  # the loop closed meanwhile (shutting down)
            pass

    def dispatch(self, changes: Sequence[Change]) -> None:
        devices = list(self.devices())
        if not devices:
            return
        now = self.node.clock()
        # Devices of equal users see the same: visibility is decided once per distinct user and
        # change (a fleet has many devices and few users), so the per-device cost is the queueing.
        classes: dict[User, int] = {}
        klass = [classes.setdefault(device.user, len(classes)) for device in devices]
        users = list(classes)
        superseded = _superseded_units(changes) if len(changes) > COALESCE_BATCH else frozenset()
        context = _Context(self.node)
        around_checkpoints = False  # an operation or patrol changed: checkpoints' missions may have
        for n, change in enumerate(changes):
            if change.removed:
                self._withdraw(devices, change.object_id, now)
                around_checkpoints = True  # a purged operation or patrol was around some, perhaps
                continue
            if n in superseded:
                continue
            if change.object_kind in GROUPED:
                self._dispatch_group(change.object_kind, change.object_id, change, devices, klass, users, context,
                                     now)
                around_checkpoints = around_checkpoints or change.object_kind != CHECKPOINT.name
                continue
            if change.object_kind == JOURNAL.name:
                # A country's assignment of its units to its sector changes the sector as shown.
                doc = change.doc or {}
                if doc.get("kind") == JournalKind.ASSIGNMENT.value and isinstance(doc.get("operation"), str):
                    self._dispatch_group(OPERATION.name, doc["operation"], None, devices, klass, users, context, now)
                continue
            out = self._render(change, change.doc, now)
            if out is None:
                continue
            uid, message, shown, skip = out
            facts = change.facts_now
            assert facts is not None
            unit_id = change.object_id if change.object_kind == UNIT.name else None
            removal: bytes | None = None
            visible = [shown and may_view(user, facts) for user in users]
            messages = self._redacted(change, users, visible, message, now)
            # A partner's user keeps the version released to it until the next release.
            held = ([sees_released_version(u, facts) and may_view(u, facts) for u in users]
                    if change.held_abroad else [False] * len(users))
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
        if around_checkpoints:  # once per batch: a burst of a partner's entries is one pass
            self._refresh_checkpoints(devices, klass, users, context, now)

    @staticmethod
    def _withdraw(devices: list[Device], object_id: str, now: datetime) -> None:
        """A purged object (a partner's report, operation, patrol or checkpoint that this node may
        no longer hold): deleted on every device it was sent to."""
        uid = codec.report_uid(object_id)
        groups = ops.groups_of_object(object_id)
        for device in devices:
            if device.fresh is not None:
                device.fresh.add(uid)
                device.fresh.update(groups)
            if uid in device.sent:
                device.sent.discard(uid)
                device.send(uid, codec.delete(uid, now), withdraw=True)
            for group in groups:
                _remove(device, _members(device, group), now)

    def _dispatch_group(self, kind: str, object_id: str, change: Change | None, devices: list[Device],
                        klass: list[int], users: list[User], context: _Context, now: datetime) -> None:
        """An operation, patrol or checkpoint changed (`change`; None: an operation's journal
        assigned units): each device gets the group's items as its user may see them now, and
        loses those of the group it no longer gets."""
        group = GROUPED[kind](object_id)
        facts = change.facts_now if change is not None else None
        items: list[list[tuple[str, bytes]]] = []
        for user in users:
            if facts is not None and not may_view(user, facts):
                items.append([])
                continue
            if kind == OPERATION.name:
                # The read model as the user may see it (services/operations.py: the lead's units
                # and each country's assignments to its sectors), as the snapshot shows it too.
                operation = context.operations(user).get(object_id)
                items.append(ops.operation_items(operation, now) if operation is not None else [])
                continue
            assert change is not None
            shown = change.shown(user)
            if kind == PATROL.name:
                patrol = ops.patrol_of(shown)
                items.append(ops.patrol_items(patrol, context.operations(user), now) if patrol is not None else [])
            else:
                checkpoint = ops.checkpoint_of(shown)
                items.append([self._checkpoint(user, checkpoint, context, now)] if checkpoint is not None else [])
        # An operation that ended takes its patrols' routes off the devices (they are not shown
        # without it, cot/operations.py:patrol_items); one merely hidden from a user does not.
        ended = kind == OPERATION.name and change is not None and change.doc is not None and \
            change.doc.get("status") in {s.value for s in ops.FINAL}
        for device, k in zip(devices, klass):
            if device.fresh is not None:
                device.fresh.add(group)  # the snapshot being read holds an older state of the group
            keep = set()
            for uid, message in items[k]:
                keep.add(uid)
                device.sent.add(uid)
                device.send(uid, message)
            _remove(device, [uid for uid in _members(device, group) if uid not in keep], now)
            if ended:
                routes = {ops.patrol_uid(p.id) for p in context.patrols(users[k]) if p.operation == object_id}
                _remove(device, routes & device.sent, now)

    def _checkpoint(self, user: User, checkpoint: Checkpoint, context: _Context, now: datetime) -> tuple[str, bytes]:
        """A checkpoint's event for `user`'s devices, in the missions of the operations around it
        that the user may see (remembered, see `_refresh_checkpoints`)."""
        missions = tuple(ops.checkpoint_missions(checkpoint, context.patrols(user), context.operations(user)))
        self._checkpoint_missions[(user, checkpoint.id)] = missions
        return ops.checkpoint_uid(checkpoint.id), ops.checkpoint_event(checkpoint, now, missions=missions)

    def _refresh_checkpoints(self, devices: list[Device], klass: list[int], users: list[User], context: _Context,
                             now: datetime) -> None:
        """After an operation or patrol changed: the checkpoints whose missions changed with it
        (an operation drawn around one, a patrol routed through one, an operation that ended),
        re-sent to the devices that have them."""
        again: list[list[tuple[str, bytes]]] = []
        for user in users:
            out = []
            for checkpoint in context.checkpoints(user):
                before = self._checkpoint_missions.get((user, checkpoint.id))
                item = self._checkpoint(user, checkpoint, context, now)
                if before is not None and before != self._checkpoint_missions[(user, checkpoint.id)]:
                    out.append(item)
            again.append(out)
        for device, k in zip(devices, klass):
            for uid, message in again[k]:
                if uid in device.sent:
                    device.send(uid, message)

    def _redacted(self, change: Change, users: list[User], visible: list[bool], message: bytes,
                  now: datetime) -> list[bytes]:
        """The change's event per user class: as each user may see its document (policy/redact.py,
        e.g. a section's owner-only impact reason), rendered once per distinct document."""
        if not change.needs_redaction:
            return [message] * len(users)
        rendered: dict[str, bytes] = {}
        out = []
        for user, seen in zip(users, visible):
            if not seen:
                out.append(message)  # not sent
                continue
            shown = change.shown(user)
            key = redact.dumps(shown)
            if key not in rendered:
                again = self._render(change, shown, now)
                rendered[key] = again[1] if again is not None else message
            out.append(rendered[key])
        return out

    def _render(self, change: Change, doc: dict[str, Any] | None, now: datetime,
                ) -> tuple[str, bytes, bool, str | None] | None:
        """(CoT uid, message, shown?, uid of the device not to echo to) of `doc`, the changed
        object's document (or one viewer's redaction of it)."""
        s = self.settings
        kind = change.object_kind
        if change.entry is None or doc is None:
            return None
        if object_kind(kind).owner_notes and doc is change.doc:
            doc = object_kind(kind).document(change.entry.payload)  # as the entry has it: the notes go by `_redacted`
            if not isinstance(doc, dict):
                return None
        p = doc
        if kind == REPORT.name:
            shown = p["state"] in SHOWN_STATES
            message = codec.report_event(p, now, stale_hours=s.cot_report_stale_hours) if shown else b""
            return codec.report_uid(p["id"]), message, shown, None
        if kind == UNIT.name:
            unit = codec.unit_event(p, now, stale_minutes=s.cot_unit_stale_minutes)
            if unit is None:
                return None
            return codec.unit_uid(p["id"]), unit, True, p.get("device_uid")
        if kind == SECTION.name:
            return codec.section_uid(p["id"]), codec.section_event(p, now, stale_hours=s.cot_report_stale_hours), True, None
        if kind == ALERT.name:
            # The raising device has the alert under its own uid: not echoed to it (a cancel is).
            skip = p.get("device_uid") or None if p.get("state") == "raised" else None
            return p["uid"], codec.alert_event(p, now), True, skip
        if kind == CHAT.name:
            uid = f"GeoChat.{p['sender_uid']}.{p['room']}.{p['message_id']}"
            return uid, codec.chat_event(p, now), True, p["sender_uid"]
        return None

    def operations_picture(self, user: User, now: datetime) -> list[tuple[str, bytes]]:
        """The operations, patrols and checkpoints `user` may see, as their devices show them."""
        context = _Context(self.node)
        shapes = ops.picture(context.operations(user).values(), context.patrols(user), (), now)
        return shapes + [self._checkpoint(user, c, context, now) for c in context.checkpoints(user)]

    def snapshot(self, user: User, *, own_unit: str | None) -> list[tuple[str, bytes]]:
        """(uid, message) of the latest state of everything `user` may see (store reads).

        The store query decides what `user` may see; the CoT rendering of each returned document
        depends on the document alone, so it is cached by the document's stored text (a changed
        object is a new text) for RENDER_SECONDS: a crowd of devices connecting at once costs one
        rendering of the picture, not one per device."""
        now = self.node.clock()
        s = self.settings
        node = self.node
        out: list[tuple[str, bytes]] = []
        sources: list[tuple[str, Iterable[str], Callable[[dict[str, Any]], tuple[str, bytes | None]]]] = [
            ("section", node.sections(viewer=user), lambda d: (codec.section_uid(d["id"]), codec.section_event(
                d, now, stale_hours=s.cot_report_stale_hours))),
            ("unit", node.units(viewer=user), lambda d: (codec.unit_uid(d["id"]), codec.unit_event(
                d, now, stale_minutes=s.cot_unit_stale_minutes))),
            ("report", self.node.reports(viewer=user, query=ReportQuery(states=SHOWN_STATES,
                                                                        limit=s.cot_snapshot_max)).items,
             lambda d: (codec.report_uid(d["id"]), codec.report_event(d, now, stale_hours=s.cot_report_stale_hours))),
            ("alert", node.alerts(viewer=user), lambda d: (d["uid"], codec.alert_event(d, now))),
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
        out += self.operations_picture(user, now)
        return out


def _members(device: Device, group: str) -> list[str]:
    """The uids of a group's items the device was sent: an operation's area and sectors (sent
    together, so none without the area), or the one item of a patrol or checkpoint."""
    if group not in device.sent:
        return []
    if not group.startswith(ops.OPERATION_PREFIX):
        return [group]
    return [uid for uid in device.sent if ops.group_of(uid) == group]


def _remove(device: Device, uids: Iterable[str], now: datetime) -> None:
    for uid in list(uids):
        device.sent.discard(uid)
        device.send(uid, ops.removal_of(uid, now), withdraw=True)


class _Context:
    """What one batch reads, once per user, to render patrols and checkpoints: the operations and
    patrols that user may see (a patrol's mission is its operation's code only for a viewer who
    may see the operation; a checkpoint's missions are those of the operations around it)."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self._visible_operations: dict[User, dict[str, Operation]] = {}
        self._visible_patrols: dict[User, list[Patrol]] = {}
        self._visible_checkpoints: dict[User, list[Checkpoint]] = {}

    def operations(self, user: User) -> dict[str, Operation]:
        if user not in self._visible_operations:
            found = (ops.operation_of(d) for d in self.node.operations(viewer=user))
            self._visible_operations[user] = {op.id: op for op in found if op is not None}
        return self._visible_operations[user]

    def patrols(self, user: User) -> list[Patrol]:
        if user not in self._visible_patrols:
            self._visible_patrols[user] = [p for d in self.node.patrols(viewer=user)
                                           if (p := ops.patrol_of(d)) is not None]
        return self._visible_patrols[user]

    def checkpoints(self, user: User) -> list[Checkpoint]:
        if user not in self._visible_checkpoints:
            self._visible_checkpoints[user] = [c for d in self.node.checkpoints(viewer=user)
                                               if (c := ops.checkpoint_of(d)) is not None]
        return self._visible_checkpoints[user]
