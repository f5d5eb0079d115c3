"""Every read path passes documents through the one redaction (policy/redact.py), so that a
new object kind (operations, patrols, dispatch, crisis cells, tracks) cannot be shown naming
what its viewer may not see: its table needs a declared shape, its store reads the `shown`
mark, and the interfaces that push documents call `redact`."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from fossatum.policy import redact
from fossatum.store.base import StoreReads
from fossatum.store.postgres import PostgresStore
from fossatum.store.sqlite import SQLiteStore

SRC = Path(__file__).resolve().parents[1] / "src" / "fossatum"
NEED_TO_KNOW_COLUMNS = {"owner_agency", "owner_country", "scope", "releasable_to"}


def test_every_table_under_need_to_know_has_a_declared_shape(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    try:
        tables = [r[0] for r in store.read("SELECT name FROM sqlite_master WHERE type = 'table'")]
        guarded = {t for t in tables
                   if {c[1] for c in store.read(f"PRAGMA table_info({t})")} >= NEED_TO_KNOW_COLUMNS}
    finally:
        store.close()
    declared = {table for table, _ in redact.TABLES.values()} | set(redact.HISTORY)
    assert guarded, "no table with need-to-know columns found: the check itself is broken"
    assert guarded <= declared, f"tables without a redaction shape (policy/redact.py): {sorted(guarded - declared)}"
    assert set(redact.TABLES) == set(redact.SHAPES) and set(redact.HISTORY.values()) <= set(redact.SHAPES)


def _document_reads(cls: type) -> dict[str, object]:
    """Public methods whose first argument is a viewer and that return stored documents."""
    out = {}
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or name == "redacted":  # private, or the redaction itself
            continue
        target = inspect.unwrap(member)
        params = list(inspect.signature(target).parameters)
        returns = str(inspect.signature(target).return_annotation)
        if len(params) > 1 and params[1] == "viewer" and returns in ("str | None", "list[str]"):
            out[name] = member
    return out


def test_every_store_read_of_documents_for_a_viewer_is_redacted() -> None:
    for cls in (StoreReads, SQLiteStore, PostgresStore):
        reads = _document_reads(cls)
        assert {"report_doc", "list_reports", "report_versions", "units", "sections"} <= set(reads)
        unmarked = [name for name, read in reads.items() if getattr(read, "shown_kind", None) not in redact.SHAPES]
        assert not unmarked, f"{cls.__name__}: reads without @shown(kind) (store/base.py): {unmarked}"


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def test_api_answers_to_writes_pass_the_redaction() -> None:
    """A route serialising a document serialises `node.shown_doc(viewer, kind, doc)`."""
    for path in sorted((SRC / "api").glob("*.py")):
        tree = ast.parse(path.read_text())
        if "router" not in {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
                            if isinstance(t, ast.Name)}:
            continue
        for call in _calls(tree):
            if _dotted(call.func) != "json.dumps" or not call.args or path.name == "live.py":
                continue
            arg = call.args[0]
            ok = isinstance(arg, ast.Dict) or (isinstance(arg, ast.Call) and _dotted(arg.func).endswith("shown_doc"))
            assert ok, f"api/{path.name}:{call.lineno} serialises {ast.unparse(arg)} without shown_doc"


def test_interfaces_that_push_log_entries_redact_them() -> None:
    """The websocket and the TAK fan-out render documents of committed entries as each viewer
    may see them: the change feed redacts (`Change.shown` calls `redact.redact`), and a module
    that consumes the feed or reads entry payloads pushes through `.shown` or redacts itself."""
    feed = ast.parse((SRC / "changes.py").read_text())
    assert "redact.redact" in {_dotted(c.func) for c in _calls(feed)}, "changes.py pushes without redact.redact"
    pushing = []
    for package in ("api", "cot"):
        for path in sorted((SRC / package).glob("*.py")):
            tree = ast.parse(path.read_text())
            calls = {_dotted(c.func) for c in _calls(tree)}
            reads_payload = any(isinstance(n, ast.Attribute) and n.attr == "payload" for n in ast.walk(tree))
            consumes_feed = any(c.endswith("changes.subscribe") for c in calls)
            if not (reads_payload or consumes_feed) or path.name == "ingest.py":  # ingest shows nothing
                continue
            pushing.append(path.name)
            assert "redact.redact" in calls or any(c.endswith(".shown") for c in calls), \
                f"{package}/{path.name} pushes entry payloads without redact.redact or Change.shown"
    assert {"live.py", "fanout.py"} <= set(pushing)
