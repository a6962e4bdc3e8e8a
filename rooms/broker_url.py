"""The broker a worker uses, chosen by the scheme of its URL (as broadcaster chooses a backend).

Apart from rooms/broker.py so that the protocol module imports neither implementation, and
neither implementation imports a module that imports it back.
"""

from __future__ import annotations

from .broker import Broker, HistoryLimits
from .broker_cluster import ClusterBroker
from .broker_memory import MemoryBroker
from .broker_redis import RedisBroker
from .cluster import is_cluster_url


def create_broker(url: str | None, limits: HistoryLimits, *, max_connections: int = 64) -> Broker:
    """`None` or `memory://` gives the embedded broker; `redis://` / `rediss://` the shared one
    over one Redis; `redis+cluster://` / `rediss+cluster://` the shared one over a Redis Cluster
    (rooms.cluster documents the URL)."""
    if url is None or url.startswith("memory://"):
        return MemoryBroker(limits)
    if is_cluster_url(url):
        return ClusterBroker(url, limits, max_connections=max_connections)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url, limits, max_connections=max_connections)
    raise ValueError(f"unsupported broker URL scheme: {url.split(':', 1)[0]!r}")
