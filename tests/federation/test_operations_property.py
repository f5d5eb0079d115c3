"""Random participant sets, journal writers and narrowings on three nodes, on both backends: an
operation and each journal line are held exactly where they may be, and nowhere else (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fossatum.schemas import JournalIn, OperationIn, OperationPatch
from operations_fixtures import operation_body

from .cluster import Cluster

pytestmark = pytest.mark.both_backends

PARTNERS = ["DZA", "LBY"]
plans = st.tuples(
    st.sets(st.sampled_from(PARTNERS)),                      # participants besides the lead
    st.lists(st.sampled_from(["TUN", *PARTNERS]), max_size=4),  # who writes a line (if taking part)
    st.one_of(st.none(), st.sets(st.sampled_from(PARTNERS)), st.just("CANCLD")),  # then narrowed, or cancelled
)


def _held(cluster: Cluster, country: str, table: str) -> set[str]:
    return {r[0] for r in cluster.nodes[country].store.read(f"SELECT id FROM {table}", system=True)}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans)
def test_an_operation_and_its_lines_are_held_exactly_where_they_may_be(cluster: Cluster, plan: Any) -> None:
    participants, writers, then = plan
    tun = cluster.nodes["TUN"]
    body = operation_body(participants=sorted(participants), sectors=[], command={})
    op = tun.create_operation(actor=cluster.officers["TUN"], spec=OperationIn.model_validate(body))
    cluster.sync()
    lines: dict[str, str] = {}
    for writer in writers:
        if writer == "TUN" or writer in participants:
            line = cluster.nodes[writer].write_journal(actor=cluster.officers[writer], operation_id=op["id"],
                                                       spec=JournalIn(kind="note", text=f"from {writer}"))
            lines[line["id"]] = writer
    cluster.sync()
    final = taking_part = {"TUN", *participants}  # where it is held; whose lines are part of it
    if then == "CANCLD":
        tun.set_operation_status(actor=cluster.officers["TUN"], operation_id=op["id"], status="CANCLD")
        final = {"TUN"}  # the lead keeps the whole record: participants and their lines
    elif then is not None:
        tun.update_operation(actor=cluster.officers["TUN"], operation_id=op["id"],
                             patch=OperationPatch(participants=sorted(then & participants)))
        final = taking_part = {"TUN", *(then & participants)}
    cluster.sync()
    for country, node in cluster.nodes.items():
        assert (op["id"] in _held(cluster, country, "operations")) == (country in final), country
        journal = _held(cluster, country, "operation_journal")
        for line_id, writer in lines.items():
            assert (line_id in journal) == (country == writer or country in final), (country, writer)
        seen = {o["id"] for o in node.operations(viewer=cluster.officers[country])}
        assert (op["id"] in seen) == (country in final)
        if country in final:
            shown = {x["id"] for x in node.journal(viewer=cluster.officers[country], operation_id=op["id"])}
            # every line of a country taking part (status lines besides), and none of one that left
            assert shown & set(lines) == {i for i, w in lines.items() if w in taking_part}, country
