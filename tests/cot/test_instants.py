"""Finding 13 over TAK: a device sending an instant outside 1900–2200 (or no instant at all in
its time attribute) gets that one event refused — logged and counted — and keeps its
connection; nothing with such a time reaches the store. XML (v0) and protobuf (v1) streams."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import takproto

from fossatum.cot import codec
from fossatum.cot.framing import frame_proto, to_proto
from fossatum.node import Node
from fossatum.store.query import ReportQuery

from .harness import Device, event, eventually, has, start

pytestmark = pytest.mark.both_backends

BAD_TIMES = ["0100-01-01T00:00:00.000Z", "1899-12-31T23:59:59.999Z", "2201-01-01T00:00:00.000Z",
             "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00+01:00", "yesterday"]


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def with_time(frame: bytes, text: str) -> bytes:
    """The same event with its time attribute replaced (start and stale left valid)."""
    return re.sub(rb' time="[^"]*"', f' time="{text}"'.encode(), frame, count=1)


def reports(node: Node, users) -> list[dict]:
    return [json.loads(d) for d in node.reports(viewer=users["amira"], query=ReportQuery()).items]


def test_an_out_of_range_time_refuses_the_event_and_the_connection_survives(
        node: Node, users, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fossatum")

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-PATROL-7")
            await sami.wait_for(has('type="t-x-takp-v"'))
            await sami.send(event("ANDROID-SAMI", "a-f-G-U-C", 35.21, 8.68, callsign="GN-PATROL-7"))
            await eventually(lambda: server.ingest.counts["position"] == 1)
            for n, text in enumerate(BAD_TIMES):
                await sami.send(with_time(event(f"marker-bad-{n}", "a-h-G", 35.25, 8.70, remarks="bad"), text))
                await sami.send(with_time(event("ANDROID-SAMI", "a-f-G-U-C", 35.3, 8.9, callsign="GN-PATROL-7"), text))
                await sami.send(with_time(event(f"ANDROID-SAMI-9-1-1-{n}", "b-a-o-tbl", 35.3, 8.9), text))
            await eventually(lambda: server.ingest.counts["marker_refused"] == len(BAD_TIMES)
                             and server.ingest.counts["position_refused"] == len(BAD_TIMES)
                             and server.ingest.counts["alert_refused"] == len(BAD_TIMES))
            # the same connection still files a good marker
            await sami.send(event("marker-good", "a-h-G", 35.25, 8.70, remarks="six armed men moving west"))
            await eventually(lambda: server.ingest.counts["marker"] == 1)
            assert not sami.closed
            assert server.ingest.counts["position"] == 1 and server.ingest.counts["alert"] == 0
            await sami.close()
        finally:
            await server.stop()

    run(scenario())
    docs = reports(node, users)
    assert [d["description"] for d in docs] == ["six armed men moving west"]
    device = node.store.device("ANDROID-SAMI")
    assert device is not None
    unit = json.loads(node.store.unit_doc(users["amira"], device["unit_id"]))
    assert unit["position"]["lat"] == 35.21  # the bad fixes did not move it
    assert unit["position_at"].startswith("20")
    assert any("marker refused" in r.getMessage() and "time" in r.getMessage() for r in caplog.records)


def test_a_protobuf_time_beyond_any_calendar_refuses_that_event_only(node: Node, users) -> None:
    """TAK protocol v1 carries ms since 1970: a value far beyond year 9999 must not break the
    conversion (and so the connection); the event is refused like an out-of-range XML time."""

    def proto_marker(uid: str, send_ms: int | None) -> bytes:
        now = datetime.now(UTC)
        xml = codec.event_xml(uid=uid, type_="a-h-G", time=now, stale=now + timedelta(minutes=2), lat=35.25,
                              lon=8.70, how="m-g", detail="<remarks>via v1</remarks>")
        message = takproto.parse_proto(bytearray(to_proto(xml)))
        if send_ms is not None:
            message.cotEvent.sendTime = send_ms
        return frame_proto(message)

    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-PATROL-7")
            await sami.wait_for(has('type="t-x-takp-v"'))
            request = (b'<event version="2.0" uid="ANDROID-SAMI" type="t-x-takp-q" how="m-g" '
                       b'time="2026-01-01T12:00:00.000Z" start="2026-01-01T12:00:00.000Z" stale="2026-01-01T12:01:00.000Z">'
                       b'<point lat="0" lon="0" hae="0" ce="9999999.0" le="9999999.0"/>'
                       b'<detail><TakControl><TakRequest version="1"/></TakControl></detail></event>')
            await sami.send(request)
            await sami.wait_for(has('type="t-x-takp-r"'))
            for n, ms in enumerate([2**64 - 1, 2**63, 300_000_000_000_000]):  # uint64; the last is year 11476
                await sami.send(proto_marker(f"v1-bad-{n}", ms))
            await eventually(lambda: server.ingest.counts["marker_refused"] == 3)
            await sami.send(proto_marker("v1-good", None))
            await eventually(lambda: server.ingest.counts["marker"] == 1)
            assert server.counters["malformed"] == 0 and server.counters["internal_errors"] == 0 and not sami.closed
            await sami.close()
        finally:
            await server.stop()

    run(scenario())
    assert [d["description"] for d in reports(node, users)] == ["via v1"]
