"""Where a meeting's queue and floor live: one small interface, in memory or in Redis.

Like the broker (rooms/broker.py): a `MeetingStore` protocol, a `MemoryMeetingStore` for the
one-process default and a `RedisMeetingStore` shared by every worker (one Redis or a cluster),
run through one contract suite. The store knows nothing of the rules: `change` reads a room's
state, hands it to a pure function (rooms/meeting_rules.apply, via the endpoint), and writes the
result only if nobody else wrote in between, retrying a bounded number of times. So two chairs'
clicks on two workers never lose one another, and the rules stay testable without Redis.

A state is kept only while its meeting can run: it expires `ttl_s` after its last change.
Redis key: `harbor:{room:R}:meeting` (the room's hash slot, beside its history).

Beside it, `seen` keeps when each person the meeting names was last seen connected, by any
worker: each worker marks those it holds, and reads everyone's, so a person who left is let go
by whichever worker sweeps first (rooms/meeting_rules.settle). Entries older than the resume
window are dropped as they are read, so it holds at most the people the meeting names now and
those it named within the window. Redis key: `harbor:{room:R}:meeting_seen` (a hash).

And the meetings a coordinator added while Harbor runs (the rooms file stays the base
schedule): each an entry in the rooms file's own shape, with its room, kept as JSON under its id
until removed, at most `limit` of them. Redis key: `harbor:{meetings}:added` (a hash), which
every worker reads each sweep (server/meeting_book.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from .broker import BrokerUnavailable
from .broker_redis import room_key
from .scripts import with_scripts

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

# Mark ARGV[3..] seen at ARGV[1] (ms), drop entries older than ARGV[2] ms, and return the rest as
# [tag, ms, tag, ms, ...]. One key: runs on a cluster too.
_SEEN = """
local now, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], now) end
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) < now - keep then
    redis.call('HDEL', KEYS[1], all[i])
  else
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
if #out > 0 then redis.call('PEXPIRE', KEYS[1], keep) end
return out
"""


# Add ARGV[2] under id ARGV[1] unless that id is taken or ARGV[3] entries are already kept.
_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'added'
"""
ADDED_KEY = "harbor:{meetings}:added"


class MeetingStore(Protocol):
    async def read(self, room: str) -> bytes | None:
        """The room's stored meeting state, or None."""
        ...

    async def change(self, room: str, change: Change[Result], *, ttl_s: float) -> Result:
        """Apply `change` atomically to the room's state; raises BrokerUnavailable when the
        store can't be reached (or the room is too contended), so the client retries."""
        ...

    async def seen(
        self, room: str, here: Collection[str], now_ms: int, keep_ms: int
    ) -> dict[str, int]:
        """Mark the writers' tags `here` as seen at `now_ms`, and return when everyone seen in
        the room within `keep_ms` was last seen (tag -> ms). Raises BrokerUnavailable."""
        ...

    async def added(self) -> dict[str, bytes]:
        """The meetings added while Harbor runs: id -> entry (JSON). Raises BrokerUnavailable."""
        ...

    async def add(self, meeting_id: str, entry: bytes, *, limit: int) -> str:
        """Keep `entry` under `meeting_id`: "added", or "exists" (the id is taken) or "full"
        (`limit` are kept already), changing nothing. Raises BrokerUnavailable."""
        ...

    async def remove(self, meeting_id: str) -> bool:
        """Forget an added meeting; False when there was none. Raises BrokerUnavailable."""
        ...


class MemoryMeetingStore:
    """One process: a dict, and no await between a read and its write, so changes are atomic.
    Expired states are dropped when read; the dict holds at most one state per room."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._states: dict[str, tuple[bytes, float]] = {}
        self._seen: dict[str, dict[str, int]] = {}
        self._added: dict[str, bytes] = {}

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

    async def seen(
        self, room: str, here: Collection[str], now_ms: int, keep_ms: int
    ) -> dict[str, int]:
        marks = self._seen.get(room, {})
        marks.update(dict.fromkeys(here, now_ms))
        marks = {tag: at for tag, at in marks.items() if at >= now_ms - keep_ms}
        if marks:
            self._seen[room] = marks
        else:
            self._seen.pop(room, None)
        return dict(marks)

    async def added(self) -> dict[str, bytes]:
        return dict(self._added)

    async def add(self, meeting_id: str, entry: bytes, *, limit: int) -> str:
        if meeting_id in self._added:
            return "exists"
        if len(self._added) >= limit:
            return "full"
        self._added[meeting_id] = entry
        return "added"

    async def remove(self, meeting_id: str) -> bool:
        return self._added.pop(meeting_id, None) is not None


class RedisMeetingStore:
    """Every worker's one state per room. Changes on one worker take turns per room (a room
    full of raised hands costs no retries), so only writers on other workers race the
    compare-and-set."""

    def __init__(self, client: aioredis.Redis | RedisCluster) -> None:
        self._client = client
        self._seen = client.register_script(_SEEN)
        self._add = client.register_script(_ADD)
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

    async def seen(
        self, room: str, here: Collection[str], now_ms: int, keep_ms: int
    ) -> dict[str, int]:
        key = room_key(room, "meeting_seen")
        try:
            flat = await with_scripts(
                self._client,
                [_SEEN],
                lambda: self._seen(keys=[key], args=[now_ms, max(1, keep_ms), *here]),
            )
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc
        pairs = iter(flat)
        return {_text(tag): int(at) for tag, at in zip(pairs, pairs, strict=True)}

    async def added(self) -> dict[str, bytes]:
        try:
            found = await self._client.hgetall(ADDED_KEY)
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc
        return {_text(key): _bytes(value) or b"" for key, value in found.items()}

    async def add(self, meeting_id: str, entry: bytes, *, limit: int) -> str:
        try:
            said = await with_scripts(
                self._client,
                [_ADD],
                lambda: self._add(keys=[ADDED_KEY], args=[meeting_id, entry, limit]),
            )
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc
        return _text(said)

    async def remove(self, meeting_id: str) -> bool:
        try:
            return bool(await self._client.hdel(ADDED_KEY, meeting_id))
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str | None) -> bytes | None:
    """A GET reply as bytes (the clients here do not decode replies; a str is re-encoded)."""
    return value.encode() if isinstance(value, str) else value
