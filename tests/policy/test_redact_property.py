"""`policy.redact` on random populations: a document shown to a viewer names exactly the
objects the viewer may see (never one more — finding 7 — and none fewer), and owner-only
notes reach the owner country only. Pure: the facts of the named objects are given."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fossatum.domain.audience import Scope
from fossatum.domain.org import Role, User
from fossatum.policy import redact
from fossatum.policy.visibility import Facts, may_view

COUNTRIES = ["TUN", "DZA", "LBY"]
AGENCIES = {"TN-GN": "TUN", "TN-ARMY": "TUN", "DZ-GN": "DZA", "LY-BG": "LBY"}

facts_st = st.builds(
    lambda agency, scope, to, state, released, author: Facts(
        agency, AGENCIES[agency], scope, frozenset(to) | {AGENCIES[agency]}, state, released, author),
    st.sampled_from(sorted(AGENCIES)), st.sampled_from(list(Scope)), st.sets(st.sampled_from(COUNTRIES)),
    st.sampled_from(["draft", "submitted", "validated", "closed", "retracted"]), st.booleans(),
    st.sampled_from(["sami", "karim", "youssef"]),
)
viewer_st = st.builds(
    lambda name, agency, active: User(name, agency, AGENCIES[agency], frozenset({Role.DUTY_OFFICER}), "", active),
    st.sampled_from(["sami", "karim", "youssef", "omar"]), st.sampled_from(sorted(AGENCIES)), st.booleans(),
)
ids = [f"r{n}" for n in range(8)]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(ids), facts_st), viewer_st,
       st.lists(st.lists(st.sampled_from(ids + ["unknown-1"]), max_size=6), min_size=1, max_size=5))
def test_links_name_exactly_the_reports_the_viewer_may_see(known: dict[str, Facts], viewer: User,
                                                           links: list[list[str]]) -> None:
    docs = [{"id": f"c{n}", "owner_country": "TUN", "links": list(dict.fromkeys(ls))} for n, ls in enumerate(links)]
    asked: list[frozenset[str]] = []

    def facts_of(kind: str, wanted: frozenset[str]) -> dict[str, Facts]:
        assert kind == "report"
        asked.append(wanted)
        return {i: known[i] for i in wanted if i in known}

    shown = redact.redact(viewer, "report", docs, facts_of)
    for doc, out in zip(docs, shown):
        expected = [i for i in doc["links"] if i in known and may_view(viewer, known[i])]
        assert out["links"] == expected
    assert len(asked) <= 1  # one read of the named objects' facts for the whole page
    # The stored-text path agrees with the parsed one.
    raws = [json.dumps(d, sort_keys=True, separators=(",", ":")) for d in docs]
    assert [json.loads(r) for r in redact.redact_raw(viewer, "report", raws, facts_of)] == shown


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(ids), facts_st), viewer_st,
       st.lists(st.sampled_from(ids + ["post 17"]), max_size=5), st.text(max_size=20))
def test_section_notes_reach_only_whom_they_concern(known: dict[str, Facts], viewer: User, names: list[str],
                                                    reason: str) -> None:
    doc = {"id": "s1", "owner_country": "TUN", "impact_reason": reason, "responsible": {"TUN": names}}
    out = redact.redact(viewer, "section", [doc], lambda kind, wanted: {i: known[i] for i in wanted if i in known})[0]
    own = viewer.country == "TUN"
    assert out["impact_reason"] == (reason if own else "")
    expected = [n for n in names if (may_view(viewer, known[n]) if n in known else own)]
    named = {c: ns for c, ns in out["responsible"].items() if ns}  # an empty list names nothing
    assert named == ({"TUN": expected} if expected else {})
