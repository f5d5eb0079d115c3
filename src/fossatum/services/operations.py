"""Joint operations (issue 12): the lead's document, its sectors, and each country's journal.

The operation document (area, sectors, phases, participants, command, units the lead tasks,
status) is written only on the lead country's node, where it was created. Each participant
writes its own journal lines from its own node — notes, decisions, report links, and the
assignments of its own units to its own sectors — and they replicate to the other participants
from there. The read model a viewer gets joins the two: per sector, the units of the lead's
document plus the assignments written by the sector's country, as far as the viewer may see them.

Audience: the participants (scope `partners`; `national` if the lead is alone); a cancelled
operation stays only at the lead. Narrowing or cancelling sends the countries that lose it a
tombstone (federation/outbound.py), and their nodes purge it with its journal.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from ..domain import audience as aud
from ..domain.audience import Audience, Scope
from ..domain.operation import (
    Command,
    JournalEntry,
    JournalKind,
    MissionStatus,
    Operation,
    Phase,
    Sector,
)
from ..domain.org import User
from ..domain.polygon import check_polygon
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..log import kinds
from ..policy.actions import Action, new_target
from ..schemas import CommandIn, JournalIn, OperationIn, OperationPatch, PhaseIn, SectorIn
from ..store.contract import Transaction
from .context import Context, held


def _phases(phases: Iterable[PhaseIn]) -> tuple[Phase, ...]:
    return tuple(Phase(p.name, p.planned_start, p.planned_end, p.actual_start, p.actual_end) for p in phases)


def _command(command: dict[str, CommandIn]) -> tuple[Command, ...]:
    return tuple(Command(country, c.commander, c.deputy) for country, c in command.items())


def _sectors(sectors: Iterable[SectorIn]) -> tuple[Sector, ...]:
    return tuple(Sector(s.id, s.name, s.polygon, s.country, tuple(s.units)) for s in sectors)


class Operations:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- audience ----------------------------------------------------------------------------
    def _audience(self, owner_agency: str, op: Operation, tlp: str | None = None) -> Audience:
        """Released to the participants; a cancelled operation stays with the lead alone."""
        partners = () if op.status is MissionStatus.CANCELLED else tuple(c for c in op.participants
                                                                          if c != op.lead_country)
        marking = aud.TLP(tlp) if tlp else aud.TLP(op.audience.get("tlp", "AMBER")) if op.audience else aud.TLP.AMBER
        scope = Scope.PARTNERS if partners else Scope.NATIONAL
        return Audience(owner_agency, op.lead_country, scope, partners, frozenset({op.lead_country, *partners}),
                        marking)

    def _check_roster(self, participants: Iterable[str]) -> None:
        roster = set(self.ctx.store.roster())
        unknown = sorted(set(participants) - roster - {self.ctx.country})
        if unknown:
            raise InvalidInput(f"not on this node's partner roster: {', '.join(unknown)}", field="participants")

    def _check_reports(self, actor: User, reports: Sequence[str]) -> None:
        missing = sorted(set(reports) - self.ctx.store.visible_report_ids(actor, list(reports)))
        if missing:
            raise InvalidInput(f"no report {missing[0]}", field="reports")

    def _load(self, tx: Transaction, actor: User, operation_id: str, action: Action) -> Operation:
        """The operation as held, after asking the policy for `action` on it (a partner's copy: 403)."""
        doc = held(tx.object_doc("operation", operation_id), f"no operation {operation_id}")
        self.ctx.allow(actor, action, self.ctx.target(tx, "operation", operation_id, doc))
        return Operation.from_doc(doc)

    def _visible(self, viewer: User, operation_id: str) -> None:
        if self.ctx.store.operation_doc(viewer, operation_id) is None:
            raise NotFound(f"no operation {operation_id}")

    # --- commands ------------------------------------------------------------------------------
    def create_operation(self, *, actor: User, spec: OperationIn) -> dict[str, Any]:
        ctx = self.ctx
        author = ctx.allow(actor, Action.OPERATION_CREATE, new_target(
            "operation", actor, node_country=ctx.country, owner_country=ctx.country))
        participants = tuple(sorted({ctx.country, *spec.participants}))
        self._check_roster(participants)
        now = ctx.now()
        op = Operation(
            id=spec.id or f"op-{uuid.uuid4().hex[:12]}", code=spec.code, name=spec.name, kind=spec.kind,
            status=MissionStatus.NOT_STARTED, lead_country=ctx.country, participants=participants,
            area=check_polygon(spec.area, field="area"), sectors=_sectors(spec.sectors), phases=_phases(spec.phases),
            units=tuple(spec.units), reports=tuple(spec.reports), command=_command(spec.command),
            owner_agency=actor.agency, audience={}, created_by=author, updated_at=now, exercise=spec.exercise)
        op = dataclasses.replace(op, audience=self._audience(actor.agency, op, spec.tlp.value if spec.tlp else None)
                                 .to_doc())
        self._check_reports(actor, op.reports)
        with ctx.store.transaction() as tx:
            if tx.holds_object("operation", op.id):
                raise Conflict(f"operation {op.id} exists already", field="id")
            self.ctx.task_units(tx, actor, op.units)
            tx.append(ts=now, author=author, kind=kinds.OPERATION_CREATED, payload=op.to_doc(),
                      audience=dict(op.audience))
        return self.operation(viewer=actor, operation_id=op.id)

    def update_operation(self, *, actor: User, operation_id: str, patch: OperationPatch) -> dict[str, Any]:
        """A change of the lead's document; a status change also writes a status_change line."""
        given = {name for name in patch.model_fields_set if getattr(patch, name) is not None}
        if not given:
            raise InvalidInput("nothing to change: give at least one field")
        self._visible(actor, operation_id)
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.transaction() as tx:
            doc = held(tx.object_doc("operation", operation_id), f"no operation {operation_id}")
            target = ctx.target(tx, "operation", operation_id, doc)
            if given - {"status"}:
                ctx.allow(actor, Action.OPERATION_UPDATE, target)
            if "status" in given:
                ctx.allow(actor, Action.OPERATION_STATUS, target)
            op = Operation.from_doc(doc)
            if op.status is MissionStatus.CANCELLED:
                raise Conflict(f"operation {operation_id} is cancelled (CANCLD): it is final", field="status")
            changes: dict[str, Any] = {"updated_at": now}
            if patch.name is not None:
                changes["name"] = patch.name
            if patch.phases is not None:
                changes["phases"] = _phases(patch.phases)
            if patch.participants is not None:
                changes["participants"] = tuple(sorted({op.lead_country, *patch.participants}))
                self._check_roster(changes["participants"])
            if patch.command is not None:
                changes["command"] = _command(patch.command)
            if patch.units is not None:
                changes["units"] = tuple(patch.units)
                self.ctx.task_units(tx, actor, set(patch.units) - set(op.units))
            if patch.reports is not None:
                changes["reports"] = tuple(patch.reports)
                self._check_reports(actor, sorted(set(patch.reports) - set(op.reports)))
            new = dataclasses.replace(op, **changes)
            if patch.status is not None:
                new = new.with_status(patch.status, now=now)
            new = dataclasses.replace(new, audience=self._audience(op.owner_agency, new).to_doc())
            kind = kinds.OPERATION_STATUS_SET if given == {"status"} else kinds.OPERATION_UPDATED
            tx.append(ts=now, author=actor.username, kind=kind, payload=new.to_doc(), audience=dict(new.audience))
            if new.status is not op.status:
                self._append_line(tx, actor, new, JournalKind.STATUS_CHANGE, "",
                                  {"from": op.status.value, "to": new.status.value}, now)
        return self.operation(viewer=actor, operation_id=operation_id)

    def set_operation_status(self, *, actor: User, operation_id: str, status: str) -> dict[str, Any]:
        """An EMSI status change (409 naming the allowed ones if it is not one); journaled."""
        try:
            target = MissionStatus(status)
        except ValueError:
            raise InvalidInput(f"unknown status {status!r}; expected one of "
                               f"{', '.join(s.value for s in MissionStatus)}", field="status") from None
        return self.update_operation(actor=actor, operation_id=operation_id,
                                     patch=OperationPatch(status=target))

    def set_sectors(self, *, actor: User, operation_id: str, sectors: list[SectorIn]) -> list[dict[str, Any]]:
        """The sectors replaced as a whole, checked together against the area and participants."""
        self._visible(actor, operation_id)
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.transaction() as tx:
            op = self._load(tx, actor, operation_id, Action.OPERATION_SECTORS)
            if op.status is MissionStatus.CANCELLED:
                raise Conflict(f"operation {operation_id} is cancelled (CANCLD): it is final", field="status")
            new = op.with_sectors(_sectors(sectors), now=now)
            tx.append(ts=now, author=actor.username, kind=kinds.OPERATION_SECTORS_SET, payload=new.to_doc(),
                      audience=dict(new.audience))
        return self.sectors(viewer=actor, operation_id=operation_id)

    def write_journal(self, *, actor: User, operation_id: str, spec: JournalIn) -> dict[str, Any]:
        """A journal line of this node's country. An assignment puts a unit of this country, that
        the actor may task, in a sector of this country."""
        self._visible(actor, operation_id)
        ctx = self.ctx
        author = ctx.allow(actor, Action.JOURNAL_WRITE, new_target(
            "journal", actor, node_country=ctx.country, owner_country=ctx.country))
        kind = JournalKind(spec.kind)
        details = {k: v for k, v in spec.details.model_dump().items() if v is not None}
        wanted = {JournalKind.ASSIGNMENT: {"unit", "sector"}, JournalKind.REPORT_LINK: {"report"}}.get(kind, set())
        extra, missing = sorted(set(details) - wanted), sorted(wanted - set(details))
        if extra:
            raise InvalidInput(f"a {kind.value} line does not name a {extra[0]}", field=f"details.{extra[0]}")
        if missing:
            raise InvalidInput(f"an {kind.value} line names its {' and '.join(missing)}", field="details")
        now = ctx.now()
        with ctx.store.transaction() as tx:
            op = Operation.from_doc(held(tx.object_doc("operation", operation_id), f"no operation {operation_id}"))
            if ctx.country not in op.participants:
                raise Forbidden(f"{ctx.country} does not take part in operation {operation_id}")
            if op.status is MissionStatus.CANCELLED:
                raise Conflict(f"operation {operation_id} is cancelled (CANCLD): its journal is closed",
                               field="status")
            if kind is JournalKind.ASSIGNMENT and "unit" in details:
                self._check_assignment(tx, actor, details["unit"])
            if kind is JournalKind.REPORT_LINK and "report" in details:
                if not ctx.store.visible_report_ids(actor, [details["report"]]):
                    raise InvalidInput(f"no report {details['report']}", field="details.report")
            entry = self._append_line(tx, actor, op, kind, spec.text, details, now, author=author)
        return entry

    def _check_assignment(self, tx: Transaction, actor: User, unit_id: str) -> None:
        if self.ctx.store.unit_doc(actor, unit_id) is None:
            raise InvalidInput(f"no unit {unit_id}", field="details.unit")
        unit = held(tx.object_doc("unit", unit_id), f"no unit {unit_id}")
        self.ctx.allow(actor, Action.UNIT_TASK, self.ctx.target(tx, "unit", unit_id, unit))
        if unit.get("owner_country") != self.ctx.country:  # a liaison's own agency's unit, registered here
            raise Forbidden(f"unit {unit_id} is {unit.get('owner_country')}'s: its own country assigns it")

    def _append_line(self, tx: Transaction, actor: User, op: Operation, kind: JournalKind, text: str,
                     details: dict[str, Any], now: str, *, author: str | None = None) -> dict[str, Any]:
        country = self.ctx.country
        # Written for the operation's participants as they are now (the lead alone once cancelled).
        partners = () if op.status is MissionStatus.CANCELLED else tuple(c for c in op.participants if c != country)
        audience = Audience(actor.agency, country, Scope.PARTNERS if partners else Scope.NATIONAL, partners,
                            frozenset({country, *partners}), aud.TLP(op.audience.get("tlp", "AMBER")))
        entry = JournalEntry(f"j-{uuid.uuid4().hex[:16]}", op.id, kind, author or actor.username, country, now, text,
                             details, owner_agency=actor.agency, audience=audience.to_doc())
        entry.check_for(op)
        doc = entry.to_doc()
        tx.append(ts=now, author=author or actor.username, kind=kinds.JOURNAL_WRITTEN, payload=doc,
                  audience=audience.to_doc())
        return doc

    # --- reads (need-to-know: the store filters and redacts for the viewer) ------------------------
    def operations(self, *, viewer: User) -> list[dict[str, Any]]:
        return [self._view(viewer, json.loads(raw)) for raw in self.ctx.store.operations(viewer)]

    def operation(self, *, viewer: User, operation_id: str) -> dict[str, Any]:
        raw = self.ctx.store.operation_doc(viewer, operation_id)
        if raw is None:
            raise NotFound(f"no operation {operation_id}")
        return self._view(viewer, json.loads(raw))

    def journal(self, *, viewer: User, operation_id: str) -> list[dict[str, Any]]:
        """The journal lines the viewer may see, oldest first (404 unless the operation is visible)."""
        doc = self.operation(viewer=viewer, operation_id=operation_id)
        return self._lines(viewer, doc)

    def sectors(self, *, viewer: User, operation_id: str) -> list[dict[str, Any]]:
        return list(self.operation(viewer=viewer, operation_id=operation_id)["sectors"])

    def operation_doc(self, operation_id: str) -> dict[str, Any] | None:
        """The node's own read of an operation as the lead wrote it, unredacted (the TAK gateway)."""
        return self.ctx.store.current_doc("operation", operation_id)

    def _lines(self, viewer: User, doc: dict[str, Any]) -> list[dict[str, Any]]:
        lines = [json.loads(raw) for raw in self.ctx.store.journal(viewer, doc["id"])]
        # A line of a country that does not take part (a stray or a former participant's) is not
        # part of the operation as it stands.
        return [line for line in lines if line.get("country") in doc["participants"]]

    def _view(self, viewer: User, doc: dict[str, Any]) -> dict[str, Any]:
        """The read model: per sector, the lead's units plus the assignments written by the
        sector's own country; linked reports the viewer may not see left out."""
        visible_units = set(doc["units"])  # redacted by the store: units the viewer may see
        assignments = [line for line in self._lines(viewer, doc) if line.get("kind") == JournalKind.ASSIGNMENT.value]
        # A country assigns its own units only: a line naming a unit this node knows as another
        # country's (written by a node that forged it) assigns nothing.
        owners = self.ctx.store.facts_of("unit", frozenset(line["details"]["unit"] for line in assignments))
        assigned: dict[str, list[str]] = {}
        for line in assignments:
            unit = line["details"]["unit"]
            sector = next((s for s in doc["sectors"] if s["id"] == line["details"].get("sector")), None)
            owner = owners.get(unit)
            if sector is not None and sector["country"] == line["country"] and (
                    owner is None or owner.owner_country == line["country"]):
                assigned.setdefault(sector["id"], []).append(unit)
        sectors = [{**s, "units": sorted({*(u for u in s["units"] if u in visible_units), *assigned.get(s["id"], [])})}
                   for s in doc["sectors"]]
        units = sorted(visible_units | {u for us in assigned.values() for u in us})
        reports = sorted(self.ctx.store.visible_report_ids(viewer, list(doc["reports"]))) if doc["reports"] else []
        return {**doc, "sectors": sectors, "units": units, "reports": reports}
