"""A unit's position time is stored in one form, whoever hands it in.

Times compare as text in the store and a partner refuses a payload whose instants are not in the
stored form, so a fix logged as `…:00Z` would stop that partner's stream at it.
"""

from __future__ import annotations

import json

import pytest

from fossatum.domain.geo import Position
from fossatum.errors import InvalidInput
from fossatum.node import Node

pytestmark = pytest.mark.both_backends


def test_a_fix_time_in_another_form_is_logged_in_the_stored_form(node: Node, users) -> None:
    unit_id = node.register_device(actor=users["sami"], uid="ANDROID-SAMI", callsign="GN-7")
    node.move_unit(actor=users["sami"], unit_id=unit_id, position=Position(35.2, 8.6), at="2026-01-01T05:54:00+01:00")
    doc = json.loads(node.store.unit_doc(users["sami"], unit_id) or "{}")
    assert doc["position_at"] == "2026-01-01T04:54:00.000000Z"
    [moved] = [e for e in node.store.entries(node.node_id) if e.kind == "unit.moved"]
    assert moved.payload["position_at"] == "2026-01-01T04:54:00.000000Z"


def test_a_fix_time_that_is_no_instant_is_refused(node: Node, users) -> None:
    unit_id = node.register_device(actor=users["sami"], uid="ANDROID-SAMI", callsign="GN-7")
    with pytest.raises(InvalidInput):
        node.move_unit(actor=users["sami"], unit_id=unit_id, position=Position(35.2, 8.6), at="yesterday")
