"""The interfaces (the API, the TAK gateway) read and change the node through `Node` only: never
its store, nor the services behind it (node.py). The need-to-know reads are then one set of
methods a newcomer can find, and a new object kind's reads are added in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fossatum.node import Node

SRC = Path(__file__).resolve().parents[1] / "src" / "fossatum"
INTERFACES = ("api", "cot")
# What is behind the front: the store, the services' context, and the services themselves.
BEHIND = {"store", "ctx"} | {
    "_reports", "_units", "_sections", "_coverage", "_field", "_admin", "_auth", "_integrity", "_operations", "_checkpoints",
    "_exports", "_patrols"}
# (file, attribute) -> why it must stay. Nothing needs to today: the data folder is `node.data_dir`.
ALLOWED: dict[tuple[str, str], str] = {}


def behind_the_front(source: str) -> list[tuple[int, str]]:
    """(line, expression) of every attribute access in `source` that reaches behind `Node`."""
    return [(node.lineno, ast.unparse(node)) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in BEHIND]


def _interface_files() -> list[Path]:
    return [p for package in INTERFACES for p in sorted((SRC / package).glob("*.py"))]


def test_the_front_names_the_services_it_holds() -> None:
    # If Node gains a service, it is behind the front too (and this list learns its name).
    held = {name for name in Node.__init__.__code__.co_names if name.startswith("_") and not name.startswith("__")}
    services = {name for name in held if name not in {"_sessions", "_changes", "_sessions_ended", "_partner_keys"}}
    assert services <= BEHIND, f"services of Node missing from BEHIND: {sorted(services - BEHIND)}"


@pytest.mark.parametrize("path", _interface_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_interfaces_go_through_the_node(path: Path) -> None:
    found = [(line, expr) for line, expr in behind_the_front(path.read_text(encoding="utf-8"))
             if (path.name, expr.rpartition(".")[2]) not in ALLOWED]
    assert not found, (f"{path.parent.name}/{path.name} reaches behind Node (add a read method to node.py and "
                       f"its service): " + ", ".join(f"line {line}: {expr}" for line, expr in found))


def test_the_check_finds_a_store_access() -> None:
    planted = """
def units(node, viewer):
    return node.store.units(viewer)

class Gateway:
    def user(self, name):
        store = self.node.store
        return store.user(name), self.node._auth.password_hash(name)
"""
    assert sorted(expr for _, expr in behind_the_front(planted)) == ["node.store", "self.node._auth", "self.node.store"]
