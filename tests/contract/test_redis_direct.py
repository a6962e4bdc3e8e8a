"""DirectConnections against a private redis-server: replies always answer their own call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from rooms.redis_direct import DirectConnections
from tests.harness import RedisProcess, seconds


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def direct(server: RedisProcess) -> AsyncIterator[DirectConnections]:
    pool = aioredis.ConnectionPool.from_url(server.url)
    connections = DirectConnections(pool, limit=2)
    try:
        yield connections
    finally:
        await connections.aclose()
        await pool.aclose()


def _clients(server: RedisProcess) -> int:
    with redis.Redis.from_url(server.url) as client:
        return len(client.client_list()) - 1  # not this one


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
    direct: DirectConnections, server: RedisProcess
) -> None:
    with pytest.raises(NoScriptError):
        await direct.call("EVALSHA", "0" * 40, 0)
    assert await direct.call("PING") == b"PONG"
    assert await direct.call("SET", "k", b"\x00v") == b"OK"
    assert await direct.call("GET", "k") == b"\x00v"
    assert _clients(server) == 1


async def test_concurrent_calls_never_hold_more_connections_than_the_limit(
    direct: DirectConnections, server: RedisProcess
) -> None:
    most = 0

    async def blocked_call() -> None:
        await direct.call("BLPOP", "nothing", 0.2)

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, _clients(server))
            await anyio.sleep(0.02)

    async with anyio.create_task_group() as outer:
        outer.start_soon(watch)
        async with anyio.create_task_group() as calls:
            for _ in range(6):
                calls.start_soon(blocked_call)
        outer.cancel_scope.cancel()
    assert most == 2


async def test_a_call_that_finds_every_connection_busy_too_long_times_out(
    server: RedisProcess,
) -> None:
    pool = aioredis.ConnectionPool.from_url(server.url)
    direct = DirectConnections(pool, limit=1, wait_s=0.2, timeout_s=5)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(direct.call, "BLPOP", "nothing", 1)
            await anyio.sleep(0.05)
            with pytest.raises(TimeoutError):
                await direct.call("PING")
        assert await direct.call("PING") == b"PONG"
    finally:
        await direct.aclose()
        await pool.aclose()


async def test_a_call_whose_reply_does_not_come_in_time_fails_and_its_connection_is_dropped(
    server: RedisProcess,
) -> None:
    pool = aioredis.ConnectionPool.from_url(server.url)
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
    direct: DirectConnections, server: RedisProcess
) -> None:
    """After a Redis restart every idle connection is dead; renewing (the broker does it
    whenever its listener reconnects) means the next send does not fail on one."""
    await direct.renew(2)
    assert _clients(server) == 2
    server.stop()
    server.start()
    await direct.renew(2)
    assert await direct.call("PING") == b"PONG"
    assert await direct.call("PING") == b"PONG"
