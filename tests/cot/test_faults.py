"""Faults: bursts, mass disconnects, idle sockets, garbage — each touches only its connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fossatum.node import Node

from .harness import Device, event, eventually, has, start
from .test_gateway import run


def test_a_burst_of_1000_events_loses_nothing(node: Node, users) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            sami = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            await sami.wait_for(has('type="t-x-takp-v"'))
            base = datetime.now(UTC) - timedelta(minutes=30)
            burst = b"".join(event("ANDROID-SAMI", "a-f-G-U-C", 35 + i / 10_000, 8.6, callsign="GN-7",
                                   at=base + timedelta(seconds=i)) for i in range(1000))
            await sami.send(burst)
            await eventually(lambda: server.ingest.counts["position"] == 1000, timeout=30)
            await sami.close()
        finally:
            await server.stop()

    run(scenario())
    unit_id = node.store.device("ANDROID-SAMI")["unit_id"]
    assert len(node.store.unit_track(users["sami"], unit_id, limit=5000)) == 1000


def test_garbage_and_truncated_xml_close_only_that_connection(node: Node) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            good = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            other = await Device.connect(port, "youssef", "ANDROID-YOU")
            await other.wait_for(has('type="t-x-takp-v"'))
            garbage = await Device.connect(port, "amira", "ANDROID-AMIRA")
            await garbage.wait_for(has('type="t-x-takp-v"'))
            await garbage.send(b"\x00\x01\x02 this is not XML")
            await garbage.wait_closed()
            truncated = await Device.connect(port, "leila", "ANDROID-LEILA")
            await truncated.wait_for(has('type="t-x-takp-v"'))
            await truncated.send(b'<event version="2.0" uid="x" type="a-h-G"><point lat="1" ')
            await truncated.send(b'<event version="2.0" uid="y" type="a-h-G"><point lat="1" lon="1"/></event>')
            await truncated.wait_closed()
            noauth = await Device.connect(port)
            await noauth.send(event("ANDROID-X", "a-f-G-U-C"))
            await noauth.wait_closed()
            badpass = await Device.connect(port, "sami", "ANDROID-Z", password="wrong-password")
            await badpass.wait_closed()
            await good.send(event("ANDROID-SAMI", "a-f-G-U-C", 35.3, 8.7, callsign="GN-7"))
            await other.wait_for(has('callsign="GN-7"'))
            counters = server.status()["counters"]
            assert counters["malformed"] == 2 and counters["auth_missing"] == 1 and counters["auth_failures"] == 1
            for d in (good, other, garbage, truncated, noauth, badpass):
                await d.close()
        finally:
            await server.stop()

    run(scenario())


def test_200_clients_leaving_at_once_then_new_clients_are_served_at_once(node: Node) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            crowd = await asyncio.gather(*(Device.connect(port, "sami", f"ANDROID-CROWD-{i}") for i in range(200)))
            await asyncio.gather(*(d.wait_for(has('type="t-x-takp-v"'), 20) for d in crowd))
            for d in crowd:
                d.writer.transport.abort()
            loop = asyncio.get_running_loop()
            started = loop.time()
            sender = await Device.connect(port, "sami", "ANDROID-NEW", callsign="NEW-1")
            observer = await Device.connect(port, "youssef", "ANDROID-OBS")
            await observer.wait_for(has('type="t-x-takp-v"'))
            await sender.send(event("ANDROID-NEW", "a-f-G-U-C", 35.3, 8.7, callsign="NEW-1"))
            await observer.wait_for(has('callsign="NEW-1"'), 5)
            assert loop.time() - started < 5
            await eventually(lambda: len(server.clients) == 2, 5)
            await sender.close()
            await observer.close()
        finally:
            await server.stop()

    run(scenario(), timeout=120)


def test_50_idle_sockets_do_not_affect_a_working_pair(node: Node) -> None:
    async def scenario() -> None:
        server, port = await start(node, cot_auth_seconds=2)
        try:
            idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
            sender = await Device.connect(port, "sami", "ANDROID-SAMI", callsign="GN-7")
            observer = await Device.connect(port, "youssef", "ANDROID-OBS")
            await observer.wait_for(has('type="t-x-takp-v"'))
            for i in range(20):
                await sender.send(event("ANDROID-SAMI", "a-f-G-U-C", 35 + i / 100, 8.7, callsign="GN-7"))
                await observer.wait_for(has('callsign="GN-7"', f'lat="{35 + i / 100:.7f}"'), 3)
            # the idle sockets never authenticated: closed after cot_auth_seconds, counted
            await eventually(lambda: server.counters["auth_timeouts"] == 50, 10)
            for _, writer in idle:
                writer.close()
            await sender.close()
            await observer.close()
        finally:
            await server.stop()

    run(scenario())
