"""The "Who may do what" table of docs/security.md is what `policy.actions.authorize` decides.

The table is parsed from the markdown: every row (command, object state) × every actor
column (each role of the owner agency, another agency of the owner country, a partner's
liaison, a node administrator, the CLI) is checked against `authorize` on an object of the
owner agency, and the last column against the same object as a replicated partner copy.
Every `Action` must have a row: a new command cannot arrive undocumented. Hypothesis then
checks the rules that hold for every command on random actors and objects.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fossatum.domain.org import Role, User
from fossatum.policy import table
from fossatum.policy.actions import RULES, Action, Target, authorize

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ROW = re.compile(r"^`(?P<action>[a-z_.]+)`(?: · (?P<state>[a-z_]+))?$")


def _doc_table() -> tuple[list[str], list[list[str]]]:
    text = DOC.read_text(encoding="utf-8")
    assert "## Who may do what" in text, "docs/security.md lost its 'Who may do what' section"
    section = text.split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("| ")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return rows[0], rows[1:]


HEADER, ROWS = _doc_table()
PERSONAS = {p.column: p for p in table.PERSONAS}


def _parse(label: str) -> tuple[Action, str]:
    match = ROW.match(label)
    assert match, f"row label {label!r} is not `action` or `action` · state"
    return Action(match["action"]), match["state"] or ""


def test_the_table_has_a_column_for_every_actor_and_the_partner_copy() -> None:
    assert HEADER[0] == "command"
    assert HEADER[1:-1] == [p.column for p in table.PERSONAS]
    assert HEADER[-1] == table.REPLICATED_COLUMN


def test_every_command_of_every_interface_has_a_row() -> None:
    documented = {_parse(row[0])[0] for row in ROWS}
    assert set(Action) - documented == set(), "document the new command in docs/security.md"
    assert set(RULES) == set(Action)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_every_cell_is_what_authorize_decides(row: list[str]) -> None:
    action, state = _parse(row[0])
    assert len(row) == len(HEADER), row
    for column, expected in zip(HEADER[1:-1], row[1:-1]):
        persona = PERSONAS[column]
        reason = authorize(persona.user, action, table.target(action, state, persona.user))
        got = table.YES if reason is None else table.NO
        assert got == expected, f"{row[0]} for {column}: the table says {expected}, authorize says {got} ({reason})"
    assert row[-1] == table.replicated_cell(action, state), f"{row[0]} on a partner copy"
    if state != "new":
        assert row[-1] == table.NO, f"{row[0]}: a partner copy is read-only for everyone"


# --- the rules for every command, on random actors and objects -----------------------------
COUNTRIES = ["TUN", "DZA", "LBY"]
AGENCIES = {"TUN": ["TN-GN", "TN-ARMY"], "DZA": ["DZ-GN"], "LBY": ["LY-BG"]}


@st.composite
def users(draw: st.DrawFn, country: str | None = None) -> User:
    country = country or draw(st.sampled_from(COUNTRIES))
    roles = draw(st.sets(st.sampled_from(list(Role)), min_size=1))
    return User(draw(st.sampled_from(["a", "b", "c", "d"])), draw(st.sampled_from(AGENCIES[country])), country,
                frozenset(roles))


@st.composite
def targets(draw: st.DrawFn, **fixed: object) -> Target:
    owner_country = draw(st.sampled_from(COUNTRIES))
    values = {
        "kind": draw(st.sampled_from(["report", "unit", "section", "alert", "chat", "user", "partner"])),
        "owner_country": owner_country, "node_country": "TUN",
        "owner_agency": draw(st.sampled_from(AGENCIES[owner_country])),
        "creator": draw(st.sampled_from(["a", "b", "c", "d", ""])),
        "state": draw(st.sampled_from(["", "draft", "submitted", "validated", "returned", "closed", "raised"])),
        "handler": draw(st.sampled_from(["", "a", "b"])), "replicated": draw(st.booleans()),
    }
    values.update(fixed)
    return Target(**values)  # type: ignore[arg-type]


ACTIONS = st.sampled_from(list(Action))
OPERATIONAL = [a for a in Action if a.value.split(".")[0] in ("report", "unit", "section", "alert", "chat")
               and a not in (Action.UNIT_CREATE, Action.SECTION_CREATE, Action.CHAT_POST)]  # CHAT_POST: creation only
MANAGEMENT = [a for a in Action if a.value.split(".")[0] in ("user", "agency", "partner")
              or a in (Action.UNIT_CREATE, Action.SECTION_CREATE, Action.DEVICE_ENROL, Action.DEVICE_REVOKE)]


@settings(max_examples=400, deadline=None)
@given(actor=st.one_of(st.none(), users()), action=ACTIONS, target=targets(replicated=True))
def test_a_partner_copy_is_read_only_for_everyone(actor: User | None, action: Action, target: Target) -> None:
    assert authorize(actor, action, target) is not None


@settings(max_examples=400, deadline=None)
@given(actor=users(), action=ACTIONS, target=targets(replicated=False))
def test_a_disabled_account_does_nothing(actor: User, action: Action, target: Target) -> None:
    disabled = User(actor.username, actor.agency, actor.country, actor.roles, active=False)
    assert authorize(disabled, action, target) is not None


@settings(max_examples=400, deadline=None)
@given(actor=st.one_of(users("DZA"), users("LBY")), action=ACTIONS,
       target=targets(replicated=False, owner_country="TUN", owner_agency="TN-GN", creator="z", handler=""))
def test_a_liaison_changes_nothing_of_the_host(actor: User, action: Action, target: Target) -> None:
    assert authorize(actor, action, target) is not None


@settings(max_examples=400, deadline=None)
@given(agency=st.sampled_from(AGENCIES["TUN"]), action=st.sampled_from(OPERATIONAL),
       target=targets(replicated=False, creator="z", handler="", new=False))
def test_the_admin_role_gives_no_operational_power(agency: str, action: Action, target: Target) -> None:
    admin = User("admin", agency, "TUN", frozenset({Role.ADMIN}))
    assert authorize(admin, action, target) is not None


@settings(max_examples=400, deadline=None)
@given(actor=users(), action=st.sampled_from(MANAGEMENT), target=targets(replicated=False))
def test_only_a_host_administrator_manages_the_node(actor: User, action: Action, target: Target) -> None:
    allowed = authorize(actor, action, target) is None
    own_password = action is Action.USER_PASSWD and target.creator == actor.username
    if allowed and not own_password:
        assert actor.has(Role.ADMIN) and actor.country == "TUN"
    assert authorize(None, action, target) is None  # the CLI (file access) manages the node


@settings(max_examples=400, deadline=None)
@given(actor=users(), action=st.sampled_from([Action.ALERT_RAISE, Action.ALERT_CANCEL, Action.UNIT_MOVE,
                                              Action.UNIT_UPDATE, Action.DEVICE_REGISTER, Action.CHAT_POST]),
       target=targets(replicated=False))
def test_field_objects_change_only_within_their_agency(actor: User, action: Action, target: Target) -> None:
    if authorize(actor, action, target) is None:
        assert actor.username == target.creator or (
            actor.agency == target.owner_agency and actor.country == target.owner_country)
