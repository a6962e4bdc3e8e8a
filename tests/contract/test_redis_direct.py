"""DirectConnections against a private redis-server: replies always answer their own call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from rooms.redis_direct import DirectConnections
from tests.harness import RedisProcess, seconds, until


@pytest.fixture
async def direct(redis_server: RedisProcess) -> AsyncIterator[DirectConnections]:
    pool = aioredis.ConnectionPool.from_url(redis_server.url)
    connections = DirectConnections(pool, limit=2)
    try:
        yield connections
    finally:
        await connections.aclose()
        await pool.aclose()


def _clients(redis_server: RedisProcess, command: str | None = None) -> int:
    """Connections open to the server (besides this one), or those now running ``command``."""
    with redis.Redis.from_url(redis_server.url) as client:
        others = client.client_list()[:-1] if command is None else client.client_list()
        return sum(1 for other in others if command is None or other.get("cmd") == command)


async def test_a_call_cancelled_before_its_reply_never_answers_the_next_call(
    direct: DirectConnections,
) -> None:
    """If the cancelled call's connection were reused, the RPUSH would queue behind the
    blocked BLPOP on it and receive BLPOP's reply instead of its own."""
    with anyio.move_on_after(0.2):
        await direct.call("BLPOP", "queue", 5)
    with anyio.fail_after(seconds(2)):
        assert await direct.call("RPUSH", "queue", "item") == 1
    assert await direct.call("LLEN", "queue") == 1


async def test_an_error_reply_is_raised_and_its_connection_stays_in_use(
    direct: DirectConnections, redis_server: RedisProcess
) -> None:
    with pytest.raises(NoScriptError):
        await direct.call("EVALSHA", "0" * 40, 0)
    assert await direct.call("PING") == b"PONG"
    assert await direct.call("SET", "k", b"\x00v") == b"OK"
    assert await direct.call("GET", "k") == b"\x00v"
    assert _clients(redis_server) == 1


async def test_concurrent_calls_never_hold_more_connections_than_the_limit(
    direct: DirectConnections, redis_server: RedisProcess
) -> None:
    """Six calls that block until released: two run (one per connection), four wait for a
    connection rather than open a third; once released, all finish on those two."""
    async with anyio.create_task_group() as calls:
        for _ in range(6):
            calls.start_soon(direct.call, "BLPOP", "release", 0)
        await until(lambda: _clients(redis_server, "blpop") == 2, 5, "two calls blocked")
        most = _clients(redis_server)
        with redis.Redis.from_url(redis_server.url) as client:
            client.rpush("release", *range(6))
    most = max(most, _clients(redis_server))
    assert most == 2


async def test_a_call_that_finds_every_connection_busy_too_long_times_out(
    redis_server: RedisProcess,
) -> None:
    pool = aioredis.ConnectionPool.from_url(redis_server.url)
    direct = DirectConnections(pool, limit=1, wait_s=0.2, timeout_s=5)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(direct.call, "BLPOP", "nothing", 1)
            await until(lambda: _clients(redis_server, "blpop") == 1, 5, "the one connection busy")
            with pytest.raises(TimeoutError):
                await direct.call("PING")
        assert await direct.call("PING") == b"PONG"
    finally:
        await direct.aclose()
        await pool.aclose()


async def test_a_call_whose_reply_does_not_come_in_time_fails_and_its_connection_is_dropped(
    redis_server: RedisProcess,
) -> None:
    pool = aioredis.ConnectionPool.from_url(redis_server.url)
    direct = DirectConnections(pool, limit=1, timeout_s=0.2)
    try:
        with pytest.raises(TimeoutError):
            await direct.call("BLPOP", "queue", 2)
        with anyio.fail_after(seconds(1)):  # not queued behind the BLPOP
            assert await direct.call("RPUSH", "queue", "item") == 1
    finally:
        await direct.aclose()
        await pool.aclose()


async def test_renew_replaces_connections_that_died_with_their_server(
    direct: DirectConnections, redis_server: RedisProcess
) -> None:
    """After a Redis restart every idle connection is dead; renewing (the broker does it
    whenever its listener reconnects) means the next send does not fail on one."""
    await direct.renew(2)
    assert _clients(redis_server) == 2
    redis_server.stop()
    redis_server.start()
    await direct.renew(2)
    assert await direct.call("PING") == b"PONG"
    assert await direct.call("PING") == b"PONG"
