"""Finding 12 (accounts): a partner's liaison officer sees only the accounts and pages that
concern them.

Before: `GET /users` listed every account of the centre with its roles to the Algerian
liaison, and any account with the admin role — a partner's too — read the replication status
and the release audit. Now (policy/directory.py): a liaison sees their own country's accounts
and the host's duty desk as contacts; status and audit need an administrator of the host.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD
from fossatum.api.app import create_app
from fossatum.node import Node

pytestmark = pytest.mark.both_backends


@pytest.fixture
def app(node: Node) -> Iterator[TestClient]:
    node.add_user(actor=None, username="nadia", agency="DZ-GN", roles=["analyst"], password=PASSWORD)
    with TestClient(create_app(node)) as client:
        yield client


def _login(app: TestClient, username: str) -> dict[str, str]:
    response = app.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _users(app: TestClient, username: str) -> dict[str, dict]:
    response = app.get("/api/v1/users", headers=_login(app, username))
    assert response.status_code == 200, response.text
    return {u["username"]: u for u in response.json()["items"]}


def test_the_liaison_sees_their_country_and_the_duty_desk_only(app: TestClient) -> None:
    seen = _users(app, "karim")
    assert set(seen) == {"karim", "nadia", "amira", "youssef"}
    assert seen["nadia"]["roles"] == ["analyst"]            # a colleague of the same country
    for desk in ("amira", "youssef"):                       # the host's duty officers, as contacts
        assert seen[desk] == {"username": desk, "full_name": "", "agency": seen[desk]["agency"],
                              "country": "TUN", "roles": ["duty_officer"]}
    assert "admin" not in seen and "omar" not in seen and "sami" not in seen


def test_a_third_countrys_liaison_does_not_learn_of_the_first(app: TestClient) -> None:
    assert set(_users(app, "omar")) == {"omar", "amira", "youssef"}


def test_the_host_country_sees_every_account(app: TestClient, node: Node) -> None:
    assert set(_users(app, "sami")) == {u.username for u in node.store.users()}


def test_a_disabled_duty_officer_is_no_contact(app: TestClient, node: Node) -> None:
    node.set_user_active(actor=None, username="youssef", active=False)
    assert "youssef" not in _users(app, "karim")


def test_status_and_audit_need_an_administrator_of_the_host(app: TestClient, node: Node) -> None:
    node.add_user(actor=None, username="dz.admin", agency="DZ-GN", roles=["admin"], password=PASSWORD)
    for path in ("/api/v1/federation/status", "/api/v1/federation/audit"):
        for username in ("dz.admin", "karim", "amira"):
            response = app.get(path, headers=_login(app, username))
            assert response.status_code == 403, (username, path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        assert app.get(path, headers=_login(app, "admin")).status_code == 200


def test_partners_do_not_see_field_audience_settings(app: TestClient, node: Node) -> None:
    node.set_field_audience(actor=None, agency="TN-GN", scope="partners", partners=["LBY"])
    karim = app.get("/api/v1/agencies", headers=_login(app, "karim")).json()["items"]
    assert karim and all("field_audience" not in a for a in karim)
    amira = app.get("/api/v1/agencies", headers=_login(app, "amira")).json()["items"]
    assert any(a.get("field_audience") for a in amira)
