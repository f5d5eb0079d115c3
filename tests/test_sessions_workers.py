"""Sessions and the login throttle across the workers of `fossatum serve --workers 2` (PostgreSQL).

A logout, a password change (from the CLI, a third process) or a disabled account made through
one worker ends, within 2 s, the user's websockets on every worker and the TAK device held by
worker 1's gateway: each process's session watcher polls the store's revocations. Failed
logins counted by one worker block the address on the other; X-Forwarded-For from an
untrusted peer is ignored by the real server (uvicorn's proxy headers off).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing

import httpx
import pytest

from conftest import PASSWORD
from federation.procs import FOSSATUM, env, wait_for
from pg_databases import PgDatabases
from test_workers import HEADER, TRIES, Live, Served, _index, client_on, live_on, serve_two_workers

pytestmark = pytest.mark.slow

LIMIT = 2.0
NEW_PASSWORD = "battery-staple-2"


@pytest.fixture(scope="module")
def served(pg_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_two_workers(pg_databases, tmp_path_factory, "sessions_workers",
                                 # waits long enough to outlast a login on a loaded machine (1 s by default)
                                 login_first_wait=120)


def _device(served: Served, username: str, uid: str, password: str = PASSWORD) -> socket.socket:
    """A TAK device logged in with a password on worker 1's gateway (admitted once it is sent the offer)."""
    sock = socket.create_connection(("127.0.0.1", served.cot_port), timeout=30)
    sock.sendall(f'<auth><cot username="{username}" password="{password}" uid="{uid}" callsign="{uid}"/></auth>'
                 .encode())
    data = b""
    deadline = time.monotonic() + 30
    while b"</event>" not in data:
        assert time.monotonic() < deadline, "the device was not admitted"
        chunk = sock.recv(65536)
        assert chunk, f"the gateway closed the device's connection: {served.log[-2000:]}"
        data += chunk
    return sock


def _device_closed(sock: socket.socket, seconds: float) -> None:
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while sock.recv(65536):
            assert time.monotonic() < deadline, "the device is still connected"
    except TimeoutError:
        raise AssertionError(f"the device is still connected after {seconds} s") from None
    except ConnectionError:
        pass


def _closed(live: Live, seconds: float) -> None:
    wait_for(lambda: live.ws.close_code is not None, seconds, interval=0.02, what=f"websocket on {live.worker} closed")
    assert live.ws.close_code == 4401
    assert live.got and live.got[-1][1]["type"] == "session.ended", live.got[-3:]


def _login(served: Served, worker: int, username: str, password: str, *, local: str = "127.0.0.1",
           forwarded: str | None = None) -> int:
    """A login through `worker` from the source address `local` (a loopback alias)."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    for _ in range(TRIES):
        with httpx.Client(base_url=served.server.base, timeout=30,
                          transport=httpx.HTTPTransport(local_address=local)) as client:
            if _index(client.get("/api/v1/health").headers[HEADER]) != worker:
                continue
            return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                               headers=headers).status_code
    raise AssertionError(f"no connection reached worker {worker}")


def test_logout_everywhere_through_worker_2_ends_websockets_on_both_workers_and_the_tak_device(served: Served) -> None:
    with ExitStack() as stack:
        on_1, on_2 = live_on(stack, served, 1, "sami"), live_on(stack, served, 2, "sami")
        device = _device(served, "sami", "ANDROID-sw-sami")
        with closing(device), closing(client_on(served, 2, "sami")) as sami_2:
            started = time.monotonic()
            assert sami_2.post("/api/v1/auth/logout", params={"everywhere": "true"}).status_code == 204
            _closed(on_1, LIMIT)
            _closed(on_2, LIMIT)
            _device_closed(device, max(0.1, LIMIT - (time.monotonic() - started)))
            assert time.monotonic() - started < LIMIT + 0.3
            assert on_1.got[-1][1]["reason"] == "logout_everywhere"


def test_a_password_changed_from_the_cli_ends_every_channel_and_the_old_password_is_refused(served: Served) -> None:
    with ExitStack() as stack:
        on_1, on_2 = live_on(stack, served, 1, "leila"), live_on(stack, served, 2, "leila")
        device = _device(served, "leila", "ANDROID-sw-leila")
        with closing(device):
            started = time.monotonic()
            done = subprocess.run([*FOSSATUM, "user", "passwd", "--data", str(served.server.data), "--username",
                                   "leila", "--password-stdin"], input=NEW_PASSWORD + "\n", capture_output=True,
                                  text=True, timeout=60, env=env(database_url=served.url))
            assert done.returncode == 0, done.stderr
            changed = time.monotonic()  # the CLI's own start-up is not the node's doing
            _closed(on_1, LIMIT)
            _closed(on_2, LIMIT)
            _device_closed(device, max(0.1, LIMIT - (time.monotonic() - changed)))
            assert changed - started < 60
        assert _login(served, 1, "leila", PASSWORD, local="127.0.0.3") == 401
        assert _login(served, 2, "leila", NEW_PASSWORD, local="127.0.0.3") == 200
        refused = socket.create_connection(("127.0.0.1", served.cot_port), timeout=30)
        with closing(refused):
            refused.sendall(f'<auth><cot username="leila" password="{PASSWORD}" uid="ANDROID-sw-leila"/></auth>'
                            .encode())
            _device_closed(refused, 10)


def test_an_account_disabled_through_worker_1_is_cut_off_on_worker_2_and_the_gateway(served: Served) -> None:
    with ExitStack() as stack:
        on_2 = live_on(stack, served, 2, "youssef")
        device = _device(served, "youssef", "ANDROID-sw-youssef")
        with closing(device), closing(client_on(served, 1, "admin")) as admin_1:
            assert admin_1.post("/api/v1/users/youssef/disable").status_code == 200
            _closed(on_2, LIMIT)
            _device_closed(device, LIMIT)
            assert on_2.got[-1][1]["reason"] == "disabled"
            assert _login(served, 2, "youssef", PASSWORD, local="127.0.0.4") == 401
            assert admin_1.post("/api/v1/users/youssef/enable").status_code == 200
        assert _login(served, 2, "youssef", PASSWORD, local="127.0.0.4") == 200


def test_failures_counted_by_one_worker_block_the_address_on_the_other_but_not_the_officer(served: Served) -> None:
    # From 127.0.0.1, alternating workers, each with a forged X-Forwarded-For: the peer counts.
    statuses = [_login(served, 1 + i % 2, "omar", f"guess-{i}", forwarded=f"192.0.2.{i}") for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    assert _login(served, 1, "omar", PASSWORD) == 429 and _login(served, 2, "omar", PASSWORD) == 429
    assert _login(served, 2, "omar", PASSWORD, local="127.0.0.5") == 200  # the officer, from elsewhere
