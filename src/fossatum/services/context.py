"""What every service shares: the store, the node's key, its settings and clock, and the one
write-side policy call (policy/actions.py). A service holds this context and never another
service, so each aggregate can be read (and changed) on its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain import audience as aud
from ..domain.audience import Audience, Scope
from ..domain.org import User
from ..domain.timeutil import to_text
from ..errors import Forbidden, InvalidInput, NotFound
from ..log.signing import NodeKey
from ..policy import actions
from ..policy.actions import Action, Target, node_target, object_target
from ..schemas import AudienceIn
from ..settings import Settings
from ..store.contract import Store, Transaction

CLI_ACTOR = "node-admin"  # the author of what the node administrator does at the command line

Clock = Callable[[], datetime]


def local_audience(country: str) -> dict[str, Any]:
    """Audience of node-internal entries (accounts, settings): never released."""
    return {"owner_agency": "", "owner_country": country, "scope": "agency", "releasable_to": [country],
            "local": True}


def held(doc: dict[str, Any] | None, missing: str) -> dict[str, Any]:
    """A document the command saw a moment ago, before its transaction (gone meanwhile: a
    partner's tombstone purged it)."""
    if doc is None:
        raise NotFound(missing)
    return doc


@dataclass
class Context:
    """`clock` and `settings` may be replaced while the node runs (tests, the demo's replay):
    every service reads them here at the moment of use."""

    store: Store
    key: NodeKey
    settings: Settings
    clock: Clock
    # Tells this process's live channels that a session was revoked (sessions.py).
    sessions_ended: Callable[[], None]

    @property
    def node_id(self) -> str:
        return self.store.origin or ""

    @property
    def country(self) -> str:
        return self.store.meta("country") or ""

    def now(self) -> str:
        return to_text(self.clock())

    def local(self) -> dict[str, Any]:
        return local_audience(self.country)

    def allow(self, actor: User | None, action: Action, target: Target) -> str:
        """Ask the one write-side policy (`policy.actions`); returns the author name of the
        entry to write (the CLI administrator when `actor` is None), or raises Forbidden."""
        reason = actions.authorize(actor, action, target)
        if reason is not None:
            raise Forbidden(reason)
        return actor.username if actor is not None else CLI_ACTOR

    def admin(self, actor: User | None, action: Action, **target: Any) -> str:
        """`allow` for a node-wide administrative command."""
        return self.allow(actor, action, node_target(self.country, **target))

    def target(self, tx: Transaction, kind: str, object_id: str, doc: dict[str, Any], **extra: Any) -> Target:
        """The target of a change to a stored object: its owner, and whether it is a partner's copy."""
        origin = tx.object_origin(kind, object_id) or self.node_id
        return object_target(kind, doc, node_id=self.node_id, node_country=self.country, origin=origin, **extra)

    def task_units(self, tx: Transaction, actor: User, units: Iterable[str], *, field: str = "units") -> None:
        """Each unit exists here, is visible to the actor (else 422: it names nothing they know),
        and the actor may task it (`unit.task`; a partner's unit is tasked from its own node: 403)."""
        for unit_id in units:
            if self.store.unit_doc(actor, unit_id) is None:
                raise InvalidInput(f"no unit {unit_id}", field=field)
            doc = held(tx.object_doc("unit", unit_id), f"no unit {unit_id}")
            self.allow(actor, Action.UNIT_TASK, self.target(tx, "unit", unit_id, doc))

    def resolve(self, *, owner_agency: str, owner_country: str, requested: AudienceIn | None, tlp: Any = None,
                default_scope: Scope | None = None) -> Audience:
        """Resolve an `AudienceIn` (or the default scope, or deny-by-default) against the roster."""
        scope = requested.scope if requested is not None else default_scope
        partners = requested.partners if requested is not None else ()
        return aud.resolve(owner_agency=owner_agency, owner_country=owner_country,
                           scope=scope.value if scope else None, partners=partners,
                           roster=self.store.roster(), tlp=tlp.value if tlp is not None else None)
