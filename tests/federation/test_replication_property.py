"""Random files, amendments, audience changes, validations and retractions on random
nodes, with partial syncs in between: after a full sync every node holds exactly the
partner reports released to its country — each as its originator's last released version
(later amendments, audience widenings and closings wait for a release) — and every node's
log verifies."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from fossatum.domain import report as rules
from fossatum.errors import Conflict
from fossatum.policy.release import partner_may_see
from fossatum.policy.visibility import Facts
from fossatum.schemas import ReportPatch

from .cluster import COUNTRIES, Cluster, open_cluster

AUDIENCES = [{"scope": "agency"}, {"scope": "national"}, {"scope": "all_partners"},
             {"scope": "partners", "partners": ["DZA"]}, {"scope": "partners", "partners": ["LBY"]},
             {"scope": "partners", "partners": ["TUN"]}, {"scope": "partners", "partners": ["DZA", "LBY", "TUN"]}]

country_st = st.sampled_from(COUNTRIES)
op_st = st.one_of(
    st.tuples(st.just("file"), country_st, st.sampled_from(AUDIENCES), st.booleans()),
    st.tuples(st.just("validate"), st.integers(0, 30)),
    st.tuples(st.just("audience"), st.integers(0, 30), st.sampled_from(AUDIENCES)),
    st.tuples(st.just("amend"), st.integers(0, 30)),
    st.tuples(st.just("retract"), st.integers(0, 30)),
    st.tuples(st.just("close"), st.integers(0, 30)),
    st.tuples(st.just("release"), st.integers(0, 30)),
    st.tuples(st.just("sync"), country_st, country_st),
)


def _audience_for(country: str, audience: dict) -> dict:
    partners = [p for p in audience.get("partners", []) if p != country]
    if audience["scope"] == "partners" and not partners:
        return {"scope": "all_partners"}
    return {**audience, "partners": partners} if audience["scope"] == "partners" else audience


def _run(cluster: Cluster, ops: list[tuple]) -> list[tuple[str, str]]:
    filed: list[tuple[str, str]] = []  # (country, report id)
    for op in ops:
        if op[0] == "file":
            _, country, audience, validate = op
            doc = cluster.file(country, validate=validate, audience=_audience_for(country, audience),
                               description=f"#{len(filed)} مجموعة")
            filed.append((country, doc["id"]))
            continue
        if op[0] == "sync":
            _, puller, source = op
            if puller != source:
                fed = cluster.nodes[puller].federation
                cluster.nodes[source].federation.release_all()
                fed.pull(fed.partner(source))
            continue
        if not filed:
            continue
        country, report_id = filed[op[1] % len(filed)]
        node, officer = cluster.nodes[country], cluster.officers[country]
        try:
            if op[0] == "validate":
                node.transition(actor=officer, report_id=report_id, action="validate")
            elif op[0] == "audience":
                node.amend_report(actor=officer, report_id=report_id, patch=ReportPatch.model_validate(
                    {"audience": _audience_for(country, op[2])}))
            elif op[0] == "amend":
                node.amend_report(actor=officer, report_id=report_id,
                                  patch=ReportPatch.model_validate({"description": f"amended {report_id[:6]}"}))
            elif op[0] == "retract":
                node.transition(actor=officer, report_id=report_id, action="retract", reason="false report")
            elif op[0] == "close":
                node.transition(actor=officer, report_id=report_id, action="close", reason="done")
            elif op[0] == "release":
                node.release_report(actor=officer, report_id=report_id)
        except Conflict:
            pass  # e.g. validating twice, amending a retracted report: refused, nothing changes
    return filed


def _docs(cluster: Cluster, country: str, column: str = "doc") -> dict[str, str]:
    rows = cluster.nodes[country].store._reader().execute(f"SELECT id, {column} FROM reports").fetchall()
    return dict(rows)


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
@given(ops=st.lists(op_st, min_size=1, max_size=25))
def test_after_a_full_sync_every_node_holds_exactly_what_was_released_to_it(cluster_template: Path, ops) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cluster = open_cluster(cluster_template, Path(tmp) / "nodes")
        try:
            filed = _run(cluster, ops)
            cluster.sync(rounds=2)
            originals = {c: _docs(cluster, c) for c in COUNTRIES}
            released = {c: _docs(cluster, c, "released_doc") for c in COUNTRIES}
            for receiver in COUNTRIES:
                held = _docs(cluster, receiver)
                for origin, report_id in filed:
                    if origin == receiver:
                        continue
                    current = rules.from_doc(json.loads(originals[origin][report_id]))
                    if partner_may_see(Facts.of_report(current), receiver):
                        assert report_id in held, f"{origin} report missing at {receiver}"
                        assert json.loads(held[report_id]) == json.loads(released[origin][report_id])
                    else:
                        assert report_id not in held, f"{origin} report leaked to {receiver}"
                        leftovers = cluster.nodes[receiver].store._reader().execute(
                            "SELECT COUNT(*) FROM log WHERE object_id = ?", (report_id,)).fetchone()[0]
                        assert leftovers == 0
                for result in cluster.nodes[receiver].verify():
                    assert result.ok, result.problems
        finally:
            cluster.close()
