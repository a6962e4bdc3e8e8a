"""Per-source limits without keeping addresses: a keyed hash of where a connection comes from.

One client can open many sockets and mint many identities, so some limits must count per source,
not per socket or per identity. Harbor promises not to store anything that identifies a person,
so a source is never its address: it is an HMAC of the address (an IPv6 address by its /64,
which one household or phone usually holds whole) under a key derived from HARBOR_SECRET and the
UTC day. Every worker computes the same source for the same address on the same day -- so a ban
that holds the source holds on every worker -- and the key changes at midnight UTC, after which
nothing computed today links to the address. Neither the address nor the key is logged.

`SourceLimits` is the worker's in-memory table of what each source currently holds: open sockets,
and token buckets for new identities, joins and sign-in attempts, each table bounded (the least
recently used source is forgotten first, never the whole table).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections import Counter
from dataclasses import dataclass

from .ratelimit import BucketTable

DAY_S = 86_400
_SOURCE_BYTES = 12
_SOURCES_REMEMBERED = 100_000


def source_sanction_key(source: str) -> str:
    """Where a ban that holds a source is kept among sanctions (which are keyed by identity)."""
    return "source:" + source


class SourceKeys:
    """Keyed hashes of client addresses, the key rotating at midnight UTC."""

    __slots__ = ("_day", "_day_key", "_secret")

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("SourceKeys needs a non-empty secret")
        self._secret = hashlib.sha256(b"harbor-source:" + secret.encode()).digest()
        self._day = -1
        self._day_key = b""

    def source(self, address: str | None, now_s: float) -> str:
        """Today's source for `address` (None, as for a Unix socket, is one shared source)."""
        return self._hash(address, int(now_s // DAY_S))

    def sources(self, address: str | None, now_s: float) -> tuple[str, str]:
        """Today's and yesterday's: a hold made late yesterday still applies this morning."""
        day = int(now_s // DAY_S)
        return self._hash(address, day), self._hash(address, day - 1)

    def _hash(self, address: str | None, day: int) -> str:
        if day == self._day:
            key = self._day_key
        else:
            key = hmac.new(self._secret, f"day:{day}".encode(), hashlib.sha256).digest()
            if day > self._day:
                self._day, self._day_key = day, key
        message = _network(address).encode()
        return hmac.new(key, message, hashlib.sha256).digest()[:_SOURCE_BYTES].hex()


def _network(address: str | None) -> str:
    """The part of an address that names one household: the whole IPv4 address, an IPv6 /64."""
    if not address:
        return "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True, slots=True)
class SourceRules:
    """The per-source bounds, from Settings (see there for each one's reason)."""

    sockets: int = 60
    new_identities_per_min: float = 10.0
    new_identities_burst: int = 20
    joins_per_10s: float = 30.0
    joins_burst: int = 60
    sign_ins_per_min: float = 6.0
    sign_ins_burst: int = 10


class SourceLimits:
    """What each source holds on this worker now. Pure bookkeeping: the caller passes `now`."""

    __slots__ = ("_identities", "_joins", "_rules", "_sockets")

    def __init__(self, rules: SourceRules, *, remembered: int = _SOURCES_REMEMBERED) -> None:
        self._rules = rules
        self._sockets: Counter[str] = Counter()
        self._identities = BucketTable(
            rate=rules.new_identities_per_min / 60,
            burst=rules.new_identities_burst,
            capacity=remembered,
        )
        self._joins = BucketTable(
            rate=rules.joins_per_10s / 10, burst=rules.joins_burst, capacity=remembered
        )

    def open_socket(self, source: str) -> bool:
        """Count a new socket from `source`; False (and not counted) past the bound."""
        if self._sockets[source] >= self._rules.sockets:
            return False
        self._sockets[source] += 1
        return True

    def close_socket(self, source: str) -> None:
        left = self._sockets[source] - 1
        if left > 0:
            self._sockets[source] = left
        else:
            del self._sockets[source]

    def sockets(self, source: str) -> int:
        return self._sockets.get(source, 0)

    def new_identity(self, source: str, now: float) -> float:
        """Spend one new identity: 0.0 if allowed, else seconds until the next one."""
        return self._identities.take(source, now)

    def join(self, source: str, now: float) -> float:
        """Spend one join (or history read): 0.0 if allowed, else seconds to wait."""
        return self._joins.take(source, now)
