"""Who may do what to which object: the write side, decided in one place.

`visibility.may_view` says who may *see* an object; this module says who may *change* it.
Every command of every interface (HTTP API, TAK gateway, command line, import) describes
what it is about to touch as a `Target` and asks `authorize(actor, action, target)`; the
answer is None (allowed) or the reason of the refusal, which callers raise as `Forbidden`
(HTTP 403, CLI exit 1). `require` does both. The rules are data (`RULES`), so that
docs/security.md ("Who may do what") can state them and tests/policy/test_actions_table.py
can compare every actor × object × command with that table.

Rules that hold for every command, before the table is looked at:

- An object replicated from a partner is read-only everywhere but at its origin, for every
  user and every command (a copy is the partner's; a local change would make this node take
  it for its own and refuse every later entry from its origin).
- An object belongs to its creator's agency: creating gives the object the actor's own
  agency, and an id held by someone else is never taken over by creating or raising again.
- A disabled account does nothing.

State rules (a closed report cannot be amended, an alert cancelled twice, …) stay with the
object's domain module and answer 409; this module answers only "may this actor".

The node administrator manages the node (accounts, agencies, partners, devices, the
registry of units and sections) but gets no operational power from the admin role: an
admin does not move, amend, validate, close or cancel other agencies' objects. At the
command line (`actor=None`, file access to the node) only node management is possible;
operational commands there act as a named user (`--as-user`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..domain.org import Role, User
from ..errors import Forbidden


class Action(StrEnum):
    """Every command that changes something, of every interface."""

    # reports (the `release` work extends this block: release decisions, flags, closing)
    REPORT_FILE = "report.file"
    REPORT_IMPORT = "report.import"
    REPORT_AMEND = "report.amend"
    REPORT_SUBMIT = "report.submit"
    REPORT_VALIDATE = "report.validate"
    REPORT_RETURN = "report.return"
    REPORT_CLAIM = "report.claim"
    REPORT_UNCLAIM = "report.unclaim"
    REPORT_CLOSE = "report.close"
    REPORT_RETRACT = "report.retract"
    REPORT_FLAG = "report.flag"
    REPORT_RELEASE = "report.release"
    # units (blue force)
    UNIT_CREATE = "unit.create"
    UNIT_MOVE = "unit.move"
    UNIT_UPDATE = "unit.update"
    # border sections
    SECTION_CREATE = "section.create"
    SECTION_SET = "section.set"
    # field (TAK gateway)
    ALERT_RAISE = "alert.raise"
    ALERT_CANCEL = "alert.cancel"
    CHAT_POST = "chat.post"
    DEVICE_REGISTER = "device.register"
    DEVICE_ENROL = "device.enrol"
    DEVICE_REVOKE = "device.revoke"
    # joint operations, patrols, checkpoints (issue 12)
    OPERATION_CREATE = "operation.create"
    OPERATION_UPDATE = "operation.update"
    OPERATION_STATUS = "operation.status"
    OPERATION_SECTORS = "operation.sectors"
    JOURNAL_WRITE = "journal.write"
    UNIT_TASK = "unit.task"
    PATROL_CREATE = "patrol.create"
    PATROL_UPDATE = "patrol.update"
    PATROL_STATUS = "patrol.status"
    CHECKPOINT_CREATE = "checkpoint.create"
    CHECKPOINT_UPDATE = "checkpoint.update"
    CHECKPOINT_STATUS = "checkpoint.status"
    # accounts and node management
    USER_CREATE = "user.create"
    USER_PASSWD = "user.passwd"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    AGENCY_ADD = "agency.add"
    AGENCY_FIELD_AUDIENCE = "agency.field_audience"
    PARTNER_ADD = "partner.add"
    PARTNER_REMOVE = "partner.remove"


class Who(StrEnum):
    """How an actor relates to the target object."""

    AUTHOR = "author"      # the person who created it (for an account: its holder)
    HANDLER = "handler"    # the duty officer who took a report in hand
    AGENCY = "agency"      # a member of the owner agency
    COUNTRY = "country"    # a user of the owner country (any of its agencies)
    HOST = "host"          # a user of this node's own country (not a visiting liaison)


@dataclass(frozen=True, slots=True)
class Target:
    """What a command is about to touch.

    `node_country` is the country of the node where the command runs; `replicated` says the
    object is a partner's copy (its origin is another node). For a new object the owner is
    the one it will get; for an account, `creator` is its holder."""

    kind: str
    owner_country: str
    node_country: str
    owner_agency: str = ""
    creator: str = ""
    replicated: bool = False
    state: str = ""
    handler: str = ""
    new: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    """One way to be allowed: the relation, one of `roles` (None: any role), and the object
    states it applies in (None: any state)."""

    who: Who
    roles: frozenset[Role] | None = None
    states: frozenset[str] | None = None

    def admits(self, actor: User, target: Target) -> bool:
        if self.states is not None and target.state not in self.states:
            return False
        if self.roles is not None and not actor.has(*self.roles):
            return False
        return _related(actor, target, self.who)


@dataclass(frozen=True, slots=True)
class Rule:
    action: Action
    grants: tuple[Grant, ...]
    refusal: str
    cli: bool = False  # the node administrator at the command line (no user) may do it
    # Only users of this node's own country: what a visiting liaison officer may not do here
    # whatever agency they name (a joint operation is planned and run from each country's node).
    host_only: bool = False


def _related(actor: User, target: Target, who: Who) -> bool:
    if who is Who.AUTHOR:
        return bool(target.creator) and actor.username == target.creator
    if who is Who.HANDLER:
        return bool(target.handler) and actor.username == target.handler
    if who is Who.AGENCY:
        return actor.agency == target.owner_agency and actor.country == target.owner_country
    if who is Who.COUNTRY:
        return actor.country == target.owner_country
    if who is Who.HOST:
        return actor.country == target.node_country
    raise AssertionError(who)


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


def _states(*states: str) -> frozenset[str]:
    return frozenset(states)


DO = Role.DUTY_OFFICER
AN = Role.ANALYST
CO = Role.COMMANDER
ADMIN = Role.ADMIN
OPERATIONAL = _roles(Role.FIELD, DO, AN, CO)

# Node management: an administrator of this node's own country, or the CLI.
_ADMIN = (Grant(Who.HOST, _roles(ADMIN)),)

RULES: dict[Action, Rule] = {rule.action: rule for rule in (
    # --- reports ------------------------------------------------------------------------
    # Filing makes the actor's own agency the owner (checked in the domain too). A visiting
    # liaison may file: the report is their agency's and never leaves this node.
    Rule(Action.REPORT_FILE, (Grant(Who.AGENCY, OPERATIONAL),),
         "a report is filed by a member of its owner agency"),
    Rule(Action.REPORT_IMPORT, (Grant(Who.AGENCY, OPERATIONAL),),
         "an import files reports as a member of their owner agency"),
    Rule(Action.REPORT_AMEND, (
        Grant(Who.AUTHOR, states=_states("draft", "submitted", "returned")),
        Grant(Who.COUNTRY, _roles(DO, AN), states=_states("submitted", "returned", "validated", "closed",
                                                          "retracted")),
    ), "only the author (before validation) or a duty officer or analyst of the owner country may amend "
       "this report"),
    Rule(Action.REPORT_SUBMIT, (Grant(Who.AUTHOR),), "only the author may submit a report"),
    Rule(Action.REPORT_VALIDATE, (Grant(Who.COUNTRY, _roles(DO)),),
         "only a duty officer of the owner country may validate a report"),
    Rule(Action.REPORT_RETURN, (Grant(Who.COUNTRY, _roles(DO)),),
         "only a duty officer of the owner country may return a report"),
    Rule(Action.REPORT_CLAIM, (Grant(Who.COUNTRY, _roles(DO)),),
         "only a duty officer of the owner country may take a report in hand"),
    Rule(Action.REPORT_UNCLAIM, (Grant(Who.HANDLER), Grant(Who.COUNTRY, _roles(DO))),
         "only its handler or a duty officer of the owner country may release a report from triage"),
    Rule(Action.REPORT_CLOSE, (Grant(Who.COUNTRY, _roles(DO, AN)),),
         "only a duty officer or analyst of the owner country may close a report"),
    Rule(Action.REPORT_RETRACT, (Grant(Who.COUNTRY, _roles(DO)),),
         "only a duty officer of the owner country may retract a report"),
    # Closing and flagging make versions that stay at home: their reason and note reach a
    # partner only inside a released version (REPORT_RELEASE). So any operational user of
    # the owner country may alert its duty officers, and officers may close, without a release review.
    Rule(Action.REPORT_FLAG, (Grant(Who.COUNTRY, OPERATIONAL),),
         "only users of the owner country may flag a report urgent"),
    # What crosses the border is a release decision of the owner agency's duty officer
    # (validation by such an officer releases the validated version); with
    # FOSSATUM_FOUR_EYES_RELEASE also `four_eyes` below. docs/release.md.
    Rule(Action.REPORT_RELEASE, (Grant(Who.AGENCY, _roles(DO)),),
         "only a duty officer of the owner agency may release a report across the border"),
    # --- units ----------------------------------------------------------------------------
    Rule(Action.UNIT_CREATE, _ADMIN, "only a node administrator registers units", cli=True),
    Rule(Action.UNIT_MOVE, (Grant(Who.AGENCY, OPERATIONAL),),
         "only a member of the unit's agency may move it"),
    Rule(Action.UNIT_UPDATE, (Grant(Who.AGENCY, _roles(DO, CO)),),
         "only a duty officer or commander of the unit's agency may change it"),
    # --- border sections ------------------------------------------------------------------
    Rule(Action.SECTION_CREATE, _ADMIN, "only a node administrator adds border sections", cli=True),
    # A border section is the owner country's shared assessment, registered for the national
    # centre: every analyst or duty officer of that country keeps its impact level current.
    Rule(Action.SECTION_SET, (Grant(Who.COUNTRY, _roles(AN, DO)),),
         "only an analyst or duty officer of the owning country may set the impact level"),
    # --- field ----------------------------------------------------------------------------
    # Raising again with the same id (a device re-sends its alert) changes it: its raiser or
    # an officer of its agency only; a new alert is the raiser's agency's.
    Rule(Action.ALERT_RAISE, (Grant(Who.AUTHOR), Grant(Who.AGENCY, _roles(DO, CO))),
         "this alert belongs to another user; raise your own"),
    Rule(Action.ALERT_CANCEL, (Grant(Who.AUTHOR), Grant(Who.AGENCY, _roles(DO, CO))),
         "only the raiser or a duty officer or commander of the raising agency may cancel an alert"),
    Rule(Action.CHAT_POST, (Grant(Who.AGENCY),), "a message is posted by a member of its agency"),
    Rule(Action.DEVICE_REGISTER, (Grant(Who.AGENCY),),
         "this device belongs to a unit of another agency"),
    Rule(Action.DEVICE_ENROL, _ADMIN, "only a node administrator enrols devices", cli=True),
    Rule(Action.DEVICE_REVOKE, _ADMIN, "only a node administrator revokes devices", cli=True),
    # --- joint operations, patrols, checkpoints (issue 12) ----------------------------------
    # The lead country's node holds the operation document (area, sectors, phases, participants,
    # command, status): its commanders and duty officers change it. Each participant writes its
    # own journal lines and assigns its own units from its own node; a partner's copy is read-only.
    Rule(Action.OPERATION_CREATE, (Grant(Who.AGENCY, _roles(CO, DO)),),
         "an operation is planned by a commander or duty officer, for their own agency", host_only=True),
    Rule(Action.OPERATION_UPDATE, (Grant(Who.COUNTRY, _roles(CO, DO)),),
         "only a commander or duty officer of the lead country may change the operation", host_only=True),
    Rule(Action.OPERATION_STATUS, (Grant(Who.COUNTRY, _roles(CO, DO)),),
         "only a commander or duty officer of the lead country may change the operation's status", host_only=True),
    Rule(Action.OPERATION_SECTORS, (Grant(Who.COUNTRY, _roles(CO, DO)),),
         "only a commander or duty officer of the lead country may lay out the sectors", host_only=True),
    Rule(Action.JOURNAL_WRITE, (Grant(Who.AGENCY, _roles(CO, DO, AN)),),
         "a journal line is written by a commander, duty officer or analyst, for their own agency", host_only=True),
    # Tasking a unit (assigning it to an operation, a sector, a patrol, a checkpoint): its own
    # agency's officers, or a commander of its country (a joint command tasks national units).
    Rule(Action.UNIT_TASK, (Grant(Who.AGENCY, _roles(DO, CO)), Grant(Who.COUNTRY, _roles(CO))),
         "only a duty officer or commander of the unit's agency, or a commander of its country, may task it",
         host_only=True),
    Rule(Action.PATROL_CREATE, (Grant(Who.AGENCY, _roles(CO, DO)),),
         "a patrol is planned by a commander or duty officer, for their own agency", host_only=True),
    Rule(Action.PATROL_UPDATE, (Grant(Who.COUNTRY, _roles(CO, DO)),),
         "only a commander or duty officer of the owner country may change the patrol", host_only=True),
    Rule(Action.PATROL_STATUS, (Grant(Who.COUNTRY, _roles(CO, DO)),),
         "only a commander or duty officer of the owner country may change the patrol's status", host_only=True),
    Rule(Action.CHECKPOINT_CREATE, (Grant(Who.AGENCY, _roles(CO, DO)),),
         "a checkpoint is set up by a commander or duty officer, for their own agency", host_only=True),
    Rule(Action.CHECKPOINT_UPDATE, (Grant(Who.COUNTRY, _roles(CO, DO)),),
         "only a commander or duty officer of the owner country may change the checkpoint", host_only=True),
    # The team at the checkpoint reports it closed or reinforced, as do the officers of its country.
    Rule(Action.CHECKPOINT_STATUS, (Grant(Who.COUNTRY, _roles(CO, DO)), Grant(Who.AGENCY, _roles(Role.FIELD))),
         "only the checkpoint's agency or a commander or duty officer of its country may set its status",
         host_only=True),
    # --- accounts and node management -----------------------------------------------------
    Rule(Action.USER_CREATE, _ADMIN, "this needs the admin role", cli=True),
    Rule(Action.USER_PASSWD, (Grant(Who.AUTHOR), *_ADMIN),
         "only the account holder or a node administrator may set a password", cli=True),
    Rule(Action.USER_DISABLE, _ADMIN, "this needs the admin role", cli=True),
    Rule(Action.USER_ENABLE, _ADMIN, "this needs the admin role", cli=True),
    Rule(Action.AGENCY_ADD, _ADMIN, "this needs the admin role", cli=True),
    Rule(Action.AGENCY_FIELD_AUDIENCE, _ADMIN, "this needs the admin role", cli=True),
    Rule(Action.PARTNER_ADD, _ADMIN, "this needs the admin role", cli=True),
    Rule(Action.PARTNER_REMOVE, _ADMIN, "this needs the admin role", cli=True),
)}

REPLICATED = "a copy replicated from a partner is read-only here: only its origin node may change it"
NO_USER = "this command acts as a user; name one (e.g. --as-user)"
INACTIVE = "this account is disabled"
VISITOR = ("a visiting liaison officer does not plan or run this node's operations: your own country's node "
           "writes your country's part")


def authorize(actor: User | None, action: Action, target: Target) -> str | None:
    """None if `actor` (None: the node administrator at the command line) may do `action` to
    `target`; else the reason, fit to show to the person."""
    rule = RULES[action]
    if target.replicated:
        return REPLICATED
    if actor is None:
        return None if rule.cli else NO_USER
    if not actor.active:
        return INACTIVE
    if rule.host_only and actor.country != target.node_country:
        return VISITOR
    if any(grant.admits(actor, target) for grant in rule.grants):
        return None
    return rule.refusal


FOUR_EYES = ("four-eyes release: a duty officer other than the report's author and its last editor must "
             "release it")


def four_eyes(actor: User, *, author: str, last_editor: str) -> str | None:
    """The four-eyes release rule (setting four_eyes_release): None if `actor` is a second pair of eyes."""
    return FOUR_EYES if actor.username in (author, last_editor) else None


def require(actor: User | None, action: Action, target: Target) -> None:
    """`authorize`, raising `Forbidden` (403) with the reason."""
    reason = authorize(actor, action, target)
    if reason is not None:
        raise Forbidden(reason)


def node_target(node_country: str, kind: str = "node", *, owner_agency: str = "", creator: str = "",
                owner_country: str | None = None) -> Target:
    """A target of node management (an account, an agency, a partner, a device)."""
    return Target(kind=kind, owner_country=owner_country or node_country, node_country=node_country,
                  owner_agency=owner_agency, creator=creator)


def object_target(kind: str, doc: dict[str, Any], *, node_id: str, node_country: str, origin: str | None = None,
                  creator: str = "", state: str = "", handler: str = "") -> Target:
    """A target from a stored object's document (report, unit, section, alert, chat)."""
    return Target(kind=kind, owner_country=str(doc.get("owner_country", "")), node_country=node_country,
                  owner_agency=str(doc.get("owner_agency", "")), creator=creator,
                  replicated=(origin if origin is not None else str(doc.get("origin") or node_id)) != node_id,
                  state=state, handler=handler)


def new_target(kind: str, actor: User | None, *, node_country: str, owner_agency: str | None = None,
               owner_country: str | None = None) -> Target:
    """A target for an object about to be created (by default owned by the actor's agency)."""
    return Target(kind=kind, owner_country=owner_country or (actor.country if actor else node_country),
                  node_country=node_country, owner_agency=owner_agency or (actor.agency if actor else ""),
                  creator=actor.username if actor else "", new=True)


def actions_of(prefix: str) -> Iterable[Action]:
    return (a for a in Action if a.value.startswith(prefix))


__all__ = [
    "RULES",
    "Action",
    "Grant",
    "Rule",
    "Target",
    "Who",
    "authorize",
    "four_eyes",
    "new_target",
    "node_target",
    "object_target",
    "require",
]
