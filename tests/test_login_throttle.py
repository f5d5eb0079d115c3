"""The login throttle (finding 11 of issue 10): per address and per account + address, in the
store (shared by every worker of a node), never per account alone; X-Forwarded-For believed
only from FOSSATUM_TRUSTED_PROXIES; a refusal is 429 problem+json with Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD
from fossatum import throttle
from fossatum.api.app import create_app
from fossatum.errors import InvalidInput, TooManyRequests
from fossatum.node import Node, open_node
from fossatum.settings import load

pytestmark = pytest.mark.both_backends

ATTACKER = "203.0.113.66"
OFFICER = "198.51.100.7"
PROXY = "10.0.0.2"


def _client(node: Node, address: str) -> TestClient:
    return TestClient(create_app(node), client=(address, 40000))


def _login(client: TestClient, username: str, password: str, **headers: str) -> int:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password}, headers=headers)
    if response.status_code == 429:
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["status"] == 429
    return response.status_code


def _flood(client: TestClient, username: str, times: int, **headers: str) -> list[int]:
    return [_login(client, username, f"guess-{i}-wrong", **headers) for i in range(times)]


@pytest.fixture(autouse=True)
def blocks_outlast_a_slow_login(node: Node) -> None:
    """A wait of 1 s (the default) expired between two logins of a loaded machine once: 600 s here."""
    node.throttle.first_wait = 600


@pytest.fixture
def second_worker(node: Node) -> Iterator[Node]:
    """The same node opened again: another worker process of it, sharing only the store."""
    other = open_node(Path(node.store.path).parent, database_url=getattr(node.store, "url", None))
    yield other
    other.close()


def test_a_flood_from_one_address_never_locks_the_officer_out_from_another(node: Node) -> None:
    attacker, officer = _client(node, ATTACKER), _client(node, OFFICER)
    statuses = _flood(attacker, "amira", 12)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429  # the attacker's address waits
    assert _login(attacker, "amira", PASSWORD) == 429  # even the right password: that address is blocked
    assert _login(officer, "amira", PASSWORD) == 200  # the finding: the officer got 429 here


def test_an_address_spraying_many_usernames_is_blocked_for_all_of_them(node: Node) -> None:
    attacker, officer = _client(node, ATTACKER), _client(node, OFFICER)
    free = node.throttle.free * throttle.ADDRESS_FACTOR
    for i in range(free):
        _login(attacker, ["amira", "sami", "youssef", "leila", "karim", "omar"][i % 6], "wrong-password")
    assert _login(attacker, "admin", PASSWORD) == 429
    assert _login(officer, "admin", PASSWORD) == 200


def test_the_counts_are_shared_by_every_worker_of_the_node(node: Node, second_worker: Node) -> None:
    on_first, on_second = _client(node, ATTACKER), _client(second_worker, ATTACKER)
    _flood(on_first, "youssef", node.throttle.free)
    assert _login(on_second, "youssef", "another-guess") == 429  # was per process: a fresh count
    assert _login(_client(second_worker, OFFICER), "youssef", PASSWORD) == 200


def test_a_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored(node: Node) -> None:
    attacker = _client(node, ATTACKER)
    statuses = [_login(attacker, "leila", "wrong-password", **{"X-Forwarded-For": f"192.0.2.{i}"})
                for i in range(node.throttle.free + 2)]
    assert statuses[-1] == 429  # rotating the header does not give a fresh count


def test_x_forwarded_for_is_believed_from_a_trusted_proxy(node: Node) -> None:
    node.settings = load({}, trusted_proxies=f"{PROXY}, 10.1.0.0/16")
    proxy = _client(node, PROXY)
    assert _flood(proxy, "leila", node.throttle.free + 1, **{"X-Forwarded-For": ATTACKER})[-1] == 429
    # The officer behind the same proxy is another client, not the proxy's blocked address.
    assert _login(proxy, "leila", PASSWORD, **{"X-Forwarded-For": f"{OFFICER}, 10.1.4.4"}) == 200
    # A client cannot hide behind a left-most entry it wrote itself: the proxy appends the peer.
    assert _login(proxy, "leila", "wrong-again", **{"X-Forwarded-For": f"{OFFICER}, {ATTACKER}"}) == 429


def test_a_guess_spread_over_many_addresses_refuses_only_addresses_the_account_never_used(node: Node) -> None:
    home = _client(node, OFFICER)
    assert _login(home, "karim", PASSWORD) == 200  # an address karim has used
    for i in range(throttle.SPREAD):
        assert _login(_client(node, f"192.0.2.{i + 1}"), "karim", "wrong-password") == 401
    assert _login(_client(node, "192.0.2.200"), "karim", PASSWORD) == 429
    assert _login(home, "karim", PASSWORD) == 200


def test_wrong_current_passwords_in_a_password_change_are_throttled_too(node: Node) -> None:
    client = _client(node, ATTACKER)
    token = client.post("/api/v1/auth/token", json={"username": "omar", "password": PASSWORD}).json()["access_token"]
    statuses = [client.post("/api/v1/auth/password", headers={"Authorization": f"Bearer {token}"},
                            json={"current_password": f"guess-{i}", "new_password": "whatever-long"}).status_code
                for i in range(node.throttle.free + 1)]
    assert statuses[:node.throttle.free] == [401] * node.throttle.free and statuses[-1] == 429


def test_a_malformed_trusted_proxies_setting_is_refused_at_start(node: Node) -> None:
    node.settings = load({}, trusted_proxies="10.0.0.2, not-an-address")
    with pytest.raises(InvalidInput, match="not-an-address"):
        create_app(node)


def test_the_first_wait_is_a_setting_and_doubles_with_each_further_failure(node: Node) -> None:
    now = [1_000_000.0]
    guard = throttle.LoginThrottle(node.store, free=2, first_wait=30, clock=lambda: now[0])
    for _ in range(2):
        guard.check("omar", ATTACKER)
        guard.failed("omar", ATTACKER)
    with pytest.raises(TooManyRequests) as refused:
        guard.check("omar", ATTACKER)
    assert refused.value.retry_after == 31  # 30 s, rounded up
    now[0] += 31
    guard.check("omar", ATTACKER)  # the wait is over
    guard.failed("omar", ATTACKER)  # the third failure: twice the first wait
    with pytest.raises(TooManyRequests) as refused:
        guard.check("omar", ATTACKER)
    assert refused.value.retry_after == 61
    assert load({"FOSSATUM_LOGIN_FIRST_WAIT": "120"}).login_first_wait == 120
