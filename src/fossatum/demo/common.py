"""What the three demo nodes share: the password, the border file, planar geometry on the
border strip, a timeline that replays actions with the node clock set to each moment, and
the drawing of a report's content (type, SALUTE, grade, impact, reaction, place)."""

from __future__ import annotations

import functools
import json
import math
import random
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Any

from ..domain.org import User
from ..domain.taxonomy import REPORT_TYPES, Layer
from ..errors import Conflict, FossatumError
from ..node import Node
from .text import ADVERSARY, DIRECTIONS, REACTIONS, SIZES, TEXTS

PASSWORD = "fossatum-demo"


def releaser(users: dict[str, User], author: User) -> User | None:
    """A duty officer of the author's agency: who decides what of it crosses the border."""
    return next((u for u in users.values() if u.agency == author.agency and "duty_officer" in u.roles), None)


def act(node: Node, actor: User, report_id: str, action: str, reason: str = "") -> None:
    """One workflow step of a demo; `release` is a release decision (a national report, or
    one the validation released already, has nothing to release: skipped)."""
    if action == "release":
        try:
            node.release_report(actor=actor, report_id=report_id)
        except Conflict:
            pass
        return
    node.transition(actor=actor, report_id=report_id, action=action, reason=reason)


def load_border() -> dict[str, Any]:
    """The border sections and places: `border.json`, the one copy, shipped in this package."""
    border: dict[str, Any] = json.loads(resources.files("fossatum.demo").joinpath("border.json").read_text(encoding="utf-8"))
    return border


# --- geometry (a few degrees of the border strip: planar is fine) ------------------------
def inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Even-odd rule point-in-polygon for one closed ring of [lon, lat]."""
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def random_point(rng: random.Random, ring: list[list[float]], accept: Callable[[float, float], bool] | None = None,
                 near: tuple[float, float] | None = None, radius: float = 0.03) -> tuple[float, float]:
    """A random point inside `ring` (rejection sampling), near a point or preferring `accept`."""
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    for attempt in range(400):
        if near is not None and attempt < 200:
            lon, lat = near[0] + rng.uniform(-radius, radius), near[1] + rng.uniform(-radius, radius)
        else:
            lon, lat = rng.uniform(min(lons), max(lons)), rng.uniform(min(lats), max(lats))
        if inside(lon, lat, ring) and (accept is None or attempt >= 300 or accept(lon, lat)):
            return lon, lat
    raise FossatumError("could not place a point inside a section")  # pragma: no cover


def border_lon(line: list[list[float]], lat: float) -> float | None:
    for (x1, y1), (x2, y2) in zip(line, line[1:]):
        if min(y1, y2) <= lat <= max(y1, y2) and y1 != y2:
            return x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
    return None


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((b[0] - a[0]) * 111.32 * math.cos(math.radians(a[1])), (b[1] - a[1]) * 110.57)


def where(lang: str, point: tuple[float, float], places: list[dict[str, Any]]) -> str:
    """'à 4 km au nord-ouest de Haïdra' from the nearest place."""
    place = min(places, key=lambda p: _km((p["lon"], p["lat"]), point))
    km = max(1, round(_km((place["lon"], place["lat"]), point)))
    dx = (point[0] - place["lon"]) * math.cos(math.radians(point[1]))
    bearing = math.degrees(math.atan2(dx, point[1] - place["lat"])) % 360
    direction = DIRECTIONS[lang][round(bearing / 45) % 8]
    if lang == "ar":
        return f"على بعد {km} كلم {direction} {place['name_ar']}"
    if lang == "en":
        return f"{km} km {direction} of {place['name']}"
    name = place["name_fr"]
    first, _, rest = name.partition(" ")
    if first in ("Le", "Poste", "Djebel"):
        of = "du " + (rest if first == "Le" else first.lower() + " " + rest)
    elif name[0] in "AEÉIOU":
        of = "d'" + name
    else:
        of = "de " + name
    return f"à {km} km {direction} {of}"


class Timeline:
    """Actions at moments; run in time order with the node clock set to each moment."""

    def __init__(self) -> None:
        self.events: list[tuple[datetime, int, Callable[[], object]]] = []

    def at(self, when: datetime, action: Callable[[], object]) -> None:
        """`action` at `when` (what it returns is dropped)."""
        self.events.append((when, len(self.events), action))

    def run(self, node: Node) -> None:
        for when, _, action in sorted(self.events, key=lambda e: (e[0], e[1])):
            node.clock = functools.partial(_fixed, when)
            action()


def _fixed(when: datetime) -> datetime:
    return when


def report_content(rng: random.Random, kind: str, author: User, point: tuple[float, float], observed_at: str,
                   places: list[dict[str, Any]], langs: dict[str, int] | None = None) -> dict[str, Any]:
    """Type, place, SALUTE, grade, impact and reaction, in the author's language of the moment."""
    layer = REPORT_TYPES[kind]
    if langs is None:
        langs = {"fr": 5, "ar": 4, "en": 1} if author.username.startswith("patrol.") else {"fr": 5, "ar": 2, "en": 3}
    lang = rng.choices(list(langs), list(langs.values()))[0]
    texts = [t for t in TEXTS[kind] if t[0] == lang] or TEXTS[kind]
    lang, activity, equipment = rng.choice(texts)
    low, high = SIZES[layer]
    n = rng.randint(low, high)
    size: int | str = n if rng.random() < 0.85 else f"{n}-{n + rng.randint(1, 3)}"
    severe = layer is Layer.CRISIS
    impact = rng.choices(["low", "medium", "high", "critical", None],
                         [1, 3, 5, 3, 1] if severe else [5, 4, 1, 0, 2])[0]
    source = rng.choices("ABCDEF", [3, 8, 6, 2, 1, 1])[0]
    grade = None if rng.random() < 0.08 else {"source": source, "info": rng.choices(range(1, 7), [2, 6, 6, 3, 1, 1])[0]}
    uncertainty = rng.choice([25, 50, 100, 200, 500]) if author.username.startswith("patrol.") else rng.choice(
        [100, 250, 500, 1000, 2000, 5000])
    reaction = "" if rng.random() < 0.2 else rng.choice(REACTIONS[layer].get(lang) or REACTIONS[layer]["fr"])
    description = where(lang, point, places)
    description = {"fr": f"Lieu : {description}.", "ar": f"المكان: {description}.",
                   "en": f"Location: {description}."}[lang]
    return {"type": kind, "observed_at": observed_at, "location": {"lat": point[1], "lon": point[0]},
            "uncertainty_m": uncertainty, "salute": {"size": size, "activity": activity.format(n=n),
                                                     "unit": ADVERSARY[layer][lang], "equipment": equipment},
            "grade": grade, "impact": impact, "reaction": reaction, "description": description, "_lang": lang}
