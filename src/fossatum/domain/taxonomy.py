"""Report types, grouped under EUROSUR-style event layers. The codes are API contract."""

from __future__ import annotations

from enum import StrEnum


class Layer(StrEnum):
    UNAUTHORISED_CROSSING = "unauthorised_crossing"
    CROSS_BORDER_CRIME = "cross_border_crime"
    CRISIS = "crisis"
    OTHER = "other"


REPORT_TYPES: dict[str, Layer] = {
    "armed_group_sighting": Layer.CRISIS,
    "armed_group_movement": Layer.CRISIS,
    "clash": Layer.CRISIS,
    "explosive_device": Layer.CRISIS,
    "attack_on_post": Layer.CRISIS,
    "smuggling_weapons": Layer.CROSS_BORDER_CRIME,
    "smuggling_fuel": Layer.CROSS_BORDER_CRIME,
    "smuggling_drugs": Layer.CROSS_BORDER_CRIME,
    "smuggling_goods": Layer.CROSS_BORDER_CRIME,
    "seizure": Layer.CROSS_BORDER_CRIME,
    "arrest": Layer.CROSS_BORDER_CRIME,
    "illegal_crossing": Layer.UNAUTHORISED_CROSSING,
    "suspicious_vehicle": Layer.OTHER,
    "other": Layer.OTHER,
}


class ImpactLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SOURCE_RELIABILITY = ("A", "B", "C", "D", "E", "F")
INFORMATION_CREDIBILITY = (1, 2, 3, 4, 5, 6)
