"""A room's slot moves, or its primary restarts, under traffic on a real local cluster.

Two `harbor serve` workers share the cluster; resilient clients (tests/resilience.py) talk in
one room while its slot is resharded to another primary (CLUSTER SETSLOT and MIGRATE, as
`redis-cli --cluster reshard` does), or while the primary serving it is stopped and started
again on the same port and data (append-only, as the operations guide says to run).

Each worker's subscription for the room is ended by the server when the slot moves, or dropped
with the connection when the node stops, and must be made again on whichever primary serves the
slot then; the room is repaired from history. Every acked message reaches every member once and
in order (a member told to resume resumes recovered: a move or a clean restart loses nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from rooms.broker_redis import room_key
from tests.harness import RedisClusterProcesses, wait_until
from tests.integration.test_cluster_failover import Workers
from tests.integration.test_resilience import assert_exactly_once, report, run_scenario
from tests.resilience import ROOM

META = room_key(ROOM, "meta")


def _resubscriptions(metrics: str) -> float:
    """Rooms a worker's listener subscribed again on its own (a moved slot, a lost node)."""
    for line in metrics.splitlines():
        if line.startswith("harbor_redis_reconnects_total "):
            return float(line.split()[1])
    raise AssertionError("harbor_redis_reconnects_total is missing from /metrics")


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[RedisClusterProcesses]:
    """A cluster of this test's own, persistent: it reshards and restarts nodes."""
    cluster = RedisClusterProcesses(tmp_path / "cluster", appendonly=True).start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_a_rooms_slot_moved_to_another_primary_keeps_every_message(
    tmp_path: Path, own_cluster: RedisClusterProcesses, capsys: pytest.CaptureFixture[str]
) -> None:
    workers = Workers(tmp_path, own_cluster.url, 2)
    source = own_cluster.owner_of(META)
    target = next(n for n in own_cluster.primary_nodes() if n is not source)
    try:

        async def reshard() -> None:
            await asyncio.to_thread(own_cluster.move_slot, META, target)
            await asyncio.to_thread(
                wait_until, own_cluster.healthy, 30, "the cluster to agree on the move"
            )

        figures = await run_scenario("room's slot resharded", workers, reshard)  # type: ignore[arg-type]
        ready = [w.status("/readyz") for w in workers.workers]
        resubscribed = [_resubscriptions(w.get_text("/metrics")) for w in workers.workers]
    finally:
        workers.stop()
    report(capsys, figures)
    assert own_cluster.owner_of(META) is target, "the slot was moved"
    assert_exactly_once(figures)
    assert ready == [200, 200]
    assert all(n > 0 for n in resubscribed), "each worker subscribed the room on the new owner"


async def test_a_restarted_primary_keeps_its_rooms_delivering(
    tmp_path: Path, own_cluster: RedisClusterProcesses, capsys: pytest.CaptureFixture[str]
) -> None:
    workers = Workers(tmp_path, own_cluster.url, 2)
    node = own_cluster.owner_of(META)
    try:

        async def restart() -> None:
            await asyncio.to_thread(node.stop)  # SIGTERM: Redis writes its append-only file
            await asyncio.to_thread(node.start)
            await asyncio.to_thread(
                wait_until, own_cluster.healthy, 30, "the cluster to take the node back"
            )

        figures = await run_scenario("room's primary restarted", workers, restart)  # type: ignore[arg-type]
        ready = [w.status("/readyz") for w in workers.workers]
        resubscribed = [_resubscriptions(w.get_text("/metrics")) for w in workers.workers]
        failed_over = own_cluster.owner_of(META) is not node
    finally:
        workers.stop()
    report(capsys, {**figures, "failed_over": failed_over})
    assert_exactly_once(figures)
    assert ready == [200, 200]
    assert all(n > 0 for n in resubscribed), "each worker subscribed the room again itself"
