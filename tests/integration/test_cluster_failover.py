"""A Redis Cluster primary killed under traffic: its replica takes over, nothing acked is lost.

Two `harbor serve` workers share a real local cluster (3 primaries, 3 replicas); resilient
clients (tests/resilience.py) talk in one room. First the primary serving the room is killed by
PID, then, once its replica has taken over, the primary serving the moderation queue (`{mod}`),
each right after a crisis message raised a flag. Every acked message must reach every member
once and in order, or, for a member told to resume (its room's shard failed over, so a new epoch
began), from history when it resumes -- and both flags must still be in the queue.

Members are told to resume (4008) when the room's new epoch reaches their worker; their resume
from the old epoch is recovered up to the last id the new primary inherited (see
rooms.history.carry_over), so in practice they miss nothing and see nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from rooms.broker_redis import room_key
from tests.conftest import TEST_SECRET
from tests.harness import (
    Client,
    HarborProcess,
    RedisClusterProcesses,
    RedisProcess,
    add_moderator_account,
    wait_until,
)
from tests.integration.test_resilience import WORKER_ENV, report, run_scenario
from tests.resilience import ROOM

MOD_KEY = "harbor:{mod}:flags:live"


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[RedisClusterProcesses]:
    """A cluster of this test's own: it kills nodes."""
    cluster = RedisClusterProcesses(tmp_path / "cluster").start()
    try:
        yield cluster
    finally:
        cluster.stop()


class Workers:
    def __init__(self, root: Path, url: str, count: int) -> None:
        env = {**WORKER_ENV, "REDIS_URL": url, "HARBOR_SECRET": TEST_SECRET}
        self.workers = [HarborProcess(root / f"w{n}", env).start() for n in range(count)]

    @property
    def urls(self) -> list[str]:
        return [w.ws for w in self.workers]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def _served(cluster: RedisClusterProcesses, key: str, victim: RedisProcess) -> bool:
    """A running primary other than `victim` serves `key`, and the cluster says ok."""
    try:
        owner = cluster.owner_of(key)
    except LookupError:
        return False
    return owner is not victim and cluster.healthy()


async def _fail_over(cluster: RedisClusterProcesses, key: str) -> None:
    victim = cluster.owner_of(key)
    await asyncio.to_thread(victim.kill)
    await asyncio.to_thread(
        wait_until, lambda: _served(cluster, key, victim), 30, f"a replica to serve {key}"
    )


async def _raise_flag(url: str, client_id: str) -> None:
    """Send a crisis message as the page does: told to resume (4008, its room's shard may be
    failing over) or refused as unavailable, it reconnects with its token and sends again with
    the same client_id until acked (one flag: flags are keyed by writer and client_id)."""
    token: str | None = None
    for _ in range(10):
        crisis = await Client.connect(url)
        try:
            token = (await crisis.hello(token))["token"]
            await crisis.join(ROOM)
            await crisis.say(ROOM, "i want to end my life tonight", client_id)
            return
        except (ConnectionClosed, TimeoutError):
            await asyncio.sleep(0.2)
        finally:
            await crisis.close()
    raise AssertionError("the crisis message was never acked")


def _flag_count(cluster: RedisClusterProcesses) -> int:
    owner = cluster.owner_of(MOD_KEY)
    return int(cluster.cli(owner, "zcard", MOD_KEY).strip() or 0)


async def test_a_killed_primary_fails_over_and_no_acked_message_or_flag_is_lost(
    tmp_path: Path, own_cluster: RedisClusterProcesses, capsys: pytest.CaptureFixture[str]
) -> None:
    add_moderator_account("ana", "a long enough password", REDIS_URL=own_cluster.url,
                          HARBOR_SECRET=TEST_SECRET)  # fmt: skip
    workers = Workers(tmp_path, own_cluster.url, 2)
    try:

        async def failovers() -> None:
            await _raise_flag(workers.urls[0], "flag-before-room-failover")
            await _fail_over(own_cluster, room_key(ROOM, "meta"))
            await _raise_flag(workers.urls[1], "flag-before-queue-failover")
            await _fail_over(own_cluster, MOD_KEY)

        figures = await run_scenario("cluster primary killed twice", workers, failovers)  # type: ignore[arg-type]
        flags = await asyncio.to_thread(_flag_count, own_cluster)
        assert all(w.proc is not None and w.proc.poll() is None for w in workers.workers)
        ready = [w.status("/readyz") for w in workers.workers]
    finally:
        workers.stop()
    report(capsys, {**figures, "flags": flags})
    assert figures["acked"], "no traffic was acked"
    assert figures["lost"] == 0, "an acked message never reached a member"
    told_to_resume = figures["not_recovered"]
    assert figures["duplicated"] == 0 or told_to_resume, "a duplicate without a resume"
    assert flags == 2, "a flag raised just before its primary was killed is gone"
    assert ready == [200, 200], "workers are ready again once the cluster has failed over"
