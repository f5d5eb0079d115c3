"""TAK stream framing: v0 XML split anywhere, v1 protobuf, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import takproto

from fossatum.cot import codec
from fossatum.cot.framing import FrameError, ProtoFramer, XmlFramer, to_proto

SAMPLES = Path(__file__).parent / "samples"


def frames(framer, data: bytes, step: int) -> list[bytes]:
    out = []
    for i in range(0, len(data), step):
        framer.feed(data[i:i + step])
        while (frame := framer.next()) is not None:
            out.append(frame)
    return out


@pytest.mark.parametrize("step", [1, 7, 64, 100_000])
def test_xml_events_are_split_after_the_end_tag_whatever_the_reads(step: int) -> None:
    names = ["auth.xml", "self_sa.xml", "hostile.xml", "geochat.xml"]
    stream = b"".join((SAMPLES / n).read_bytes() for n in names)
    got = frames(XmlFramer(10_000), stream, step)
    assert len(got) == 4
    assert [type(codec.parse_frame(f)).__name__ for f in got] == ["Auth", "CotEvent", "CotEvent", "CotEvent"]


def test_an_oversized_event_is_refused_before_it_is_complete() -> None:
    framer = XmlFramer(2048)
    framer.feed(b"<event " + b"x" * 3000)
    with pytest.raises(FrameError, match="larger than 2048"):
        framer.next()


def test_garbage_is_refused() -> None:
    framer = XmlFramer(2048)
    framer.feed(b"\x16\x03\x01\x00garbage")
    with pytest.raises(FrameError, match="not XML"):
        framer.next()


def test_protobuf_frames_round_trip_through_takproto() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    xml = codec.event_xml(uid="ANDROID-1", type_="a-f-G-U-C", time=now, stale=now, lat=35.5, lon=8.25,
                          detail='<contact callsign="GN-7" endpoint="*:-1:stcp"/><remarks>hello</remarks>')
    wire = to_proto(xml) * 3
    assert wire[0] == 0xBF
    for step in (1, 5, len(wire)):
        got = frames(ProtoFramer(10_000), wire, step)
        assert len(got) == 3
        event = codec.parse_frame(got[0])
        assert (event.uid, event.lat, event.lon, event.callsign, event.remarks) == ("ANDROID-1", 35.5, 8.25, "GN-7", "hello")
    parsed = takproto.parse_proto(bytearray(to_proto(xml)))
    assert parsed.cotEvent.uid == "ANDROID-1"


def test_a_bad_magic_byte_is_refused() -> None:
    framer = ProtoFramer(100, b"\x00\x01")
    with pytest.raises(FrameError):
        framer.next()
