"""`fossatum serve --workers N`: one port, N API worker processes of one node.

The supervisor binds the port once and starts N worker processes (spawned: each opens the
node, its connection pool and its threads itself, nothing is inherited but the listening
socket); the kernel hands each new connection to one of them. Worker 1 also runs the
federation worker and the TAK gateway, so that exactly one process pulls from partners and
holds the devices' connections; the others pass partners' notices on to it. Live pushes
(websocket, TAK) and the federation hear every worker's commits through PostgreSQL: an
empty NOTIFY wakes the others, who read what changed from the store (store/pg_notices.py),
so several workers need PostgreSQL: a SQLite node has no cross-process
notification and is refused with one line.

A worker that dies is started again (one log line; a worker that keeps dying at start-up is
retried with a growing pause). Ctrl-C or SIGTERM stops every worker gracefully (SIGKILL
after `STOP_SECONDS`). Workers stop by themselves if the supervisor disappears.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import click

from . import runtime
from .errors import FossatumError
from .federation.tls import serving_context
from .settings import Settings

STOP_SECONDS = 10.0
START_SECONDS = 60.0  # a worker imports the app and opens its pool: seconds on a loaded machine
BACKLOG = 2048  # connections wait here while a worker (re)starts
STEADY_SECONDS = 30.0  # a worker that lived this long is not "dying at start-up"
MAX_PAUSE = 30.0


def _say(line: str) -> None:
    click.echo(f"fossatum: {line}")
    sys.stdout.flush()


@dataclass
class _Slot:
    index: int
    process: SpawnProcess
    ready: Event  # set once the worker accepts connections
    started: float
    failures: int = 0
    restart_at: float = 0.0


class Supervisor:
    def __init__(self, data_dir: Path, settings: Settings, *, cot: list[str]) -> None:
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.cot = cot
        self.count: int = settings.workers
        self._context = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._slots: list[_Slot] = []
        self.tls = False

    def run(self) -> None:
        if not self.settings.database_url:
            raise FossatumError(
                f"--workers {self.count} needs PostgreSQL (--database-url or FOSSATUM_DATABASE_URL): "
                "the workers of a SQLite node would not see each other's changes; serve it with --workers 1")
        node_line = self._check_node()
        host, port = self.settings.host, self.settings.port
        sock = runtime.listening_socket(host, port)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            sock.listen(BACKLOG)
            self._slots = [self._start(i, sock) for i in range(1, self.count + 1)]
            if not self._wait_ready():
                raise click.exceptions.Exit(1)  # the worker printed its one line
            if self._stop.is_set():
                return
            click.echo(f"{node_line} at {runtime.base_url(host, port, self.tls)} with {self.count} workers "
                       f"(pids {', '.join(str(s.process.pid) for s in self._slots)})")
            sys.stdout.flush()
            while not self._stop.wait(0.2):
                for slot in self._slots:
                    self._watch(slot, sock)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sock.close()

    def _check_node(self) -> str:
        """Open the node once here: a bad URL, a missing node or a schema to migrate is dealt
        with (one clear line) before any worker starts."""
        with runtime.open_serving_node(self.data_dir, self.settings) as node:
            # TLS files are checked (and tls-auto.pem made) once, before the workers read them
            self.tls = serving_context(self.settings, node.data_dir, node.key, node.node_id, self.settings.host) is not None
            return f"Fossatum node {node.node_id} ({node.name})"

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stop.set()

    def _start(self, index: int, sock: socket.socket) -> _Slot:
        ready = self._context.Event()
        process = self._context.Process(
            target=work, name=f"fossatum-worker-{index}", daemon=False,
            args=(index, str(self.data_dir), dict(self.settings.values), sock, self.cot if index == 1 else [],
                  os.getpid(), ready))
        process.start()
        return _Slot(index, process, ready, time.monotonic())

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_SECONDS
        while not self._stop.is_set() and time.monotonic() < deadline:
            if any(not s.process.is_alive() and not s.ready.is_set() for s in self._slots):
                return False
            if all(s.ready.is_set() for s in self._slots):
                return True
            time.sleep(0.05)
        if not self._stop.is_set():  # stopped while starting is no error of a worker
            raise FossatumError(f"the workers did not start within {START_SECONDS:.0f} s")
        return True

    def _watch(self, slot: _Slot, sock: socket.socket) -> None:
        now = time.monotonic()
        if slot.process.is_alive():
            if slot.failures and now - slot.started > STEADY_SECONDS:
                slot.failures = 0
            return
        if slot.restart_at == 0.0:
            code = slot.process.exitcode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            if now - slot.started < STEADY_SECONDS:
                slot.failures += 1
            pause = 0.0 if slot.failures <= 1 else min(MAX_PAUSE, 2.0 ** (slot.failures - 1))
            slot.restart_at = now + pause
            _say(f"worker {slot.index} (pid {slot.process.pid}) {how}; restarting it"
                 + (f" in {pause:.0f} s" if pause else ""))
        if now >= slot.restart_at:
            fresh = self._start(slot.index, sock)
            slot.process, slot.ready, slot.started, slot.restart_at = fresh.process, fresh.ready, fresh.started, 0.0
            _say(f"worker {slot.index} restarted (pid {slot.process.pid})")

    def _stop_all(self) -> None:
        for slot in self._slots:
            if slot.process.is_alive() and slot.process.pid is not None:
                os.kill(slot.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                _say(f"worker {slot.index} (pid {slot.process.pid}) did not stop in {STOP_SECONDS:.0f} s; killing it")
                slot.process.kill()
                slot.process.join(5)


def work(index: int, data_dir: str, values: dict[str, Any], sock: socket.socket, cot: list[str],
         supervisor: int, ready: Event) -> None:
    """A worker process: open the node, serve on the supervisor's socket until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's (see runtime.serve)
    # The DBA sees which worker holds a connection (pg_stat_activity.application_name), unless
    # the URL or the environment names the application already.
    os.environ.setdefault("PGAPPNAME", f"fossatum-worker-{index}")
    threading.Thread(target=_orphan_watch, args=(supervisor,), name="supervisor-watch", daemon=True).start()
    settings = Settings(values)
    try:
        node = runtime.open_serving_node(Path(data_dir), settings)
    except FossatumError as exc:
        click.echo(f"error: worker {index}: {exc}", err=True)
        sys.exit(1)
    with node:
        try:
            runtime.serve(node, settings.host, settings.port, cot=cot, sock=sock, worker=index,
                          federation=index == 1, ready=ready.set)
        except (FossatumError, OSError) as exc:  # e.g. the TAK gateway's port is in use
            click.echo(f"error: worker {index}: {exc}", err=True)
            sys.exit(1)


def _orphan_watch(supervisor: int) -> None:
    """Stop (gracefully) when the supervisor is gone, e.g. killed with SIGKILL."""
    while os.getppid() == supervisor:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
