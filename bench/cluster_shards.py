"""The `shards` step of `python -m bench`: the rooms-of-10 fan-out on a Redis Cluster of 1 and
of 3 shards, side by side, and what waiting for a replica on every ack costs.

For each configuration a fresh local cluster (every primary with one replica, as the operations
guide says to run) and two fresh Harbor workers; the driver's `rooms` scenario (1,000 clients in
100 rooms of 10, 1 msg/s each) runs unchanged. Each primary's CPU is read from INFO CPU
(used_cpu_sys + used_cpu_user) before and after: on this 2-core machine every process shares the
same cores, so absolute rates say little; the point is the load per shard, which must fall as
shards are added (the rooms spread over them, and sharded pub/sub keeps each message on its
room's shard). The 3-shard run is repeated without WAIT (HARBOR_REPLICA_ACK_TIMEOUT_MS=0) to show
what the replica confirmation adds to an ack's latency and to the shards' CPU.

A cluster of one shard is assembled by hand (redis-cli --cluster create wants 3 primaries): the
same steps for any count -- slots split evenly, CLUSTER MEET, CLUSTER REPLICATE.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import redis

from bench.procs import HOST, Managed, ProcessGroup, free_port, wait_tcp_ready
from bench.servers import ROOM_COUNT, start_workers
from rooms.broker import HistoryLimits
from rooms.broker_cluster import ClusterBroker
from rooms.envelope import Draft

SLOTS = 16384
# (shards, replica ack timeout in ms): the step's runs, in order.
RUNS = ((1, 250), (3, 250), (3, 0))
_SETTLE_S = 30.0

RunDriver = Callable[..., list[dict[str, Any]]]
# The ack-cost measurement: publishes one after another (no queueing: each latency is one
# publish's own), over the bench's rooms, with and without WAIT.
ACK_PUBLISHES = 1000
ACK_TIMEOUTS_MS = (250, 0)


def start_cluster(group: ProcessGroup, primaries: int) -> list[Managed]:
    """`primaries` primaries (first) and one replica each, healthy, on free loopback ports."""
    nodes: list[Managed] = []
    buses: list[int] = []
    for n in range(2 * primaries):
        port, bus = free_port(), free_port()
        home = group.workdir / f"cluster-{port}"  # a fresh nodes.conf for every cluster
        home.mkdir(parents=True)
        argv = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "",
                "--appendonly", "no", "--dir", str(home), "--maxclients", "10000",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(bus), "--cluster-node-timeout", "5000"]  # fmt: skip
        node = group.spawn(f"redis-{primaries}s-{n}", argv, port)
        wait_tcp_ready(port, node.proc, 10)
        nodes.append(node)
        buses.append(bus)
    clients = [redis.Redis(host=HOST, port=m.port) for m in nodes]
    try:
        for i, client in enumerate(clients[:primaries]):
            first, last = SLOTS * i // primaries, SLOTS * (i + 1) // primaries - 1
            client.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
        for node, bus in zip(nodes[1:], buses[1:], strict=True):
            clients[0].execute_command("CLUSTER MEET", HOST, node.port, bus)
        _until(lambda: all(_known(c) == len(nodes) for c in clients), "every node to meet")
        for replica, primary in zip(clients[primaries:], clients[:primaries], strict=True):
            replica.execute_command("CLUSTER REPLICATE", primary.execute_command("CLUSTER MYID"))
        _until(lambda: all(_healthy(c) for c in clients), "the cluster to be ok")
    finally:
        for client in clients:
            client.close()
    return nodes


def _known(client: redis.Redis) -> int:
    nodes = client.execute_command("CLUSTER NODES")  # redis-py parses it: one entry per node
    return len(nodes)


def _healthy(client: redis.Redis) -> bool:
    state = client.execute_command("CLUSTER INFO")  # parsed into a dict by redis-py
    replication = client.info("replication")
    in_sync = replication.get("role") != "slave" or replication.get("master_link_status") == "up"
    return str(state.get("cluster_state")) == "ok" and in_sync


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _SETTLE_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def cpu_seconds(port: int) -> float:
    """CPU seconds a node has used: INFO CPU used_cpu_sys + used_cpu_user."""
    with redis.Redis(host=HOST, port=port) as client:
        cpu = client.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


def run_shards(group: ProcessGroup, cfg: dict[str, Any], run_driver: RunDriver) -> list[Any]:
    """Every run of RUNS; one `shards` record each (deliveries/s, latency, CPU per shard)."""
    records: list[dict[str, Any]] = []
    for shards, wait_ms in RUNS:
        nodes = start_cluster(group, shards)
        primaries = nodes[:shards]
        url = "redis+cluster://" + ",".join(f"{HOST}:{m.port}" for m in nodes)
        env = {"HARBOR_REPLICA_ACK_TIMEOUT_MS": str(wait_ms)}
        workers = None
        try:
            workers = start_workers(group, "harbor", 0, redis_url=url, extra_env=env)
            before, started = [cpu_seconds(m.port) for m in primaries], time.monotonic()
            rooms = run_driver(group, workers, "rooms", cfg, primaries[0].pid)
            elapsed = time.monotonic() - started
            after = [cpu_seconds(m.port) for m in primaries]
        finally:
            if workers is not None:
                group.stop(workers.procs)
            group.stop(nodes)
        used = [b - a for a, b in zip(before, after, strict=True)]
        for rec in rooms:
            rec.update(
                kind="shards",
                shards=shards,
                replica_ack_timeout_ms=wait_ms,
                shard_cpu_s=[round(u, 2) for u in used],
                shard_cpu_pct=[round(100 * u / elapsed, 1) for u in used],
                max_shard_cpu_pct=round(100 * max(used) / elapsed, 1),
                all_shards_cpu_pct=round(100 * sum(used) / elapsed, 1),
                measured_s=round(elapsed, 1),
            )
            records.append(rec)
    return records


def measure_acks(group: ProcessGroup, publishes: int = ACK_PUBLISHES) -> list[dict[str, Any]]:
    """What WAIT adds to an ack: `publishes` sequential publishes through the cluster broker on a
    3-shard cluster, per replica-ack timeout: ack latency and the primaries' CPU per message."""
    nodes = start_cluster(group, 3)
    primaries = nodes[:3]
    url = "redis+cluster://" + ",".join(f"{HOST}:{m.port}" for m in nodes)
    records = []
    try:
        for timeout_ms in ACK_TIMEOUTS_MS:
            ports = [m.port for m in primaries]
            latencies, used = asyncio.run(_publish_one_by_one(url, timeout_ms, publishes, ports))
            ordered = sorted(latencies)
            records.append(
                {
                    "kind": "acks",
                    "shards": 3,
                    "replica_ack_timeout_ms": timeout_ms,
                    "publishes": publishes,
                    "ack_p50_ms": round(statistics.median(ordered), 3),
                    "ack_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 3),
                    "ack_max_ms": round(ordered[-1], 3),
                    "redis_cpu_us_per_msg": round(1e6 * used / publishes, 1),
                }
            )
    finally:
        group.stop(nodes)
    return records


async def _publish_one_by_one(
    url: str, timeout_ms: int, count: int, ports: list[int]
) -> tuple[list[float], float]:
    """Ack latencies (ms) of `count` publishes after a warm-up of ROOM_COUNT (connections and
    scripts loaded on every shard), and the CPU seconds the primaries used for them."""
    broker = ClusterBroker(url, HistoryLimits(), replica_ack_timeout_ms=timeout_ms)
    latencies = []
    try:
        for n in range(ROOM_COUNT + count):
            if n == ROOM_COUNT:
                before = sum(cpu_seconds(port) for port in ports)
            draft = Draft(uid="bench", name="Bench", text="x" * 80, ts=int(time.time() * 1000))
            started = time.perf_counter()
            await broker.publish(f"r{n % ROOM_COUNT:03d}", draft)
            latencies.append(1000 * (time.perf_counter() - started))
        used = sum(cpu_seconds(port) for port in ports) - before
    finally:
        await broker.aclose()
    return latencies[ROOM_COUNT:], used
