"""The import direction of DESIGN.md: the domain knows nothing of the web or the database."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fossatum"
FORBIDDEN_IN_CORE = ("fastapi", "starlette", "uvicorn", "sqlite3", "psycopg", "asyncio", "httpx", "click")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


@pytest.mark.parametrize("package", ["domain", "policy", "log"])
def test_core_packages_do_no_io(package: str) -> None:
    for path in (SRC / package).glob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN_IN_CORE, f"{path.name} imports {name}"


def test_domain_imports_only_itself_and_errors() -> None:
    for path in (SRC / "domain").glob("*.py"):
        for name in _imports(path):
            if name.startswith(".."):
                assert name in ("..errors",), f"{path.name} imports {name}"


def test_policy_and_store_do_not_import_the_interfaces() -> None:
    for package in ("policy", "store", "log"):
        for path in (SRC / package).glob("*.py"):
            for name in _imports(path):
                assert not name.startswith(("..api", "..cli", "..node")), f"{package}/{path.name} imports {name}"
