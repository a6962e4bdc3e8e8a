"""The meeting store contract, run against every backend: memory, a real Redis and a real Redis
Cluster. Changes are
atomic (racing writers never lose one another), a change may decline to write, and states
expire."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
import redis.asyncio as aioredis

from rooms.broker_cluster import open_redis
from rooms.meeting_store import MeetingStore, MemoryMeetingStore, RedisMeetingStore
from tests.harness import RedisClusterProcesses, RedisProcess


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[MeetingStore]:
    if request.param == "memory":
        yield MemoryMeetingStore(Clock())
        return
    server: RedisProcess | RedisClusterProcesses = request.getfixturevalue(
        "cluster" if request.param == "cluster" else "redis_server"
    )
    client = open_redis(server.url)  # a cluster client for redis+cluster://
    try:
        yield RedisMeetingStore(client)
    finally:
        await client.aclose()


def append(item: bytes):  # type: ignore[no-untyped-def]
    def change(stored: bytes | None) -> tuple[bytes | None, bytes]:
        new = (stored or b"") + item
        return new, new

    return change


async def test_a_change_reads_writes_and_returns(store: MeetingStore) -> None:
    assert await store.read("alcohol") is None
    assert await store.change("alcohol", append(b"a"), ttl_s=60) == b"a"
    assert await store.change("alcohol", append(b"b"), ttl_s=60) == b"ab"
    assert await store.read("alcohol") == b"ab"
    assert await store.read("opioids") is None


async def test_a_change_may_decline_to_write(store: MeetingStore) -> None:
    def look(stored: bytes | None) -> tuple[bytes | None, str]:
        return None, "looked"

    assert await store.change("alcohol", look, ttl_s=60) == "looked"
    assert await store.read("alcohol") is None


async def test_racing_changes_are_all_kept(store: MeetingStore) -> None:
    """Thirty writers at once (a room full of raised hands): none is lost."""

    async def writer(index: int) -> None:
        await store.change("alcohol", append(b"%02d," % index), ttl_s=60)

    async with anyio.create_task_group() as tasks:
        for index in range(30):
            tasks.start_soon(writer, index)
    stored = await store.read("alcohol")
    assert stored is not None
    assert sorted(stored.decode().rstrip(",").split(",")) == [f"{i:02d}" for i in range(30)]


async def test_a_state_expires_after_its_ttl() -> None:
    clock = Clock()
    store = MemoryMeetingStore(clock)
    await store.change("alcohol", append(b"a"), ttl_s=5)
    clock.now += 4.9
    assert await store.read("alcohol") == b"a"
    clock.now += 0.2
    assert await store.read("alcohol") is None


async def test_redis_keeps_the_state_in_the_rooms_slot_with_an_expiry(
    redis_server: RedisProcess,
) -> None:
    client = aioredis.from_url(redis_server.url)
    try:
        await RedisMeetingStore(client).change("alcohol", append(b"a"), ttl_s=90)
        assert await client.get("harbor:{room:alcohol}:meeting") == b"a"
        assert 80_000 < await client.pttl("harbor:{room:alcohol}:meeting") <= 90_000
    finally:
        await client.aclose()


async def test_two_workers_racing_on_redis_lose_nothing(redis_server: RedisProcess) -> None:
    """Two stores on two connections, as two workers have: the compare-and-set keeps both."""
    clients = [aioredis.from_url(redis_server.url) for _ in range(2)]
    stores = [RedisMeetingStore(client) for client in clients]
    try:

        async def writer(index: int) -> None:
            await stores[index % 2].change("alcohol", append(b"%02d," % index), ttl_s=60)

        async with anyio.create_task_group() as tasks:
            for index in range(16):
                tasks.start_soon(writer, index)
        stored = await stores[0].read("alcohol")
        assert stored is not None
        assert sorted(stored.decode().rstrip(",").split(",")) == [f"{i:02d}" for i in range(16)]
    finally:
        for client in clients:
            await client.aclose()


async def test_who_was_seen_is_shared_and_forgets_those_gone_past_the_window(
    store: MeetingStore,
) -> None:
    """Two workers mark the people each holds; each reads everyone's; a person not marked for
    longer than the window is dropped, so a departure is visible to every worker alike."""
    assert await store.seen("alcohol", ["aaaa"], 1_000, 60_000) == {"aaaa": 1_000}
    assert await store.seen("alcohol", ["bbbb", "cccc"], 2_000, 60_000) == {
        "aaaa": 1_000,
        "bbbb": 2_000,
        "cccc": 2_000,
    }
    assert await store.seen("alcohol", [], 61_500, 60_000) == {"bbbb": 2_000, "cccc": 2_000}
    assert await store.seen("alcohol", ["cccc"], 62_500, 60_000) == {"cccc": 62_500}
    assert await store.seen("opioids", [], 62_500, 60_000) == {}


async def test_meetings_added_while_running_are_kept_bounded_and_removed(
    store: MeetingStore,
) -> None:
    assert await store.added() == {}
    assert await store.add("a", b'{"title":"A"}', limit=2) == "added"
    assert await store.add("a", b'{"title":"other"}', limit=2) == "exists"
    assert await store.add("b", b"{}", limit=2) == "added"
    assert await store.add("c", b"{}", limit=2) == "full"
    assert await store.added() == {"a": b'{"title":"A"}', "b": b"{}"}
    assert await store.remove("a") and not await store.remove("a")
    assert await store.added() == {"b": b"{}"}
