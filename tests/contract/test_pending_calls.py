"""Backup calls kept in Redis (server/pending_calls.py) on a real redis-server: a call whose
lease ran out goes to exactly one new caller, and the caller it was taken from is told to stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from server.pending_calls import RedisPendingCalls
from tests.harness import RedisProcess

NOW = 1_700_000_000_000


@pytest.fixture
async def client(redis_server: RedisProcess) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(redis_server.url)
    try:
        yield redis
    finally:
        await redis.aclose()


async def test_a_stalled_call_goes_to_exactly_one_worker_and_its_old_caller_stops(
    client: aioredis.Redis,
) -> None:
    one, two, three = (RedisPendingCalls(client) for _ in range(3))
    call = await one.add(b'{"dashboard":"/mod/"}', "w1", NOW + 5000)
    assert await one.renew(call.id, "w1", 1, NOW + 5000)
    assert await two.take_stalled("w2", NOW + 4999, NOW + 9000) == [], "its lease holds"
    taken = await asyncio.gather(
        two.take_stalled("w2", NOW + 5000, NOW + 9000),
        three.take_stalled("w3", NOW + 5000, NOW + 9000),
    )
    (resumed,) = [call for calls in taken for call in calls]
    assert (resumed.id, resumed.body, resumed.attempt) == (call.id, call.body, 1)
    assert not await one.renew(call.id, "w1", 2, NOW + 9000), "the old caller must stop"
    await one.done(call.id, "w1")  # not its call any more: nothing happens
    new_owner = "w2" if taken[0] else "w3"
    assert await two.renew(call.id, new_owner, 2, NOW + 12000)
    await two.done(call.id, new_owner)
    assert await two.take_stalled("w2", NOW + 99_000, NOW + 100_000) == []
    assert await client.keys("harbor:{mod}:call*") == []
