"""The node's objects in open standards, for a viewer (issue 12: a joint operation as EMSI).

A read like any other: it starts from the operation as the viewer is shown it (404 if they may
not see it: services/operations.py), and gathers only the patrols and units released to them.
standards/emsi.py then encodes exactly that, and nothing else, for the partner system."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..domain.checkpoint import Checkpoint
from ..domain.operation import JournalEntry, Operation
from ..domain.org import User
from ..domain.patrol import Patrol
from ..domain.polygon import covers
from ..domain.unit import Unit
from ..standards import emsi
from .context import Context
from .operations import Operations


class Exports:
    def __init__(self, ctx: Context, operations: Operations) -> None:
        self.ctx = ctx
        self.operations = operations

    def operation_emsi(self, *, viewer: User, operation_id: str) -> dict[str, Any]:
        """The operation as one EMSI message (CONTEXT, EVENT, MISSION per sector and patrol,
        RESOURCE per unit) of what `viewer` may see; NotFound unless they may see the operation."""
        store = self.ctx.store
        shown = self.operations.operation(viewer=viewer, operation_id=operation_id)
        lines = [JournalEntry.from_doc(line) for line in self.operations.journal(viewer=viewer,
                                                                                 operation_id=operation_id)]
        operation = Operation.from_doc(shown)
        patrols = [Patrol.from_doc(doc) for doc in map(json.loads, store.patrols(viewer))
                   if doc.get("operation") == operation_id]
        # The checkpoints of the operation: those in its area and those on its patrols' routes,
        # of the ones released to the viewer.
        on_routes = {w.checkpoint for p in patrols for w in p.route if w.checkpoint is not None}
        checkpoints = [c for c in map(Checkpoint.from_doc, map(json.loads, store.checkpoints(viewer)))
                       if c.id in on_routes or covers(dict(operation.area), *c.point["coordinates"])]
        wanted = sorted({*operation.units, *(u for s in operation.sectors for u in s.units),
                         *(u for p in patrols for u in p.units)})
        # An operation, a sector, a patrol or an assignment may name a unit the viewer may not
        # see (the id is in a document released to them, the unit is not): it is left out.
        units = [Unit.from_doc(json.loads(raw)) for raw in (store.unit_doc(viewer, u) for u in wanted)
                 if raw is not None]
        # The message comes from the viewer's organisation (their country and agency, whatever
        # node they read it at), through this node, on their behalf.
        origin = emsi.Origin(emsi.org_id(viewer.country, viewer.agency), store.meta("name") or self.ctx.country,
                             viewer.username)
        return emsi.to_emsi(operation, patrols, units, lines, message_id=str(uuid.uuid4()), now=self.ctx.now(),
                            origin=origin, checkpoints=checkpoints)
