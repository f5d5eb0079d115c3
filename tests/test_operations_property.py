"""Random participant sets, statuses and viewers at one node, on both backends: every read path of
an operation (list, document, journal, sectors) answers exactly what need-to-know allows (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fossatum.domain.org import Role, User
from fossatum.errors import NotFound
from fossatum.node import Node
from fossatum.schemas import JournalIn, OperationIn, OperationPatch
from operations_fixtures import operation_body, partners

pytestmark = pytest.mark.both_backends

PARTNERS = ["DZA", "LBY"]
AGENCY = {"TUN": "TN-ARMY", "DZA": "DZ-GN", "LBY": "LY-BG"}
viewers = st.tuples(st.sampled_from(["TUN", *PARTNERS]), st.sets(st.sampled_from(list(Role)), min_size=1),
                    st.booleans())
plans = st.tuples(st.sets(st.sampled_from(PARTNERS)), st.sampled_from(["NST", "IPR", "CANCLD"]),
                  st.lists(viewers, min_size=1, max_size=5))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans)
def test_every_read_answers_exactly_what_need_to_know_allows(node: Node, users: dict[str, User], plan: Any) -> None:
    if not node.store.roster()[1:]:
        partners(node, *PARTNERS)
    participants, status, people = plan
    amira = users["amira"]
    op = node.create_operation(actor=amira, spec=OperationIn.model_validate(
        operation_body(participants=sorted(participants), sectors=[], command={})))
    node.write_journal(actor=amira, operation_id=op["id"], spec=JournalIn(kind="note", text="cordon in place"))
    if status != "NST":
        node.update_operation(actor=amira, operation_id=op["id"], patch=OperationPatch(status=status))
    audience = {"TUN"} if status == "CANCLD" else {"TUN", *participants}
    for n, (country, roles, active) in enumerate(people):
        viewer = User(f"viewer{n}", AGENCY[country], country, frozenset(roles), "", active)
        may = active and country in audience
        assert (op["id"] in {o["id"] for o in node.operations(viewer=viewer)}) == may, viewer
        if may:
            assert node.operation(viewer=viewer, operation_id=op["id"])["id"] == op["id"]
            lines = node.journal(viewer=viewer, operation_id=op["id"])
            assert lines and all(x["operation"] == op["id"] for x in lines)
            assert node.sectors(viewer=viewer, operation_id=op["id"]) == []
        else:
            for read in (node.operation, node.journal, node.sectors):
                with pytest.raises(NotFound):
                    read(viewer=viewer, operation_id=op["id"])
