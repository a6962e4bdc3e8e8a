"""Where a meeting's queue and floor live: one small interface, in memory or in Redis.

Like the broker (rooms/broker.py): a `MeetingStore` protocol, a `MemoryMeetingStore` for the
one-process default and a `RedisMeetingStore` shared by every worker (one Redis or a cluster),
run through one contract suite. The store knows nothing of the rules: `change` reads a room's
state, hands it to a pure function (rooms/meeting_rules.apply, via the endpoint), and writes the
result only if nobody else wrote in between, retrying a bounded number of times. So two chairs'
clicks on two workers never lose one another, and the rules stay testable without Redis.

A state is kept only while its meeting can run: it expires `ttl_s` after its last change.
Redis key: `harbor:{room:R}:meeting` (the room's hash slot, beside its history).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from .broker import BrokerUnavailable
from .broker_redis import room_key

Result = TypeVar("Result")
# A change: the stored bytes (None: none) -> (bytes to store, or None to keep; what to return).
Change = Callable[[bytes | None], tuple[bytes | None, Result]]

# Writers racing on one room's meeting from different workers (those on one worker take turns
# first): each retry re-reads and re-applies; past this the action is refused as retryable.
CHANGE_ATTEMPTS = 16

# Compare-and-set: write ARGV[2] (expiring in ARGV[3] ms) only if the key still holds ARGV[1]
# ("" standing for no key). One key, so it runs on a cluster too.
_SWAP = """
local now = redis.call('GET', KEYS[1]) or ''
if now ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


class MeetingStore(Protocol):
    async def read(self, room: str) -> bytes | None:
        """The room's stored meeting state, or None."""
        ...

    async def change(self, room: str, change: Change[Result], *, ttl_s: float) -> Result:
        """Apply `change` atomically to the room's state; raises BrokerUnavailable when the
        store can't be reached (or the room is too contended), so the client retries."""
        ...


class MemoryMeetingStore:
    """One process: a dict, and no await between a read and its write, so changes are atomic.
    Expired states are dropped when read; the dict holds at most one state per room."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._states: dict[str, tuple[bytes, float]] = {}

    async def read(self, room: str) -> bytes | None:
        held = self._states.get(room)
        if held is None:
            return None
        if held[1] <= self._clock():
            del self._states[room]
            return None
        return held[0]

    async def change(self, room: str, change: Change[Result], *, ttl_s: float) -> Result:
        current = await self.read(room)
        new, result = change(current)
        if new is not None:
            self._states[room] = (new, self._clock() + ttl_s)
        return result


class RedisMeetingStore:
    """Every worker's one state per room. Changes on one worker take turns per room (a room
    full of raised hands costs no retries), so only writers on other workers race the
    compare-and-set."""

    def __init__(self, client: aioredis.Redis | RedisCluster) -> None:
        self._client = client
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}  # room -> (lock, waiting)

    async def read(self, room: str) -> bytes | None:
        try:
            value = await self._client.get(room_key(room, "meeting"))
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc
        return _bytes(value)

    async def change(self, room: str, change: Change[Result], *, ttl_s: float) -> Result:
        lock, waiting = self._turns.get(room, (asyncio.Lock(), 0))
        self._turns[room] = (lock, waiting + 1)
        try:
            async with lock:
                return await self._swap(room, change, ttl_s)
        finally:
            lock, waiting = self._turns[room]
            if waiting <= 1:
                del self._turns[room]  # held only while someone waits: bounded by rooms in use
            else:
                self._turns[room] = (lock, waiting - 1)

    async def _swap(self, room: str, change: Change[Result], ttl_s: float) -> Result:
        key = room_key(room, "meeting")
        try:
            for _ in range(CHANGE_ATTEMPTS):
                current = _bytes(await self._client.get(key))
                new, result = change(current)
                if new is None:
                    return result
                swapped = await self._client.eval(
                    _SWAP, 1, key, current or b"", new, max(1, round(ttl_s * 1000))
                )
                if swapped == 1:
                    return result
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc
        raise BrokerUnavailable("the meeting is changing too fast; retry")


def _bytes(value: bytes | str | None) -> bytes | None:
    """A GET reply as bytes (the clients here do not decode replies; a str is re-encoded)."""
    return value.encode() if isinstance(value, str) else value
