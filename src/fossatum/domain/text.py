"""What a name and a free text may contain, for every object kind and every way in (API,
import, a partner's stream): one rule, so that what a node writes its partners accept.

A name (of a section, unit, agency, person; a callsign, a terrain) is one short line. Free
text (a description, a reason, a note) may have line breaks and tabs. Neither has other
control characters, which terminals, logs and CSV exports interpret; a name also has no
bidirectional embedding, override or isolate, with which a name can read as another.
Markup is text like any other: the page never parses it (web/src/safe.ts).
"""

from __future__ import annotations

import unicodedata

NAME_MAX = 200
TEXT_MAX = 10_000
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FREE_TEXT_CONTROLS = frozenset("\n\r\t")


def _has_controls(value: str, allowed: frozenset[str]) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in value)


def name_problem(value: str) -> str | None:
    """Why `value` is not a valid name, or None."""
    if len(value) > NAME_MAX:
        return f"longer than {NAME_MAX} characters"
    if _has_controls(value, frozenset()) or any(c in BIDI_CONTROLS for c in value):
        return "contains control characters"
    return None


def text_problem(value: str) -> str | None:
    """Why `value` is not a valid free text, or None."""
    if len(value) > TEXT_MAX:
        return f"longer than {TEXT_MAX} characters"
    if _has_controls(value, FREE_TEXT_CONTROLS):
        return "contains control characters"
    return None


def as_name(value: str) -> str:
    """A name made from an outside text that is not checked first (a TAK device's callsign):
    control characters become spaces, and it is cut to length."""
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS else c for c in value)
    return cleaned[:NAME_MAX]
