"""Joint patrols (issue 12): a route of waypoints, rendezvous points where units of two
countries meet at the border, and the checkpoints it passes; a schedule, the units and countries
taking part, and a status from EMSI's MISSION code list (shared with operations).

The route's order is its meaning (it is driven in that order) and is kept as given; units and
countries are sets and kept sorted. `to_doc(from_doc(d)) == d` for every document a node writes.
The actual tracks and rendezvous met or missed are derived from unit positions, not stored here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import InvalidInput
from .audience import check_country
from .geo import from_degrees
from .operation import MissionStatus, check_ids, check_name, check_period, check_transition, enum_value
from .timeutil import parse


class WaypointKind(StrEnum):
    WAYPOINT = "waypoint"  # TAK b-m-p-w
    RENDEZVOUS = "rendezvous"  # TAK b-m-p-c: a control point where two countries' units meet
    CHECKPOINT = "checkpoint"  # TAK b-m-p-c: a checkpoint (domain/checkpoint.py) on the route


@dataclass(frozen=True, slots=True)
class Waypoint:
    name: str
    lon: float
    lat: float
    kind: WaypointKind = WaypointKind.WAYPOINT
    countries: tuple[str, ...] = ()  # a rendezvous: the two countries whose units meet there
    checkpoint: str | None = None  # a checkpoint: its id
    at: str | None = None  # a rendezvous: when the units are to meet

    def __post_init__(self) -> None:
        where = f"route.{self.name}"
        check_name(self.name, field=f"{where}.name")
        object.__setattr__(self, "kind", enum_value(WaypointKind, self.kind, field=f"{where}.kind"))
        position = from_degrees(self.lat, self.lon, field=where)
        object.__setattr__(self, "lon", position.lon)
        object.__setattr__(self, "lat", position.lat)
        countries = {check_country(c, field=f"{where}.countries") for c in self.countries}
        if self.kind is WaypointKind.RENDEZVOUS:
            if len(countries) != 2 or len(self.countries) != 2:
                raise InvalidInput("a rendezvous names the two countries whose units meet there",
                                   field=f"{where}.countries")
            if self.at is not None:
                parse(self.at, field=f"{where}.at")
        elif countries or self.at is not None:
            raise InvalidInput("only a rendezvous names countries and a time", field=where)
        object.__setattr__(self, "countries", tuple(sorted(countries)))
        if (self.kind is WaypointKind.CHECKPOINT) != (self.checkpoint is not None):
            raise InvalidInput("a checkpoint waypoint, and only one, names its checkpoint id",
                               field=f"{where}.checkpoint")
        if self.checkpoint is not None and (not isinstance(self.checkpoint, str) or not self.checkpoint):
            raise InvalidInput("expected a checkpoint id", field=f"{where}.checkpoint")

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "lon": self.lon, "lat": self.lat, "kind": self.kind.value}
        if self.kind is WaypointKind.RENDEZVOUS:
            doc.update(countries=list(self.countries), at=self.at)
        if self.checkpoint is not None:
            doc["checkpoint"] = self.checkpoint
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Waypoint:
        return cls(doc["name"], doc["lon"], doc["lat"], doc["kind"], tuple(doc.get("countries", ())),
                   doc.get("checkpoint"), doc.get("at"))


_KNOWN = ("id", "code", "name", "operation", "route", "planned_start", "planned_end", "status", "countries", "units",
          "owner_agency", "owner_country", "audience", "created_by", "updated_at")


@dataclass(frozen=True, slots=True)
class Patrol:
    id: str
    code: str
    name: str
    operation: str | None  # the operation it belongs to, if any
    route: tuple[Waypoint, ...]
    planned_start: str
    planned_end: str
    status: MissionStatus
    countries: tuple[str, ...]
    units: tuple[str, ...]
    owner_agency: str
    owner_country: str
    audience: Mapping[str, Any]
    created_by: str
    updated_at: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a later version or a partner, kept

    def __post_init__(self) -> None:
        check_name(self.code, field="code")
        check_name(self.name, field="name")
        object.__setattr__(self, "status", enum_value(MissionStatus, self.status, field="status"))
        start, end = check_period(self.planned_start, self.planned_end, field="planned")
        object.__setattr__(self, "planned_start", start)
        object.__setattr__(self, "planned_end", end)
        countries = {check_country(c, field="countries") for c in self.countries}
        if not countries or len(countries) != len(self.countries):
            raise InvalidInput("expected the countries taking part, each once", field="countries")
        check_country(self.owner_country, field="owner_country")
        if self.owner_country not in countries:
            raise InvalidInput(f"the owner country {self.owner_country} does not take part in the patrol",
                               field="owner_country")
        object.__setattr__(self, "countries", tuple(sorted(countries)))
        if len(self.route) < 2:
            raise InvalidInput("a route needs at least two points", field="route")
        names = [w.name for w in self.route]
        if len(set(names)) != len(names):
            raise InvalidInput("a route point name is used twice", field="route")
        for point in self.route:
            strangers = sorted(set(point.countries) - countries)
            if strangers:
                raise InvalidInput(f"rendezvous {point.name!r} names {', '.join(strangers)}, which does not take "
                                   "part in the patrol", field=f"route.{point.name}.countries")
            if point.at is not None and not parse(start, field="planned_start") <= parse(point.at, field="at") \
                    <= parse(end, field="planned_end"):
                raise InvalidInput(f"rendezvous {point.name!r} at {point.at} is outside the patrol's schedule "
                                   f"({start} to {end})", field=f"route.{point.name}.at")
        object.__setattr__(self, "units", check_ids(list(self.units), field="units"))

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "name": self.name, "operation": self.operation,
                "route": [w.to_doc() for w in self.route], "planned_start": self.planned_start,
                "planned_end": self.planned_end, "status": self.status.value, "countries": list(self.countries),
                "units": list(self.units), "owner_agency": self.owner_agency, "owner_country": self.owner_country,
                "audience": dict(self.audience), "created_by": self.created_by, "updated_at": self.updated_at,
                **self.extra}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Patrol:
        return cls(
            id=doc["id"], code=doc["code"], name=doc["name"], operation=doc["operation"],
            route=tuple(Waypoint.from_doc(w) for w in doc["route"]), planned_start=doc["planned_start"],
            planned_end=doc["planned_end"], status=doc["status"], countries=tuple(doc["countries"]),
            units=tuple(doc["units"]), owner_agency=doc["owner_agency"], owner_country=doc["owner_country"],
            audience=doc["audience"], created_by=doc["created_by"], updated_at=doc["updated_at"],
            extra={k: v for k, v in doc.items() if k not in _KNOWN},
        )

    def line(self) -> dict[str, Any]:
        """The route as a GeoJSON LineString, in driving order."""
        return {"type": "LineString", "coordinates": [[w.lon, w.lat] for w in self.route]}

    def rendezvous(self) -> tuple[Waypoint, ...]:
        return tuple(w for w in self.route if w.kind is WaypointKind.RENDEZVOUS)

    def with_status(self, status: object, *, now: str) -> Patrol:
        return dataclasses.replace(self, status=check_transition(self.status, status, what="patrol"), updated_at=now)
