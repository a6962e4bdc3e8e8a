"""Presence: how many people are in each room, across every worker, without knowing who.

Each worker reports only its own member count per room; the backend keeps one entry per worker
with an expiry, so the counts of a worker that died without saying goodbye vanish after
`ttl_s`. When a room's total changes the backend announces it on the room's channel, and each hub
sends its members at most one coalesced `presence` frame per interval (a mass join is not a storm).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Protocol

import anyio
from redis.exceptions import RedisError

from .broker import Broker, BrokerUnavailable
from .envelope import presence_body
from .hub import LocalHub

logger = logging.getLogger("harbor.presence")


class Presence(Protocol):
    async def report(self, counts: Mapping[str, int]) -> None:
        """Record this worker's member count per room (0 removes it) and refresh its liveness."""
        ...

    async def totals(self, rooms: Iterable[str]) -> dict[str, int]:
        """Live member count per room across all workers."""
        ...


class MemoryPresence:
    """One process: the totals are this worker's own counts."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._counts: dict[str, int] = {}

    async def report(self, counts: Mapping[str, int]) -> None:
        for room, count in counts.items():
            if self._counts.get(room, 0) != count:
                self._counts[room] = count
                await self._broker.announce(room, presence_body(count))

    async def totals(self, rooms: Iterable[str]) -> dict[str, int]:
        await anyio.lowlevel.checkpoint()
        return {room: self._counts.get(room, 0) for room in rooms}


async def keep_presence(
    hub: LocalHub, presence: Presence, *, interval_s: float, ttl_s: float
) -> None:
    """Report changed counts every interval and all counts every third of the TTL, then flush
    coalesced presence frames to local members. Runs until cancelled; survives broker outages."""
    reported: dict[str, int] = {}
    refreshed_at = 0.0
    while True:
        await anyio.sleep(interval_s)
        counts = hub.local_counts()
        now = time.monotonic()
        if now - refreshed_at >= ttl_s / 3:
            changes = dict(counts)
            refreshed_at = now
        else:
            changes = {room: n for room, n in counts.items() if reported.get(room) != n}
        changes.update(dict.fromkeys(reported.keys() - counts.keys(), 0))
        if changes:
            try:
                await presence.report(changes)
            except (BrokerUnavailable, RedisError, OSError) as exc:
                logger.warning("presence report failed (%s); will retry", type(exc).__name__)
                refreshed_at = 0.0
            else:
                reported = {room: n for room, n in counts.items() if n}
        hub.flush_presence()
