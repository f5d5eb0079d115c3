"""Text tables of the demo reports: what patrols and centres write, in French, Arabic and English.

Pure data (no I/O). SALUTE texts per report type, sizes per layer, who was seen, reactions,
reasons to return or close a report, compass directions, and the mix of types by terrain.
"""

from __future__ import annotations

from ..domain.taxonomy import Layer

# Types by area: the mountains (high/critical sections) see armed groups; the rest smuggling.
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
