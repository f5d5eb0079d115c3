"""A session ends everywhere: logout, a password change, a disabled account and expiry close
every live channel of the user within 2 s — websockets (code 4401 after a `session.ended`
message) and TAK devices that logged in with the password — on SQLite and PostgreSQL.

Each test replays finding 5 of issue 10 through a real websocket (uvicorn on loopback) and a
real TAK socket; a change made by another process (`fossatum user passwd` / `disable`) is
played by a second node object on the same store, or by the CLI itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD, sighting
from cot.harness import Device, event, eventually, start
from fossatum.domain.timeutil import utcnow
from fossatum.node import Node, open_node
from live_server import Live, Served, serve

pytestmark = pytest.mark.both_backends

NEW_PASSWORD = "battery-staple-2"
LIMIT = 2.0  # seconds: every live channel of the user is closed within this


def _released(served: Served, token: str) -> str:
    """A national report, validated by amira: every Tunisian account may see it."""
    created = served.http.post("/api/v1/reports", json=sighting(audience={"scope": "national"}),
                               headers=served.as_user(token))
    assert created.status_code == 201, created.text
    report_id = str(created.json()["id"])
    assert served.http.post(f"/api/v1/reports/{report_id}/validate", headers=served.as_user(token)).status_code == 200
    return report_id


def _other_process(node: Node) -> Node:
    """The same node opened again, as `fossatum user passwd` would from another process."""
    url = getattr(node.store, "url", None)
    return open_node(Path(node.store.path).parent, database_url=url)


def _ended(live: Live) -> dict[str, Any]:
    assert live.close_code == 4401, live.close_code
    last = live.got[-1]
    assert last["type"] == "session.ended", live.got[-3:]
    return last


def test_logout_closes_the_token_s_websocket_and_nothing_is_pushed_after_it(node: Node) -> None:
    with serve(node) as served:
        amira = served.token("amira")
        youssef = served.token("youssef")
        live = Live.open(served, youssef)
        _released(served, amira)  # pushed while the session lives
        assert served.http.post("/api/v1/auth/logout", headers=served.as_user(youssef)).status_code == 204
        after = _released(served, amira)
        assert live.wait_closed(LIMIT) < LIMIT
        assert _ended(live)["reason"] == "logout"
        assert after not in live.ids()  # the finding: released reports kept arriving after logout
        assert served.http.get("/api/v1/me", headers=served.as_user(youssef)).status_code == 401


def test_logout_of_one_token_keeps_the_user_s_other_sessions_and_everywhere_ends_them(node: Node) -> None:
    with serve(node) as served:
        first, second, third = (served.token("leila") for _ in range(3))
        live_first, live_second = Live.open(served, first), Live.open(served, second)
        assert served.http.post("/api/v1/auth/logout", headers=served.as_user(first)).status_code == 204
        live_first.wait_closed(LIMIT)
        assert live_second.still_open(0.8)
        assert served.http.get("/api/v1/me", headers=served.as_user(second)).status_code == 200
        assert served.http.post("/api/v1/auth/logout?everywhere=true",
                                headers=served.as_user(third)).status_code == 204
        assert live_second.wait_closed(LIMIT) < LIMIT
        assert _ended(live_second)["reason"] == "logout_everywhere"
        for token in (second, third):
            assert served.http.get("/api/v1/me", headers=served.as_user(token)).status_code == 401


def test_a_password_change_from_another_process_ends_websockets_and_tak_devices(node: Node) -> None:
    with serve(node) as served:
        sami = served.token("sami")
        live = Live.open(served, sami)

        async def scenario() -> None:
            server, port = await start(node)
            other = _other_process(node)
            try:
                device = await Device.connect(port, "sami", "ANDROID-sami-pw")
                await eventually(lambda: any(c.user is not None and c.user.username == "sami" for c in server.clients))
                started = time.monotonic()
                await asyncio.to_thread(other.set_password, actor=None, username="sami", password=NEW_PASSWORD)
                await device.wait_closed(LIMIT)
                await device.close()
                assert time.monotonic() - started < LIMIT + 0.5
                assert await asyncio.to_thread(live.wait_closed, LIMIT) < LIMIT
                assert server.counters["sessions_ended"] == 1
                # The old password is refused; the device cannot file markers any more.
                again = await Device.connect(port, "sami", "ANDROID-sami-pw")
                await again.send(event("ANDROID-sami-pw.marker-1", "a-h-G", remarks="after the change"))
                await again.wait_closed(5)
                await again.close()
                fresh = await Device.connect(port, "sami", "ANDROID-sami-pw", password=NEW_PASSWORD)
                await eventually(lambda: any(c.user is not None and c.user.username == "sami" and not c.closed
                                             for c in server.clients))
                await fresh.close()
            finally:
                other.close()
                await server.stop()

        asyncio.run(scenario())
        assert _ended(live)["reason"] == "password_changed"
        assert served.http.get("/api/v1/me", headers=served.as_user(sami)).status_code == 401
        markers = node.store.read("SELECT COUNT(*) FROM reports WHERE doc LIKE ?", ("%after the change%",), system=True)
        assert markers[0][0] == 0


def test_disabling_an_account_ends_everything_and_refuses_its_logins_until_enabled(node: Node) -> None:
    with serve(node) as served:
        admin, sami = served.token("admin"), served.token("sami")
        live = Live.open(served, sami)

        async def scenario() -> None:
            server, port = await start(node)
            try:
                device = await Device.connect(port, "sami", "ANDROID-sami-off")
                await eventually(lambda: any(c.user is not None for c in server.clients))
                response = await asyncio.to_thread(served.http.post, "/api/v1/users/sami/disable",
                                                   headers=served.as_user(admin))
                assert response.status_code == 200 and response.json()["active"] is False, response.text
                await device.wait_closed(LIMIT)
                await device.close()
                assert await asyncio.to_thread(live.wait_closed, LIMIT) < LIMIT
                refused = await Device.connect(port, "sami", "ANDROID-sami-off")
                await refused.wait_closed(5)
                await refused.close()
                assert server.counters["auth_failures"] >= 1
            finally:
                await server.stop()

        asyncio.run(scenario())
        assert _ended(live)["reason"] == "disabled"
        login = served.http.post("/api/v1/auth/token", json={"username": "sami", "password": PASSWORD})
        assert login.status_code == 401 and login.headers["content-type"] == "application/problem+json"
        assert served.http.post("/api/v1/users/sami/enable", headers=served.as_user(admin)).json()["active"] is True
        assert served.token("sami")


def test_only_an_admin_may_disable_or_enable_and_not_their_own_account(node: Node) -> None:
    with serve(node) as served:
        amira, admin = served.token("amira"), served.token("admin")
        refused = served.http.post("/api/v1/users/sami/disable", headers=served.as_user(amira))
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        assert served.http.post("/api/v1/users/nobody/disable", headers=served.as_user(admin)).status_code == 404
        assert served.http.post("/api/v1/users/admin/disable", headers=served.as_user(admin)).status_code == 409
        assert served.http.get("/api/v1/me", headers=served.as_user(amira)).status_code == 200


def test_a_self_service_password_change_ends_the_other_sessions_and_returns_a_new_token(node: Node) -> None:
    with serve(node) as served:
        old, elsewhere = served.token("leila"), served.token("leila")
        live = Live.open(served, elsewhere)
        wrong = served.http.post("/api/v1/auth/password", headers=served.as_user(old),
                                 json={"current_password": "not-it-at-all", "new_password": NEW_PASSWORD})
        assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
        short = served.http.post("/api/v1/auth/password", headers=served.as_user(old),
                                 json={"current_password": PASSWORD, "new_password": "short"})
        assert short.status_code == 422 and short.json()["field"] == "new_password"
        changed = served.http.post("/api/v1/auth/password", headers=served.as_user(old),
                                   json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert changed.status_code == 200, changed.text
        assert live.wait_closed(LIMIT) < LIMIT
        assert _ended(live)["reason"] == "password_changed"
        for token in (old, elsewhere):
            assert served.http.get("/api/v1/me", headers=served.as_user(token)).status_code == 401
        fresh = changed.json()["access_token"]
        assert served.http.get("/api/v1/me", headers=served.as_user(fresh)).json()["username"] == "leila"
        assert served.token("leila", NEW_PASSWORD)


def test_a_websocket_never_outlives_its_token(node: Node) -> None:
    with serve(node) as served:
        token = served.token("amira")
        live = Live.open(served, token)
        assert live.still_open(0.6)
        later = utcnow() + timedelta(hours=node.settings.session_hours, minutes=1)
        node.clock = lambda: later  # the shift is over
        assert live.wait_closed(LIMIT) < LIMIT
        assert _ended(live)["reason"] == "expired"
        assert served.http.get("/api/v1/me", headers=served.as_user(token)).status_code == 401


def test_the_cli_disables_and_enables_an_account_of_a_running_node(node: Node) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    url = getattr(node.store, "url", None)
    if url:
        env["FOSSATUM_DATABASE_URL"] = url
    data = str(Path(node.store.path).parent)
    fossatum = [sys.executable, "-c", "from fossatum.cli import main; main()"]
    with serve(node) as served:
        live = Live.open(served, served.token("youssef"))
        done = subprocess.run([*fossatum, "user", "disable", "--data", data, "--username", "youssef"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert live.wait_closed(LIMIT) < LIMIT
        assert _ended(live)["reason"] == "disabled"
        missing = subprocess.run([*fossatum, "user", "disable", "--data", data, "--username", "nobody"],
                                 capture_output=True, text=True, env=env, timeout=60)
        assert missing.returncode != 0 and missing.stderr.strip().count("\n") == 0 and "nobody" in missing.stderr
        assert subprocess.run([*fossatum, "user", "enable", "--data", data, "--username", "youssef"],
                              capture_output=True, text=True, env=env, timeout=60).returncode == 0
        assert served.token("youssef")


def test_a_revocation_is_handed_to_each_watcher_once_and_old_ones_are_not_replayed(node: Node) -> None:
    from fossatum.sessions import SessionWatcher

    node.set_password(actor=None, username="sami", password=NEW_PASSWORD)  # before the watcher starts
    watcher = SessionWatcher(node.store)
    assert watcher.poll() == []  # a later login of sami is not ended by it
    node.set_user_active(actor=None, username="omar", active=False)
    (fresh,) = watcher.poll()
    assert (fresh.username, fresh.reason, fresh.token_hash) == ("omar", "disabled", None)
    assert watcher.poll() == []
