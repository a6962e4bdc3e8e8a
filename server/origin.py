"""Cross-site request guard: which page origins may open a socket or post to the moderator API.

An origin is a scheme, a host and a port. Comparing hosts alone let a page served over plain
http on the same name -- which anyone on the network path can write -- act on a visitor's
HTTPS session. So the scheme counts everywhere, and a request that reached Harbor over https
(directly or through a trusted proxy, server/proxies.py) accepts only https origins.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_allowed(
    origin: str | None, host: str | None, allowed: tuple[str, ...], scheme: str
) -> bool:
    """Same-origin by default: the Origin's scheme is the request's `scheme` ("http" or
    "https") and its host and port are the Host header. An allow-list (`HARBOR_ALLOWED_ORIGINS`,
    full origins with their scheme) replaces that rule. Either way, over https an origin that is
    not https is refused -- unless the list holds "*", which allows any origin at all.

    A request without an Origin header comes from a non-browser client (browsers always send it
    on WebSocket handshakes and cross-site POSTs), which a hostile page cannot make a visitor's
    browser do.
    """
    if origin is None:
        return True
    parts = urlsplit(origin.strip())
    origin_scheme = parts.scheme.lower()
    if scheme == "https" and origin_scheme != "https" and "*" not in allowed:
        return False
    if allowed:
        return origin.strip().rstrip("/") in allowed or "*" in allowed
    if host is None:
        return False
    return origin_scheme == scheme and parts.netloc.lower() == host.lower()
