"""pytak (a third-party TAK client library) as the devices."""

from __future__ import annotations

import asyncio
import json
from configparser import ConfigParser

import pytak

from fossatum.node import Node
from fossatum.store.query import ReportQuery

from .harness import auth, event, eventually, start
from .test_gateway import run


class Collect(pytak.RXWorker):
    async def handle_data(self, data: bytes) -> None:
        pass

    async def run_once(self) -> None:
        data = await self.readcot()
        if data:
            await self.queue.put(data)


async def pytak_device(port: int, username: str, uid: str, callsign: str):
    parser = ConfigParser()
    parser["d"] = {"COT_URL": f"tcp://127.0.0.1:{port}", "PYTAK_NO_HELLO": "1", "TAK_PROTO": "0",
                   "MAX_IN_QUEUE": "10000", "MAX_OUT_QUEUE": "10000"}
    config = parser["d"]
    reader, writer = await pytak.protocol_factory(config)
    tx, rx = asyncio.Queue(), asyncio.Queue()
    sender, receiver = pytak.TXWorker(tx, config, writer), Collect(rx, config, reader)
    tasks = [asyncio.create_task(sender.run()), asyncio.create_task(receiver.run())]
    await tx.put(auth(username, uid, callsign))
    return tx, rx, tasks, writer


async def first(rx: asyncio.Queue, needle: bytes, timeout: float = 5.0) -> bytes:
    async def scan() -> bytes:
        while True:
            data = await rx.get()
            if needle in data:
                return data
    return await asyncio.wait_for(scan(), timeout)


def test_pytak_devices_report_and_see_each_other(node: Node, users) -> None:
    async def scenario() -> None:
        server, port = await start(node)
        try:
            tx1, rx1, tasks1, w1 = await pytak_device(port, "sami", "ANDROID-PYTAK-1", "GN-PY-1")
            _tx2, rx2, tasks2, w2 = await pytak_device(port, "youssef", "ANDROID-PYTAK-2", "ARMY-PY-2")
            _tx3, rx3, tasks3, w3 = await pytak_device(port, "omar", "ANDROID-PYTAK-3", "LY-PY-3")
            for rx in (rx1, rx2, rx3):
                await first(rx, b"t-x-takp-v")
            await tx1.put(event("ANDROID-PYTAK-1", "a-f-G-U-C", 35.4, 8.5, callsign="GN-PY-1"))
            await tx1.put(event("pytak-marker-1", "a-h-G", 35.45, 8.55, remarks="armed group, 4 men"))
            got = await first(rx2, b'callsign="GN-PY-1"')
            assert b'type="a-f-G-U-U-L"' in got
            await eventually(lambda: server.ingest.counts["marker"] == 1)
            await asyncio.sleep(0.3)
            seen3 = []
            while not rx3.empty():
                seen3.append(rx3.get_nowait())
            assert not any(b"GN-PY-1" in d for d in seen3)  # Libyan liaison: not the Tunisian patrol
            for t in tasks1 + tasks2 + tasks3:
                t.cancel()
            await asyncio.gather(*tasks1, *tasks2, *tasks3, return_exceptions=True)
            for w in (w1, w2, w3):
                w.close()
        finally:
            await server.stop()

    run(scenario())
    unit = json.loads(node.store.unit_doc(users["amira"], node.store.device("ANDROID-PYTAK-1")["unit_id"]))
    assert unit["position"] == {"lat": 35.4, "lon": 8.5, "mgrs": unit["position"]["mgrs"]}
    docs = [json.loads(d) for d in node.reports(viewer=users["amira"], query=ReportQuery()).items]
    assert [(d["type"], d["author"]) for d in docs] == [("armed_group_sighting", "sami")]
    assert node.reports(viewer=users["omar"], query=ReportQuery()).items == []
