"""The registry of kinds (log/kinds.py): every kind declared once, and what the code derived
from kind-name prefixes before it, derived the same way from the declarations now."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fossatum.domain import audience as aud
from fossatum.log import kinds
from fossatum.log.entry import Entry
from fossatum.policy.release import facts_of_entry, facts_of_field_entry, links_of_entry, release_decision
from fossatum.policy.visibility import Facts
from fossatum.store.projector import PROJECTIONS, projection_of

SRC = Path(__file__).resolve().parents[1] / "src" / "fossatum"


# --- the declarations ------------------------------------------------------------------------

def test_every_entry_kind_has_a_projection() -> None:
    for name in kinds.ENTRY_KINDS:
        assert callable(projection_of(name)), name


def test_every_projection_is_of_a_declared_kind() -> None:
    for name in PROJECTIONS:
        assert name in kinds.ENTRY_KINDS or name in {o.name for o in kinds.OBJECT_KINDS}, name


def test_every_object_kind_has_entry_kinds_named_after_it() -> None:
    for obj in kinds.OBJECT_KINDS:
        assert kinds.entry_kinds_of(obj), obj.name
        for name in kinds.entry_kinds_of(obj):
            assert name.split(".")[0] == obj.name
            assert kinds.object_of(name) is obj


def test_node_internal_kinds_name_no_object() -> None:
    internal = [k for k in kinds.ENTRY_KINDS.values() if k.object is None]
    assert {k.name for k in internal} >= {"node.init", "user.added", "partner.added", "section_notes.set",
                                          "device.registered"}
    for k in internal:
        assert kinds.object_of(k.name) is None


@pytest.mark.parametrize("name", ["report.exploded", "unit", "", "REPORT.FILED", "report.filed ", "weird.kind"])
def test_unknown_kinds_are_refused(name: str) -> None:
    with pytest.raises(kinds.UnknownKind, match="unknown entry kind"):
        kinds.kind_of(name)


def test_an_unknown_kind_is_never_projected() -> None:
    with pytest.raises(ValueError, match="unknown entry kind"):
        projection_of("report.exploded")


def test_an_unknown_event_of_a_known_object_is_about_that_object() -> None:
    # The receiver refuses it as a bad shape (skipped, audited) instead of stopping the stream.
    assert kinds.object_of("section.exploded") is kinds.SECTION
    assert kinds.object_of("weird.kind") is None


def test_only_reports_alerts_and_chat_differ_from_the_defaults() -> None:
    """What the rest of the code relied on when it asked by prefix."""
    assert [o.name for o in kinds.OBJECT_KINDS if o.federates] == ["report", "unit", "section", "operation",
                                                                   "journal", "patrol", "checkpoint"]
    assert [o.name for o in kinds.OBJECT_KINDS if o.workflow] == ["report"]
    assert [o.name for o in kinds.OBJECT_KINDS if o.contained_in] == ["journal"]
    assert kinds.REPORT.envelope == "report" and all(o.envelope is None for o in kinds.OBJECT_KINDS[1:])
    assert set(kinds.SECTION.owner_notes) == {"responsible", "impact_reason"}


# --- the derivations: the same answers as the prefix checks they replace ---------------------

FEDERATED_PREFIXES = ("report.", "unit.", "section.", "operation.", "journal.", "patrol.", "checkpoint.")
FIELD_PREFIXES = ("alert.", "chat.")
SECTION_NOTES = ("impact_reason", "responsible")


def _facts_before(entry: Entry, prefixes: tuple[str, ...]) -> Facts | None:
    """policy/release.py's facts_of_entry and facts_of_field_entry before the registry."""
    a = entry.audience
    if not isinstance(a, dict) or a.get("local") or not entry.kind.startswith(prefixes):
        return None
    audience = aud.from_doc(a, owner_agency=str(a.get("owner_agency", "")), owner_country=str(a.get("owner_country", "")))
    if entry.kind.startswith("report."):
        state, released, author = str(a.get("state", "draft")), a.get("released") is True, str(a.get("author", ""))
    else:
        state, released, author = "active", True, entry.author
    return Facts(audience.owner_agency, audience.owner_country, audience.scope, audience.releasable_to,
                 state, released, author)


def _links_before(entry: Entry) -> list[str]:
    if entry.kind.startswith("report."):
        return list(entry.payload.get("report", {}).get("links") or [])
    return []


def _object_id_before(entry: Entry) -> str | None:
    if entry.kind.startswith("report."):
        return cast("str | None", entry.payload.get("report", {}).get("id"))
    if entry.kind.startswith(("unit.", "section.", "operation.", "journal.", "patrol.", "checkpoint.")):
        return cast("str | None", entry.payload.get("id"))
    return None


COUNTRIES = ("TUN", "DZA", "LBY")
KIND_NAMES = sorted(kinds.ENTRY_KINDS) + ["report.exploded", "section.exploded", "unit.teleported", "weird.kind"]

audiences = st.fixed_dictionaries(
    {"owner_country": st.sampled_from(COUNTRIES), "owner_agency": st.sampled_from(("TN-GN", "DZ-GN", ""))},
    optional={
        "scope": st.sampled_from([s.value for s in aud.Scope]),
        "releasable_to": st.lists(st.sampled_from(COUNTRIES), unique=True).map(sorted),
        "state": st.sampled_from(("draft", "submitted", "validated", "returned", "closed", "retracted")),
        "released": st.sampled_from((True, False, None, "yes")),
        "author": st.sampled_from(("sami", "leila", "")),
        "release_version": st.sampled_from((None, 1, 2)),
        "local": st.booleans(),
    },
)
documents = st.fixed_dictionaries(
    {"id": st.sampled_from(("r-1", "u-1", "s-1"))},
    optional={"links": st.lists(st.sampled_from(("r-2", "r-3")), max_size=2), "version": st.sampled_from((1, 2)),
              "impact_reason": st.sampled_from(("", "floods")), "responsible": st.sampled_from(({}, {"TUN": ["u-1"]})),
              "operation": st.sampled_from(("op-1", "op-2", 7))},
)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    kind = draw(st.sampled_from(KIND_NAMES))
    doc = draw(documents)
    payload: dict[str, Any] = {"report": doc} if kind.startswith("report.") and draw(st.booleans()) else doc
    if kind.startswith("report.") and "report" not in payload:
        payload = {"report": doc}
    return Entry("TUN-1", 1, "2026-11-01T00:00:00.000000Z", draw(st.sampled_from(("sami", "leila"))), kind,
                 payload, draw(audiences), "0" * 64)


@settings(max_examples=600, deadline=None)
@given(entries())
def test_facts_links_and_object_ids_are_what_the_prefix_checks_derived(entry: Entry) -> None:
    assert facts_of_entry(entry) == _facts_before(entry, FEDERATED_PREFIXES)
    assert facts_of_field_entry(entry) == _facts_before(entry, FIELD_PREFIXES)
    assert links_of_entry(entry) == _links_before(entry)
    assert entry.object_id == _object_id_before(entry)


def _release_before(entry: Entry, country: str, linked: Any, *, origin_country: str,
                    parent: Any) -> tuple[bool, str]:
    """policy/release.py's release_decision before the registry, on the reference derivations."""
    from fossatum.policy.release import partner_may_see
    from fossatum.policy.visibility import may_release

    facts = _facts_before(entry, FEDERATED_PREFIXES)
    if facts is None:
        return False, "node-internal"
    if entry.kind.startswith("section.") and any(entry.payload.get(n) for n in SECTION_NOTES):
        return False, "section carries node-internal notes (impact reason, responsible units)"
    if facts.owner_country != origin_country:
        return False, "owned by another country"
    if facts.state == "draft" or not facts.released:
        return False, "not validated"
    if facts.scope.value not in ("partners", "all_partners"):
        return False, f"scope {facts.scope.value}"
    if country not in facts.releasable_to:
        return False, "not in releasable_to"
    if not may_release(facts, country):
        return False, "audience"
    if entry.kind.startswith("report."):
        version = (entry.payload.get("report") or {}).get("version")
        held = entry.audience.get("release_version", version)
        if held != version:
            return False, f"kept: {country} holds released version {held}, this version awaits a release"
    for link in _links_before(entry):
        if not partner_may_see(linked(link), country):
            return False, "containment: links a report the partner may not see"
    # Issue 12: a journal line goes only where its operation may go.
    operation = entry.payload.get("operation")
    if entry.kind.startswith("journal.") and isinstance(operation, str) and not partner_may_see(
            parent("operation", operation), country):
        return False, "containment: its operation is not released to the partner"
    return True, "released"


@settings(max_examples=600, deadline=None)
@given(entries(), st.sampled_from(COUNTRIES), st.sampled_from(COUNTRIES), st.sets(st.sampled_from(("r-2", "r-3"))),
       st.sets(st.sampled_from(COUNTRIES)))
def test_release_decisions_are_what_they_were(entry: Entry, partner: str, origin_country: str,
                                              visible: set[str], operation_at: set[str]) -> None:
    seen = Facts("TN-GN", "TUN", aud.Scope.ALL_PARTNERS, frozenset(COUNTRIES), "validated", True, "sami")

    def linked(report_id: str) -> Facts | None:
        return seen if report_id in visible else None

    def parent(kind: str, object_id: str) -> Facts | None:
        # op-1 is held here, released to `operation_at`; op-2 is not held
        return Facts("TN-GN", "TUN", aud.Scope.PARTNERS, frozenset({"TUN", *operation_at}), "active", True,
                     "sami") if (kind, object_id) == ("operation", "op-1") else None

    assert release_decision(entry, partner, linked, origin_country=origin_country, parent=parent) == \
        _release_before(entry, partner, linked, origin_country=origin_country, parent=parent)


# --- no module spells an entry kind ----------------------------------------------------------

# federation/egress.py is the second, independent check before bytes leave for a partner: it
# reads the raw entry with its own code on purpose (a mistake in the registry or the release
# rule must not blind it too), so it keeps its own kind checks.
INDEPENDENT = {"federation/egress.py"}
PENDING: set[str] = set()  # modules not yet on the registry (none)


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "web" not in p.relative_to(SRC).parts[:1])


def _relative(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def kind_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [f"{_relative(path)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in kinds.ENTRY_KINDS]


def kind_prefix_checks(path: Path) -> list[str]:
    """`….kind.startswith(…)`, `kind.startswith(…)`, or a startswith of a kind-name prefix."""
    prefixes = tuple(f"{o.name}." for o in kinds.OBJECT_KINDS)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("startswith", "endswith")):
            continue
        receiver = ast.unparse(node.func.value)
        args = [a.value for a in ast.walk(node) if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        # A user name is no kind ("patrol.kasserine" is a demo account, not the patrol kind).
        if receiver.split(".")[-1] == "kind" or (any(a in prefixes for a in args)
                                                 and receiver.split(".")[-1] != "username"):
            found.append(f"{_relative(path)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_spells_an_entry_kind() -> None:
    found = [hit for path in _sources() if _relative(path) not in INDEPENDENT | PENDING | {"log/kinds.py"}
             for hit in kind_literals(path)]
    assert not found, "use the constants of log/kinds.py:\n" + "\n".join(found)


def test_no_module_asks_a_kind_by_its_prefix() -> None:
    found = [hit for path in _sources() if _relative(path) not in INDEPENDENT | PENDING | {"log/kinds.py"}
             for hit in kind_prefix_checks(path)]
    assert not found, "ask log/kinds.py (object_of, kind_of):\n" + "\n".join(found)


def test_the_independent_egress_check_does_not_read_the_registry() -> None:
    tree = ast.parse((SRC / "federation" / "egress.py").read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any("kinds" in name or "policy" in name or "log" in name for name in imported), imported


def test_redaction_shapes_and_tables_come_from_the_declarations() -> None:
    """What policy/redact.py declared by hand before the registry."""
    from fossatum.policy import redact

    assert {
        "report": redact.Shape(references={"links": "report"}),
        "unit": redact.Shape(),
        "section": redact.Shape(references={"responsible": "unit"}, owner_only={"impact_reason": ""}, free_text=True),
        "alert": redact.Shape(),
        "chat": redact.Shape(),
        "operation": redact.Shape(references={"units": "unit"}),
        "journal": redact.Shape(),
        "patrol": redact.Shape(references={"units": "unit"}),
        "checkpoint": redact.Shape(references={"units": "unit"}),
    } == redact.SHAPES
    assert redact.TABLES == {"report": ("reports", "id"), "unit": ("units", "id"), "section": ("sections", "id"),
                             "alert": ("alerts", "uid"), "chat": ("chat", "id"), "operation": ("operations", "id"),
                             "journal": ("operation_journal", "id"), "patrol": ("patrols", "id"),
                             "checkpoint": ("checkpoints", "id")}
