"""The import direction of DESIGN.md: the domain knows nothing of the web or the database."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fossatum"
FORBIDDEN_IN_CORE = ("fastapi", "starlette", "uvicorn", "sqlite3", "psycopg", "asyncio", "httpx", "click",
                     "socket", "ssl", "selectors", "http", "urllib")
# The packages of the node that do I/O: the domain imports none of them (DESIGN.md).
IO_PACKAGES = ("store", "api", "cot", "federation", "cli", "runtime", "supervisor", "node")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


@pytest.mark.parametrize("package", ["domain", "policy", "log", "standards"])
def test_core_packages_do_no_io(package: str) -> None:
    for path in (SRC / package).rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN_IN_CORE, f"{path.name} imports {name}"


def _absolute(path: Path, name: str) -> str:
    """`name` as imported by `path` (inside SRC), spelled from `fossatum`."""
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    package = list(path.relative_to(SRC.parent).parent.parts)
    base = package[: len(package) - level + 1]
    return ".".join([*base, name[level:]] if name[level:] else base)


def test_domain_imports_only_itself_and_errors() -> None:
    for path in (SRC / "domain").rglob("*.py"):
        for name in _imports(path):
            full = _absolute(path, name)
            if full.split(".")[0] == "fossatum":
                assert full in ("fossatum.errors", "fossatum.domain") or full.startswith("fossatum.domain."), \
                    f"domain/{path.name} imports {name}"
            assert not full.startswith(tuple(f"fossatum.{p}" for p in IO_PACKAGES)), f"domain/{path.name} imports {name}"


def test_standards_encode_domain_types_only() -> None:
    """standards/ (the EMSI export) maps domain types to documents: it reads nothing itself, so
    what it exports is exactly what the caller, which applied need-to-know, passed in."""
    paths = list((SRC / "standards").rglob("*.py"))
    assert paths
    for path in paths:
        for name in _imports(path):
            full = _absolute(path, name)
            if full.split(".")[0] == "fossatum":
                assert full in ("fossatum.errors", "fossatum.domain", "fossatum.standards") or full.startswith(
                    ("fossatum.domain.", "fossatum.standards.")), f"standards/{path.name} imports {name}"


def test_the_layering_check_reads_relative_and_absolute_imports() -> None:
    here = SRC / "domain" / "report.py"
    assert _absolute(here, "..store.sqlite") == "fossatum.store.sqlite"
    assert _absolute(here, ".geo") == "fossatum.domain.geo"
    assert _absolute(here, "..errors") == "fossatum.errors"
    assert _absolute(here, "fossatum.api.app") == "fossatum.api.app"


def test_policy_and_store_do_not_import_the_interfaces() -> None:
    for package in ("policy", "store", "log"):
        for path in (SRC / package).glob("*.py"):
            for name in _imports(path):
                assert not name.startswith(("..api", "..cli", "..node")), f"{package}/{path.name} imports {name}"


# --- the page: text from the API can only become text (finding 15) --------------------------

WEB_SRC = Path(__file__).resolve().parents[1] / "web" / "src"
# Sinks that parse a string as HTML, and Leaflet calls that do so when given a string. Only
# web/src/safe.ts calls Leaflet's, with parameters typed as DOM nodes.
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment",
              "DOMParser", "srcdoc", ".bindTooltip(", ".bindPopup(", ".setContent(", ".setTooltipContent(",
              ".setPopupContent(", "L.popup(", "L.tooltip(", "L.divIcon(", ".openPopup(", ".openTooltip(")


def _page_sources() -> list[Path]:
    return sorted(p for p in WEB_SRC.rglob("*.ts") if p.name != "env.d.ts")


def test_the_page_source_has_no_html_string_sink() -> None:
    assert _page_sources(), "no page source found"
    for path in _page_sources():
        text = path.read_text()
        for sink in HTML_SINKS:
            if path.name == "safe.ts" and sink in (".bindTooltip(", ".bindPopup(", "L.divIcon("):
                continue
            assert sink not in text, f"web/src/{path.name} uses {sink}: build DOM nodes with h() and safe.ts"


def test_the_leaflet_wrappers_take_dom_nodes_only() -> None:
    text = (WEB_SRC / "safe.ts").read_text()
    assert "type Content = (layer: L.Layer) => HTMLElement;" in text
    assert "html: HTMLElement" in text
    for line in text.splitlines():
        if line.lstrip().startswith("export function"):
            assert "string" not in line, f"safe.ts accepts a string: {line.strip()}"


def test_the_page_sets_no_inline_style_or_handler_from_markup() -> None:
    # The Content-Security-Policy has no 'unsafe-inline' for styles: a style attribute in markup or
    # set with setAttribute would be refused (and would be an injection route if it were allowed).
    for path in _page_sources():
        text = path.read_text()
        for pattern in ('setAttribute("style"', "setAttribute('style'", 'style="', "cssText", '"style":'):
            assert pattern not in text, f"web/src/{path.name} sets an inline style ({pattern})"
    index = (WEB_SRC.parent / "index.html").read_text()
    assert "http-equiv" not in index.lower() and "style=" not in index and "<style" not in index
