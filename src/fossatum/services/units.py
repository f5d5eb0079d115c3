"""Units (blue force): registering one, and its positions — one fix, or a TAK gateway's batch."""

from __future__ import annotations

import uuid
from typing import Any

from ..domain.audience import Scope
from ..domain.geo import Position
from ..domain.org import User
from ..domain.timeutil import normalise
from ..domain.unit import Unit
from ..errors import Conflict, FossatumError, InvalidInput, NotFound
from ..log import kinds
from ..policy.actions import Action, new_target
from ..schemas import UnitIn
from ..store.contract import Transaction
from .context import Context, held


class Units:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def add_unit(self, *, actor: User | None, spec: UnitIn) -> dict[str, Any]:
        ctx = self.ctx
        ctx.admin(actor, Action.UNIT_CREATE, kind="unit")
        agency_doc = ctx.store.agency(spec.agency)
        if agency_doc is None:
            raise InvalidInput(f"unknown agency {spec.agency!r}", field="agency")
        author = ctx.allow(actor, Action.UNIT_CREATE, new_target(
            "unit", actor, node_country=ctx.country, owner_agency=spec.agency, owner_country=agency_doc["country"]))
        audience = ctx.resolve(owner_agency=spec.agency, owner_country=agency_doc["country"],
                               requested=spec.audience, tlp=None, default_scope=Scope.NATIONAL)
        now = ctx.now()
        position = spec.location.position() if spec.location else None
        unit = Unit(id=spec.id or f"unit-{uuid.uuid4().hex[:12]}", name=spec.name, kind=spec.kind.value,
                    callsign=spec.callsign, owner_agency=spec.agency, owner_country=agency_doc["country"],
                    audience=audience.to_doc(), position=position.to_doc() if position else None,
                    position_at=now if position else None, updated_at=now)
        with ctx.store.transaction() as tx:
            if tx.holds_object("unit", unit.id):
                raise Conflict(f"unit {unit.id} exists already")
            tx.append(ts=now, author=author, kind=kinds.UNIT_ADDED, payload=unit.to_doc(), audience=audience.to_doc())
        return unit.to_doc()

    def move_unit(self, *, actor: User, unit_id: str, position: Position, at: str | None = None) -> dict[str, Any]:
        """A new last-known position (blue force); older fixes arriving late go to history only."""
        now = self.ctx.now()
        with self.ctx.store.transaction() as tx:
            return self._move(tx, actor, unit_id, position, at or now, now)

    def move_units(self, *, fixes: list[tuple[User, str, Position, str]]) -> list[dict[str, Any] | FossatumError]:
        """Several `(actor, unit, position, at)` fixes in one transaction (a TAK gateway's batch);
        a fix that breaks a rule is returned as its error and the others are kept."""
        now = self.ctx.now()
        results: list[dict[str, Any] | FossatumError] = []
        with self.ctx.store.transaction() as tx:
            for actor, unit_id, position, at in fixes:
                try:
                    results.append(self._move(tx, actor, unit_id, position, at, now))
                except FossatumError as exc:
                    results.append(exc)
        return results

    def _move(self, tx: Transaction, actor: User, unit_id: str, position: Position, fix_at: str,
              now: str) -> dict[str, Any]:
        if self.ctx.store.unit_doc(actor, unit_id) is None:
            raise NotFound(f"no unit {unit_id}")
        current = held(tx.object_doc("unit", unit_id), f"no unit {unit_id}")
        self.ctx.allow(actor, Action.UNIT_MOVE, self.ctx.target(tx, "unit", unit_id, current))
        # The stored form, whoever calls: times compare as text, and partners refuse any other form.
        fix_at = normalise(fix_at, field="at")
        if fix_at > now:
            raise InvalidInput("the position time is in the future", field="at")
        moved, late_fix = Unit.from_doc(current).moved(position.to_doc(), fix_at, now=now)
        new = moved.to_doc()
        payload = new if late_fix is None else {**new, "fix": late_fix}
        tx.append(ts=now, author=actor.username, kind=kinds.UNIT_MOVED, payload=payload, audience=current["audience"])
        return new

    # --- reads (need-to-know: the store redacts for the viewer) ----------------------------
    def units(self, *, viewer: User) -> list[str]:
        return self.ctx.store.units(viewer)

    def unit(self, *, viewer: User, unit_id: str) -> str:
        doc = self.ctx.store.unit_doc(viewer, unit_id)
        if doc is None:
            raise NotFound(f"no unit {unit_id}")
        return doc

    def unit_track(self, *, viewer: User, unit_id: str) -> list[dict[str, Any]]:
        """Position history, newest first (NotFound unless the unit is visible)."""
        self.unit(viewer=viewer, unit_id=unit_id)
        return self.ctx.store.unit_track(viewer, unit_id)

    def unit_doc(self, unit_id: str) -> dict[str, Any] | None:
        """The node's own read of a unit, unredacted (the TAK gateway's anonymous ports)."""
        return self.ctx.store.current_doc("unit", unit_id)
