"""The CoT codec against sample files: what each event means, and what goes out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fossatum.cot import codec
from fossatum.cot.codec import Auth, CotError
from fossatum.domain.taxonomy import REPORT_TYPES

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2026, 1, 1, 12, 10, tzinfo=UTC)


def sample(name: str):
    return codec.parse_frame((SAMPLES / name).read_bytes())


def test_self_sa_is_a_position_with_its_callsign() -> None:
    e = sample("self_sa.xml")
    assert codec.kind_of(e) == "sa"
    assert (e.uid, e.lat, e.lon, e.callsign) == ("ANDROID-0a1b2c", 35.2064, 8.6825, "GN-PATROL-7")


@pytest.mark.parametrize("name, report_type", [
    ("hostile.xml", "armed_group_sighting"),
    ("spot_fuel.xml", "smuggling_fuel"),
])
def test_markers_map_to_report_types(name: str, report_type: str) -> None:
    e = sample(name)
    assert codec.kind_of(e) == "marker"
    assert codec.report_type_of(e, frozenset(REPORT_TYPES)) == report_type


def test_an_explicit_tag_in_remarks_wins() -> None:
    e = codec.parse_frame(codec.event_xml(uid="m", type_="a-u-G", time=NOW, stale=NOW, lat=1, lon=1,
                                          detail="<remarks>#seizure 200 kg</remarks>"))
    assert codec.report_type_of(e, frozenset(REPORT_TYPES)) == "seizure"


def test_alerts_chat_ping_and_protocol_request() -> None:
    assert codec.kind_of(sample("alert_911.xml")) == "alert"
    cancel = sample("alert_cancel.xml")
    assert codec.kind_of(cancel) == "alert" and cancel.emergency == "cancel"
    chat = sample("geochat.xml")
    assert codec.kind_of(chat) == "chat"
    assert chat.chat is not None and chat.chat.room == "All Chat Rooms" and "Road block" in chat.chat.text
    assert codec.kind_of(sample("ping.xml")) == "ping"
    request = sample("takp_request.xml")
    assert codec.kind_of(request) == "takp_request" and request.takp_request == "1"


def test_auth_message() -> None:
    assert sample("auth.xml") == Auth("sami", "secret-pass", "ANDROID-0a1b2c", "GN-PATROL-7")


def test_entities_and_dtds_are_refused() -> None:
    with pytest.raises(CotError):
        sample("billion_laughs.xml")


@pytest.mark.parametrize("data", [b"<event", b"garbage", b"<foo/>", b'<event uid="x" type="a-h-G"></event>',
                                  b'<event uid="x" type="a-h-G"><point lat="99" lon="1"/></event>',
                                  b'<event uid="x" type="a-h-G"><point lat="nan" lon="1"/></event>'])
def test_malformed_frames_are_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(CotError) as caught:
        codec.parse_frame(data)
    assert str(caught.value)


def test_pong_answers_a_ping() -> None:
    pong = codec.parse_frame(codec.pong(NOW))
    assert (pong.type, pong.uid) == ("t-x-c-t-r", "takPong")


def _report(**over):
    doc = {"id": "r1", "type": "armed_group_sighting", "owner_agency": "TN-GN", "state": "validated",
           "observed_at": "2026-01-01T11:00:00.000000Z", "location": {"lat": 35.2, "lon": 8.6},
           "uncertainty_m": 250, "salute": {"size": 6, "activity": "moving <west> & \"fast\""},
           "grade": {"code": "B2"}, "tlp": "AMBER", "description": "x"}
    doc.update(over)
    return doc


def test_a_report_goes_out_as_a_hostile_atom_with_stale_after_the_window() -> None:
    out = codec.parse_frame(codec.report_event(_report(), NOW, stale_hours=24))
    assert out.type == "a-h-G-U-C-I" and out.uid == "fossatum.report.r1"
    assert out.stale.startswith("2026-01-02T11:00") and out.start.startswith("2026-01-01T11:00")
    assert 'moving <west> & "fast"' in out.remarks and "B2" in out.remarks


def test_an_old_report_is_already_stale_so_devices_drop_it() -> None:
    out = codec.parse_frame(codec.report_event(_report(observed_at="2025-01-01T00:00:00Z"), NOW, stale_hours=24))
    assert codec.parse_time(out.stale) <= NOW.replace(minute=11)


def test_a_unit_and_a_section_go_out() -> None:
    unit = {"id": "u1", "name": "Patrol 7", "kind": "patrol", "callsign": "GN-7", "owner_agency": "TN-GN",
            "owner_country": "TUN", "position": {"lat": 35.0, "lon": 8.5}, "position_at": "2026-01-01T12:00:00Z"}
    out = codec.parse_frame(codec.unit_event(unit, NOW, stale_minutes=15))
    assert (out.type, out.callsign, out.stale[:16]) == ("a-f-G-U-U-L", "GN-7", "2026-01-01T12:15")
    assert codec.unit_event({**unit, "position": None}, NOW, stale_minutes=15) is None
    section = {"id": "s1", "name": "Chaambi", "impact": "high", "impact_reason": "clash",
               "geometry": {"type": "LineString", "coordinates": [[8.5, 35.0], [8.7, 35.3]]}}
    xml = codec.section_event(section, NOW, stale_hours=24)
    shape = codec.parse_frame(xml)
    assert shape.type == "u-d-f" and "Impact: high" in shape.remarks
    assert b'<link point="35.0000000,8.5000000"/>' in xml
