"""The pure cluster addressing core: URLs, slots, SSUBSCRIBE groups, probes, topology."""

from __future__ import annotations

import pytest

from rooms.broker_redis import room_channel, room_key
from rooms.cluster import (
    ClusterUrlError,
    Topology,
    by_slot,
    is_cluster_url,
    parse_cluster_url,
    probe_channel,
    slot_of,
    spread,
)


def test_a_cluster_url_lists_its_seed_nodes_and_keeps_redis_py_options() -> None:
    address = parse_cluster_url(
        "rediss+cluster://harbor:p%40ss@a.internal:7000,b.internal:7001/?ssl_ca_certs=/ca.pem"
    )
    assert address.seeds == (("a.internal", 7000), ("b.internal", 7001))
    assert address.options == {
        "username": "harbor",
        "password": "p@ss",
        "ssl_ca_certs": "/ca.pem",
        "ssl": True,
    }
    assert parse_cluster_url("redis+cluster://127.0.0.1:7000").options == {}


@pytest.mark.parametrize(
    "url", ["redis+cluster://a", "redis+cluster://a:x", "redis://a:1", "redis+cluster://a:1,:2"]
)
def test_a_cluster_url_without_host_and_port_is_refused(url: str) -> None:
    with pytest.raises(ClusterUrlError):
        parse_cluster_url(url)


def test_only_the_cluster_schemes_are_cluster_urls() -> None:
    assert is_cluster_url("redis+cluster://a:1") and is_cluster_url("rediss+cluster://a:1")
    assert not is_cluster_url("redis://a:1/0") and not is_cluster_url(None)


def test_every_key_and_the_channel_of_a_room_share_one_slot() -> None:
    room = "newcomers"
    slots = {slot_of(room_key(room, s)) for s in ("meta", "log", "cid:u1", "hidden", "presence")}
    assert slots == {slot_of(room_channel(room))}
    assert slot_of("harbor:{mod}:flag:1") == slot_of("harbor:{mod}:audit")


def test_subscriptions_are_grouped_by_slot_never_across_slots() -> None:
    channels = [room_channel(f"r{n}") for n in range(50)] + [room_channel("r1")]
    groups = by_slot(channels)
    assert sorted(c for group in groups.values() for c in group) == sorted(channels)
    assert all({slot_of(c) for c in group} == {slot} for slot, group in groups.items())


def test_a_probe_channel_hashes_into_the_shard_it_checks() -> None:
    owned = frozenset(range(5461, 10923))
    channel = probe_channel("abc", owned)
    assert slot_of(channel) in owned and b"abc" in channel
    with pytest.raises(ValueError):
        probe_channel("abc", frozenset())


def test_a_topology_names_each_slots_primary_and_its_coverage() -> None:
    reply = [
        [5461, 10922, [b"127.0.0.1", 7001, b"id1"], [b"127.0.0.1", 7004, b"id4"]],
        [0, 5460, [b"127.0.0.1", 7000, b"id0"]],
    ]
    topology = Topology.from_cluster_slots(reply)
    assert topology.owner(0) == "127.0.0.1:7000" and topology.owner(10922) == "127.0.0.1:7001"
    assert topology.owner(16383) is None
    assert topology.covered == 10923
    assert topology.nodes == {
        "127.0.0.1:7000": ("127.0.0.1", 7000),
        "127.0.0.1:7001": ("127.0.0.1", 7001),
    }
    assert len(topology.slots_of("127.0.0.1:7000")) == 5461
    counts = spread([f"harbor:{{room:r{n}}}:log" for n in range(100)], topology.owner)
    assert sum(counts.values()) == 100
