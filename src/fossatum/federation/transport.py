"""How a node reaches its partners: over HTTPS (httpx, signed requests; see tls.py for how
the partner's certificate is checked), or in-process for tests (`LocalTransport`, which
still round-trips everything through JSON).

Plain HTTP is used only where the partner was registered for it: on loopback, or with an
explicit `--insecure` (flagged wherever partners are listed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import httpx

from ..errors import FossatumError
from ..log.signing import NodeKey
from . import requests as signed
from .inbound import Partner
from .links import is_loopback
from .tls import PinningTransport, TlsError, binding_problem, ca_client_context

STREAM_PATH = "/api/v1/federation/stream"
NOTIFY_PATH = "/api/v1/federation/notify"


class LinkDown(FossatumError):
    """The partner could not be reached or answered with an error; try again later."""


class Transport(Protocol):
    # A page as the partner sent it, parsed but unchecked: the caller checks its shape.
    def fetch(self, partner: Partner, after: int, limit: int) -> object: ...
    def notify(self, partner: Partner, last: int) -> None: ...


# Makes a node's transport from its key and node id (which sign its requests): a node is given
# one at construction (`open_node(connect=...)`), as its id is known only once it is open.
Connect = Callable[[NodeKey, str], Transport]


class HttpTransport:
    def __init__(self, key: NodeKey, node_id: str, *, timeout: float = 10.0, ca_file: str = "") -> None:
        self.key = key
        self.node_id = node_id
        self.timeout = timeout
        self.ca_file = ca_file
        # one client per partner and way of checking it: a pinned connection is only ever
        # reused for the partner whose key it was checked against
        self._clients: dict[tuple[str, str, str, str], httpx.Client] = {}

    def _client(self, partner: Partner) -> httpx.Client:
        handle = (partner.node_id, partner.public_key, partner.link, partner.url)
        client = self._clients.get(handle)
        if client is not None:
            return client
        parts = urlsplit(partner.url)
        if parts.scheme == "https" and partner.link == "ca":
            client = httpx.Client(timeout=self.timeout, verify=ca_client_context(self.ca_file), trust_env=False)
        elif parts.scheme == "https":
            def check(der: bytes) -> str | None:
                return binding_problem(der, partner.public_key, partner.node_id)
            client = httpx.Client(timeout=self.timeout, transport=PinningTransport(check))
        elif parts.scheme == "http" and (partner.link == "insecure" or
                                         (partner.link == "loopback" and is_loopback(parts.hostname or ""))):
            client = httpx.Client(timeout=self.timeout, trust_env=False)
        else:
            raise LinkDown(f"{partner.country}: refusing plain HTTP to {partner.url} "
                           "(register the partner with https://, or --insecure)")
        self._clients[handle] = client
        return client

    def _call(self, method: str, partner: Partner, path: str, body: bytes = b"") -> httpx.Response:
        try:
            client = self._client(partner)
        except TlsError as exc:
            raise LinkDown(f"{partner.country}: {exc}") from None
        headers = signed.sign(self.key, self.node_id, method, path, body, to=partner.node_id)
        if body:
            headers["content-type"] = "application/json"
        try:
            response = client.request(method, partner.url.rstrip("/") + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise LinkDown(f"{partner.country} unreachable: {exc.__class__.__name__}: {exc}") from None
        if response.status_code >= 400:
            detail = response.text[:300]
            raise LinkDown(f"{partner.country} answered {response.status_code}: {detail}")
        return response

    def fetch(self, partner: Partner, after: int, limit: int) -> object:
        path = f"{STREAM_PATH}?{urlencode({'after': after, 'limit': limit})}"
        try:
            return self._call("GET", partner, path).json()
        except ValueError:
            raise LinkDown(f"{partner.country} sent a body that is not JSON") from None

    def notify(self, partner: Partner, last: int) -> None:
        self._call("POST", partner, NOTIFY_PATH, json.dumps({"last": last}).encode())

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


class LocalTransport:
    """In-process partners: `serve(caller_country, partner_country, after, limit)` answers."""

    def __init__(self, country: str, serve: Callable[[str, str, int, int], dict[str, Any]],
                 notify: Callable[[str, str, int], None] | None = None) -> None:
        self.country = country
        self._serve = serve
        self._notify = notify
        self.down: set[str] = set()

    def fetch(self, partner: Partner, after: int, limit: int) -> object:
        if partner.country in self.down:
            raise LinkDown(f"{partner.country} unreachable (link cut)")
        return json.loads(json.dumps(self._serve(self.country, partner.country, after, limit)))

    def notify(self, partner: Partner, last: int) -> None:
        if partner.country in self.down:
            raise LinkDown(f"{partner.country} unreachable (link cut)")
        if self._notify:
            self._notify(self.country, partner.country, last)
