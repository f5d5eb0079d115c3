"""The address a request comes from, for the login throttle.

`X-Forwarded-For` is anyone's to write: it is believed only when the peer is a proxy listed in
FOSSATUM_TRUSTED_PROXIES (addresses or networks). Then the header is read from the right,
skipping trusted proxies, and the first other address is the client's. uvicorn's own
proxy-header handling is off (cli.py), because it trusts every local peer by default.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from ..errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_trusted(setting: str) -> tuple[Network, ...]:
    """FOSSATUM_TRUSTED_PROXIES: comma-separated addresses or networks (CIDR); bad ones refused."""
    out: list[Network] = []
    for item in (part.strip() for part in setting.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise InvalidInput(f"not an address or network: {item!r}", field="FOSSATUM_TRUSTED_PROXIES") from None
    return tuple(out)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: `peer`, unless `peer` is a trusted proxy (then from X-Forwarded-For)."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy passed on garbage: the proxy is the last address we know
    return hops[0] if hops else peer
