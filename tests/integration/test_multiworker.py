"""Two real worker processes on two ports sharing one private Redis."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess

FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}


@pytest.fixture
def pair(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, HarborProcess]:
    return harbor(redis_server, **FAST), harbor(redis_server, **FAST)


async def member(worker: HarborProcess, room: str, **join: Any) -> Client:
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join(room, **join)
    return client


async def collect(client: Client, count: int) -> list[dict[str, Any]]:
    return [await client.expect("message") for _ in range(count)]


async def test_messages_cross_workers_both_ways_in_order_without_loss_or_duplicates(
    pair: tuple[HarborProcess, HarborProcess],
) -> None:
    one, two = pair
    clients = [await member(one, "newcomers"), await member(two, "newcomers")]
    clients += [await member(one, "newcomers"), await member(two, "newcomers")]
    for n in range(40):
        sender = clients[n % 2]
        await sender.send(
            {"type": "send", "room": "newcomers", "text": f"msg {n}", "client_id": f"c{n}"}
        )
    sent = [(await clients[n % 2].expect("ack", client_id=f"c{n}"))["id"] for n in range(40)]
    for client in clients:
        received = await collect(client, 40)
        ids = [m["id"] for m in received]
        assert ids == sorted(ids), "delivered out of order"
        assert sorted(ids) == sorted(sent), "lost or duplicated"
        assert {m["text"] for m in received} == {f"msg {n}" for n in range(40)}


async def test_presence_counts_agree_across_workers(
    pair: tuple[HarborProcess, HarborProcess],
) -> None:
    one, two = pair
    on_one = [await member(one, "alcohol") for _ in range(3)]
    on_two = [await member(two, "alcohol") for _ in range(2)]
    for client in on_one + on_two:
        await client.expect("presence", within=10, count=5)
    for worker in pair:
        rooms = {room["id"]: room["count"] for room in worker.get_json("/api/rooms")["rooms"]}
        assert rooms["alcohol"] == 5
    await on_two[0].close()
    await on_one[0].expect("presence", within=10, count=4)


async def test_a_returning_client_gets_exactly_the_missed_messages_on_another_worker(
    pair: tuple[HarborProcess, HarborProcess],
) -> None:
    one, two = pair
    talker = await member(one, "relapse-prevention")
    leaver = await member(two, "relapse-prevention")
    first = await talker.say("relapse-prevention", "before", "b0")
    seen = await leaver.expect("message", id=first["id"])
    joined_epoch = (await talker.join_info("relapse-prevention"))["epoch"]
    await leaver.close()
    missed = [
        (await talker.say("relapse-prevention", f"missed {n}", f"m{n}"))["id"] for n in range(7)
    ]
    back = await member(one, "relapse-prevention", since=seen["id"], epoch=joined_epoch)
    joined = back.last_joined
    assert joined["recovered"] is True
    assert [m["id"] for m in joined["history"]] == missed
    after = await talker.say("relapse-prevention", "after", "a0")
    assert (await back.expect("message"))["id"] == after["id"]


async def test_a_client_behind_the_trimmed_history_is_told_recovered_false(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    worker = harbor(redis_server, HARBOR_HISTORY_LEN="5", **FAST)
    talker = await member(worker, "sober-living")
    first = await talker.say("sober-living", "first", "f")
    for n in range(10):
        await talker.say("sober-living", f"n{n}", f"n{n}")
    back = await member(worker, "sober-living", since=first["id"])
    assert back.last_joined["recovered"] is False
    assert len(back.last_joined["history"]) <= 5


async def test_members_of_a_killed_worker_leave_the_presence_count_within_the_ttl(
    pair: tuple[HarborProcess, HarborProcess],
) -> None:
    one, two = pair
    survivor = await member(one, "mental-health")
    for _ in range(3):
        await member(two, "mental-health")
    await survivor.expect("presence", within=10, count=4)
    two.stop(signal.SIGKILL)
    await survivor.expect("presence", within=15, count=1)


async def test_sending_without_redis_is_refused_as_retryable_and_never_acked(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    worker = harbor(redis_server, **FAST)
    client = await member(worker, "newcomers")
    redis_server.stop()
    await client.send({"type": "send", "room": "newcomers", "text": "hi", "client_id": "x"})
    reply = await client.expect_any(("ack", "error"), within=10, client_id="x")
    assert reply["type"] == "error"
    assert reply["code"] == "unavailable" and reply["retryable"] is True
