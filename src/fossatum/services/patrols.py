"""Joint patrols (issue 12): a route of waypoints, border rendezvous and checkpoints, a schedule,
the countries and units taking part, and an EMSI mission status.

A patrol belongs to the agency that planned it, at its country's node; it is shared with the
countries taking part, and narrowing them purges it at those that leave (federation/outbound.py).
The patrol's own document lists the units its country tasks (`unit.task`); a partner's units are
its own to task, from its own node.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable
from typing import Any

from ..domain import audience as aud
from ..domain.audience import Audience
from ..domain.operation import MissionStatus
from ..domain.org import User
from ..domain.patrol import Patrol, Waypoint, WaypointKind
from ..errors import Conflict, InvalidInput, NotFound
from ..log import kinds
from ..policy.actions import Action, new_target
from ..schemas import PatrolIn, PatrolPatch, WaypointIn
from ..store.contract import Transaction
from .context import Context, held


def _route(points: Iterable[WaypointIn]) -> tuple[Waypoint, ...]:
    return tuple(Waypoint(p.name, p.lon, p.lat, p.kind, tuple(p.countries), p.checkpoint, p.at) for p in points)


class Patrols:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _audience(self, owner_agency: str, countries: Iterable[str], tlp: str | None) -> Audience:
        others = sorted(set(countries) - {self.ctx.country})
        unknown = sorted(set(others) - set(self.ctx.store.roster()))
        if unknown:
            raise InvalidInput(f"not on this node's partner roster: {', '.join(unknown)}", field="countries")
        return aud.resolve(owner_agency=owner_agency, owner_country=self.ctx.country,
                           scope="partners" if others else "national", partners=others,
                           roster=self.ctx.store.roster(), tlp=tlp)

    def _check_links(self, actor: User, patrol: Patrol) -> None:
        """Its operation and the checkpoints on its route exist and are visible to the actor; a
        patrol of an operation is run by countries taking part in it."""
        if patrol.operation is not None:
            raw = self.ctx.store.operation_doc(actor, patrol.operation)
            if raw is None:
                raise InvalidInput(f"no operation {patrol.operation}", field="operation")
            outsiders = sorted(set(patrol.countries) - set(json.loads(raw)["participants"]))
            if outsiders:
                raise InvalidInput(f"{', '.join(outsiders)} does not take part in operation {patrol.operation}",
                                   field="countries")
        for point in patrol.route:
            if point.kind is WaypointKind.CHECKPOINT and point.checkpoint is not None \
                    and self.ctx.store.checkpoint_doc(actor, point.checkpoint) is None:
                raise InvalidInput(f"no checkpoint {point.checkpoint}", field=f"route.{point.name}.checkpoint")

    def _load(self, tx: Transaction, actor: User, patrol_id: str, *actions: Action) -> Patrol:
        doc = held(tx.object_doc("patrol", patrol_id), f"no patrol {patrol_id}")
        target = self.ctx.target(tx, "patrol", patrol_id, doc)
        for action in actions:
            self.ctx.allow(actor, action, target)
        return Patrol.from_doc(doc)

    # --- commands ------------------------------------------------------------------------------
    def create_patrol(self, *, actor: User, spec: PatrolIn) -> dict[str, Any]:
        ctx = self.ctx
        author = ctx.allow(actor, Action.PATROL_CREATE, new_target(
            "patrol", actor, node_country=ctx.country, owner_country=ctx.country))
        countries = tuple(sorted({ctx.country, *spec.countries}))
        audience = self._audience(actor.agency, countries, spec.tlp.value if spec.tlp else None)
        now = ctx.now()
        patrol = Patrol(
            id=spec.id or f"pa-{uuid.uuid4().hex[:12]}", code=spec.code, name=spec.name, operation=spec.operation,
            route=_route(spec.route), planned_start=spec.planned_start, planned_end=spec.planned_end,
            status=MissionStatus.NOT_STARTED, countries=countries, units=tuple(spec.units), owner_agency=actor.agency,
            owner_country=ctx.country, audience=audience.to_doc(), created_by=author, updated_at=now)
        self._check_links(actor, patrol)
        with ctx.store.transaction() as tx:
            if tx.holds_object("patrol", patrol.id):
                raise Conflict(f"patrol {patrol.id} exists already", field="id")
            ctx.task_units(tx, actor, patrol.units)
            tx.append(ts=now, author=author, kind=kinds.PATROL_CREATED, payload=patrol.to_doc(),
                      audience=audience.to_doc())
        return self.patrol(viewer=actor, patrol_id=patrol.id)

    def update_patrol(self, *, actor: User, patrol_id: str, patch: PatrolPatch) -> dict[str, Any]:
        """A change of the patrol; its status follows EMSI's transitions (409 naming the allowed ones)."""
        given = {name for name in patch.model_fields_set if getattr(patch, name) is not None}
        if not given:
            raise InvalidInput("nothing to change: give at least one field")
        ctx = self.ctx
        self.patrol(viewer=actor, patrol_id=patrol_id)
        now = ctx.now()
        wanted = ([Action.PATROL_UPDATE] if given - {"status"} else []) + \
            ([Action.PATROL_STATUS] if "status" in given else [])
        with ctx.store.transaction() as tx:
            current = self._load(tx, actor, patrol_id, *wanted)
            changes: dict[str, Any] = {"updated_at": now}
            for name in ("name", "planned_start", "planned_end"):
                if getattr(patch, name) is not None:
                    changes[name] = getattr(patch, name)
            if patch.route is not None:
                changes["route"] = _route(patch.route)
            if patch.countries is not None:
                changes["countries"] = tuple(sorted({ctx.country, *patch.countries}))
                changes["audience"] = self._audience(current.owner_agency, changes["countries"],
                                                     current.audience.get("tlp")).to_doc()
            if patch.units is not None:
                changes["units"] = tuple(patch.units)
                ctx.task_units(tx, actor, set(patch.units) - set(current.units))
            new = dataclasses.replace(current, **changes)
            if patch.status is not None:
                new = new.with_status(patch.status, now=now)
            if given & {"route", "countries"}:
                self._check_links(actor, new)
            kind = kinds.PATROL_STATUS_SET if given == {"status"} else kinds.PATROL_UPDATED
            tx.append(ts=now, author=actor.username, kind=kind, payload=new.to_doc(), audience=dict(new.audience))
        return self.patrol(viewer=actor, patrol_id=patrol_id)

    # --- reads (need-to-know: the store filters and redacts for the viewer) ------------------------
    def patrols(self, *, viewer: User) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.ctx.store.patrols(viewer)]

    def patrol(self, *, viewer: User, patrol_id: str) -> dict[str, Any]:
        raw = self.ctx.store.patrol_doc(viewer, patrol_id)
        if raw is None:
            raise NotFound(f"no patrol {patrol_id}")
        return dict(json.loads(raw))

    def patrol_doc(self, patrol_id: str) -> dict[str, Any] | None:
        """The node's own read of a patrol, unredacted (the TAK gateway)."""
        return self.ctx.store.current_doc("patrol", patrol_id)
