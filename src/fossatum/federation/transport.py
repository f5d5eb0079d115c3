"""How a node reaches its partners: over HTTP (httpx, signed requests), or in-process
for tests (`LocalTransport`, which still round-trips everything through JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from ..errors import FossatumError
from ..log.signing import NodeKey
from . import requests as signed
from .inbound import Partner

STREAM_PATH = "/api/v1/federation/stream"
NOTIFY_PATH = "/api/v1/federation/notify"


class LinkDown(FossatumError):
    """The partner could not be reached or answered with an error; try again later."""


class Transport(Protocol):
    def fetch(self, partner: Partner, after: int, limit: int) -> dict[str, Any]: ...
    def notify(self, partner: Partner, last: int) -> None: ...


class HttpTransport:
    def __init__(self, key: NodeKey, node_id: str, *, timeout: float = 10.0) -> None:
        self.key = key
        self.node_id = node_id
        self.client = httpx.Client(timeout=timeout)

    def _call(self, method: str, partner: Partner, path: str, body: bytes = b"") -> httpx.Response:
        headers = signed.sign(self.key, self.node_id, method, path, body)
        if body:
            headers["content-type"] = "application/json"
        try:
            response = self.client.request(method, partner.url.rstrip("/") + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise LinkDown(f"{partner.country} unreachable: {exc.__class__.__name__}: {exc}") from None
        if response.status_code >= 400:
            detail = response.text[:300]
            raise LinkDown(f"{partner.country} answered {response.status_code}: {detail}")
        return response

    def fetch(self, partner: Partner, after: int, limit: int) -> dict[str, Any]:
        path = f"{STREAM_PATH}?{urlencode({'after': after, 'limit': limit})}"
        try:
            return self._call("GET", partner, path).json()
        except ValueError:
            raise LinkDown(f"{partner.country} sent a body that is not JSON") from None

    def notify(self, partner: Partner, last: int) -> None:
        self._call("POST", partner, NOTIFY_PATH, json.dumps({"last": last}).encode())

    def close(self) -> None:
        self.client.close()


class LocalTransport:
    """In-process partners: `serve(caller_country, partner_country, after, limit)` answers."""

    def __init__(self, country: str, serve: Callable[[str, str, int, int], dict[str, Any]],
                 notify: Callable[[str, str, int], None] | None = None) -> None:
        self.country = country
        self._serve = serve
        self._notify = notify
        self.down: set[str] = set()

    def fetch(self, partner: Partner, after: int, limit: int) -> dict[str, Any]:
        if partner.country in self.down:
            raise LinkDown(f"{partner.country} unreachable (link cut)")
        return json.loads(json.dumps(self._serve(self.country, partner.country, after, limit)))

    def notify(self, partner: Partner, last: int) -> None:
        if partner.country in self.down:
            raise LinkDown(f"{partner.country} unreachable (link cut)")
        if self._notify:
            self._notify(self.country, partner.country, last)
