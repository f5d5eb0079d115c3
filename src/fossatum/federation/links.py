"""How the link to a partner is secured, decided once when the partner is registered.

    pinned    https; the partner's certificate must be bound to its node key (tls.py)
    ca        https; the certificate must chain to a trusted CA and name the host
    loopback  plain http to this machine (tests, a TLS proxy in front on the same host)
    insecure  plain http across the network: only with `partner add --insecure`, and then
              flagged by `partner list`, `sync status` and the federation status API
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..errors import InvalidInput

LINKS = ("pinned", "ca", "loopback", "insecure")
INSECURE = "insecure"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def link_for(url: str, *, insecure: bool = False, verify: str = "pin") -> str:
    """How the link to a partner at `url` is secured; plain HTTP only on loopback or when
    the admin says --insecure (and is then flagged, see `Federation.status`)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise InvalidInput("expected the partner's base URL, e.g. https://dza.example:8000", field="url") from None
    if verify not in ("pin", "ca"):
        raise InvalidInput("expected pin (the certificate is bound to the partner's key) or ca", field="tls_verify")
    if parts.scheme == "https":
        if insecure:
            raise InvalidInput("--insecure is for http:// URLs; an https:// partner is always verified", field="insecure")
        return "ca" if verify == "ca" else "pinned"
    if verify == "ca":
        raise InvalidInput("--tls-verify ca needs an https:// URL", field="tls_verify")
    if is_loopback(parts.hostname or ""):
        return "loopback"
    if insecure:
        return INSECURE
    raise InvalidInput("plain http:// is refused except on loopback: the partner's traffic would cross the network "
                       "in clear text. Use https:// (the partner serves with 'fossatum serve --tls auto'), "
                       "or --insecure to accept it anyway (flagged in 'partner list' and 'sync status')", field="url")


def legacy_link(url: str) -> str:
    """Partners registered before links were recorded: an https:// partner was verified by
    its CA then (the node could not serve TLS itself; a proxy with a CA-issued certificate
    did) and stays so — re-register it to pin its key; http anywhere but loopback is what
    --insecure stands for, and is flagged."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return "ca"
    return "loopback" if is_loopback(parts.hostname or "") else INSECURE
