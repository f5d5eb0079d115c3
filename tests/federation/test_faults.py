"""Faults between real processes: a misbehaving loopback proxy on the link, a cut link,
kill -9 of the sender and of the receiver mid-batch. At the end the receiver holds exactly
the reports released to it, once each; `fossatum verify` passes on both nodes; the lag is 0.

TUN sends, DZA receives. DZA reaches TUN through `to_tun` (a FaultProxy in front of TUN)
and TUN reaches DZA (notifications) through `to_dza`. FOSSATUM_SYNC_INTERVAL=1.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fossatum.node import open_node
from fossatum.schemas import ReportIn

from .procs import (
    Server,
    build_node,
    db_rows,
    file_and_validate,
    free_port,
    partner_report_ids,
    released_to,
    report_body,
    sync_status,
    verify,
    wait_for,
)
from .proxy import FaultProxy

pytestmark = pytest.mark.slow

INTERVAL = 1            # FOSSATUM_SYNC_INTERVAL of the servers
CUT_SECONDS = 6.0       # the issue speaks of minutes; the mechanism is the same (backoff caps at 60 s)


def backoff_bound(cut: float) -> float:
    """Worst wait after the link returns: the worker's backoff doubles from the interval up to
    60 s, so the retry pending when the cut ends is at most twice the cut (or 60 s)."""
    return INTERVAL + min(60.0, max(2.0 * cut, 2.0 * INTERVAL))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pair")
    threads = [threading.Thread(target=build_node, args=(root / c, c)) for c in ("TUN", "DZA")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return root


@dataclass
class Pair:
    tun: Server
    dza: Server
    to_tun: FaultProxy      # DZA -> TUN (pulls)
    to_dza: FaultProxy      # TUN -> DZA (notifications)

    def cut(self, cut: bool) -> None:
        self.to_tun.set_cut(cut)
        self.to_dza.set_cut(cut)

    def expected(self) -> set[str]:
        return released_to(self.tun.data, "DZA")

    def converged(self) -> bool:
        return partner_report_ids(self.dza.data) == self.expected()

    def assert_exactly_once(self) -> None:
        """DZA holds exactly the released set; its cursor is TUN's last item; nothing rejected."""
        assert partner_report_ids(self.dza.data) == self.expected()
        (tun_id,) = db_rows(self.tun.data, "SELECT value FROM meta WHERE name = 'node_id'")[0]
        (last,) = db_rows(self.tun.data, "SELECT COALESCE(MAX(stream_seq), 0) FROM outbox WHERE partner = 'DZA'")[0]
        cursor = db_rows(self.dza.data, "SELECT stream_seq FROM inbound WHERE origin = ?", (tun_id,))
        assert cursor and cursor[0][0] == last
        # each item that TUN sent as an entry is held once (UNIQUE (origin, seq) would refuse a second copy)
        sent_entries = {r[0] for r in db_rows(self.tun.data, "SELECT entry_seq FROM outbox WHERE partner = 'DZA' "
                                                            "AND kind = 'entry'")}
        held = [r[0] for r in db_rows(self.dza.data, "SELECT seq FROM log WHERE origin = ?", (tun_id,))]
        assert len(held) == len(set(held)) and set(held) <= sent_entries
        dup_versions = db_rows(self.dza.data, "SELECT report_id, version FROM report_versions "
                                              "GROUP BY report_id, version HAVING COUNT(*) > 1")
        assert dup_versions == []
        rejected = db_rows(self.dza.data, "SELECT detail FROM audit WHERE direction = 'in' AND decision = 'rejected'")
        assert rejected == [], rejected[:3]


@contextmanager
def pair(template: Path, tmp_path: Path, prepare: Callable[[Pair], None] | None = None) -> Iterator[Pair]:
    """TUN and DZA partnered through their proxies (servers not started); `prepare` runs
    before anything is served."""
    for c in ("TUN", "DZA"):
        shutil.copytree(template / c, tmp_path / c)
    settings = {"sync_interval": INTERVAL}
    tun = Server(tmp_path / "TUN", free_port(), tmp_path / "tun.log", settings)
    dza = Server(tmp_path / "DZA", free_port(), tmp_path / "dza.log", settings)
    to_tun = FaultProxy(tun.port, seed=1).start()
    to_dza = FaultProxy(dza.port, seed=2).start()
    keys = {}
    for c, s in (("TUN", tun), ("DZA", dza)):
        node = open_node(s.data)
        keys[c] = node.key.public
        node.close()
    for s, other, proxy in ((tun, "DZA", to_dza), (dza, "TUN", to_tun)):
        node = open_node(s.data)
        node.federation.add_partner(country=other, url=f"http://127.0.0.1:{proxy.port}", key=keys[other])
        node.close()
    p = Pair(tun, dza, to_tun, to_dza)
    try:
        if prepare is not None:
            prepare(p)
        yield p
    finally:
        for s in (tun, dza):
            s.kill()
        to_tun.stop()
        to_dza.stop()


def finish(p: Pair) -> None:
    """Lag 0 at TUN (`fossatum sync status`), then both nodes stopped and verified."""
    def lag_zero() -> bool:
        return sync_status(p.tun.data)["DZA"]["lag"] == "0"
    wait_for(lag_zero, 15.0, interval=0.5, what="lag 0 at TUN for DZA")
    p.assert_exactly_once()
    for s in (p.tun, p.dza):
        s.stop()
        result = verify(s.data)
        assert result.returncode == 0, result.stdout + result.stderr


def test_drops_delays_duplicates_replays_and_a_cut_lose_and_duplicate_nothing(template: Path, tmp_path: Path,
                                                                           cut_seconds: float = CUT_SECONDS) -> None:
    with pair(template, tmp_path) as p:
        p.tun.start()
        p.dza.start()
        for proxy in (p.to_tun, p.to_dza):
            proxy.faults.drop_before = 0.15
            proxy.faults.drop_after = 0.2
            proxy.faults.delay = 0.02
            proxy.faults.jitter = 0.2
            proxy.faults.duplicate = 0.3
            proxy.faults.replay = 0.3
            proxy.faults.forced = {"drop_before", "drop_after", "duplicate", "replay"}
        with p.tun.client("tun.officer") as t:
            ids = []
            for i in range(24):
                audience = ({"scope": "all_partners"}, {"scope": "partners", "partners": ["DZA"]},
                            {"scope": "national"})[i % 3]
                ids.append(file_and_validate(t, i, **audience))
            # two are narrowed again after release (tombstones through the faulty link)
            for rid in ids[:2]:
                assert t.patch(f"/api/v1/reports/{rid}", json={"audience": {"scope": "national"}}).status_code == 200
            assert len(p.expected()) == 14
            wait_for(p.converged, 30.0, interval=0.2, what="DZA to converge through the faulty link")
            stats = p.to_tun.stats
            assert stats["dropped_before"] and stats["dropped_after"] and stats["duplicated"] and stats["replayed"], stats
            p.assert_exactly_once()

            # the link is cut; reports filed meanwhile wait; nothing arrives
            for proxy in (p.to_tun, p.to_dza):
                proxy.faults.clear()
            p.cut(True)
            during = [file_and_validate(t, 100 + i) for i in range(10)]
            time.sleep(cut_seconds)
            assert not set(during) & partner_report_ids(p.dza.data)
            lag = sync_status(p.tun.data)["DZA"]
            assert int(lag["lag"]) >= 10, lag
            p.cut(False)
            back = time.monotonic()
            bound = backoff_bound(cut_seconds)
            wait_for(p.converged, bound + 5.0, interval=0.1, what="DZA to catch up after the cut")
            took = time.monotonic() - back
            assert took <= bound, f"caught up {took:.1f} s after the link returned (bound {bound:.1f} s)"
            assert set(during) <= partner_report_ids(p.dza.data)
        finish(p)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


class Poster(threading.Thread):
    """Files and validates reports through the API until stopped or the server dies."""

    def __init__(self, server: Server, start: int) -> None:
        super().__init__(daemon=True)
        self.client = server.client("tun.officer")
        self.start_no = start
        self.validated: list[str] = []
        self.errors: list[str] = []
        self.ended_by: str = ""   # why it stopped filing: the server died under it, or an error
        self.stop = threading.Event()

    def run(self) -> None:
        with self.client as c:
            for i in range(self.start_no, self.start_no + 5000):
                if self.stop.is_set():
                    return
                try:
                    filed = c.post("/api/v1/reports", json=report_body(i))
                    if filed.status_code != 201:
                        self.errors.append(filed.text[:200])
                        return
                    done = c.post(f"/api/v1/reports/{filed.json()['id']}/validate")
                except httpx.HTTPError as exc:
                    self.ended_by = repr(exc)   # the server died under us (or, before the kill, a failure)
                    return
                if done.status_code == 200:
                    self.validated.append(filed.json()["id"])
                else:
                    self.errors.append(done.text[:200])


def test_kill_9_of_the_sender_while_it_files_and_sends(template: Path, tmp_path: Path) -> None:
    with pair(template, tmp_path) as p:
        p.tun.start()
        p.dza.start()
        acknowledged: list[str] = []
        for round_no in range(2):
            base = len(partner_report_ids(p.dza.data))
            poster = Poster(p.tun, 1000 * round_no)
            poster.start()
            # kill once DZA is receiving: TUN is mid-batch (filing, releasing, serving). The wait
            # is generous (a loaded CI machine); a poster that stopped before the kill fails at once.
            def receiving(poster: Poster = poster, base: int = base, round_no: int = round_no) -> bool:
                assert poster.is_alive(), (f"round {round_no}: TUN's poster stopped before the kill: "
                                           f"{poster.ended_by or poster.errors}")
                return len(partner_report_ids(p.dza.data)) > base + 5
            try:
                wait_for(receiving, 60.0, interval=0.05, what=f"DZA receiving while TUN files (round {round_no})")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{len(poster.validated)} validated at TUN, "
                                     f"{len(partner_report_ids(p.dza.data)) - base} received at DZA\n"
                                     f"--- TUN log ---\n{tail(p.tun.log)}\n--- DZA log ---\n{tail(p.dza.log)}") from None
            time.sleep(0.3)
            p.tun.kill()
            poster.stop.set()
            poster.join(15)
            assert not poster.is_alive() and poster.errors == []
            acknowledged += poster.validated
            p.tun.start()
        assert set(acknowledged) <= p.expected()    # every acknowledged validation survived the kill
        wait_for(p.converged, 30.0, interval=0.1, what="DZA to converge after TUN's restarts")
        assert set(acknowledged) <= partner_report_ids(p.dza.data)
        finish(p)


BACKLOG = 2000


def test_kill_9_of_the_receiver_while_it_pulls_a_large_backlog(template: Path, tmp_path: Path) -> None:
    def backlog(p: Pair) -> None:
        """Filed and validated at TUN while neither node serves (the link is down)."""
        node = open_node(p.tun.data)
        try:
            officer = node.store.user("tun.officer")
            node.file_reports(actor=officer, specs=[ReportIn.model_validate(report_body(i)) for i in range(BACKLOG)])
            for (rid,) in node.store._reader().execute("SELECT id FROM reports").fetchall():
                node.transition(actor=officer, report_id=rid, action="validate")
        finally:
            node.close()

    with pair(template, tmp_path, backlog) as p:
        assert len(p.expected()) == BACKLOG
        p.to_tun.faults.delay = 0.7          # a slow link: each page of 500 takes its time
        p.tun.start()
        p.dza.start()
        for kills in range(2):
            wait_for(lambda: len(partner_report_ids(p.dza.data)) > 500 * kills, 30.0, interval=0.02,  # noqa: B023 (called before the loop moves on)
                     what="DZA receiving the backlog")
            held = len(partner_report_ids(p.dza.data))
            p.dza.kill()
            assert held < BACKLOG, "the backlog arrived before the kill: the test proved nothing"
            p.dza.start()
        p.to_tun.faults.delay = 0.0
        wait_for(p.converged, 30.0, interval=0.2, what="DZA to hold the whole backlog")
        assert len(partner_report_ids(p.dza.data)) == BACKLOG
        finish(p)
