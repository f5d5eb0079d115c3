"""requirements.lock pins every Python package Fossatum installs, each with its hashes.

`make run` and `make test` install only from the lock (pip --require-hashes), so a dependency added
to pyproject.toml without `make lock` would be missing from every fresh venv and from CI: these
tests say so first, naming the command to run.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
HINT = "run `make lock` and commit requirements.lock"

# "name==version \" or "name==version ; marker \" at the start of a line, then "--hash=..." lines.
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]*))?")
_HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


class Pin:
    def __init__(self, name: str, version: str, marker: str | None, hashes: list[str]) -> None:
        self.name = name
        self.version = Version(version)
        self.marker = Marker(marker) if marker else None
        self.hashes = hashes

    def applies_here(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def _requirements(lock_text: str) -> list[tuple[str, list[str]]]:
    """Each requirement of the lock: its first line and its option lines (joined continuations)."""
    entries: list[tuple[str, list[str]]] = []
    for line in lock_text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace() and entries:
            entries[-1][1].append(stripped.rstrip("\\").strip())
        else:
            entries.append((stripped.rstrip("\\").strip(), []))
    return entries


def _pins() -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    for head, options in _requirements(LOCK.read_text()):
        match = _PIN.match(head)
        assert match, f"requirements.lock: {head!r} is not pinned with == ({HINT})"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"requirements.lock pins {name} twice"
        pins[name] = Pin(match["name"], match["version"], match["marker"], options)
    return pins


def _declared() -> list[Requirement]:
    """Every requirement pyproject.toml declares: runtime, each extra, and the build backend."""
    project = tomllib.loads(PYPROJECT.read_text())
    texts = list(project["project"]["dependencies"])
    for extra in project["project"].get("optional-dependencies", {}).values():
        texts += extra
    texts += project["build-system"]["requires"]
    return [Requirement(text) for text in texts]


def test_every_line_is_a_hashed_pin() -> None:
    pins = _pins()
    assert len(pins) > 20
    for pin in pins.values():
        assert pin.hashes, f"requirements.lock: {pin.name} has no --hash ({HINT})"
        for option in pin.hashes:
            assert _HASH.match(option), f"requirements.lock: {pin.name}: {option!r} is not a sha256 hash"


def test_every_declared_dependency_is_locked_at_a_version_it_allows() -> None:
    pins = _pins()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} (pyproject.toml) is not in requirements.lock ({HINT})"
        pin = pins[name]
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"requirements.lock pins {name}=={pin.version}, pyproject.toml asks {requirement} ({HINT})"
        )


def test_the_lock_is_closed_over_every_dependency_of_a_locked_package() -> None:
    """What the installed packages need (with the extras pyproject asks for) is pinned too."""
    pins = _pins()
    todo: list[tuple[str, frozenset[str]]] = [
        (canonicalize_name(r.name), frozenset(r.extras)) for r in _declared() if r.marker is None or r.marker.evaluate()
    ]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in pins, f"{name} needs {requirement}, which requirements.lock lacks ({HINT})"
            todo.append((needed, frozenset(requirement.extras)))


def test_this_environment_is_the_locked_one() -> None:
    """The venv running the suite holds exactly the locked versions (it was installed from the lock)."""
    for pin in _pins().values():
        if not pin.applies_here():
            continue
        installed = Version(metadata.version(pin.name))
        assert installed == pin.version, (
            f"{pin.name} {installed} is installed, requirements.lock pins {pin.version}: run `make test` "
            "(it reinstalls from the lock) or `make lock`"
        )
