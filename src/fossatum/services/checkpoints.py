"""Checkpoints (issue 12): a point on a border section, the country that mans it (or "joint"),
its status open / closed / reinforced with the reason and the history of every change.

A checkpoint belongs to the agency that set it up, at its country's node; it is shared with the
partner countries named (the operator, if another country, always is). Narrowing those partners
purges it at the countries that lose it (federation/outbound.py).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable
from typing import Any

from ..domain import audience as aud
from ..domain.audience import Audience
from ..domain.checkpoint import JOINT, Checkpoint, StatusChange
from ..domain.org import User
from ..errors import Conflict, InvalidInput, NotFound
from ..log import kinds
from ..policy.actions import Action, new_target
from ..schemas import CheckpointIn, CheckpointPatch, LocationIn
from .context import Context, held


def _point(location: LocationIn) -> dict[str, Any]:
    position = location.position()
    return {"type": "Point", "coordinates": [position.lon, position.lat]}


class Checkpoints:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _audience(self, owner_agency: str, operator: str, partners: Iterable[str], tlp: str | None) -> Audience:
        """Its own country and the partners named, the operator among them if it is another country."""
        named = {*partners, *([operator] if operator not in (JOINT, self.ctx.country) else [])} - {self.ctx.country}
        unknown = sorted(named - set(self.ctx.store.roster()))
        if unknown:
            raise InvalidInput(f"not on this node's partner roster: {', '.join(unknown)}", field="partners")
        if operator == JOINT and not named:
            raise InvalidInput("a joint checkpoint names the partner countries that man it with us",
                               field="partners")
        return aud.resolve(owner_agency=owner_agency, owner_country=self.ctx.country,
                           scope="partners" if named else "national", partners=sorted(named),
                           roster=self.ctx.store.roster(), tlp=tlp)

    def _section(self, actor: User, section_id: str) -> None:
        if self.ctx.store.section_doc(actor, section_id) is None:
            raise InvalidInput(f"no border section {section_id}", field="section")

    # --- commands ------------------------------------------------------------------------------
    def create_checkpoint(self, *, actor: User, spec: CheckpointIn) -> dict[str, Any]:
        ctx = self.ctx
        author = ctx.allow(actor, Action.CHECKPOINT_CREATE, new_target(
            "checkpoint", actor, node_country=ctx.country, owner_country=ctx.country))
        self._section(actor, spec.section)
        audience = self._audience(actor.agency, spec.operator, spec.partners, spec.tlp.value if spec.tlp else None)
        now = ctx.now()
        checkpoint = Checkpoint(
            id=spec.id or f"cp-{uuid.uuid4().hex[:12]}", name=spec.name, point=_point(spec.location),
            section=spec.section, operator=spec.operator, status=spec.status, reason=spec.reason, history=(),
            units=tuple(spec.units), owner_agency=actor.agency, owner_country=ctx.country,
            audience=audience.to_doc(), created_by=author, updated_at=now)
        # Its first status is the first line of its history (checked above as the current one).
        checkpoint = dataclasses.replace(checkpoint, history=(StatusChange(spec.status, spec.reason, author, now),))
        with ctx.store.transaction() as tx:
            if tx.holds_object("checkpoint", checkpoint.id):
                raise Conflict(f"checkpoint {checkpoint.id} exists already", field="id")
            ctx.task_units(tx, actor, checkpoint.units)
            tx.append(ts=now, author=author, kind=kinds.CHECKPOINT_CREATED, payload=checkpoint.to_doc(),
                      audience=audience.to_doc())
        return self.checkpoint(viewer=actor, checkpoint_id=checkpoint.id)

    def update_checkpoint(self, *, actor: User, checkpoint_id: str, patch: CheckpointPatch) -> dict[str, Any]:
        given = {name for name in patch.model_fields_set if getattr(patch, name) is not None}
        if not given:
            raise InvalidInput("nothing to change: give at least one field")
        ctx = self.ctx
        self.checkpoint(viewer=actor, checkpoint_id=checkpoint_id)
        now = ctx.now()
        with ctx.store.transaction() as tx:
            doc = held(tx.object_doc("checkpoint", checkpoint_id), f"no checkpoint {checkpoint_id}")
            ctx.allow(actor, Action.CHECKPOINT_UPDATE, ctx.target(tx, "checkpoint", checkpoint_id, doc))
            current = Checkpoint.from_doc(doc)
            changes: dict[str, Any] = {"updated_at": now}
            if patch.name is not None:
                changes["name"] = patch.name
            if patch.location is not None:
                changes["point"] = _point(patch.location)
            if patch.units is not None:
                changes["units"] = tuple(patch.units)
                ctx.task_units(tx, actor, set(patch.units) - set(current.units))
            if patch.partners is not None:
                changes["audience"] = self._audience(current.owner_agency, current.operator, patch.partners,
                                                     current.audience.get("tlp")).to_doc()
            new = dataclasses.replace(current, **changes)
            tx.append(ts=now, author=actor.username, kind=kinds.CHECKPOINT_UPDATED, payload=new.to_doc(),
                      audience=dict(new.audience))
        return self.checkpoint(viewer=actor, checkpoint_id=checkpoint_id)

    def set_checkpoint_status(self, *, actor: User, checkpoint_id: str, status: str, reason: str) -> dict[str, Any]:
        """Open, closed or reinforced, with the reason; kept in the history (409 if nothing changes)."""
        ctx = self.ctx
        self.checkpoint(viewer=actor, checkpoint_id=checkpoint_id)
        now = ctx.now()
        with ctx.store.transaction() as tx:
            doc = held(tx.object_doc("checkpoint", checkpoint_id), f"no checkpoint {checkpoint_id}")
            ctx.allow(actor, Action.CHECKPOINT_STATUS, ctx.target(tx, "checkpoint", checkpoint_id, doc))
            new = Checkpoint.from_doc(doc).with_status(status, reason, by=actor.username, at=now)
            tx.append(ts=now, author=actor.username, kind=kinds.CHECKPOINT_STATUS_SET, payload=new.to_doc(),
                      audience=dict(new.audience))
        return self.checkpoint(viewer=actor, checkpoint_id=checkpoint_id)

    # --- reads (need-to-know: the store filters and redacts for the viewer) ------------------------
    def checkpoints(self, *, viewer: User) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.ctx.store.checkpoints(viewer)]

    def checkpoint(self, *, viewer: User, checkpoint_id: str) -> dict[str, Any]:
        raw = self.ctx.store.checkpoint_doc(viewer, checkpoint_id)
        if raw is None:
            raise NotFound(f"no checkpoint {checkpoint_id}")
        return dict(json.loads(raw))

    def checkpoint_doc(self, checkpoint_id: str) -> dict[str, Any] | None:
        """The node's own read of a checkpoint, unredacted (the TAK gateway)."""
        return self.ctx.store.current_doc("checkpoint", checkpoint_id)
