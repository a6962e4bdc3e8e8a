"""Who a request really comes from, and over what, when it may have passed a reverse proxy.

Behind a load balancer every connection's peer is the balancer, so per-source limits would
count the whole internet as one person, and a cookie would never be marked Secure although the
browser spoke HTTPS. The proxy says what it saw in X-Forwarded-For and X-Forwarded-Proto -- but
any client can send those headers too. So they are believed only from a peer listed in
HARBOR_TRUSTED_PROXIES, and in X-Forwarded-For only the part the trusted proxies wrote: the
chain is read from the right (each proxy appends the address it saw) and the first address that
is not itself a trusted proxy is the client. What a client wrote to the left of that is ignored.

The `Forwarded` header (RFC 7239) is not read: a proxy that writes one kind of header usually
passes the other through untouched, so reading both would let a client speak for the proxy.

Pure: addresses and header values in, a `Hop` out. The HTTP side (server/http_edge.py) and the
chat socket (server/transport.py) both ask `resolve`, so a source is the same on either.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")


def parse_network(text: str) -> IPNetwork:
    """One address or CIDR range (host bits allowed: `10.0.0.7/8` is `10.0.0.0/8`);
    ValueError with the offending text otherwise."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or CIDR range") from None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:  # ::ffff:10.0.0.0/104 is how some stacks write 10.0.0.0/8
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def parse_address(text: str | None) -> IPAddress | None:
    """An address as a peer or a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
    `[2001:db8::1]:443`; IPv4-mapped IPv6 as IPv4. None when it is not an address."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class Networks:
    """A set of address ranges, asked whether an address falls in one of them."""

    ranges: tuple[IPNetwork, ...] = ()

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return any(address in network for network in self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)


@lru_cache(maxsize=16)
def networks(cidrs: tuple[str, ...]) -> Networks:
    """The parsed form of a setting's ranges (settings keep the text), parsed once per value."""
    return Networks(tuple(parse_network(cidr) for cidr in cidrs))


@dataclass(frozen=True, slots=True)
class Hop:
    """The client as Harbor should treat it: its address (as text, for the per-source key; None
    when unknown) and whether it reached the first server over "http" or "https"."""

    address: str | None
    scheme: str


def _values(headers: Iterable[str]) -> list[str]:
    """Every comma-separated item of every instance of a list header, left to right."""
    return [item.strip() for header in headers for item in header.split(",") if item.strip()]


def resolve(
    peer: str | None,
    scheme: str,
    forwarded_for: Iterable[str],
    forwarded_proto: Iterable[str],
    trusted: Networks,
) -> Hop:
    """The client behind `peer` (the socket's address) that spoke `scheme` to it.

    Only when `peer` is a trusted proxy are the X-Forwarded-For and X-Forwarded-Proto values
    (every instance of each header) read. The client is the right-most X-Forwarded-For address
    that is not itself a trusted proxy; an item that is not an address ends the walk there (a
    trusted proxy wrote it, so it names the client, opaquely). When every item is a trusted
    proxy, the left-most is the client; without X-Forwarded-For, the peer is. Its scheme is
    the X-Forwarded-Proto item at the same place counted from the right, else the left-most
    one, else `scheme` (so is any value but "http" or "https").
    """
    peer_address = parse_address(peer)
    if peer_address is None or peer_address not in trusted:
        return Hop(str(peer_address) if peer_address is not None else peer, scheme)
    chain = _values(forwarded_for)
    protos = [p.lower() for p in _values(forwarded_proto)]
    client: str = str(peer_address)
    from_right = -1  # the peer itself: no forwarded entry
    for index in range(len(chain) - 1, -1, -1):
        address = parse_address(chain[index])
        from_right = len(chain) - 1 - index
        client = str(address) if address is not None else chain[index]
        if address is None or address not in trusted:
            break
    proto = scheme
    if protos:
        paired = len(protos) - 1 - from_right
        proto = protos[paired] if 0 <= paired < len(protos) else protos[0]
    return Hop(client, proto if proto in SCHEMES else scheme)
