"""Every label of the COP page exists in Arabic, French and English (issue 12: "all in Arabic,
French and English"): the three dictionaries of web/src/i18n.ts have the same keys, and every
literal key the page asks for is in them."""

from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "web" / "src"


def _dicts() -> dict[str, set[str]]:
    text = (WEB / "i18n.ts").read_text(encoding="utf-8")
    out = {}
    for lang in ("en", "fr", "ar"):
        body = re.search(rf"^const {lang}: Dict = \{{(.*?)^\}};", text, re.S | re.M)
        assert body, f"no {lang} dictionary in i18n.ts"
        out[lang] = set(re.findall(r"(?:^|[\s,])([a-z][A-Za-z0-9_]*): \"", body.group(1), re.M))
    return out


def test_the_three_languages_have_the_same_labels() -> None:
    d = _dicts()
    assert len(d["en"]) > 150
    assert d["en"] - d["fr"] == set(), "missing in French"
    assert d["en"] - d["ar"] == set(), "missing in Arabic"
    assert d["fr"] - d["en"] == set() and d["ar"] - d["en"] == set(), "a label only in French or Arabic"


def test_every_label_the_page_asks_for_exists() -> None:
    known = _dicts()["en"]
    asked: set[str] = set()
    for path in WEB.glob("*.ts"):
        asked |= set(re.findall(r"\bt\(\"([a-z][A-Za-z0-9_]*)\"", path.read_text(encoding="utf-8")))
    # keys built from a code: the EMSI status, its transitions, checkpoint status, waypoint and
    # journal kinds, rendezvous states, phase states
    for prefix, codes in (("ms_", "NST IPR PAU COM CANCLD"), ("ms_to_", "IPR PAU COM CANCLD"), ("cp_", "open closed reinforced"),
                          ("wp_", "waypoint rendezvous checkpoint"), ("rv_", "met missed pending"), ("phase_", "now next done"),
                          ("jk_", "note decision assignment report_link status_change")):
        asked |= {prefix + c for c in codes.split()}
    assert asked - known == set()
