"""Cross-site WebSocket hijacking guard: which page origins may open a socket."""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """Same-origin by default; an allow-list (`HARBOR_ALLOWED_ORIGINS`) replaces that rule.

    A request without an Origin header comes from a non-browser client (browsers always send it
    on WebSocket handshakes), which a hostile page cannot make a visitor's browser do.
    """
    if origin is None:
        return True
    if allowed:
        return origin.rstrip("/") in allowed or "*" in allowed
    if host is None:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()
