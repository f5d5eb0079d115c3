"""The field (TAK devices): a device's unit, the default audience of what an agency's devices
file, emergencies (alerts) and GeoChat — and the viewer's reads of alerts and chat."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ..domain import audience as aud
from ..domain.audience import Audience, Scope
from ..domain.field import Alert, ChatMessage
from ..domain.geo import Position
from ..domain.org import User
from ..domain.text import as_name, name_problem
from ..domain.unit import Unit
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..log import kinds
from ..policy import actions
from ..policy.actions import Action, Target, new_target, object_target
from ..policy.visibility import Facts, may_view
from ..schemas import AudienceIn
from .context import Context, held


def alert_id(device_uid: str, uid: str) -> str:
    """An alert's id: namespaced by the raising device, so that raising with the uid of
    another device's alert makes a separate alert (ATAK uids are `<device uid>-9-1-1`, and
    anyone can type one). '%' and '/' in the device uid are escaped: one id, one device."""
    if not device_uid:
        return uid
    return device_uid.replace("%", "%25").replace("/", "%2F") + "/" + uid


def _alert_facts(doc: dict[str, Any]) -> Facts:
    a = aud.from_doc(doc.get("audience"), owner_agency=doc["owner_agency"], owner_country=doc["owner_country"])
    return Facts(a.owner_agency, a.owner_country, a.scope, a.releasable_to, "active", True,
                 str(doc.get("raised_by", "")))


class Field:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- devices -------------------------------------------------------------------------
    def register_device(self, *, actor: User, uid: str, callsign: str = "") -> str:
        """The unit of a TAK device (one per device uid, of its user's agency); created on first use."""
        ctx = self.ctx
        uid = uid.strip()
        if not uid or name_problem(uid):
            raise InvalidInput("a device uid of 1-200 characters (no control characters) is required", field="uid")
        callsign = as_name(callsign)  # the device's own text: made a valid name, as partners check (domain/text.py)
        found = ctx.store.device(uid)
        if found is not None and found["username"] == actor.username:
            return str(found["unit_id"])
        now = ctx.now()
        with ctx.store.transaction() as tx:
            row = tx.device_binding(uid)
            if row is not None:
                bound = held(tx.object_doc("unit", row[1]), f"no unit {row[1]}")
                reason = actions.authorize(actor, Action.DEVICE_REGISTER, ctx.target(tx, "unit", row[1], bound))
                if reason is not None:
                    raise Forbidden(f"device {uid} belongs to a unit of {bound['owner_agency']}: {reason}")
                unit_id = row[1]
            else:
                ctx.allow(actor, Action.DEVICE_REGISTER, new_target("unit", actor, node_country=ctx.country))
                unit_id = "dev-" + re.sub(r"[^A-Za-z0-9_.-]", "-", uid)[:56]
                if tx.holds_object("unit", unit_id):
                    unit_id = f"dev-{uuid.uuid5(uuid.NAMESPACE_URL, uid).hex[:16]}"
                audience = ctx.resolve(owner_agency=actor.agency, owner_country=actor.country, requested=None,
                                       default_scope=Scope.NATIONAL)
                unit = Unit(id=unit_id, name=callsign or uid, kind="patrol", callsign=callsign,
                            owner_agency=actor.agency, owner_country=actor.country, audience=audience.to_doc(),
                            position=None, position_at=None, updated_at=now, device_uid=uid)
                tx.append(ts=now, author=actor.username, kind=kinds.UNIT_ADDED, payload=unit.to_doc(),
                          audience=audience.to_doc())
            tx.append(ts=now, author=actor.username, kind=kinds.DEVICE_REGISTERED,
                      payload={"uid": uid, "username": actor.username, "unit_id": unit_id, "callsign": callsign},
                      audience=ctx.local())
        return unit_id

    # --- the field audience of an agency ---------------------------------------------------
    def set_field_audience(self, *, actor: User | None, agency: str, scope: str | None,
                           partners: list[str] | tuple[str, ...] = (), tlp: str | None = None) -> dict[str, Any]:
        """Set (scope None: clear) the default audience of reports an agency's field devices file."""
        ctx = self.ctx
        author = ctx.admin(actor, Action.AGENCY_FIELD_AUDIENCE, kind="agency", owner_agency=agency)
        agency_doc = ctx.store.agency(agency)
        if agency_doc is None:
            raise NotFound(f"no agency {agency}")
        setting: dict[str, Any] | None = None
        if scope is not None:
            # Checked now against the roster, so that an admin's typo fails here and not
            # later on a patrol's marker.
            try:
                resolved = aud.resolve(owner_agency=agency, owner_country=agency_doc["country"], scope=scope,
                                       partners=partners, roster=ctx.store.roster(), tlp=tlp)
            except InvalidInput as exc:  # the fields are top-level here, not under `audience.`
                raise InvalidInput(exc.message, field=(exc.field or "").removeprefix("audience.") or None) from None
            setting = {"scope": resolved.scope.value, "partners": list(resolved.partners), "tlp": resolved.tlp.value}
        elif partners or tlp is not None:
            raise InvalidInput("partners and TLP need a scope", field="scope")
        with ctx.store.transaction() as tx:
            tx.append(ts=ctx.now(), author=author, kind=kinds.AGENCY_FIELD_AUDIENCE_SET,
                      payload={"code": agency, "field_audience": setting}, audience=ctx.local())
        return {**agency_doc, "field_audience": setting}

    def field_report_audience(self, agency: str, default_scope: str) -> tuple[AudienceIn, str | None]:
        """(audience, TLP) of a report filed from the field by `agency`: the agency's setting,
        else the node's `default_scope`. Partners that left the roster since are dropped (a
        patrol's marker is never refused for it); if none remain, the country keeps it."""
        doc = self.ctx.store.agency(agency)
        setting = (doc or {}).get("field_audience")
        if not setting:
            return AudienceIn(scope=Scope(default_scope)), None
        scope, partners = Scope(setting["scope"]), list(setting.get("partners") or [])
        if scope is Scope.PARTNERS:
            partners = [p for p in partners if p in set(self.ctx.store.roster())]
            if not partners:
                scope = Scope.NATIONAL
        return AudienceIn(scope=scope, partners=partners), setting.get("tlp")

    # --- alerts --------------------------------------------------------------------------
    def _alert_audience(self, actor: User) -> Audience:
        """An alert follows its agency's field audience, but never narrower than national:
        every duty officer of the country must see an emergency at once."""
        requested, _ = self.field_report_audience(actor.agency, Scope.NATIONAL.value)
        if requested.scope is Scope.AGENCY:
            requested = AudienceIn(scope=Scope.NATIONAL)
        return aud.resolve(owner_agency=actor.agency, owner_country=actor.country, scope=requested.scope.value,
                           partners=requested.partners, roster=self.ctx.store.roster())

    def _alert_target(self, doc: dict[str, Any]) -> Target:
        ctx = self.ctx
        return object_target("alert", doc, node_id=ctx.node_id, node_country=ctx.country, origin=ctx.node_id,
                             creator=str(doc.get("raised_by", "")), state=str(doc.get("state", "")))

    def raise_alert(self, *, actor: User, uid: str, kind: str, position: Position, callsign: str = "",
                    text: str = "", at: str | None = None, device_uid: str = "") -> dict[str, Any]:
        """An emergency from the field (911, troops in contact): seen by the user's country at
        least, and by the partners of its agency's field audience. Raised again (the same
        device re-sends it), it is updated — by its raiser or an officer of its agency only."""
        ctx = self.ctx
        now = ctx.now()
        audience = self._alert_audience(actor)
        alert = Alert(uid=alert_id(device_uid, uid), claimed_uid=uid, device_uid=device_uid, kind=kind,
                      state="raised", position=position.to_doc(), callsign=callsign, text=text[:2000],
                      at=min(at or now, now), raised_by=actor.username, owner_agency=actor.agency,
                      owner_country=actor.country, audience=audience.to_doc())
        with ctx.store.transaction() as tx:
            before = tx.object_doc("alert", alert.uid)
            if before is None:
                ctx.allow(actor, Action.ALERT_RAISE, new_target("alert", actor, node_country=ctx.country))
            else:
                ctx.allow(actor, Action.ALERT_RAISE, self._alert_target(before))
                alert = alert.kept_by(Alert.from_doc(before))
            doc = alert.to_doc()
            tx.append(ts=now, author=actor.username, kind=kinds.ALERT_RAISED, payload=doc, audience=doc["audience"])
        return doc

    def cancel_alert(self, *, actor: User, uid: str, device_uid: str = "") -> dict[str, Any]:
        """Cancel an alert: the device's own alert of that uid, else the alert of that id as
        devices were sent it; by its raiser or a duty officer or commander of its agency."""
        ctx = self.ctx
        now = ctx.now()
        with ctx.store.transaction() as tx:
            doc = None
            for candidate in dict.fromkeys((alert_id(device_uid, uid), uid)):
                doc = tx.object_doc("alert", candidate)
                if doc is not None:
                    break
            if doc is None or not may_view(actor, _alert_facts(doc)):
                raise NotFound(f"no alert {uid}")
            ctx.allow(actor, Action.ALERT_CANCEL, self._alert_target(doc))
            if doc["state"] == "cancelled":
                raise Conflict("the alert is already cancelled")
            doc = Alert.from_doc(doc).cancelled(by=actor.username, at=now).to_doc()
            tx.append(ts=now, author=actor.username, kind=kinds.ALERT_CANCELLED, payload=doc, audience=doc["audience"])
        return doc

    # --- chat ----------------------------------------------------------------------------
    def post_chat(self, *, actor: User, message_id: str, room: str, text: str, position: Position,
                  sender_uid: str, callsign: str = "", at: str | None = None) -> dict[str, Any]:
        """A GeoChat message into the chat log: the all-rooms chat is national, others the agency's."""
        ctx = self.ctx
        ctx.allow(actor, Action.CHAT_POST, new_target("chat", actor, node_country=ctx.country))
        now = ctx.now()
        audience = aud.resolve(owner_agency=actor.agency, owner_country=actor.country,
                               scope="national" if room == "All Chat Rooms" else "agency",
                               roster=ctx.store.roster())
        doc = ChatMessage(
            id=f"{sender_uid}:{message_id}"[:300], message_id=message_id, room=room[:200], text=text[:4000],
            sender_uid=sender_uid, callsign=callsign, position=position.to_doc(), at=min(at or now, now),
            author=actor.username, owner_agency=actor.agency, owner_country=actor.country, audience=audience.to_doc(),
        ).to_doc()
        with ctx.store.transaction() as tx:
            if tx.holds_object("chat", doc["id"]):
                raise Conflict("this chat message is logged already")
            tx.append(ts=now, author=actor.username, kind=kinds.CHAT_POSTED, payload=doc, audience=audience.to_doc())
        return doc

    # --- reads (need-to-know: the store redacts for the viewer) ----------------------------
    def alerts(self, *, viewer: User, active_only: bool = True) -> list[str]:
        return self.ctx.store.alerts(viewer, active_only=active_only)

    def chat(self, *, viewer: User, limit: int = 100) -> list[str]:
        return self.ctx.store.chat(viewer, limit=limit)
