"""UTC instants as fixed-width ISO 8601 strings: sortable as text on every backend."""

from __future__ import annotations

from datetime import datetime, timezone

from ..errors import InvalidInput

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_text(instant: datetime) -> str:
    """Render an aware datetime as `2026-11-29T03:00:00.000000Z`."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime")
    return instant.astimezone(timezone.utc).strftime(_FORMAT)


def parse(text: str, *, field: str) -> datetime:
    """Parse ISO 8601 with an offset (or Z); naive times are refused, not guessed."""
    if not isinstance(text, str) or not text:
        raise InvalidInput("expected an ISO 8601 date-time with a time zone", field=field)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"not an ISO 8601 date-time: {text!r}", field=field) from None
    if value.tzinfo is None:
        raise InvalidInput(f"date-time needs a time zone (e.g. Z): {text!r}", field=field)
    return value.astimezone(timezone.utc)


def normalise(text: str, *, field: str) -> str:
    return to_text(parse(text, field=field))
