"""A log row as an `Entry`: the columns every scan of the log selects, and their reading."""

from __future__ import annotations

import json
from typing import Any

from ..errors import IntegrityError
from ..log.entry import Entry

ENTRY_COLUMNS = "origin, seq, ts, author, kind, payload, audience, prev, hash, sig"


def row_entry(row: tuple[Any, ...], *, strict: bool = True) -> Entry:
    """An entry from a log row. Not strict (for verification): a stored text that is no
    longer JSON is kept as a marker, so the entry fails its hash check instead of stopping the scan."""
    origin, seq, ts, author, kind, payload, audience, prev, digest, sig = row

    def load(text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            if strict:
                raise IntegrityError(f"{origin}#{seq}: stored entry is not valid JSON") from None
            return {"unreadable": text}

    return Entry(origin, seq, ts, author, kind, load(payload), load(audience), prev, digest, sig)
