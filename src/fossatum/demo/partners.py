"""The Algerian and Libyan demo nodes: their own agencies, users, units and reports.

Algeria (DZA) watches the same TUN–DZA border strip from the west: a few dozen reports on
the Algerian side of the sections of `demo/border.json` (Tébessa, Bekkaria, Bou
Chebka), some released to Tunisia or to all partners. Libya (LBY) watches the
Tunisia–Libya border from the east: a dozen reports between Ras Jedir and the
Dehiba–Wazen crossing, some released to Tunisia. Deterministic (seeded), times relative
to now, replayed on a timeline like the Tunisian node.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.org import User
from ..domain.timeutil import to_text
from ..node import Node
from ..schemas import ReportIn, UnitIn
from .common import PASSWORD, Timeline, act, border_lon, load_border, random_point, releaser, report_content
from .text import CLOSE_REASONS, RETURN_REASONS

_TUN = {"scope": "partners", "partners": ["TUN"]}
_ALL = {"scope": "all_partners"}

# The Tunisia–Libya border from Ras Jedir to south of Dehiba–Wazen (Natural Earth, 1:110m),
# and the strip a few kilometres deep on the Libyan side where the Libyan reports fall.
LBY_BORDER = [[11.50, 33.17], [11.4888, 33.137], [11.4323, 32.3689], [10.9448, 32.0818], [10.90, 32.05]]
LBY_STRIP = [[11.50, 33.17], [11.4888, 33.137], [11.4323, 32.3689], [10.9448, 32.0818], [10.90, 32.05],
             [11.10, 32.05], [11.63, 32.37], [11.69, 33.12], [11.62, 33.17], [11.50, 33.17]]
LBY_PLACES = [
    {"name": "Ras Ajdir", "name_fr": "Ras Jedir", "name_ar": "رأس اجدير", "country": "LBY", "kind": "crossing",
     "lon": 11.565, "lat": 33.148},
    {"name": "Zaltan", "name_fr": "Zelten", "name_ar": "زلطن", "country": "LBY", "kind": "town",
     "lon": 11.866, "lat": 32.947},
    {"name": "Al Jamil", "name_fr": "El Jemil", "name_ar": "الجميل", "country": "LBY", "kind": "town",
     "lon": 12.06, "lat": 32.85},
    {"name": "Nalut", "name_fr": "Nalout", "name_ar": "نالوت", "country": "LBY", "kind": "town",
     "lon": 10.983, "lat": 31.868},
    {"name": "Wazin", "name_fr": "Wazen", "name_ar": "وازن", "country": "LBY", "kind": "crossing",
     "lon": 10.71, "lat": 31.97},
    {"name": "Ben Gardane", "name_fr": "Ben Guerdane", "name_ar": "بن قردان", "country": "TUN", "kind": "town",
     "lon": 11.22, "lat": 33.138},
    {"name": "Dehiba", "name_fr": "Dhehiba", "name_ar": "الذهيبة", "country": "TUN", "kind": "crossing",
     "lon": 10.70, "lat": 32.02},
]


@dataclass(frozen=True)
class Side:
    """One partner node of the demo: who works there, what they report, how they share it."""

    country: str
    name: str
    seed: int
    reports: int
    agencies: list[tuple[str, str]]                        # code, name
    users: list[tuple[str, str, list[str], str, str]]      # username, agency, roles, full name, who they are
    units: list[tuple[str, str, str, str, str, float, float, dict[str, Any] | None]]
    authors: dict[str, int]                                # username -> weight
    officers: dict[str, str]                               # agency -> the duty officer who validates
    audiences: list[tuple[int, dict[str, Any], str]]       # weight, audience, TLP
    fates: dict[str, int]
    types: dict[str, int]
    langs: dict[str, int]

    def logins(self) -> list[tuple[str, str]]:
        return [(username, what) for username, _, _, _, what in self.users]


DZA = Side(
    country="DZA", name="Algeria NCC (demo)", seed=2027, reports=40,
    agencies=[("DZ-GN", "Gendarmerie nationale (garde-frontières)"), ("DZ-ANP", "Armée nationale populaire"),
              ("DZ-DOUANE", "Douanes algériennes")],
    users=[
        ("admin.dza", "DZ-GN", ["admin"], "Administrateur CNC Algérie", "administrator, Algeria NCC"),
        ("nadia", "DZ-GN", ["duty_officer"], "Nadia Hamidi", "duty officer, DZ gendarmerie (Tébessa)"),
        ("rachid", "DZ-ANP", ["duty_officer"], "Rachid Belkacem", "duty officer, DZ army (5th military region)"),
        ("samir", "DZ-ANP", ["analyst"], "Samir Mansouri", "analyst, DZ army"),
        ("patrol.tebessa", "DZ-GN", ["field"], "Patrouille GGF Tébessa",
         "field team, DZ border-guard patrol (Tébessa)"),
        ("yacine", "DZ-DOUANE", ["field"], "Yacine Saadi", "field officer, DZ customs (Bouchebka)"),
    ],
    units=[
        ("dz-gn-patrol-tebessa", "Patrouille GGF Tébessa", "patrol", "DZ-GN", "ATLAS-2", 8.20, 35.38, _ALL),
        ("dz-anp-op-bekkaria", "Poste d'observation ANP Bekkaria", "observation_post", "DZ-ANP", "AIGLE-5",
         8.26, 35.37, _TUN),
        ("dz-douane-cp-bouchebka", "Poste douanier Bouchebka (Algérie)", "checkpoint", "DZ-DOUANE", "BCH-DZ",
         8.34, 35.17, _TUN),
        ("dz-anp-rapid-tebessa", "Détachement d'intervention ANP Tébessa", "rapid_intervention", "DZ-ANP", "FOUDRE",
         8.12, 35.40, {"scope": "agency"}),
    ],
    authors={"patrol.tebessa": 50, "samir": 20, "yacine": 15, "nadia": 15},
    officers={"DZ-GN": "nadia", "DZ-DOUANE": "nadia", "DZ-ANP": "rachid"},
    audiences=[(40, _TUN, "AMBER"), (20, _ALL, "GREEN"), (30, {"scope": "national"}, "AMBER+STRICT"),
               (10, {"scope": "agency"}, "RED")],
    fates={"validated": 65, "closed": 10, "submitted": 15, "draft": 5, "returned": 5},
    types={"armed_group_sighting": 8, "armed_group_movement": 6, "explosive_device": 2, "smuggling_weapons": 4,
           "smuggling_fuel": 16, "smuggling_drugs": 6, "smuggling_goods": 10, "seizure": 8, "arrest": 5,
           "illegal_crossing": 8, "suspicious_vehicle": 8},
    langs={"fr": 5, "ar": 4, "en": 1},
)

LBY = Side(
    country="LBY", name="Libya NCC (demo)", seed=2028, reports=12,
    agencies=[("LY-BG", "Border Guard (Haras al-Hudud)"), ("LY-CUSTOMS", "Libyan Customs Authority")],
    users=[
        ("admin.lby", "LY-BG", ["admin"], "Libya NCC administrator", "administrator, Libya NCC"),
        ("salem", "LY-BG", ["duty_officer"], "Salem Al-Zintani", "duty officer, LY border guard"),
        ("huda", "LY-BG", ["analyst"], "Huda Ben Ali", "analyst, LY border guard"),
        ("patrol.wazen", "LY-BG", ["field"], "Border guard patrol Wazin", "field team, LY border-guard patrol (Wazin)"),
    ],
    units=[
        ("ly-bg-cp-ras-ajdir", "Ras Ajdir border post", "checkpoint", "LY-BG", "AJDIR-CP", 11.53, 33.12, _ALL),
        ("ly-bg-patrol-wazen", "Border guard patrol Wazin", "patrol", "LY-BG", "SAQR-1", 11.10, 32.12, _TUN),
    ],
    authors={"patrol.wazen": 70, "huda": 30},
    officers={"LY-BG": "salem"},
    audiences=[(55, _TUN, "AMBER"), (15, _ALL, "GREEN"), (20, {"scope": "national"}, "AMBER+STRICT"),
               (10, {"scope": "agency"}, "RED")],
    fates={"validated": 75, "closed": 8, "submitted": 9, "draft": 8},
    types={"smuggling_fuel": 20, "smuggling_goods": 14, "smuggling_weapons": 8, "smuggling_drugs": 6,
           "illegal_crossing": 16, "suspicious_vehicle": 10, "armed_group_movement": 5, "seizure": 8, "arrest": 6},
    langs={"ar": 6, "en": 4},
)

SIDES = {"DZA": DZA, "LBY": LBY}


def populate(node: Node, side: Side, now: datetime) -> None:
    """Agencies, users, units and reports of `side`, on a node just initialised (partners registered)."""
    rng = random.Random(side.seed)
    for code, name in side.agencies:
        node.add_agency(actor=None, code=code, name=name, country=side.country)
    users = {u: node.add_user(actor=None, username=u, agency=a, roles=r, password=PASSWORD, full_name=f)
             for u, a, r, f, _ in side.users}
    for uid, name, kind, agency, callsign, lon, lat, audience in side.units:
        node.add_unit(actor=None, spec=UnitIn.model_validate({
            "id": uid, "name": name, "kind": kind, "agency": agency, "callsign": callsign,
            "location": {"lat": lat, "lon": lon}, "audience": audience}))
    timeline = Timeline()
    _Planner(node, rng, users, side, now).plan(timeline)
    timeline.run(node)


class _Planner:
    def __init__(self, node: Node, rng: random.Random, users: dict[str, User], side: Side, now: datetime) -> None:
        self.node, self.rng, self.users, self.side, self.now = node, rng, users, side, now
        if side.country == "DZA":
            border = load_border()
            self.places: list[dict[str, Any]] = border["places"]
            sections = border["sections"]
            weights = {"low": 1, "medium": 2, "high": 4, "critical": 6}
            line = border["border_line"]
            self.areas = [(s["geometry"]["coordinates"][0], weights[s["impact"]]) for s in sections]

            def west(lon: float, lat: float) -> bool:
                edge = border_lon(line, lat)
                return edge is not None and lon < edge
            self.accept: Callable[[float, float], bool] = west
        else:
            self.places = LBY_PLACES
            self.areas = [(LBY_STRIP, 1)]

            def east(lon: float, lat: float) -> bool:
                edge = border_lon(LBY_BORDER, lat)
                return edge is not None and lon > edge
            self.accept = east

    def _pick(self, table: dict[str, int]) -> str:
        return self.rng.choices(list(table), list(table.values()))[0]

    def plan(self, timeline: Timeline) -> None:
        rng, side = self.rng, self.side
        for _ in range(side.reports):
            author = self.users[self._pick(side.authors)]
            observed = self.now - timedelta(minutes=rng.uniform(10, 47 * 60))
            reported = min(observed + timedelta(minutes=rng.uniform(5, 90)), self.now - timedelta(seconds=30))
            report_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            _, audience, tlp = rng.choices(side.audiences, [a[0] for a in side.audiences])[0]
            officer = self.users[side.officers[author.agency]]
            if officer.username == author.username:
                officer = next(u for u in self.users.values() if "duty_officer" in u.roles and u != author)
            if audience["scope"] == "agency" and officer.agency != author.agency:
                audience, tlp = {"scope": "national"}, "AMBER+STRICT"  # the officer must see it
            fate = self._pick(side.fates)
            kind = self._pick(side.types)
            ring = rng.choices([a[0] for a in self.areas], [a[1] for a in self.areas])[0]
            point = self._point(ring)
            timeline.at(reported, functools.partial(self._file, report_id, author, observed, kind, point, audience, tlp,
                                                    fate == "draft"))
            steps: list[tuple[str, User, str]] = []
            decider = releaser(self.users, author)
            if fate in ("validated", "closed"):
                steps.append(("validate", officer, ""))
                if decider is not None:  # what crosses is the owner agency's duty officer's decision
                    steps.append(("release", decider, ""))
                if fate == "closed":
                    steps.append(("close", officer, rng.choice(CLOSE_REASONS)))
            elif fate == "returned":
                steps.append(("return", officer, rng.choice(RETURN_REASONS)))
            when = reported
            for action, actor, reason in steps:
                when += timedelta(minutes=rng.uniform(4, 90))
                if when >= self.now:
                    break
                timeline.at(when, functools.partial(act, self.node, actor, report_id, action, reason))

    def _point(self, ring: list[list[float]]) -> tuple[float, float]:
        for _ in range(20):
            lon, lat = random_point(self.rng, ring, accept=self.accept)
            if self.accept(lon, lat):
                return lon, lat
        raise AssertionError("no point on this side of the border")  # pragma: no cover

    def _file(self, report_id: str, author: User, observed: datetime, kind: str, point: tuple[float, float],
              audience: dict[str, Any], tlp: str, draft: bool) -> None:
        spec = report_content(self.rng, kind, author, point, to_text(observed), self.places, self.side.langs)
        spec.pop("_lang", None)
        spec.update(id=report_id, audience=audience, tlp=tlp, state="draft" if draft else "submitted")
        self.node.file_report(actor=author, spec=ReportIn.model_validate(spec))
