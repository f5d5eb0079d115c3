"""The "Who may do what" table of docs/security.md, computed from `policy.actions.RULES`.

The table is the reviewed statement of the write rules; tests/policy/test_actions_table.py
parses it from the markdown and checks every cell against `authorize`. After changing a
rule, print the table again and paste it into docs/security.md (a reviewer then sees the
change in plain words):

    python -m fossatum.policy.table

Rows are commands, optionally in a state of the object (`report.amend · validated`), or
`· new` for a command that creates an object (owned by the actor's own agency). Columns are
actors relative to an object of the National Guard (TN-GN) of Tunisia held at the Tunisian
node; the last column is the same object as a copy replicated from a partner.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.org import Role, User
from .actions import Action, Target, authorize, new_target

NODE_COUNTRY = "TUN"
OWNER_AGENCY = "TN-GN"
YES, NO, NA = "✓", "✗", "—"


@dataclass(frozen=True)
class Persona:
    column: str
    user: User | None  # None: the node administrator at the command line


def _user(name: str, agency: str, country: str, *roles: Role) -> User:
    return User(name, agency, country, frozenset(roles))


PERSONAS: tuple[Persona, ...] = (
    Persona("author", _user("author", OWNER_AGENCY, "TUN", Role.FIELD)),
    Persona("field (same agency)", _user("field", OWNER_AGENCY, "TUN", Role.FIELD)),
    Persona("analyst (same agency)", _user("analyst", OWNER_AGENCY, "TUN", Role.ANALYST)),
    Persona("duty officer (same agency)", _user("officer", OWNER_AGENCY, "TUN", Role.DUTY_OFFICER)),
    Persona("commander (same agency)", _user("commander", OWNER_AGENCY, "TUN", Role.COMMANDER)),
    Persona("field (other agency)", _user("army.field", "TN-ARMY", "TUN", Role.FIELD)),
    Persona("analyst (other agency)", _user("army.analyst", "TN-ARMY", "TUN", Role.ANALYST)),
    Persona("duty officer (other agency)", _user("army.officer", "TN-ARMY", "TUN", Role.DUTY_OFFICER)),
    Persona("partner liaison", _user("liaison", "DZ-GN", "DZA", Role.DUTY_OFFICER, Role.ANALYST, Role.FIELD)),
    Persona("node admin", _user("admin", "TN-IT", "TUN", Role.ADMIN)),
    Persona("node admin (CLI)", None),
)
REPLICATED_COLUMN = "partner copy (anyone)"

# (action, state): the rows of the table. `new` creates; "" is any state.
ROWS: tuple[tuple[Action, str], ...] = (
    (Action.REPORT_FILE, "new"),
    (Action.REPORT_IMPORT, "new"),
    (Action.REPORT_AMEND, "draft"),
    (Action.REPORT_AMEND, "submitted"),
    (Action.REPORT_AMEND, "validated"),
    (Action.REPORT_SUBMIT, "draft"),
    (Action.REPORT_VALIDATE, "submitted"),
    (Action.REPORT_RETURN, "submitted"),
    (Action.REPORT_CLAIM, "submitted"),
    (Action.REPORT_UNCLAIM, "submitted"),
    (Action.REPORT_CLOSE, "validated"),
    (Action.REPORT_RETRACT, "validated"),
    (Action.REPORT_FLAG, "validated"),
    (Action.REPORT_RELEASE, "validated"),
    (Action.UNIT_CREATE, "new"),
    (Action.UNIT_MOVE, ""),
    (Action.UNIT_UPDATE, ""),
    (Action.SECTION_CREATE, "new"),
    (Action.SECTION_SET, ""),
    (Action.ALERT_RAISE, "new"),
    (Action.ALERT_RAISE, "raised"),
    (Action.ALERT_CANCEL, "raised"),
    (Action.CHAT_POST, "new"),
    (Action.DEVICE_REGISTER, "new"),
    (Action.DEVICE_REGISTER, ""),
    (Action.DEVICE_ENROL, ""),
    (Action.DEVICE_REVOKE, ""),
    (Action.OPERATION_CREATE, "new"),
    (Action.OPERATION_UPDATE, ""),
    (Action.OPERATION_STATUS, ""),
    (Action.OPERATION_SECTORS, ""),
    (Action.JOURNAL_WRITE, "new"),
    (Action.UNIT_TASK, ""),
    (Action.PATROL_CREATE, "new"),
    (Action.PATROL_UPDATE, ""),
    (Action.PATROL_STATUS, ""),
    (Action.CHECKPOINT_CREATE, "new"),
    (Action.CHECKPOINT_UPDATE, ""),
    (Action.CHECKPOINT_STATUS, ""),
    (Action.USER_CREATE, ""),
    (Action.USER_PASSWD, ""),
    (Action.USER_DISABLE, ""),
    (Action.USER_ENABLE, ""),
    (Action.AGENCY_ADD, ""),
    (Action.AGENCY_FIELD_AUDIENCE, ""),
    (Action.PARTNER_ADD, ""),
    (Action.PARTNER_REMOVE, ""),
)

KINDS = {"device": "unit"}  # a device registers as (or onto) a unit


def target(action: Action, state: str, actor: User | None, *, replicated: bool = False) -> Target:
    """The object of a row: TN-GN's, written by `author`, handled by `officer`; or a new one."""
    kind = action.value.split(".", 1)[0]
    kind = KINDS.get(kind, kind)
    if state == "new":
        return new_target(kind, actor, node_country=NODE_COUNTRY)
    if replicated:
        return Target(kind=kind, owner_country="DZA", node_country=NODE_COUNTRY, owner_agency="DZ-GN",
                      creator="author", replicated=True, state=state, handler="officer")
    return Target(kind=kind, owner_country="TUN", node_country=NODE_COUNTRY, owner_agency=OWNER_AGENCY,
                  creator="author", state=state, handler="officer")


def label(action: Action, state: str) -> str:
    return f"`{action.value}`" + (f" · {state}" if state else "")


def cell(action: Action, state: str, persona: Persona) -> str:
    return YES if authorize(persona.user, action, target(action, state, persona.user)) is None else NO


def replicated_cell(action: Action, state: str) -> str:
    """✗ if every persona (and a user of the partner's own agency) is refused on the copy."""
    if state == "new":
        return NA
    actors = [p.user for p in PERSONAS] + [_user("partner.officer", "DZ-GN", "DZA", *Role)]
    refused = all(authorize(a, action, target(action, state, a, replicated=True)) is not None for a in actors)
    return NO if refused else YES


def markdown() -> str:
    header = ["command"] + [p.column for p in PERSONAS] + [REPLICATED_COLUMN]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for action, state in ROWS:
        cells = [label(action, state)] + [cell(action, state, p) for p in PERSONAS] + [replicated_cell(action, state)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
