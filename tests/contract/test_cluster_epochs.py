"""A room's epoch on a Redis Cluster when another node takes its slot over (a failover, a moved
slot), on the real local cluster: the new node starts a new epoch, and a client that had seen
only what the new node inherited resumes without a loss; one that saw a message the old primary
took with it is told it was not recovered, yet gets every message after the last shared one.

The node change is staged on the room's meta hash as a replica would find it after taking over:
another node's id, and (for a lost message) a `seq` and log that stop short of the old primary's.
"""

from __future__ import annotations

from typing import Any

from redis.cluster import RedisCluster

from rooms.broker import HistoryLimits
from rooms.broker_cluster import ClusterBroker
from rooms.broker_redis import room_key
from rooms.envelope import Draft
from tests.harness import RedisClusterProcesses

ROOM = "newcomers"
META = room_key(ROOM, "meta")
LOG = room_key(ROOM, "log")


def draft(text: str) -> Draft:
    return Draft(uid="u1", name="Calm Heron 1", text=text, ts=1_900_000_000_000)


async def _published(broker: ClusterBroker, count: int) -> str:
    receipts = [await broker.publish(ROOM, draft(f"m{n}")) for n in range(1, count + 1)]
    return receipts[0].epoch


def _taken_over(cluster: RedisClusterProcesses, *, inherited: int) -> None:
    """As if a node that had seen ids 1..inherited took the room's slot over: another node's id
    on the meta hash, and the log rebuilt with those entries alone (a trimmed stream would
    still refuse the ids the new node gives again)."""
    client = RedisCluster.from_url(
        cluster.url.replace("redis+cluster://", "redis://").split(",")[0]
    )
    try:
        kept: list[Any] = client.xrange(LOG, "-", f"{inherited}-0") or []
        client.delete(LOG)
        for entry_id, fields in kept:
            client.xadd(LOG, fields, id=entry_id)
        client.hset(META, mapping={"node": "a-node-that-failed", "seq": inherited})
    finally:
        client.close()


async def test_a_resume_from_before_a_takeover_continues_up_to_the_inherited_id(
    cluster: RedisClusterProcesses,
) -> None:
    broker = ClusterBroker(cluster.url, HistoryLimits(max_age_s=10**6))
    try:
        old_epoch = await _published(broker, 5)
        _taken_over(cluster, inherited=5)
        after = await broker.publish(ROOM, draft("first on the new node"))
        assert after.epoch != old_epoch and after.id == 6
        resumed = await broker.history(ROOM, since=3, client_epoch=old_epoch, limit=50)
        assert resumed.recovered and resumed.epoch == after.epoch
        assert [m.id for m in resumed.messages] == [4, 5, 6]
        at_head = await broker.history(ROOM, since=6, client_epoch=after.epoch, limit=50)
        assert at_head.recovered and at_head.messages == ()
    finally:
        await broker.aclose()


async def test_a_client_that_saw_a_lost_message_is_not_recovered_but_misses_nothing_acked(
    cluster: RedisClusterProcesses,
) -> None:
    broker = ClusterBroker(cluster.url, HistoryLimits(max_age_s=10**6))
    try:
        old_epoch = await _published(broker, 5)
        _taken_over(cluster, inherited=3)  # ids 4 and 5 died with the old primary
        reused = await broker.publish(ROOM, draft("numbered 4 again"))
        assert reused.id == 4 and reused.epoch != old_epoch
        saw_lost = await broker.history(ROOM, since=5, client_epoch=old_epoch, limit=1)
        assert not saw_lost.recovered and saw_lost.epoch == reused.epoch
        assert [m.text for m in saw_lost.messages] == ["numbered 4 again"]
        saw_shared = await broker.history(ROOM, since=2, client_epoch=old_epoch, limit=1)
        assert saw_shared.recovered
        assert [m.text for m in saw_shared.messages] == ["m3", "numbered 4 again"]
        older = await broker.history(ROOM, since=2, client_epoch="an-older-epoch", limit=1)
        assert not older.recovered and [m.id for m in older.messages] == [4]
    finally:
        await broker.aclose()
