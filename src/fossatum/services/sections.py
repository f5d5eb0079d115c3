"""Border sections: adding one, and its impact level with the owner's notes on it."""

from __future__ import annotations

from typing import Any

from ..domain.audience import Scope
from ..domain.org import User
from ..domain.section import Section, check_geometry
from ..errors import Conflict, InvalidInput, NotFound
from ..log import kinds
from ..policy.actions import Action, new_target
from ..schemas import SectionIn
from ..store.contract import Transaction
from .context import Context, held


class Sections:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def add_section(self, *, actor: User | None, spec: SectionIn, owner_agency: str | None = None) -> dict[str, Any]:
        ctx = self.ctx
        ctx.admin(actor, Action.SECTION_CREATE, kind="section")
        geometry = check_geometry(spec.geometry)
        agency = owner_agency or (actor.agency if actor else "")
        agency_doc = ctx.store.agency(agency)
        if agency_doc is None or agency_doc["country"] != ctx.country:
            raise InvalidInput(f"a section is owned by an agency of {ctx.country}, not {agency!r}", field="owner_agency")
        author = ctx.allow(actor, Action.SECTION_CREATE, new_target("section", actor, node_country=ctx.country,
                                                                    owner_agency=agency))
        audience = ctx.resolve(owner_agency=agency, owner_country=ctx.country, requested=spec.audience,
                               tlp=None, default_scope=Scope.ALL_PARTNERS)
        now = ctx.now()
        doc = Section(id=spec.id, name=spec.name, terrain=spec.terrain, geometry=geometry, responsible={},
                      impact=spec.impact.value, impact_set_by=author, impact_set_at=now, impact_reason="",
                      owner_agency=agency, owner_country=ctx.country, audience=audience.to_doc(), created_by=author,
                      updated_at=now).to_doc()
        with ctx.store.transaction() as tx:
            if tx.holds_object("section", spec.id):
                raise Conflict(f"section {spec.id} exists already")
            tx.append(ts=now, author=author, kind=kinds.SECTION_ADDED, payload=doc, audience=audience.to_doc())
            if spec.responsible:
                self._note_section(tx, author, now, spec.id, responsible=spec.responsible)
        return {**doc, "responsible": spec.responsible}

    def _note_section(self, tx: Transaction, author: str, now: str, section_id: str, **notes: Any) -> None:
        """The owner's notes on a section (`section.OWNER_NOTES`: responsible units, the impact's
        reason) go in a node-internal entry: never replicated, shown by the read paths only to
        whom they concern (policy/redact.py), while the section itself crosses the border."""
        tx.append(ts=now, author=author, kind=kinds.SECTION_NOTES_SET, payload={"id": section_id, **notes},
                  audience=self.ctx.local())

    def set_section_impact(self, *, actor: User, section_id: str, impact: str, reason: str) -> dict[str, Any]:
        ctx = self.ctx
        if ctx.store.section_doc(actor, section_id) is None:
            raise NotFound(f"no section {section_id}")
        now = ctx.now()
        with ctx.store.transaction() as tx:
            doc = held(tx.object_doc("section", section_id), f"no section {section_id}")
            ctx.allow(actor, Action.SECTION_SET, ctx.target(tx, "section", section_id, doc))
            new = Section.from_doc(doc).with_impact(impact, by=actor.username, now=now)
            tx.append(ts=now, author=actor.username, kind=kinds.SECTION_IMPACT_SET, payload=new.public().to_doc(),
                      audience=doc["audience"])
            self._note_section(tx, actor.username, now, section_id, impact_reason=reason)
        return {**new.to_doc(), "impact_reason": reason}

    # --- reads (need-to-know: the store redacts for the viewer) ----------------------------
    def sections(self, *, viewer: User) -> list[str]:
        return self.ctx.store.sections(viewer)

    def section(self, *, viewer: User, section_id: str) -> str:
        doc = self.ctx.store.section_doc(viewer, section_id)
        if doc is None:
            raise NotFound(f"no section {section_id}")
        return doc
