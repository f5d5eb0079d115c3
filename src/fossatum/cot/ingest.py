"""Device events into the node: one writer thread, positions group-committed.

Connections put (user, device, event) on a bounded queue; when it is full the reading
connection waits (TCP back-pressure on that device), so nothing is dropped on the way in.
The worker takes whatever is queued, writes all the positions in one transaction
(`Node.move_units`), and files markers, alerts and chat one by one. Node rules still apply:
a command the node refuses is counted and logged, never half-applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..domain.audience import TLP
from ..domain.geo import Position
from ..domain.org import User
from ..domain.taxonomy import REPORT_TYPES
from ..domain.timeutil import to_text
from ..errors import Conflict, FossatumError
from ..schemas import LocationIn, ReportIn, ReportPatch
from . import codec
from .codec import CotEvent

if TYPE_CHECKING:
    from ..node import Node

log = logging.getLogger("fossatum.cot")
BATCH = 5000  # device events per transaction at most (a backlog drains in few commits)


@dataclass(frozen=True, slots=True)
class Item:
    user: User
    device_uid: str
    unit_id: str | None
    callsign: str
    kind: str
    event: CotEvent


class Ingest:
    def __init__(self, node: Node, *, report_scope: str = "national", queue: int = 10_000) -> None:
        self.node = node
        self.report_scope = report_scope
        self.queue: asyncio.Queue[Item] = asyncio.Queue(queue)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cot-ingest")
        self.counts: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await self.drain()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.executor.shutdown(wait=True)

    async def drain(self) -> None:
        await self.queue.join()

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a node command on the writer thread (in order with the queued events)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            while len(items) < BATCH and not self.queue.empty():
                items.append(self.queue.get_nowait())
            try:
                await loop.run_in_executor(self.executor, self._apply, items)
            except Exception:  # keep serving: one bad batch must not stop the gateway
                log.exception("cot: a batch of %d device events failed", len(items))
                self.counts["failed"] += len(items)
            finally:
                for _ in items:
                    self.queue.task_done()

    # --- on the writer thread ------------------------------------------------------------
    def _apply(self, items: list[Item]) -> None:
        now = self.node.clock()
        fixes = []
        for i in items:
            if i.kind != "sa" or not i.unit_id:
                continue
            try:
                at = to_text(codec.observed_at(i.event, now))
            except FossatumError as exc:  # a bad time refuses this fix only, not the batch
                self._count("position", exc)
                continue
            fixes.append((i.user, i.unit_id, Position(round(i.event.lat, 7), round(i.event.lon, 7)), at))
        if fixes:
            for result in self.node.move_units(fixes=fixes):
                self._count("position", result)
        for item in items:
            if item.kind == "sa":
                continue
            try:
                handler = {"marker": self._marker, "alert": self._alert, "chat": self._chat}[item.kind]
                self._count(item.kind, handler(item, now))
            except FossatumError as exc:
                self._count(item.kind, exc)

    def _count(self, kind: str, result: object) -> None:
        if isinstance(result, FossatumError):
            self.counts[f"{kind}_refused"] += 1
            log.info("cot: %s refused: %s", kind, result)
        else:
            self.counts[kind] += 1

    def _marker(self, item: Item, now: datetime) -> object:
        e = item.event
        report_type = codec.report_type_of(e, frozenset(REPORT_TYPES))
        description = "\n".join(x for x in (e.callsign, e.remarks) if x)[:10_000]
        location = LocationIn(lat=round(e.lat, 7), lon=round(e.lon, 7))
        uncertainty = e.ce if 0 <= e.ce <= 100_000 and e.ce != codec.UNKNOWN else 0.0
        report_id = codec.report_id_of(item.device_uid, e.uid)
        audience, tlp = self.node.field_report_audience(item.user.agency, self.report_scope)
        spec = ReportIn(id=report_id, type=report_type, observed_at=to_text(codec.observed_at(e, now)),
                        location=location, uncertainty_m=uncertainty, description=description,
                        audience=audience, tlp=None if tlp is None else TLP(tlp))
        try:
            return self.node.file_report(actor=item.user, spec=spec)
        except Conflict:
            # ATAK re-sends a marker when it is moved or edited: amend the same report.
            patch = ReportPatch(type=report_type, location=location, description=description)
            return self.node.amend_report(actor=item.user, report_id=report_id, patch=patch)

    def _alert(self, item: Item, now: datetime) -> object:
        e = item.event
        if e.type == "b-a-o-can" or e.emergency == "cancel":
            return self.node.cancel_alert(actor=item.user, uid=e.uid, device_uid=item.device_uid)
        return self.node.raise_alert(actor=item.user, uid=e.uid, device_uid=item.device_uid,
                                     kind=codec.ALERT_TYPES[e.type],
                                     position=Position(round(e.lat, 7), round(e.lon, 7)),
                                     callsign=item.callsign or e.callsign, text=e.remarks,
                                     at=to_text(codec.observed_at(e, now)))

    def _chat(self, item: Item, now: datetime) -> object:
        e = item.event
        assert e.chat is not None
        return self.node.post_chat(actor=item.user, message_id=e.chat.message_id, room=e.chat.room,
                                   text=e.chat.text, position=Position(round(e.lat, 7), round(e.lon, 7)),
                                   sender_uid=item.device_uid, callsign=e.chat.sender_callsign or item.callsign,
                                   at=to_text(codec.observed_at(e, now)))
