"""``python -m bench.cluster_spread``: how evenly rooms spread over Redis Cluster shards.

A room lives on the shard owning the slot of its hash tag (`{room:<id>}`), so its placement is
CRC16(tag) mod 16384, then the slot ranges. This prints, for 1,000 rooms, the rooms per shard over
3 and 6 shards split as `redis-cli --cluster create` splits slots (equal contiguous ranges), or
over a real cluster's own slots with ``--url redis+cluster://host:port``.
"""

from __future__ import annotations

import argparse
import statistics

import redis

from rooms.broker_redis import room_key
from rooms.cluster import SLOTS, SlotRange, Topology, parse_cluster_url, spread


def even_split(shards: int) -> Topology:
    """The slot ranges `redis-cli --cluster create` gives `shards` primaries."""
    per = SLOTS / shards
    ranges = []
    first = 0
    for n in range(shards):
        last = SLOTS - 1 if n == shards - 1 else round((n + 1) * per) - 1
        ranges.append(SlotRange(first, last, "shard", n))
        first = last + 1
    return Topology(tuple(ranges))


def read_topology(url: str) -> Topology:
    address = parse_cluster_url(url)
    host, port = address.seeds[0]
    with redis.Redis(host=host, port=port, **address.options) as client:
        return Topology.from_cluster_slots(client.execute_command("CLUSTER SLOTS"))


def report(label: str, topology: Topology, rooms: int) -> str:
    names = [room_key(f"room-{n:04d}", "log") for n in range(rooms)]
    counts = spread(names, topology.owner)
    per_shard = [counts.get(node, 0) for node in topology.nodes]
    mean = rooms / len(per_shard)
    spread_pct = (max(per_shard) - min(per_shard)) / mean * 100
    return (
        f"{label}: {rooms} rooms over {len(per_shard)} shards: {per_shard}"
        f" (mean {mean:.0f}, min {min(per_shard)}, max {max(per_shard)},"
        f" stdev {statistics.pstdev(per_shard):.1f}, max-min {spread_pct:.0f}% of the mean)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster_spread", description=__doc__)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--url", help="a real cluster to read the slots of (redis+cluster://)")
    args = parser.parse_args()
    if args.url:
        print(report("live cluster", read_topology(args.url), args.rooms))
        return
    for shards in (3, 6):
        print(report("even split", even_split(shards), args.rooms))


if __name__ == "__main__":
    main()
