"""UTC instants as fixed-width ISO 8601 strings: sortable as text on every backend.

Every instant that comes from outside (API bodies and queries, `fossatum import`, CoT events
from devices, entries from partner nodes) goes through `parse`: one place decides what an
instant is. Only instants from 1900-01-01 to 2200-12-31 (UTC) are accepted. Outside that
range nothing real happens to a border report, and the stored form stops being what every
query relies on: `%Y` renders year 100 as "100", which sorts after "2026", and times near
year 1 or 9999 overflow when moved to UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..errors import InvalidInput

# RFC 3339's date-time (what the OpenAPI `date-time` format means), minutes-only times
# allowed; Python's own fromisoformat also takes week dates, basic formats and trailing junk.
_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})?")

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2201, 1, 1, tzinfo=UTC)  # exclusive: the last accepted year is 2200
RANGE_TEXT = "from 1900-01-01 to 2200-12-31"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_text(instant: datetime) -> str:
    """Render an aware datetime as `2026-11-29T03:00:00.000000Z`."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime")
    return instant.astimezone(UTC).strftime(_FORMAT)


def parse(text: object, *, field: str) -> datetime:
    """Parse ISO 8601 with an offset (or Z) into an aware UTC datetime in the accepted range.

    Naive times are refused, not guessed; anything malformed or out of range raises
    InvalidInput naming `field` (never ValueError or OverflowError)."""
    if not isinstance(text, str) or not text:
        raise InvalidInput("expected an ISO 8601 date-time with a time zone", field=field)
    shown = text if len(text) <= 64 else text[:64] + "…"
    if len(text) > 64 or not text.isascii() or not _SHAPE.fullmatch(text):
        raise InvalidInput(f"not an ISO 8601 date-time: {shown!r}", field=field)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"not an ISO 8601 date-time: {shown!r}", field=field) from None
    if value.tzinfo is None:
        raise InvalidInput(f"date-time needs a time zone (e.g. Z): {shown!r}", field=field)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidInput(f"date-time out of range ({RANGE_TEXT}): {shown!r}", field=field) from None
    if not EARLIEST <= utc < LATEST:
        raise InvalidInput(f"date-time out of range ({RANGE_TEXT}): {shown!r}", field=field)
    return utc


def from_epoch_ms(value: object, *, field: str) -> datetime:
    """An instant given as milliseconds since 1970 (TAK protocol v1), with parse's rules."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("expected milliseconds since 1970 as an integer", field=field)
    if not (EARLIEST.timestamp() * 1000 <= value < LATEST.timestamp() * 1000):
        raise InvalidInput(f"date-time out of range ({RANGE_TEXT}): {value} ms", field=field)
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def normalise(text: str, *, field: str) -> str:
    return to_text(parse(text, field=field))
