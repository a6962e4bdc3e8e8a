"""Redis Cluster addressing, without I/O: the cluster URL, hash slots, and channels per shard.

A cluster is named by one URL listing its seed nodes, so `REDIS_URL` stays the one setting:

    redis+cluster://[user:password@]host:port[,host:port...][?option=value...]
    rediss+cluster://...  (TLS to every node; options as for rediss://)

Any node is enough to find the others; listing several lets a worker start while one is down.
Everything here is pure: the broker and the store open the connections.

Sharded pub/sub has two rules this module exists to keep: a channel lives on the shard that
owns its hash slot (so a worker subscribes per shard node), and one SSUBSCRIBE may only name
channels of ONE slot (a batch across slots fails with CROSSSLOT, as Centrifugo learned), so
subscriptions are grouped by slot, then by node.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.connection import parse_url
from redis.crc import key_slot

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
SLOTS = 16384
# Tries to find a probe channel on a shard: a shard owning at least 1/64 of the slots is hit
# within a few hundred tries with near certainty (each try lands on it with p >= 1/64).
_PROBE_TRIES = 20_000


class ClusterUrlError(ValueError):
    """A cluster URL that names no usable node."""


@dataclass(frozen=True, slots=True)
class ClusterAddress:
    """Seed nodes and the connection options every node connection uses (password, TLS...)."""

    seeds: tuple[tuple[str, int], ...]
    options: dict[str, Any]


def is_cluster_url(url: str | None) -> bool:
    return url is not None and url.startswith(CLUSTER_SCHEMES)


def parse_cluster_url(url: str) -> ClusterAddress:
    """The seeds and options of a `redis+cluster://` URL (redis-py parses the options, exactly
    as it does for a single Redis's URL)."""
    if not is_cluster_url(url):
        raise ClusterUrlError("a cluster URL starts with redis+cluster:// or rediss+cluster://")
    scheme, _, rest = url.partition("+cluster://")
    userinfo, at, hostpart = rest.rpartition("@") if "@" in rest.split("/")[0] else ("", "", rest)
    hosts, slash, tail = hostpart.partition("/")
    if "?" in hosts:  # options with no path: host:port?x=y
        hosts, _, query = hosts.partition("?")
        tail = "?" + query
    seeds = []
    for item in hosts.split(","):
        parts = urlsplit(f"//{item.strip()}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ClusterUrlError(f"bad port in cluster node {item!r}") from exc
        if not parts.hostname or port is None:
            raise ClusterUrlError(f"each cluster node needs host:port, got {item!r}")
        seeds.append((parts.hostname, port))
    first_host, first_port = seeds[0]
    host = f"[{first_host}]" if ":" in first_host else first_host
    single = f"{scheme}://{userinfo}{at}{host}:{first_port}/{tail.lstrip('/') if slash else tail}"
    options: dict[str, Any] = dict(parse_url(single))  # type: ignore[no-untyped-call]
    for name in ("host", "port", "db", "path", "connection_class"):
        options.pop(name, None)
    if scheme == "rediss":
        options["ssl"] = True  # redis-py's cluster client and node clients take TLS this way
    return ClusterAddress(tuple(seeds), options)


def slot_of(name: bytes | str) -> int:
    """The hash slot of a key or channel: the part between the first `{...}` if any."""
    return key_slot(name.encode() if isinstance(name, str) else name)


def by_slot(channels: Iterable[bytes]) -> dict[int, list[bytes]]:
    """Channels grouped by hash slot: one SSUBSCRIBE per group."""
    groups: dict[int, list[bytes]] = {}
    for channel in channels:
        groups.setdefault(slot_of(channel), []).append(channel)
    return groups


def probe_channel(worker: str, owned: Collection[int]) -> bytes:
    """A channel of this worker's own that hashes into `owned` (one shard's slots), for the
    listener's liveness probe on that shard: the probe must travel the shard it checks."""
    if not owned:
        raise ValueError("a shard that owns no slot has no probe channel")
    for n in range(_PROBE_TRIES):
        channel = f"harbor:{{probe:{worker}:{n}}}".encode()
        if slot_of(channel) in owned:
            return channel
    raise LookupError(f"no probe channel found within {_PROBE_TRIES} tries")


def spread(names: Iterable[str], owner: Callable[[int], str | None]) -> dict[str | None, int]:
    """How many of `names` (room keys) land on each node: the evenness of a placement."""
    counts: dict[str | None, int] = {}
    for name in names:
        node = owner(slot_of(name))
        counts[node] = counts.get(node, 0) + 1
    return counts


@dataclass(frozen=True, slots=True)
class SlotRange:
    first: int
    last: int
    host: str
    port: int

    @property
    def node(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Topology:
    """Which primary serves each slot, as one node answered CLUSTER SLOTS."""

    ranges: tuple[SlotRange, ...]

    @classmethod
    def from_cluster_slots(cls, reply: Iterable[Any]) -> Topology:
        """Parse CLUSTER SLOTS: `[first, last, [host, port, id...], replica...]` per range (the
        first node listed is the primary)."""
        ranges = []
        for entry in reply:
            first, last, primary = int(entry[0]), int(entry[1]), entry[2]
            host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
            ranges.append(SlotRange(first, last, host, int(primary[1])))
        return cls(tuple(sorted(ranges, key=lambda r: r.first)))

    @property
    def covered(self) -> int:
        """Slots some primary serves (all 16384 in a healthy cluster)."""
        return sum(r.last - r.first + 1 for r in self.ranges)

    @property
    def nodes(self) -> dict[str, tuple[str, int]]:
        """Each primary's name and address."""
        return {r.node: (r.host, r.port) for r in self.ranges}

    def owner(self, slot: int) -> str | None:
        """The primary serving `slot`, None if no node serves it now."""
        for r in self.ranges:
            if r.first <= slot <= r.last:
                return r.node
        return None

    def slots_of(self, node: str) -> frozenset[int]:
        mine = (r for r in self.ranges if r.node == node)
        return frozenset(slot for r in mine for slot in range(r.first, r.last + 1))
