"""Positions in WGS84, entered as decimal degrees or MGRS, returned as both."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import cast

import mgrs as _mgrs

from ..errors import InvalidInput

_converter = _mgrs.MGRS()
# Grid zone (1-60 + latitude band C-X without I/O), 100 km square (two letters),
# then an even number of digits; spaces are allowed when typed and removed here.
_MGRS_SHAPE = re.compile(r"^(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z]{2})(\d{0,10})$")


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float

    def mgrs(self) -> str:
        """MGRS at 1 m precision (10 digits); polar areas (UPS) return ''."""
        if not -80.0 <= self.lat <= 84.0:
            return ""
        return cast(str, _converter.toMGRS(self.lat, self.lon, MGRSPrecision=5))  # mgrs has no type hints

    def to_doc(self) -> dict[str, object]:
        return {"lat": self.lat, "lon": self.lon, "mgrs": self.mgrs()}


def from_degrees(lat: object, lon: object, *, field: str = "location") -> Position:
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput("expected a number in decimal degrees", field=f"{field}.{name}")
        # An int is compared as it is: math.isfinite would overflow on one of 400 digits.
        if (isinstance(value, float) and not math.isfinite(value)) or not -limit <= value <= limit:
            shown = str(value) if len(str(value)) <= 24 else str(value)[:20] + "…"
            raise InvalidInput(
                f"{shown} is out of range (-{limit:g} to {limit:g})", field=f"{field}.{name}"
            )
    return Position(lat=round(float(lat), 7), lon=round(float(lon), 7))  # type: ignore[arg-type]


def from_mgrs(text: object, *, field: str = "location.mgrs") -> Position:
    if not isinstance(text, str):
        raise InvalidInput("expected an MGRS string such as 32SMD7087095269", field=field)
    compact = re.sub(r"\s+", "", text).upper()
    shape = _MGRS_SHAPE.match(compact)
    if not shape or len(shape.group(4)) % 2 or not 1 <= int(shape.group(1)) <= 60:
        raise InvalidInput(f"not a valid MGRS reference: {text!r}", field=field)
    try:
        lat, lon = _converter.toLatLon(compact)
    except Exception:  # the C library raises its own MGRSError for impossible squares
        raise InvalidInput(f"not a valid MGRS reference: {text!r}", field=field) from None
    return from_degrees(lat, lon, field=field.rsplit(".", 1)[0])


def parse_location(value: object, *, field: str = "location") -> Position:
    """Accept `{"lat","lon"}` or `{"mgrs"}` (decimal degrees win when both are given)."""
    if not isinstance(value, dict):
        raise InvalidInput('expected {"lat": .., "lon": ..} or {"mgrs": ".."}', field=field)
    if "lat" in value or "lon" in value:
        return from_degrees(value.get("lat"), value.get("lon"), field=field)
    if "mgrs" in value:
        return from_mgrs(value["mgrs"], field=f"{field}.mgrs")
    raise InvalidInput('expected {"lat": .., "lon": ..} or {"mgrs": ".."}', field=field)
