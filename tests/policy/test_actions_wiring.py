"""Every write asks `policy.actions.authorize` (architecture test, then a recorded replay).

1. Static: every public method of a service (services/) that writes to the log (opens a write
   transaction, or calls a method that does) asks the policy itself or through a method that
   asks; so does every `Node` method, each the method of a service; so do the federation's
   partner commands. A planted write that skips the policy is found.
2. Static: every interface (API routes, TAK gateway, CLI, import) calls only such node
   methods to change anything, and opens no write transaction of its own.
3. Replay: the API's write routes, called by a logged-in user, each record the expected
   `Action` with `authorize`.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from fossatum.api.app import create_app
from fossatum.federation.service import Federation
from fossatum.node import Node
from fossatum.policy import actions
from fossatum.policy.actions import Action
from fossatum.services.admin import Admin
from fossatum.services.auth import Auth
from fossatum.services.checkpoints import Checkpoints
from fossatum.services.context import Context
from fossatum.services.coverage import Coverage
from fossatum.services.delegate import Delegate
from fossatum.services.exports import Exports
from fossatum.services.field import Field
from fossatum.services.integrity import Integrity
from fossatum.services.operations import Operations
from fossatum.services.patrols import Patrols
from fossatum.services.reports import Reports
from fossatum.services.sections import Sections
from fossatum.services.units import Units

SRC = Path(__file__).resolve().parents[2] / "src" / "fossatum"

# Calls that ask the policy (directly, or through the services' context, whose `allow` and
# `admin` call `authorize`: test_the_context_asks_the_policy), or through a service's helpers
# that do.
ASKERS = {"allow", "admin", "authorize", "require", "_load_for_change", "prepare_report"}
# Writes that are not commands on an object, with the reason.
NOT_COMMANDS = {
    "login": "opens the caller's own session (a password check, throttled)",
    "logout": "ends the caller's own session (its own token)",
    "_new_session": "the caller's own session",
    "file_prepared": "files reports each checked by prepare_report, which asks (report.file/import)",
}
# The services behind `Node` (services/): each command is a method of one of them.
SERVICES: tuple[type, ...] = (Admin, Auth, Checkpoints, Coverage, Exports, Field, Integrity, Operations, Patrols,
                              Reports, Sections, Units)


def _class_methods(source: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(textwrap.dedent(source))
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    return {f.name: f for f in body.body if isinstance(f, ast.FunctionDef)}


def _methods(cls: type) -> dict[str, ast.FunctionDef]:
    return _class_methods(inspect.getsource(cls))


def _calls(fn: ast.AST) -> set[str]:
    """Names called on `self` (or bare, or on `actions.`/`self.ctx.`/`self.node.`) inside a function."""
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                names.add(f.attr)
            elif isinstance(f, ast.Name):
                names.add(f.id)
    return names


def _writes_directly(fn: ast.AST) -> bool:
    """Opens a write transaction, or appends to the log (`tx.append`)."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            value = node.func.value
            if node.func.attr == "transaction" or (node.func.attr == "append" and isinstance(value, ast.Name)
                                                   and value.id == "tx"):
                return True
    return False


def _closure(methods: dict[str, ast.FunctionDef], name: str, prop: str, seen: set[str] | None = None) -> bool:
    """Whether `name` (or a method of the class it calls) writes ("writes") or asks ("asks")."""
    seen = seen if seen is not None else set()
    if name in seen or name not in methods:
        return False
    seen.add(name)
    fn = methods[name]
    if prop == "writes" and _writes_directly(fn):
        return True
    if prop == "asks" and ASKERS & _calls(fn):
        return True
    return any(_closure(methods, callee, prop, seen) for callee in _calls(fn) & set(methods))


def unasked_writes(methods: dict[str, ast.FunctionDef]) -> list[str]:
    """The public methods of a class that write without asking the policy."""
    return sorted(n for n in methods if not n.startswith("_") and n not in NOT_COMMANDS
                  and _closure(methods, n, "writes") and not _closure(methods, n, "asks"))


def _node_delegates() -> dict[str, tuple[type, str]]:
    """Node's methods that are a service's (`name = Delegate("_svc", Service.name)`)."""
    found = {}
    for name, member in vars(Node).items():
        if isinstance(member, Delegate):
            owner = next(c for c in SERVICES if getattr(c, member.method.__name__, None) is member.method)
            found[name] = (owner, member.method.__name__)
    return found


SERVICE_METHODS = {cls: _methods(cls) for cls in SERVICES}
DELEGATES = _node_delegates()
NODE = _methods(Node)


def _node_writes(name: str) -> bool:
    if name in DELEGATES:
        cls, method = DELEGATES[name]
        return _closure(SERVICE_METHODS[cls], method, "writes")
    return _closure(NODE, name, "writes")


# The public methods of Node that write, with the service method doing it.
WRITERS = sorted(n for n in {*DELEGATES, *NODE} if not n.startswith("_") and n not in NOT_COMMANDS
                 and _node_writes(n))


def test_the_inventory_finds_the_commands() -> None:
    for expected in ("add_user", "move_unit", "amend_report", "transition", "raise_alert", "cancel_alert",
                     "post_chat", "set_section_impact", "register_device", "file_report", "set_user_active",
                     "add_agency", "set_password", "set_field_audience", "release_report", "add_section"):
        assert expected in WRITERS
    assert not [n for n in NODE if not n.startswith("_") and _closure(NODE, n, "writes")], \
        "Node writes itself: commands belong in a service (services/)"


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.__name__)
def test_every_service_write_method_asks_the_policy(cls: type) -> None:
    assert not unasked_writes(SERVICE_METHODS[cls]), \
        f"{cls.__name__} writes without asking policy.actions.authorize: {unasked_writes(SERVICE_METHODS[cls])}"


@pytest.mark.parametrize("name", WRITERS)
def test_every_node_write_method_asks_the_policy(name: str) -> None:
    cls, method = DELEGATES[name]
    assert _closure(SERVICE_METHODS[cls], method, "asks"), \
        f"Node.{name} ({cls.__name__}.{method}) writes without asking policy.actions.authorize"


def test_the_check_finds_a_write_that_skips_the_policy() -> None:
    planted = _class_methods('''
class Planted:
    def sneak(self, *, actor, doc):
        with self.ctx.store.transaction() as tx:
            self._append(tx, doc)

    def _append(self, tx, doc):
        tx.append(ts="", author="", kind="unit.added", payload=doc, audience={})

    def honest(self, *, actor, doc):
        self.ctx.allow(actor, "unit.create", None)
        with self.ctx.store.transaction() as tx:
            self._append(tx, doc)
''')
    assert unasked_writes(planted) == ["sneak"]


def test_the_context_asks_the_policy() -> None:
    """`allow` and `admin` count as asking because they do: they call `actions.authorize`."""
    context = _methods(Context)
    assert "authorize" in _calls(context["allow"])
    assert "allow" in _calls(context["admin"])


@pytest.mark.parametrize("name", ["add_partner", "remove_partner"])
def test_the_partner_commands_ask_the_policy(name: str) -> None:
    assert ASKERS & _calls(_methods(Federation)[name])


def _interface_files() -> list[Path]:
    return [*sorted((SRC / "api").glob("*.py")), *sorted((SRC / "cot").glob("*.py")), SRC / "cli.py",
            SRC / "transfer.py", *sorted((SRC / "demo").glob("*.py"))]


@pytest.mark.parametrize("path", _interface_files(), ids=lambda p: p.name)
def test_interfaces_change_things_only_through_methods_that_ask(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path.name} absent")
    text = path.read_text(encoding="utf-8")
    unasked = [name for name in {*DELEGATES, *NODE} if name not in WRITERS and name in NOT_COMMANDS]
    for name in re.findall(r"\bnode\.([a-z_]+)\(", text):
        if (name in NODE or name in DELEGATES) and _node_writes(name):
            assert name in WRITERS or name in unasked, f"{path.name} calls Node.{name}, which writes"
    tree = ast.parse(text)
    for fn in ast.walk(tree):
        if isinstance(fn, ast.Call) and isinstance(fn.func, ast.Attribute) and fn.func.attr == "append":
            target = fn.func.value
            assert not (isinstance(target, ast.Name) and target.id == "tx"), \
                f"{path.name} appends to the log itself, bypassing the node's commands"


# --- replay through the API ------------------------------------------------------------------
def test_every_api_write_route_reaches_authorize(node: Node, client_for, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Action] = []
    real = actions.authorize

    def recording(actor, action, target):  # type: ignore[no-untyped-def]
        asked.append(action)
        return real(actor, action, target)

    monkeypatch.setattr(actions, "authorize", recording)
    admin, amira, sami, leila = (client_for(u) for u in ("admin", "amira", "sami", "leila"))
    here = {"lat": 35.2, "lon": 8.6}
    square = {"type": "Polygon", "coordinates": [[[8.0, 35.0], [8.5, 35.0], [8.5, 35.5], [8.0, 35.0]]]}

    def call(client, method: str, path: str, expected: Action, body: dict | None = None) -> dict:  # type: ignore[no-untyped-def]
        asked.clear()
        response = getattr(client, method)(path, **({"json": body} if body is not None else {}))
        assert response.status_code < 400, (path, response.status_code, response.text)
        assert expected in asked, f"{method.upper()} {path} did not ask for {expected} (asked {asked})"
        return response.json() if response.content else {}

    report = call(sami, "post", "/api/v1/reports", Action.REPORT_FILE,
                  {"type": "armed_group_sighting", "location": here, "observed_at": "2026-11-28T20:00:00Z",
                   "audience": {"scope": "national"}, "state": "draft"})
    rid = report["id"]
    call(sami, "patch", f"/api/v1/reports/{rid}", Action.REPORT_AMEND, {"description": "two vehicles"})
    call(sami, "post", f"/api/v1/reports/{rid}/submit", Action.REPORT_SUBMIT, {})
    call(amira, "post", f"/api/v1/reports/{rid}/claim", Action.REPORT_CLAIM, {})
    call(amira, "post", f"/api/v1/reports/{rid}/unclaim", Action.REPORT_UNCLAIM, {})
    call(amira, "post", f"/api/v1/reports/{rid}/return", Action.REPORT_RETURN, {"reason": "position?"})
    call(sami, "post", f"/api/v1/reports/{rid}/submit", Action.REPORT_SUBMIT, {})
    call(amira, "post", f"/api/v1/reports/{rid}/validate", Action.REPORT_VALIDATE, {})
    call(sami, "post", f"/api/v1/reports/{rid}/urgent", Action.REPORT_FLAG, {"urgent": True})
    call(amira, "post", f"/api/v1/reports/{rid}/close", Action.REPORT_CLOSE, {"reason": "done"})
    other = call(sami, "post", "/api/v1/reports", Action.REPORT_FILE,
                 {"type": "armed_group_sighting", "location": here, "observed_at": "2026-11-28T20:00:00Z",
                  "audience": {"scope": "national"}})
    call(amira, "post", f"/api/v1/reports/{other['id']}/validate", Action.REPORT_VALIDATE, {})
    call(amira, "post", f"/api/v1/reports/{other['id']}/retract", Action.REPORT_RETRACT, {"reason": "wrong"})

    unit = call(admin, "post", "/api/v1/units", Action.UNIT_CREATE,
                {"name": "GN patrol", "kind": "patrol", "agency": "TN-GN", "location": here})
    call(sami, "post", f"/api/v1/units/{unit['id']}/position", Action.UNIT_MOVE, {"location": here})
    call(admin, "post", "/api/v1/sections", Action.SECTION_CREATE,
         {"id": "TUN-X-01", "name": "Test section", "geometry": square})
    call(leila, "post", "/api/v1/sections/TUN-X-01/impact", Action.SECTION_SET, {"impact": "high", "reason": "x"})
    call(admin, "post", "/api/v1/agencies", Action.AGENCY_ADD, {"code": "TN-CUST", "name": "Douane", "country": "TUN"})
    call(admin, "put", "/api/v1/agencies/TN-GN/field-audience", Action.AGENCY_FIELD_AUDIENCE, {"scope": "national"})
    call(admin, "delete", "/api/v1/agencies/TN-GN/field-audience", Action.AGENCY_FIELD_AUDIENCE)
    call(admin, "post", "/api/v1/users", Action.USER_CREATE,
         {"username": "new.user", "agency": "TN-GN", "roles": ["field"], "password": "long-enough-1"})
    # joint operations (issue 12)
    op = call(amira, "post", "/api/v1/operations", Action.OPERATION_CREATE,
              {"code": "OP-1", "name": "Cordon", "kind": "cordon_and_search", "area": square,
               "units": [unit["id"]]})
    assert Action.UNIT_TASK in asked
    call(amira, "patch", f"/api/v1/operations/{op['id']}", Action.OPERATION_UPDATE, {"name": "Cordon 2"})
    call(amira, "patch", f"/api/v1/operations/{op['id']}", Action.OPERATION_STATUS, {"status": "IPR"})
    call(amira, "put", f"/api/v1/operations/{op['id']}/sectors", Action.OPERATION_SECTORS, {"sectors": []})
    call(leila, "post", f"/api/v1/operations/{op['id']}/journal", Action.JOURNAL_WRITE, {"kind": "note", "text": "x"})
    cp = call(amira, "post", "/api/v1/checkpoints", Action.CHECKPOINT_CREATE,
              {"name": "Track", "location": here, "section": "TUN-X-01", "operator": "TUN", "units": [unit["id"]]})
    assert Action.UNIT_TASK in asked
    call(amira, "patch", f"/api/v1/checkpoints/{cp['id']}", Action.CHECKPOINT_UPDATE, {"name": "Track 2"})
    call(sami, "post", f"/api/v1/checkpoints/{cp['id']}/status", Action.CHECKPOINT_STATUS,
         {"status": "closed", "reason": "flood"})
    patrol = call(amira, "post", "/api/v1/patrols", Action.PATROL_CREATE,
                  {"code": "P1", "name": "Patrol", "planned_start": "2026-12-07T05:00:00Z",
                   "planned_end": "2026-12-07T11:00:00Z", "units": [unit["id"]],
                   "route": [{"name": "A", "lat": 35.1, "lon": 8.5}, {"name": "B", "lat": 35.2, "lon": 8.6}]})
    assert Action.UNIT_TASK in asked
    call(amira, "patch", f"/api/v1/patrols/{patrol['id']}", Action.PATROL_UPDATE, {"name": "Patrol 2"})
    call(amira, "patch", f"/api/v1/patrols/{patrol['id']}", Action.PATROL_STATUS, {"status": "IPR"})
    routes = {(m, r.path) for r in create_app(node).routes for m in getattr(r, "methods", ()) or ()}
    for verb, action in (("disable", Action.USER_DISABLE), ("enable", Action.USER_ENABLE)):
        path = next((p for m, p in routes if m == "POST" and p.endswith("/" + verb)), None)
        if path is not None:
            call(admin, "post", path.replace("{username}", "new.user"), action, {})
