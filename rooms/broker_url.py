"""The broker a worker uses, chosen by the scheme of its URL (as broadcaster chooses a backend).

Apart from rooms/broker.py so that the protocol module imports neither implementation, and
neither implementation imports a module that imports it back.
"""

from __future__ import annotations

from .broker import Broker, HistoryLimits
from .broker_cluster import REPLICA_ACK_TIMEOUT_MS, ClusterBroker
from .broker_memory import MemoryBroker
from .broker_redis import RedisBroker
from .cluster import is_cluster_url


def create_broker(
    url: str | None,
    limits: HistoryLimits,
    *,
    max_connections: int = 64,
    replica_ack_timeout_ms: int = REPLICA_ACK_TIMEOUT_MS,
) -> Broker:
    """`None` or `memory://` gives the embedded broker; `redis://` / `rediss://` the shared one
    over one Redis; `redis+cluster://` / `rediss+cluster://` the shared one over a Redis Cluster
    (rooms.cluster documents the URL; `replica_ack_timeout_ms` applies there alone)."""
    if url is None or url.startswith("memory://"):
        return MemoryBroker(limits)
    if is_cluster_url(url):
        return ClusterBroker(
            url,
            limits,
            max_connections=max_connections,
            replica_ack_timeout_ms=replica_ack_timeout_ms,
        )
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url, limits, max_connections=max_connections)
    raise ValueError(f"unsupported broker URL scheme: {url.split(':', 1)[0]!r}")
