"""Odd input on the enrolment port (HTTPS, before any login): NUL characters in the Basic
credentials or in the query are refused like on the API (a 4xx problem), never a 500 — a NUL
is an error in PostgreSQL text, and the throttle and the device register are keyed by them."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fossatum.node import Node

from .harness import start_urls
from .test_enrol import SIGN, _csr, _https, _issue
from .test_gateway import run

pytestmark = pytest.mark.both_backends


def _basic(username: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()}


def test_nul_characters_on_the_enrolment_port_are_a_4xx(node: Node, users) -> None:
    issued = _issue(node, users, "sami")
    csr = _csr(ec.generate_private_key(ec.SECP256R1()))

    async def scenario() -> list[httpx.Response]:
        server, (port,) = await start_urls(node, ["https://127.0.0.1:0"])
        try:
            async with _https(node, port) as client:
                return [
                    await client.get("/Marti/api/tls/config", headers=_basic("sa\x00mi", "x")),
                    await client.post(SIGN, content=csr, headers=_basic("sami", "tok\x00en")),
                    await client.post(SIGN + "?clientUid=ANDROID%00X", content=csr,
                                      headers=_basic("sami", issued.token)),
                ]
        finally:
            await server.stop()

    responses = run(scenario())
    for response in responses:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].split(";")[0] == "application/problem+json", response.headers
