"""`fossatum demo`: a Tunisian node with a living picture of the last 48 hours.

Agencies of Tunisia, Algeria and Libya, one user per role, the seven TUN–DZA border
sections of `demo_data/border.json`, a dozen units (some on the move) and ~300 reports
filed, validated, returned and closed along a timeline. The node clock is set to each
moment in turn, so the log reads as if the two days had really happened. Deterministic
(seeded), with times relative to now. Built in a side folder and renamed into place, so
a demo folder is either complete or absent.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from . import settings as settings_mod
from .domain.geo import from_degrees
from .domain.org import User
from .domain.taxonomy import REPORT_TYPES, Layer
from .domain.timeutil import to_text, utcnow
from .errors import FossatumError
from .node import KEY_FILE, Node, init_node, open_node
from .schemas import ReportIn, ReportPatch, SectionIn, UnitIn
from .store.sqlite import DB_FILE

PASSWORD = "fossatum-demo"
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
# Types by area: the Kasserine mountains (high/critical sections) see armed groups; the rest smuggling.
MOUNTAIN_TYPES = {"armed_group_sighting": 22, "armed_group_movement": 14, "explosive_device": 5, "clash": 3,
                  "attack_on_post": 1, "smuggling_weapons": 5, "smuggling_fuel": 12, "smuggling_drugs": 4,
                  "smuggling_goods": 6, "seizure": 6, "arrest": 4, "illegal_crossing": 6, "suspicious_vehicle": 8,
                  "other": 4}
PLAIN_TYPES = {"armed_group_sighting": 4, "armed_group_movement": 2, "explosive_device": 1, "smuggling_weapons": 2,
               "smuggling_fuel": 22, "smuggling_drugs": 6, "smuggling_goods": 15, "seizure": 8, "arrest": 6,
               "illegal_crossing": 14, "suspicious_vehicle": 12, "other": 4}
FOLLOW_UP = {Layer.CRISIS: ["armed_group_movement", "clash", "armed_group_sighting"],
             Layer.CROSS_BORDER_CRIME: ["seizure", "arrest"], Layer.UNAUTHORISED_CROSSING: ["arrest"],
             Layer.OTHER: ["other", "suspicious_vehicle"]}

# SALUTE texts: type -> [(language, activity, equipment)]; {n} is the size.
TEXTS: dict[str, list[tuple[str, str, str]]] = {
    "armed_group_sighting": [
        ("fr", "Groupe de {n} individus armés se déplaçant vers l'ouest", "fusils d'assaut, sacs à dos, jumelles"),
        ("fr", "{n} individus armés observés sur la ligne de crête", "armes automatiques, tenues de camouflage"),
        ("ar", "مجموعة مسلحة من {n} أفراد تتحرك نحو الغرب", "أسلحة رشاشة وحقائب ظهر"),
        ("ar", "رصد {n} عناصر مسلحة قرب منبع ماء", "بنادق كلاشنيكوف وأجهزة اتصال"),
        ("en", "Armed group of {n} seen on the ridge line, heading north-west", "assault rifles, one RPG, radios")],
    "armed_group_movement": [
        ("fr", "Déplacement nocturne d'un groupe de {n} hommes vers la frontière", "lampes frontales, charges lourdes"),
        ("fr", "Groupe de {n} individus armés franchissant l'oued vers le sud-ouest", "armes légères, mulets de bât"),
        ("ar", "تحرك مجموعة من {n} عناصر باتجاه الشريط الحدودي ليلا", "أسلحة خفيفة ومؤونة"),
        ("en", "{n} armed men moving west along the wadi at night", "rifles, heavy backpacks")],
    "clash": [
        ("fr", "Échange de tirs avec un groupe armé retranché", "armes automatiques"),
        ("ar", "اشتباك مع مجموعة مسلحة متحصنة بالجبل", "أسلحة رشاشة"),
        ("en", "Exchange of fire with an armed element, no friendly casualties", "small arms")],
    "explosive_device": [
        ("fr", "Engin explosif improvisé découvert sur une piste de patrouille", "EEI artisanal à plaque de pression"),
        ("ar", "العثور على لغم تقليدي الصنع على مسلك جبلي", "لغم يدوي الصنع"),
        ("en", "IED found under a culvert on the patrol route", "pressure-plate IED")],
    "attack_on_post": [
        ("fr", "Tirs de harcèlement sur le poste avancé depuis les hauteurs", "armes légères"),
        ("ar", "إطلاق نار على نقطة المراقبة من المرتفعات", "أسلحة خفيفة"),
        ("en", "Harassment fire on the observation post from high ground", "small arms")],
    "smuggling_fuel": [
        ("fr", "Convoi de {n} véhicules transportant du carburant vers la frontière",
         "Toyota Hilux chargées de bidons de carburant"),
        ("ar", "قافلة من {n} سيارات محملة بالوقود المهرب", "شاحنات خفيفة محملة ببراميل البنزين"),
        ("en", "{n} pickups running fuel across the border track", "pickup truck loaded with fuel jerrycans")],
    "smuggling_goods": [
        ("fr", "Passage de marchandises de contrebande à dos de mulets", "cartons de cigarettes, électroménager"),
        ("ar", "تهريب سلع على ظهور البغال عبر المسالك الجبلية", "كراتين سجائر وأجهزة كهرومنزلية"),
        ("en", "Contraband carried across on foot and by donkey", "cigarette cartons, tyres, mobile phones")],
    "smuggling_drugs": [
        ("fr", "Transport de résine de cannabis par deux motos", "sacs de résine de cannabis (~40 kg)"),
        ("ar", "تهريب أقراص مخدرة عبر الحدود", "أقراص مخدرة (حوالي 5000 قرص)"),
        ("en", "Drug run by two motorbikes on the mountain track", "bags of cannabis resin (about 30 kg)")],
    "smuggling_weapons": [
        ("fr", "Armes dissimulées dans un chargement de marchandises", "2 kalachnikovs et munitions"),
        ("ar", "تهريب أسلحة وذخيرة مخبأة في شحنة بضائع", "بنادق كلاشنيكوف وذخيرة"),
        ("en", "Weapons hidden in a goods load heading east", "two AK-pattern rifles, ammunition boxes")],
    "seizure": [
        ("fr", "Saisie de 1 200 litres de carburant et d'un véhicule", "bidons de carburant, 1 véhicule"),
        ("ar", "حجز كمية من السجائر المهربة وسيارة", "300 خرطوشة سجائر"),
        ("en", "Seized cannabis resin and a motorbike at a snap checkpoint", "18 kg cannabis resin, one motorbike")],
    "arrest": [
        ("fr", "Interpellation de {n} individus suspects", "téléphones portables, espèces"),
        ("ar", "إيقاف {n} أشخاص مشتبه بهم", "هواتف جوالة ومبالغ مالية"),
        ("en", "{n} suspects detained after a vehicle chase", "mobile phones, cash")],
    "illegal_crossing": [
        ("fr", "Groupe de {n} personnes franchissant la frontière à pied", "sacs, bidons d'eau"),
        ("ar", "عبور غير شرعي لمجموعة من {n} أشخاص", "حقائب وقوارير ماء"),
        ("en", "{n} people crossing the border on foot at dusk", "backpacks, no weapons seen")],
    "suspicious_vehicle": [
        ("fr", "4x4 sans plaques roulant tous feux éteints", "véhicule tout-terrain"),
        ("ar", "سيارة مشبوهة متوقفة قرب الشريط الحدودي", "سيارة رباعية الدفع بدون لوحات"),
        ("en", "Motorbike with two riders on a known smuggling track", "off-road motorbike")],
    "other": [
        ("fr", "Bergers signalant des inconnus venus demander des vivres", ""),
        ("fr", "Feux suspects signalés sur les crêtes", ""),
        ("ar", "مواطنون يبلغون عن تحركات مريبة قرب الغابة", ""),
        ("en", "Small drone seen flying over the border strip", "commercial quadcopter")],
}
SIZES = {Layer.CRISIS: (3, 12), Layer.CROSS_BORDER_CRIME: (1, 5), Layer.UNAUTHORISED_CROSSING: (4, 18),
         Layer.OTHER: (1, 3)}
ADVERSARY = {  # SALUTE "unit": who was seen
    Layer.CRISIS: {"fr": "groupe armé non identifié", "ar": "مجموعة مسلحة مجهولة الهوية", "en": "unidentified armed group"},
    Layer.CROSS_BORDER_CRIME: {"fr": "réseau de contrebande local", "ar": "شبكة تهريب محلية", "en": "local smuggling network"},
    Layer.UNAUTHORISED_CROSSING: {"fr": "migrants en situation irrégulière", "ar": "مهاجرون غير نظاميين",
                                  "en": "irregular migrants"},
    Layer.OTHER: {"fr": "inconnu", "ar": "غير معروف", "en": "unknown"},
}
REACTIONS = {
    Layer.CRISIS: {"fr": ["Alerte de l'unité d'intervention rapide", "Bouclage de la zone par l'Armée nationale",
                          "Observation maintenue, renfort demandé"],
                   "ar": ["تم إعلام وحدة التدخل السريع", "تطويق المنطقة ومواصلة المراقبة"],
                   "en": ["Rapid-intervention unit alerted", "Area cordoned, air support requested"]},
    Layer.CROSS_BORDER_CRIME: {"fr": ["Véhicule intercepté au point de contrôle", "Marchandise saisie et remise à la Douane",
                                      "Poursuite engagée, véhicule abandonné par les passeurs"],
                               "ar": ["حجز البضاعة وإحالتها على الديوانة", "ملاحقة السيارة إلى حدود المنطقة العسكرية"],
                               "en": ["Checkpoint alerted, vehicle stopped", "Liaison with DZ-GN requested for the other side"]},
    Layer.UNAUTHORISED_CROSSING: {"fr": ["Individus interpellés et remis au poste de la Garde nationale"],
                                  "ar": ["تم إيقاف الأشخاص وتسليمهم لمركز الحرس الوطني"],
                                  "en": ["Group intercepted and handed to the national guard post"]},
    Layer.OTHER: {"fr": ["Contrôle effectué, rien à signaler", "Signalé aux unités voisines"],
                  "ar": ["تمت المعاينة ولا شيء يذكر"], "en": ["Neighbouring units informed"]},
}
RETURN_REASONS = ["Position incohérente avec l'itinéraire de la patrouille — vérifier les coordonnées",
                  "Préciser l'effectif observé et l'armement", "الرجاء تحديد عدد الأفراد والمعدات",
                  "Source grade missing — who saw it?", "Doublon probable d'un rapport précédent — confirmer"]
CLOSE_REASONS = ["Fausse alerte : bergers avec leur troupeau", "Traité — marchandise remise à la Douane",
                 "Zone ratissée, aucune trace", "لا أثر بعد التمشيط", "Duplicate of an earlier report",
                 "Group intercepted, see follow-up report"]
DIRECTIONS = {"fr": ["au nord", "au nord-est", "à l'est", "au sud-est", "au sud", "au sud-ouest", "à l'ouest",
                     "au nord-ouest"],
              "ar": ["شمال", "شمال شرق", "شرق", "جنوب شرق", "جنوب", "جنوب غرب", "غرب", "شمال غرب"],
              "en": ["north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west"]}
FOLLOW_UP_PREFIX = {"fr": "Suite du rapport précédent. ", "ar": "متابعة للتقرير السابق. ", "en": "Follow-up. "}


def logins() -> list[tuple[str, str]]:
    return [(username, what) for username, _, _, _, what in USERS]


def ensure(data_dir: Path, *, fresh: bool = False) -> tuple[Node, list[tuple[str, str]]]:
    """Open the demo node in `data_dir`, creating it first if the folder is empty or absent."""
    data_dir = Path(data_dir)
    if fresh and data_dir.exists():
        _remove_demo(data_dir)
    if (data_dir / DB_FILE).exists():
        node = open_node(data_dir, settings=settings_mod.load())
        if node.name != NAME:
            name = node.name
            node.close()
            raise FossatumError(f"{data_dir} holds the node {name!r}, not the demo; use another folder")
        return node, logins()
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise FossatumError(f"{data_dir} is not empty and holds no demo node; use another folder")
    building = data_dir.parent / f".{data_dir.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    try:
        build(building).close()
        if data_dir.exists():
            data_dir.rmdir()
        os.replace(building, data_dir)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return open_node(data_dir, settings=settings_mod.load()), logins()


def _remove_demo(data_dir: Path) -> None:
    """Delete a demo folder; anything that does not look like one is refused."""
    if data_dir.is_dir() and not any(data_dir.iterdir()):
        return
    if not ((data_dir / DB_FILE).is_file() and (data_dir / KEY_FILE).is_file()):
        raise FossatumError(f"refusing to delete {data_dir}: it does not look like a demo folder "
                            f"(no {DB_FILE} and {KEY_FILE})")
    node = open_node(data_dir)
    name = node.name
    node.close()
    if name != NAME:
        raise FossatumError(f"refusing to delete {data_dir}: it holds the node {name!r}, not the demo")
    shutil.rmtree(data_dir)


def load_border() -> dict[str, Any]:
    """The border sections and places (shipped in the package; the repo's scenario as a fallback)."""
    packaged = resources.files("fossatum").joinpath("demo_data/border.json")
    if packaged.is_file():
        return json.loads(packaged.read_text(encoding="utf-8"))
    repo = Path(__file__).resolve().parents[2] / "scenarios" / "demo" / "border.json"
    return json.loads(repo.read_text(encoding="utf-8"))


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


def _where(lang: str, point: tuple[float, float], places: list[dict[str, Any]]) -> str:
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


# --- building ------------------------------------------------------------------------
class _Timeline:
    """Actions at moments; run in time order with the node clock set to each moment."""

    def __init__(self) -> None:
        self.events: list[tuple[datetime, int, Callable[[], None]]] = []

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        self.events.append((when, len(self.events), action))

    def run(self, node: Node) -> None:
        for when, _, action in sorted(self.events, key=lambda e: (e[0], e[1])):
            node.clock = lambda when=when: when
            action()


def build(data_dir: Path, *, now: datetime | None = None) -> Node:
    """Create the demo node in `data_dir` (absent or empty)."""
    now = now or utcnow()
    rng = random.Random(SEED)
    border = load_border()
    sections = {s["id"]: s for s in border["sections"]}
    t0 = now - timedelta(hours=49)
    node = init_node(data_dir, country=COUNTRY, name=NAME, clock=lambda: t0)
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
        timeline = _Timeline()
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


def _plan_moves(timeline: _Timeline, node: Node, rng: random.Random, users: dict[str, User],
                sections: dict[str, Any], now: datetime) -> None:
    start = {u[0]: (u[5], u[6]) for u in UNITS}
    for unit_id, username, section_id, moves, hours in WALKS:
        ring = sections[section_id]["geometry"]["coordinates"][0]
        point = start[unit_id]
        for i in range(moves):
            point = random_point(rng, ring, near=point, radius=0.025)
            when = now - timedelta(hours=hours * (moves - i) / moves) + timedelta(minutes=rng.uniform(-8, 8))
            position = from_degrees(point[1], point[0])
            timeline.at(min(when, now - timedelta(minutes=2)), lambda u=unit_id, a=users[username], p=position:
                        node.move_unit(actor=a, unit_id=u, position=p))


class _ReportPlanner:
    """Draws the reports and the steps of their workflow onto the timeline."""

    def __init__(self, node: Node, rng: random.Random, users: dict[str, User], border: dict[str, Any],
                 now: datetime) -> None:
        self.node, self.rng, self.users, self.now = node, rng, users, now
        self.sections: list[dict[str, Any]] = border["sections"]
        self.places: list[dict[str, Any]] = border["places"]
        self.line: list[list[float]] = border["border_line"]
        self.filed: list[tuple[str, str, str, str]] = []  # (id, section, observed_at, type) in filing order

    def plan(self, timeline: _Timeline) -> None:
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
            timeline.at(reported, lambda r=report_id, s=section, a=author, o=observed, au=audience, f=follow_up,
                        d=steps[0][0] == "draft": self._file(r, s, a, o, au, f, d))
            when = reported
            for action, actor, reason in steps[1:]:
                when += timedelta(minutes=rng.uniform(4, 120))
                if when >= self.now:
                    break  # not done yet: the report waits in its current state
                timeline.at(when, lambda r=report_id, a=action, u=actor, why=reason: self._step(r, a, u, why))

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
        elif fate in ("validated", "closed"):
            steps.append(("validate", officer, ""))
            if fate == "closed":
                analyst = officer.country == COUNTRY and scope != "agency" and rng.random() < 0.4
                steps.append(("close", self.users["leila"] if analyst else officer, rng.choice(CLOSE_REASONS)))
        elif fate in ("returned", "fixed"):
            steps.append(("return", officer, rng.choice(RETURN_REASONS)))
            if fate == "fixed":
                steps += [("amend", author, ""), ("submit", author, ""), ("validate", officer, "")]
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
        spec = self._content(kind, author, point, observed_at)
        spec.update(id=report_id, links=links, audience=audience[0], tlp=audience[1],
                    state="draft" if draft else "submitted")
        if links:
            spec["description"] = FOLLOW_UP_PREFIX[spec.pop("_lang")] + spec["description"]
        spec.pop("_lang", None)
        self.node.file_report(actor=author, spec=ReportIn.model_validate(spec))
        self.filed.append((report_id, section["id"], observed_at, kind))

    def _content(self, kind: str, author: User, point: tuple[float, float], observed_at: str) -> dict[str, Any]:
        """Type, place, SALUTE, grade, impact and reaction, in the author's language of the moment."""
        rng = self.rng
        layer = REPORT_TYPES[kind]
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
        description = _where(lang, point, self.places)
        description = {"fr": f"Lieu : {description}.", "ar": f"المكان: {description}.",
                       "en": f"Location: {description}."}[lang]
        return {"type": kind, "observed_at": observed_at, "location": {"lat": point[1], "lon": point[0]},
                "uncertainty_m": uncertainty, "salute": {"size": size, "activity": activity.format(n=n),
                                                         "unit": ADVERSARY[layer][lang], "equipment": equipment},
                "grade": grade, "impact": impact, "reaction": reaction, "description": description, "_lang": lang}

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
        self.node.transition(actor=actor, report_id=report_id, action=action, reason=reason)
