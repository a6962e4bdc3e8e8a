"""Presence in Redis, per room: a hash of worker -> count and a sorted set of worker -> expiry.

Keys share the room's hash tag: `harbor:{room:R}:presence`, `...:presence_exp` and
`...:presence_total`.
One Lua call per room records this worker's count, sweeps workers whose heartbeat expired, and
publishes the new total on the room channel only when it changed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from .broker_redis import room_channel, room_key, sharded
from .scripts import with_scripts

_REPORT = """
local counts, expiry, total_key = KEYS[1], KEYS[2], KEYS[3]
local worker, count = ARGV[1], tonumber(ARGV[2])
local now_ms, ttl_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
if count > 0 then
  redis.call('HSET', counts, worker, count)
  redis.call('ZADD', expiry, now_ms + ttl_ms, worker)
else
  redis.call('HDEL', counts, worker)
  redis.call('ZREM', expiry, worker)
end
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now_ms)) do
  redis.call('HDEL', counts, dead)
  redis.call('ZREM', expiry, dead)
end
local total = 0
for _, n in ipairs(redis.call('HVALS', counts)) do total = total + tonumber(n) end
local previous = tonumber(redis.call('GET', total_key) or '-1')
redis.call('SET', total_key, total, 'PX', ttl_ms * 4)
redis.call('PEXPIRE', counts, ttl_ms * 4)
redis.call('PEXPIRE', expiry, ttl_ms * 4)
if total ~= previous then
  redis.call('PUBLISH', ARGV[5], '0 - ' .. cmsgpack.pack({1, 'p', total}))
end
return total
"""

_TOTAL = """
local total = 0
local live = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')
if #live > 0 then
  for _, n in ipairs(redis.call('HMGET', KEYS[1], unpack(live))) do
    total = total + (tonumber(n) or 0)
  end
end
return total
"""


class RedisPresence:
    """`client` is one Redis's or a cluster's (`RedisCluster`): every call touches one room's
    keys, so a cluster client sends each to that room's shard, and the total is announced with
    SPUBLISH there."""

    def __init__(self, client: aioredis.Redis | RedisCluster, worker_id: str, ttl_s: float) -> None:
        self._redis = client
        self._worker = worker_id
        self._ttl_ms = int(ttl_s * 1000)
        cluster = isinstance(client, RedisCluster)
        self._report = client.register_script(sharded(_REPORT) if cluster else _REPORT)
        self._total = client.register_script(_TOTAL)

    async def report(self, counts: Mapping[str, int]) -> None:
        await with_scripts(self._redis, [self._report.script], lambda: self._report_all(counts))

    async def _report_all(self, counts: Mapping[str, int]) -> None:
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for room, count in counts.items():
                await self._report(
                    keys=_keys(room),
                    args=[self._worker, count, now_ms, self._ttl_ms, room_channel(room)],
                    client=cast(Any, pipe),  # a one-Redis or cluster pipeline
                )
            await pipe.execute()

    async def totals(self, rooms: Iterable[str]) -> dict[str, int]:
        listed = list(rooms)
        return await with_scripts(
            self._redis, [self._total.script], lambda: self._totals_of(listed)
        )

    async def _totals_of(self, rooms: list[str]) -> dict[str, int]:
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for room in rooms:
                await self._total(keys=_keys(room)[:2], args=[now_ms], client=cast(Any, pipe))
            results = await pipe.execute()
        return {room: int(total) for room, total in zip(rooms, results, strict=True)}


def _keys(room: str) -> list[str]:
    return [
        room_key(room, "presence"),
        room_key(room, "presence_exp"),
        room_key(room, "presence_total"),
    ]
