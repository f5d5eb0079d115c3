"""The Tunisian demo node: a living picture of the last 48 hours at the Tunisian centre.

Agencies of Tunisia, Algeria and Libya (the two partners' liaison officers sit at the
Tunisian centre), one user per role, the seven TUN–DZA border sections of
`demo/border.json`, a dozen units (some on the move) and ~300 reports filed,
validated, returned and closed along a timeline. The node clock is set to each moment in
turn, so the log reads as if the two days had really happened. Deterministic (seeded),
with times relative to now.
"""

from __future__ import annotations

import functools
import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..domain.geo import from_degrees
from ..domain.org import User
from ..domain.taxonomy import REPORT_TYPES
from ..domain.timeutil import to_text, utcnow
from ..node import Node, init_node
from ..schemas import ReportIn, ReportPatch, SectionIn, UnitIn
from .common import PASSWORD, Timeline, act, border_lon, load_border, random_point, releaser, report_content
from .text import CLOSE_REASONS, FOLLOW_UP, FOLLOW_UP_PREFIX, MOUNTAIN_TYPES, PLAIN_TYPES, RETURN_REASONS

NAME = "Tunisia NCC (demo)"
COUNTRY = "TUN"
SEED = 2026
REPORTS = 300

AGENCIES = [  # code, name, country
    ("TN-NCC", "Centre national de coordination", "TUN"),
    ("TN-GN", "Garde nationale", "TUN"),
    ("TN-ARMY", "Armée nationale", "TUN"),
    ("TN-DOUANE", "Douane tunisienne", "TUN"),
    ("DZ-GN", "Gendarmerie nationale", "DZA"),
    ("DZ-ANP", "Armée nationale populaire", "DZA"),
    ("LY-BG", "Libyan border guard", "LBY"),
]

USERS = [  # username, agency, roles, full name, who they are
    ("admin", "TN-NCC", ["admin"], "Administrateur CNC", "administrator, Tunisia NCC"),
    ("amira", "TN-GN", ["duty_officer"], "Amira Ben Salah", "duty officer, TN national guard"),
    ("youssef", "TN-ARMY", ["duty_officer"], "Youssef Trabelsi", "duty officer, TN army"),
    ("leila", "TN-GN", ["analyst"], "Leila Gharbi", "analyst, TN national guard"),
    ("hedi", "TN-ARMY", ["commander"], "Hédi Jlassi", "commander, TN army (Kasserine sector)"),
    ("patrol.chaambi", "TN-GN", ["field"], "Patrouille GN Chaambi", "field team, TN national guard patrol (Chaambi)"),
    ("patrol.kef", "TN-ARMY", ["field"], "Patrouille ANT Le Kef", "field team, TN army patrol (Le Kef)"),
    ("karim", "DZ-GN", ["duty_officer"], "Karim Benali", "Algerian liaison officer (DZ-GN duty officer)"),
    ("omar", "LY-BG", ["analyst"], "Omar Al-Mabrouk", "Libyan liaison officer (LY-BG analyst)"),
]

# id, name, kind, agency, callsign, lon, lat, audience (None: national)
_DZA = {"scope": "partners", "partners": ["DZA"]}
_ALL = {"scope": "all_partners"}
UNITS = [
    ("tn-army-hq-kasserine", "QG secteur opérationnel Kasserine", "hq", "TN-ARMY", "KASR-HQ", 8.8365, 35.1676, _ALL),
    ("tn-gn-hq-kef", "District GN du Kef", "hq", "TN-GN", "KEF-HQ", 8.7049, 36.1742, _ALL),
    ("tn-gn-patrol-chaambi", "Patrouille GN Chaambi", "patrol", "TN-GN", "FAUCON-1", 8.37, 35.2, None),
    ("tn-gn-patrol-ghardimaou", "Patrouille GN Ghardimaou", "patrol", "TN-GN", "FAUCON-2", 8.30, 36.42, None),
    ("tn-army-patrol-kef", "Patrouille ANT Le Kef", "patrol", "TN-ARMY", "LION-3", 8.30, 35.90, None),
    ("tn-army-op-bouchebka", "Poste d'observation Bouchebka", "observation_post", "TN-ARMY", "OEIL-6", 8.36, 35.23, None),
    ("tn-army-op-kalaat-senan", "Poste d'observation Kalaat Senan", "observation_post", "TN-ARMY", "OEIL-4",
     8.30, 35.76, None),
    ("tn-army-rapid-feriana", "Unité d'intervention rapide Fériana", "rapid_intervention", "TN-ARMY", "ÉCLAIR",
     8.5764, 34.9503, {"scope": "agency"}),
    ("tn-gn-cp-haidra", "Point de contrôle GN Haïdra", "checkpoint", "TN-GN", "HAID-CP", 8.40, 35.55, _DZA),
    ("tn-douane-cp-bouchebka", "Poste douanier Bouchebka", "checkpoint", "TN-DOUANE", "BCH-DOU", 8.395, 35.175, _DZA),
    ("tn-douane-cp-sakiet", "Poste douanier Sakiet Sidi Youssef", "checkpoint", "TN-DOUANE", "SSY-DOU",
     8.3556, 36.2236, _ALL),
]
# Units that move over the last hours: (unit, who reports the position, section, moves, hours)
WALKS = [
    ("tn-gn-patrol-chaambi", "patrol.chaambi", "TUN-DZA-06", 7, 7.0),
    ("tn-army-patrol-kef", "patrol.kef", "TUN-DZA-03", 6, 6.0),
    ("tn-gn-patrol-ghardimaou", "amira", "TUN-DZA-01", 4, 5.0),
    ("tn-army-rapid-feriana", "youssef", "TUN-DZA-07", 3, 3.0),
]
RESPONSIBLE_TUN = {
    "TUN-DZA-01": ["tn-gn-patrol-ghardimaou", "tn-douane-cp-sakiet"], "TUN-DZA-02": ["tn-army-patrol-kef"],
    "TUN-DZA-03": ["tn-army-patrol-kef", "tn-army-op-kalaat-senan"], "TUN-DZA-04": ["tn-army-op-kalaat-senan"],
    "TUN-DZA-05": ["tn-gn-cp-haidra"], "TUN-DZA-06": ["tn-gn-patrol-chaambi", "tn-army-op-bouchebka",
                                                      "tn-douane-cp-bouchebka"],
    "TUN-DZA-07": ["tn-army-rapid-feriana"],
}
IMPACT_WEIGHT = {"low": 1, "medium": 2, "high": 4, "critical": 6}


def logins() -> list[tuple[str, str]]:
    return [(username, what) for username, _, _, _, what in USERS]



def build(data_dir: Path, *, now: datetime | None = None, database_url: str | None = None) -> Node:
    """Create the demo node in `data_dir` (absent or empty)."""
    now = now or utcnow()
    rng = random.Random(SEED)
    border = load_border()
    sections = {s["id"]: s for s in border["sections"]}
    t0 = now - timedelta(hours=49)
    node = init_node(data_dir, country=COUNTRY, name=NAME, clock=lambda: t0, database_url=database_url)
    try:
        for code, name, country in AGENCIES:
            node.add_agency(actor=None, code=code, name=name, country=country)
        users = {u: node.add_user(actor=None, username=u, agency=a, roles=r, password=PASSWORD, full_name=f)
                 for u, a, r, f, _ in USERS}
        for s in border["sections"]:
            responsible = {"TUN": RESPONSIBLE_TUN.get(s["id"], []), "DZA": [f"DZ-GN, {s['dza_side']}"]}
            node.add_section(actor=None, owner_agency="TN-NCC", spec=SectionIn(
                id=s["id"], name=s["name"], terrain=s["terrain"], geometry=s["geometry"], impact=s["impact"],
                responsible=responsible))
        for uid, name, kind, agency, callsign, lon, lat, audience in UNITS:
            node.add_unit(actor=None, spec=UnitIn.model_validate({
                "id": uid, "name": name, "kind": kind, "agency": agency, "callsign": callsign,
                "location": {"lat": lat, "lon": lon}, "audience": audience}))
        timeline = Timeline()
        _plan_moves(timeline, node, rng, users, sections, now)
        _ReportPlanner(node, rng, users, border, now).plan(timeline)
        timeline.at(now - timedelta(hours=9), lambda: node.set_section_impact(
            actor=users["leila"], section_id="TUN-DZA-04", impact="high",
            reason="Trois observations de groupes armés en 24 h entre Kalaat Senan et Haïdra"))
        timeline.run(node)
    except BaseException:
        node.close()
        raise
    finally:
        node.clock = utcnow
    return node


def _plan_moves(timeline: Timeline, node: Node, rng: random.Random, users: dict[str, User],
                sections: dict[str, Any], now: datetime) -> None:
    start = {u[0]: (u[5], u[6]) for u in UNITS}
    for unit_id, username, section_id, moves, hours in WALKS:
        ring = sections[section_id]["geometry"]["coordinates"][0]
        point = start[unit_id]
        for i in range(moves):
            point = random_point(rng, ring, near=point, radius=0.025)
            when = now - timedelta(hours=hours * (moves - i) / moves) + timedelta(minutes=rng.uniform(-8, 8))
            position = from_degrees(point[1], point[0])
            timeline.at(min(when, now - timedelta(minutes=2)),
                        functools.partial(node.move_unit, actor=users[username], unit_id=unit_id, position=position))

class _ReportPlanner:
    """Draws the reports and the steps of their workflow onto the timeline."""

    def __init__(self, node: Node, rng: random.Random, users: dict[str, User], border: dict[str, Any],
                 now: datetime) -> None:
        self.node, self.rng, self.users, self.now = node, rng, users, now
        self.sections: list[dict[str, Any]] = border["sections"]
        self.places: list[dict[str, Any]] = border["places"]
        self.line: list[list[float]] = border["border_line"]
        self.filed: list[tuple[str, str, str, str]] = []  # (id, section, observed_at, type) in filing order

    def plan(self, timeline: Timeline) -> None:
        rng = self.rng
        weights = [IMPACT_WEIGHT[s["impact"]] for s in self.sections]
        for _ in range(REPORTS):
            section = rng.choices(self.sections, weights)[0]
            author = self._author(section)
            observed = self.now - timedelta(minutes=rng.uniform(5, 48 * 60))
            reported = min(observed + timedelta(minutes=rng.uniform(3, 60)), self.now - timedelta(seconds=30))
            report_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            audience = self._audience(author)
            steps = self._workflow(author, self._officer(author, audience[0]["scope"]), audience[0]["scope"])
            follow_up = rng.random() < 0.18
            timeline.at(reported, functools.partial(self._file, report_id, section, author, observed, audience,
                                                    follow_up, steps[0][0] == "draft"))
            when = reported
            for action, actor, reason in steps[1:]:
                when += timedelta(minutes=rng.uniform(4, 120))
                if when >= self.now:
                    break  # not done yet: the report waits in its current state
                timeline.at(when, functools.partial(self._step, report_id, action, actor, reason))

    def _author(self, section: dict[str, Any]) -> User:
        mountains = IMPACT_WEIGHT[section["impact"]] >= 4
        names = ["patrol.chaambi", "patrol.kef", "amira", "youssef", "hedi", "leila", "karim"]
        weights = [45, 5, 15, 12, 8, 5, 5] if mountains else [10, 40, 15, 15, 3, 5, 5]
        return self.users[self.rng.choices(names, weights)[0]]

    def _officer(self, author: User, scope: str) -> User:
        """The duty officer who handles a report: one of the owner country who can see it."""
        if author.country != COUNTRY:
            return self.users["karim"]
        own = self.users["amira"] if author.agency == "TN-GN" else self.users["youssef"]
        if author.username == own.username and scope != "agency":
            return self.users["youssef"] if own.username == "amira" else self.users["amira"]
        return own

    def _audience(self, author: User) -> tuple[dict[str, Any], str]:
        r = self.rng.random()
        if author.country != COUNTRY:  # the Algerian liaison files for his own service
            if r < 0.5:
                return {"scope": "partners", "partners": ["TUN"]}, "AMBER"
            if r < 0.75:
                return {"scope": "all_partners"}, "GREEN"
            return ({"scope": "national"}, "AMBER+STRICT") if r < 0.9 else ({"scope": "agency"}, "RED")
        if r < 0.15:
            return {"scope": "agency"}, self.rng.choice(["AMBER+STRICT", "RED"])
        if r < 0.47:
            return {"scope": "national"}, self.rng.choice(["AMBER", "AMBER+STRICT"])
        if r < 0.80:
            return {"scope": "partners", "partners": ["DZA"]}, self.rng.choice(["AMBER", "GREEN"])
        if r < 0.85:
            return {"scope": "partners", "partners": ["DZA", "LBY"]}, "AMBER"
        return {"scope": "all_partners"}, self.rng.choice(["GREEN", "CLEAR"])

    def _workflow(self, author: User, officer: User, scope: str) -> list[tuple[str, User, str]]:
        """Filing ('filed' or 'draft') then the planned steps: (action, actor, reason)."""
        rng = self.rng
        fate = rng.choices(["validated", "closed", "submitted", "draft", "returned", "fixed", "late_draft"],
                           [58, 12, 10, 5, 6, 5, 4])[0]
        steps = [("draft" if fate in ("draft", "late_draft") else "filed", author, "")]
        if fate == "late_draft":
            steps += [("submit", author, ""), ("validate", officer, "")]
        decider = releaser(self.users, author)
        if fate in ("validated", "closed"):
            steps.append(("validate", officer, ""))
            if decider is not None:  # what crosses is the owner agency's duty officer's decision
                steps.append(("release", decider, ""))
            if fate == "closed":
                analyst = officer.country == COUNTRY and scope != "agency" and rng.random() < 0.4
                steps.append(("close", self.users["leila"] if analyst else officer, rng.choice(CLOSE_REASONS)))
        if fate in ("returned", "fixed"):
            steps.append(("return", officer, rng.choice(RETURN_REASONS)))
            if fate == "fixed":
                steps += [("amend", author, ""), ("submit", author, ""), ("validate", officer, "")]
        if fate in ("late_draft", "fixed") and decider is not None:
            steps.append(("release", decider, ""))
        return steps

    def _side(self, author: User) -> Callable[[float, float], bool] | None:
        """Mostly the author's own side of the border (patrols do look across it)."""
        if self.rng.random() < 0.2:
            return None
        east = author.country == COUNTRY

        def accept(lon: float, lat: float) -> bool:
            edge = border_lon(self.line, lat)
            return edge is None or (lon > edge) == east
        return accept

    def _file(self, report_id: str, section: dict[str, Any], author: User, observed: datetime,
              audience: tuple[dict[str, Any], str], follow_up: bool, draft: bool) -> None:
        rng = self.rng
        observed_at = to_text(observed)
        links: list[str] = []
        near: tuple[float, float] | None = None
        kind = None
        if follow_up:
            earlier = [f for f in self.filed[-60:] if f[1] == section["id"] and f[2] < observed_at]
            visible = self.node.store.visible_report_ids(author, [f[0] for f in earlier])
            earlier = [f for f in earlier if f[0] in visible]
            if earlier:
                linked = rng.choice(earlier)
                links = [linked[0]]
                kind = rng.choice(FOLLOW_UP[REPORT_TYPES[linked[3]]])
                location = json.loads(self.node.report(viewer=author, report_id=linked[0]))["location"]
                near = (location["lon"], location["lat"])
        if kind is None:
            table = MOUNTAIN_TYPES if IMPACT_WEIGHT[section["impact"]] >= 4 else PLAIN_TYPES
            kind = rng.choices(list(table), list(table.values()))[0]
        point = random_point(rng, section["geometry"]["coordinates"][0], accept=self._side(author), near=near)
        spec = report_content(rng, kind, author, point, observed_at, self.places)
        spec.update(id=report_id, links=links, audience=audience[0], tlp=audience[1],
                    state="draft" if draft else "submitted")
        if links:
            spec["description"] = FOLLOW_UP_PREFIX[spec.pop("_lang")] + spec["description"]
        spec.pop("_lang", None)
        self.node.file_report(actor=author, spec=ReportIn.model_validate(spec))
        self.filed.append((report_id, section["id"], observed_at, kind))

    def _step(self, report_id: str, action: str, actor: User, reason: str) -> None:
        if action == "amend":
            current = json.loads(self.node.report(viewer=actor, report_id=report_id))
            salute = {k: current["salute"][k] for k in ("size", "activity", "unit", "equipment")}
            grade = current["grade"] or {"source": "B", "info": 2}
            patch = ReportPatch.model_validate({"salute": salute, "grade": {"source": grade["source"],
                                                                             "info": grade["info"]},
                                                "uncertainty_m": max(25.0, current["uncertainty_m"] / 2)})
            self.node.amend_report(actor=actor, report_id=report_id, patch=patch)
            return
        act(self.node, actor, report_id, action, reason)
