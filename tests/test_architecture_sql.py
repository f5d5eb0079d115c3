"""All SQL lives in `fossatum/store/`: the rest of the code asks the store by name
(`store/contract.py` declares what it may ask), so a table can change in one package and a
second backend is a second implementation of one contract, not a hunt through the code.

The scan is on the syntax tree: every string constant, and every literal part of an f-string,
that begins (after whitespace) with an SQL statement keyword. Docstrings are prose and skipped.
SQL fragments that are not statements (the need-to-know predicate of `policy/predicate.py`,
spliced into the store's own queries) are not statements and not counted.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "fossatum"
STORE = SRC / "store"

# A statement keyword and what must follow it for the text to be SQL rather than prose
# ("Update the unit" is not SQL; "UPDATE units SET" is).
_NAME = r"[\w.\"]+"
_STATEMENT = re.compile(
    r"""^\s*(?:
        SELECT\s+(?:DISTINCT\s+)?(?:[\d(*?'"]|\w+\s*\(|.*\bFROM\s)
      | INSERT\s+(?:OR\s+\w+\s+)?INTO\s
      | REPLACE\s+INTO\s
      | UPDATE\s+""" + _NAME + r"""\s+SET\s
      | DELETE\s+FROM\s
      | WITH\s+(?:RECURSIVE\s+)?""" + _NAME + r"""\s*(?:\([^)]*\)\s*)?AS\s*\(
      | CREATE\s+(?:UNIQUE\s+|TEMP\s+|TEMPORARY\s+|VIRTUAL\s+|OR\s+REPLACE\s+)*
            (?:TABLE|INDEX|VIEW|TRIGGER|FUNCTION|ROLE|SCHEMA|DATABASE|POLICY|EXTENSION|SEQUENCE|TYPE)\b
      | DROP\s+(?:TABLE|INDEX|VIEW|TRIGGER|FUNCTION|ROLE|SCHEMA|DATABASE|POLICY|EXTENSION|SEQUENCE|TYPE)\b
      | ALTER\s+(?:TABLE|INDEX|VIEW|ROLE|SCHEMA|DATABASE|POLICY|SEQUENCE|TYPE|DEFAULT)\b
      | PRAGMA\s+\w
      | (?:BEGIN|COMMIT|ROLLBACK|END)(?:\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED|TRANSACTION|WORK)\b.*)?\s*;?\s*$
      | ROLLBACK\s+TO\s
      | (?:RELEASE\s+)?SAVEPOINT\s+\w
      | LISTEN\s+\w
      | UNLISTEN\s+[\w*]
      | NOTIFY\s+\w+\s*(?:,|;|$)
      | (?:GRANT|REVOKE)\s+\w+(?:\s*,\s*\w+)*\s+ON\s
      | SET\s+(?:LOCAL\s+|SESSION\s+)?(?:ROLE|search_path|statement_timeout|lock_timeout)\b
      | TRUNCATE\s+\w
      | VACUUM\b | ANALYZE\s+\w | REINDEX\b
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def looks_like_sql(text: str) -> bool:
    return bool(_STATEMENT.match(text))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the constants that are docstrings (module, class, function)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_in(source: str, name: str = "<string>") -> list[tuple[int, str]]:
    """(line, first words) of each SQL statement text in `source`."""
    tree = ast.parse(source, name)
    skip = _docstrings(tree)
    hits: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            # A part of an f-string is reported once, through its JoinedStr below.
            if looks_like_sql(node.value):
                hits.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            # The literal text before the first interpolation counts (`f"SELECT {cols} FROM …"`);
            # the later parts are checked as the constants they also are.
            first = node.values[0] if node.values else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
            if looks_like_sql(text) and not looks_like_sql(first.value):
                hits.append((node.lineno, text))
    # Constants inside f-strings are walked too: keep one hit per line and text start.
    return sorted({(line, " ".join(text.split())[:60]) for line, text in hits})


def sql_outside_store() -> list[str]:
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        if STORE in path.parents:
            continue
        for line, text in sql_in(path.read_text(), str(path)):
            found.append(f"{path.relative_to(SRC.parent)}:{line}: {text}")
    return found


def test_no_sql_outside_the_store() -> None:
    found = sql_outside_store()
    assert not found, ("SQL outside src/fossatum/store/ (add a named method to store/contract.py "
                       "and both backends instead):\n" + "\n".join(found))


def test_the_store_package_is_where_the_sql_is() -> None:
    # The scan would pass vacuously if it found SQL nowhere: it finds the store's own.
    in_store = [hit for path in STORE.rglob("*.py") for hit in sql_in(path.read_text(), str(path))]
    assert len(in_store) > 50


def test_the_detector_catches_planted_sql() -> None:
    planted = '''
"""SELECT in a module docstring is prose."""
def purge(tx, table, object_id):
    """Delete from the table: prose too."""
    tx.execute("DELETE FROM units WHERE id = ?", (object_id,))
    tx.execute(f"select origin from {table} where id = ?", (object_id,))
    tx.execute(f"{table}")  # no SQL text of its own
    row = tx.execute("""
        WITH last AS (SELECT 1) SELECT * FROM last""").fetchone()
    tx.execute("INSERT INTO peer_state (partner) VALUES (?) "
               "ON CONFLICT (partner) DO NOTHING", ("FR",))
    tx.execute(f"UPDATE peer_state SET {table}_error = ? WHERE partner = ?", ("x", "FR"))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("commit")
    conn.execute("LISTEN fossatum_commits")
    return "Update the unit", "select a partner", "BEGIN-----", "Delete it"
'''
    lines = [line for line, _ in sql_in(planted)]
    assert lines == [5, 6, 8, 10, 12, 13, 14, 15]


def test_prose_and_kind_names_are_not_sql() -> None:
    for text in ("unit.create", "Update the unit", "select", "Begin here", "-----BEGIN CERTIFICATE",
                 "NOTIFY_PATH", "Notify the partner that entries are waiting", "commit notices",
                 "With a box, the reports in it", "Create a user", "drop it"):
        assert not looks_like_sql(text), text
    for text in ("SELECT 1", "  select doc from units", "INSERT OR IGNORE INTO x VALUES (1)",
                 "update units set doc = ?", "delete from log", "PRAGMA quick_check", "BEGIN", "COMMIT",
                 "SAVEPOINT sp1", "NOTIFY fossatum", "CREATE TABLE t (a)", "DROP INDEX i", "ALTER TABLE t ADD c",
                 "WITH x AS (SELECT 1) SELECT * FROM x", "LISTEN fossatum_commits"):
        assert looks_like_sql(text), text
