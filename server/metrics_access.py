"""Who may read /metrics: it tells how many moderators are on duty and how long the oldest
crisis flag has waited, which is exactly what someone timing an attack on the community wants.

A scraper is let in by where it comes from (HARBOR_METRICS_ALLOWED_SOURCES, the client address
after trusted proxies, server/proxies.py, so a request relayed by a proxy on the same host is
the internet's, not localhost's) or by a bearer token (HARBOR_METRICS_TOKEN). Pure: the caller
passes the client's address and the Authorization header.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum

from .proxies import Networks, parse_address


class MetricsAccess(IntEnum):
    """The answer, as its HTTP status."""

    ALLOWED = 200
    WRONG_TOKEN = 401
    FORBIDDEN = 403


def metrics_access(
    client: str | None, authorization: str | None, allowed: Networks, token: str
) -> MetricsAccess:
    """Allowed from an allowed source, or with the right bearer token; a token that is given
    but wrong (or given when none is configured) is 401, anything else 403. Tokens are compared
    as SHA-256 digests in constant time, so neither their content nor their length leaks."""
    if parse_address(client) in allowed:
        return MetricsAccess.ALLOWED
    if authorization is None:
        return MetricsAccess.FORBIDDEN
    kind, _, given = authorization.strip().partition(" ")
    if token and kind.lower() == "bearer":
        expected = hashlib.sha256(token.encode()).digest()
        offered = hashlib.sha256(given.strip().encode()).digest()
        if hmac.compare_digest(expected, offered):
            return MetricsAccess.ALLOWED
    return MetricsAccess.WRONG_TOKEN
