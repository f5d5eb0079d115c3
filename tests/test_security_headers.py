"""Every answer of the node carries the browser hardening headers (finding 15): a
Content-Security-Policy as an HTTP header (a `<meta>` tag cannot forbid framing), no framing,
no MIME sniffing, no referrer. The page is served without a `<meta>` policy of its own."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from conftest import sighting
from fossatum.api import app as app_module
from fossatum.api.app import DIST, create_app
from fossatum.api.security_headers import HEADERS, SecurityHeaders
from fossatum.cot.enrol import Enrolment
from fossatum.node import Node

FIXED = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            assert words[0] not in out, f"directive {words[0]} given twice"
            out[words[0]] = words[1:]
    return out


def assert_hardened(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in FIXED.items():
        assert headers.get_list(name) == [value], (name, headers.get_list(name))
    policies = headers.get_list("content-security-policy")
    assert len(policies) == 1, policies
    d = directives(policies[0])
    assert d["frame-ancestors"] == ["'none'"]
    assert d["form-action"] == ["'self'"]
    assert d["style-src"] == ["'self'"]      # no 'unsafe-inline': an injected style attribute stays inert
    assert d["script-src"] == ["'self'"]
    assert d["default-src"] == ["'self'"]
    assert d["object-src"] == ["'none'"] and d["base-uri"] == ["'none'"]
    for values in d.values():
        assert "'unsafe-inline'" not in values and "'unsafe-eval'" not in values and "*" not in values


def test_every_kind_of_answer_carries_the_hardening_headers(client_for: Callable[[str], TestClient]) -> None:
    amira = client_for("amira")
    answers = {
        "page": amira.get("/"),
        "openapi": amira.get("/api/v1/openapi.json"),
        "health": amira.get("/api/v1/health"),
        "json": amira.get("/api/v1/reports"),
        "created": amira.post("/api/v1/reports", json=sighting()),
        "problem 404": amira.get("/api/v1/reports/does-not-exist"),
        "problem 422": amira.post("/api/v1/reports", json={"type": "nonsense"}),
        "unauthenticated 401": TestClient(amira.app).get("/api/v1/reports"),
        "body too large 413": amira.post("/api/v1/reports", content=b"x" * (3 * 1024 * 1024),
                                         headers={"content-type": "application/json"}),
        "no route 404": amira.get("/no/such/page"),
    }
    seen = {name: r.status_code for name, r in answers.items()}
    assert seen["created"] == 201 and seen["problem 404"] == 404 and seen["unauthenticated 401"] == 401, seen
    assert seen["body too large 413"] == 413 and seen["problem 422"] == 422, seen
    for name, response in answers.items():
        try:
            assert_hardened(response)
        except AssertionError as exc:
            raise AssertionError(f"{name} ({response.status_code}): {exc}") from exc


def test_the_websocket_handshake_carries_the_hardening_headers() -> None:
    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: Callable[..., object]) -> None:
        await send({"type": "websocket.accept", "headers": [(b"x-frame-options", b"SAMEORIGIN")]})  # type: ignore[misc]

    async def record(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(SecurityHeaders(app)({"type": "websocket"}, None, record))  # type: ignore[arg-type]
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}  # type: ignore[union-attr]
    assert headers == dict(HEADERS)  # the weaker header an inner layer set is replaced, not doubled


def test_the_landing_page_without_the_built_page_has_no_inline_style(node: Node, monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: object) -> None:
    monkeypatch.setattr(app_module, "DIST", tmp_path)  # no index.html there: the plain landing page
    response = TestClient(create_app(node)).get("/")
    assert response.status_code == 200 and "Fossatum" in response.text
    assert "style=" not in response.text and "<style" not in response.text
    assert_hardened(response)


@pytest.mark.skipif(not (DIST / "index.html").exists(), reason="the COP page is not built (cd web && npm ci && npm run build)")
def test_the_built_page_has_no_meta_policy_nor_inline_script_or_style() -> None:
    html = (DIST / "index.html").read_text()
    assert "http-equiv" not in html.lower()  # the header is the one policy; a meta tag cannot set frame-ancestors
    assert "style=" not in html and "<style" not in html
    assert "<script>" not in html and "<script type=\"module\">" not in html  # every script is a file


def test_the_tak_enrolment_answers_carry_the_hardening_headers(node: Node) -> None:
    app = Enrolment(SimpleNamespace(node=node, authority=None, counters=Counter())).app()  # type: ignore[arg-type]
    with TestClient(app) as client:
        for response in (client.get("/Marti/api/tls/config"), client.get("/Marti/no/such/route")):
            assert response.status_code in (401, 404), response.text
            assert_hardened(response)
