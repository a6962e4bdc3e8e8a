"""The broker over Redis Cluster: rooms spread over shards, each on its slot's shard alone.

Same keys, scripts and contract as rooms.broker_redis (one Redis); what changes:
- Commands go through redis-py's cluster client, which sends each script to the primary that
  owns the room's slot (every key of a room shares the tag `{room:<id>}`) and follows MOVED/ASK.
- Messages travel on sharded pub/sub: the scripts SPUBLISH on the room's channel (same tag, so
  the same slot), which stays on that shard; plain PUBLISH is copied to every node.
- The listener holds ONE connection per shard primary (not per room), each SSUBSCRIBEd to the
  wanted channels of the slots it owns, one SSUBSCRIBE per slot (a batch across slots fails).
- Every shard connection is supervised alone. When one drops (its primary died or restarted),
  goes deaf (its own probe stops coming back), answers MOVED, or has the server unsubscribe a
  channel (its slot moved away), the topology is read again (CLUSTER SLOTS) and every wanted
  channel is subscribed on whichever primary serves it now; each room is repaired from history
  once its new subscription is confirmed (`on_reconnect(room)`), exactly the gap repair one
  Redis gets after a reconnect. The other shards' rooms are untouched.

`ready` is False while any primary of the current topology has no live subscription
connection: during a failover (a few seconds) /readyz says so, and sends to the rooms of the
failed shard get BrokerUnavailable, which clients retry with the same client_id.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import redis.asyncio as aioredis
from anyio.abc import TaskGroup, TaskStatus
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError

from .batching import TurnBatch
from .broker import BrokerUnavailable, Deliver, History, HistoryLimits, Receipt, Repair
from .broker_redis import (
    _HIDE,
    _HISTORY,
    _PUBLISH,
    on_cluster,
    read_history,
    room_channel,
    room_key,
    sharded,
)
from .cluster import Topology, by_slot, is_cluster_url, parse_cluster_url, probe_channel, slot_of
from .envelope import Draft, hide_body, wire
from .scripts import load_everywhere, with_scripts

logger = logging.getLogger("harbor.broker")

# How long one node may take to connect or answer before it counts as down. A failover takes
# the cluster's node timeout plus an election (~2-3 s with cluster-node-timeout 1000 ms).
NODE_TIMEOUT_S = 2.0
_CONFIRM_TIMEOUT_S = 5.0
# How long a message waits for a replica to confirm it before its sender is acked anyway, unless
# the worker's settings say otherwise (HARBOR_REPLICA_ACK_TIMEOUT_MS; 0: no WAIT at all).
REPLICA_ACK_TIMEOUT_MS = 250
# Connections per node beyond the broker's own, for presence and the moderation store.
SHARED_CONNECTIONS = 16
# How long a command waits for one of the broker's connections (as one Redis's pool waits).
_WAIT_FOR_CONNECTION_S = 5.0
# While a shard is down or a wanted channel has no live subscription, the topology is read
# again this often; otherwise only when something changed (and every _TOPOLOGY_IDLE_S).
_TOPOLOGY_RETRY_S = 0.25
_TOPOLOGY_IDLE_S = 10.0
_PROBE_EVERY_S = 2.0
_PROBE_TIMEOUT_S = 6.0
_READ_TIMEOUT_S = _PROBE_EVERY_S / 2

CLUSTER_ERRORS = (RedisError, RedisClusterException, OSError)


class ShardLost(RedisError):
    """A shard's subscription connection must be rebuilt (deaf, or its slots moved)."""


@dataclass(eq=False)
class _Shard:
    """One primary's subscription connection and the channels confirmed on it."""

    name: str
    host: str
    port: int
    pubsub: Any = None  # the live PubSub, None while (re)connecting
    subscribed: set[bytes] = field(default_factory=set)
    probe: bytes = b""
    probe_seen: float = 0.0
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


def open_redis(url: str) -> aioredis.Redis | RedisCluster:
    """A command client for REDIS_URL: a cluster's for `redis+cluster://`, else one Redis's
    (for the moderation store and the CLI, which need no broker)."""
    if not is_cluster_url(url):
        return aioredis.from_url(url)
    address = parse_cluster_url(url)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.seeds],
        socket_connect_timeout=NODE_TIMEOUT_S,
        socket_timeout=NODE_TIMEOUT_S,
        **address.options,
    )


class ClusterBroker:
    """Rooms over a Redis Cluster, shared by any number of workers; see the module docstring."""

    def __init__(
        self,
        url: str,
        limits: HistoryLimits,
        *,
        max_connections: int = 64,
        replica_ack_timeout_ms: int = REPLICA_ACK_TIMEOUT_MS,
    ) -> None:
        address = parse_cluster_url(url)
        self._limits = limits
        self._replica_ack_timeout_ms = replica_ack_timeout_ms
        self._seeds = list(address.seeds)
        self._node_options: dict[str, Any] = {
            **address.options,
            "socket_connect_timeout": NODE_TIMEOUT_S,
            "socket_timeout": NODE_TIMEOUT_S,
        }
        # redis-py's cluster client raises MaxConnectionsError past its cap per node instead of
        # waiting (one Redis's BlockingConnectionPool waits). So the broker's own commands wait
        # here for one of `max_connections` slots -- never more on any one node -- and the
        # client's cap leaves room for presence and the moderation store beside them.
        self._redis = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in address.seeds],
            max_connections=max_connections + SHARED_CONNECTIONS,
            **self._node_options,
        )
        self._slots = anyio.Semaphore(max_connections)
        self._publish = self._redis.register_script(on_cluster(_PUBLISH))
        self._history = self._redis.register_script(on_cluster(_HISTORY))
        self._hide = self._redis.register_script(sharded(_HIDE))
        self._history_reads = TurnBatch(self._read_histories)
        self._wanted: dict[bytes, str] = {}  # channel -> room, while the hub has local members
        self._topology: Topology | None = None
        self._shards: dict[str, _Shard] = {}
        self._confirmations: dict[bytes, list[anyio.Event]] = {}
        self._changed = anyio.Event()  # the topology must be read again
        self._live = anyio.Event()  # a shard connection went live (the first start waits)
        self._repair: Repair | None = None
        self._worker = secrets.token_hex(8)
        self.reconnects = 0

    @property
    def ready(self) -> bool:
        topology = self._topology
        if topology is None or topology.covered < 16384:
            return False
        return all(
            (shard := self._shards.get(name)) is not None and shard.pubsub is not None
            for name in topology.nodes
        )

    @property
    def client(self) -> RedisCluster:
        """The cluster command client, shared with presence and the moderation store."""
        return self._redis

    @property
    def shards(self) -> dict[str, int]:
        """Subscribed channels per live shard connection (for tests and the bench)."""
        return {name: len(s.subscribed) for name, s in self._shards.items() if s.pubsub}

    # Commands

    async def publish(self, room: str, draft: Draft) -> Receipt:
        keys = [
            room_key(room, "meta"),
            room_key(room, "log"),
            room_key(room, f"cid:{draft.uid}"),
            room_key(room, "hidden"),
        ]
        args: list[bytes | str | int] = [
            room_channel(room),
            secrets.token_hex(4),
            draft.client_id,
            draft.body(),
            draft.ts,
            self._limits.max_messages,
            self._limits.max_age_s * 1000,
            self._limits.client_ids,
        ]
        try:
            with anyio.fail_after(_WAIT_FOR_CONNECTION_S):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise BrokerUnavailable("no free connection") from exc
        try:
            seq, epoch, duplicate = await self._replicated_publish(keys, args)
        except CLUSTER_ERRORS as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc
        finally:
            self._slots.release()
        return Receipt(int(seq), _text(epoch), duplicate=bool(duplicate))

    async def _replicated_publish(self, keys: list[str], args: list[bytes | str | int]) -> Any:
        """The publish script, then WAIT for a replica on the same connection, before the sender
        is acked: an acked message is then on the replica that takes over if the primary dies
        (asynchronous replication would otherwise lose the last ones). A replica slower than
        the timeout does not hold the message back; it is acked as one Redis acks. A timeout of
        0 sends no WAIT (WAIT 0 would block until a replica answers)."""
        redis = self._redis
        await redis.initialize()  # at once when it already knows the slots
        node = redis.get_node_from_key(keys[0])
        sha = self._publish.sha
        timeout_ms = self._replica_ack_timeout_ms
        reply: Any = None
        for attempt in range(2):
            async with redis.pipeline(transaction=False) as pipe:
                pipe.evalsha(sha, len(keys), *keys, *args)
                if timeout_ms:
                    pipe.execute_command("WAIT", 1, timeout_ms, target_nodes=node)
                reply = (await pipe.execute(raise_on_error=False))[0]
            if isinstance(reply, NoScriptError) and not attempt:
                await load_everywhere(redis, self._publish.script)  # a failover lost it
                continue
            break
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def announce(self, room: str, body: bytes) -> None:
        try:
            await self._redis.spublish(room_channel(room), wire(0, "-", body))
        except CLUSTER_ERRORS as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc

    async def hide(self, room: str, message_id: int) -> None:
        args: list[bytes | str | int] = [
            message_id,
            self._limits.max_age_s * 1000,
            room_channel(room),
            wire(0, "-", hide_body(message_id)),
        ]
        try:
            await with_scripts(
                self._redis,
                [self._hide.script],
                lambda: self._hide(keys=[room_key(room, "hidden")], args=args),
            )
        except CLUSTER_ERRORS as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc

    async def history(
        self, room: str, *, since: int | None, client_epoch: str | None, limit: int
    ) -> History:
        return await read_history(
            self._history_reads,
            room,
            since=since,
            client_epoch=client_epoch,
            limit=limit,
            limits=self._limits,
        )

    async def _read_histories(self, reads: list[tuple[list[str], list[str | int]]]) -> list[Any]:
        """The history script for every join of one event-loop turn, in one pipeline (redis-py
        sends each shard its part on one connection). EVALSHA, loading the script on every
        primary once if one lost it (a failover or a restart)."""
        sha = self._history.sha
        replies: list[Any] = []
        for attempt in range(2):
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in reads:
                    pipe.evalsha(sha, len(keys), *keys, *args)
                replies = await pipe.execute(raise_on_error=False)
            if attempt or not any(isinstance(r, NoScriptError) for r in replies):
                break
            await load_everywhere(self._redis, self._history.script)
        return replies

    # Subscriptions

    async def subscribe(self, room: str) -> None:
        channel = room_channel(room)
        self._wanted[channel] = room
        shard = self._shard_for(channel)
        if shard is None or shard.pubsub is None:
            self._changed.set()
            raise BrokerUnavailable("live delivery is down for this room's shard")
        if channel in shard.subscribed:
            return
        confirmed = anyio.Event()
        self._confirmations.setdefault(channel, []).append(confirmed)
        try:
            await shard.pubsub.execute_command("SSUBSCRIBE", channel)
            with anyio.fail_after(_CONFIRM_TIMEOUT_S):
                await confirmed.wait()
        except (*CLUSTER_ERRORS, TimeoutError) as exc:
            raise BrokerUnavailable("subscribe was not confirmed") from exc

    async def unsubscribe(self, room: str) -> None:
        channel = room_channel(room)
        self._wanted.pop(channel, None)
        shard = self._shard_for(channel)
        if shard is not None and shard.pubsub is not None and channel in shard.subscribed:
            shard.subscribed.discard(channel)
            try:
                await shard.pubsub.execute_command("SUNSUBSCRIBE", channel)
            except CLUSTER_ERRORS:
                logger.warning("sunsubscribe failed; the shard resubscribes only wanted rooms")

    def _shard_for(self, channel: bytes) -> _Shard | None:
        topology = self._topology
        owner = None if topology is None else topology.owner(slot_of(channel))
        return None if owner is None else self._shards.get(owner)

    # The listener

    async def run(
        self,
        deliver: Deliver,
        *,
        task_status: TaskStatus[None],
        on_reconnect: Repair | None = None,
    ) -> None:
        """Keep one live subscription connection per primary of the current topology until
        cancelled. Starts serving after the first attempt even if the cluster is down (/readyz
        says so)."""
        self._repair = on_reconnect
        started = False
        failures = 0
        async with anyio.create_task_group() as tg:
            while True:
                try:
                    await self._read_topology()
                    failures = 0
                except CLUSTER_ERRORS as exc:
                    failures += 1
                    logger.warning("cluster topology unreadable (%s)", type(exc).__name__)
                if self._topology is not None:
                    await self._follow_topology(tg, deliver)
                if not started:
                    with anyio.move_on_after(_CONFIRM_TIMEOUT_S):
                        while not self.ready:
                            await self._live.wait()
                            self._live = anyio.Event()
                    started = True
                    task_status.started()
                settled = self.ready and all(
                    self._shard_for(channel) is not None for channel in self._wanted
                )
                wait = _TOPOLOGY_IDLE_S if settled else _TOPOLOGY_RETRY_S * min(failures + 1, 8)
                with anyio.move_on_after(wait):
                    await self._changed.wait()
                self._changed = anyio.Event()

    async def _read_topology(self) -> None:
        """CLUSTER SLOTS from the first node that answers: the last topology's primaries first
        (they know best), then the seeds. A topology with uncovered slots (mid-failover) is
        kept only when nothing better answers."""
        known = list(self._topology.nodes.values()) if self._topology else []
        candidates = list(dict.fromkeys([*known, *self._seeds]))
        random.shuffle(candidates[: len(known)])
        last_error: BaseException | None = None
        partial: Topology | None = None
        for host, port in candidates:
            client = aioredis.Redis(host=host, port=port, **self._node_options)
            try:
                reply = await client.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
            except CLUSTER_ERRORS as exc:
                last_error = exc
                continue
            finally:
                await client.aclose()
            topology = Topology.from_cluster_slots(reply)
            if topology.covered == 16384:
                self._topology = topology
                return
            partial = partial or topology
        if partial is not None:
            self._topology = partial
            return
        raise last_error if last_error is not None else RedisError("no cluster node known")

    async def _follow_topology(self, tg: TaskGroup, deliver: Deliver) -> None:
        """A session per current primary; sessions of nodes no longer primaries end (their
        channels go to the new owners), and live sessions pick up channels whose slot they now
        own."""
        assert self._topology is not None
        nodes = self._topology.nodes
        for name, shard in list(self._shards.items()):
            if name not in nodes:
                shard.scope.cancel()
                del self._shards[name]
        for name, (host, port) in nodes.items():
            if name not in self._shards:
                shard = self._shards[name] = _Shard(name, host, port)
                tg.start_soon(self._supervise, shard, deliver)
        for shard in self._shards.values():
            if shard.pubsub is not None:
                try:
                    await self._subscribe_owned(shard)
                except CLUSTER_ERRORS:
                    self._changed.set()  # that session fails and reconnects on its own

    def _owned_wanted(self, shard: _Shard) -> list[bytes]:
        topology = self._topology
        if topology is None:
            return []
        return [c for c in self._wanted if topology.owner(slot_of(c)) == shard.name]

    async def _subscribe_owned(self, shard: _Shard) -> None:
        """SSUBSCRIBE the wanted channels this shard owns and has not confirmed, one command per
        slot. Confirmations (and the repairs they trigger) arrive in the shard's listen loop."""
        missing = [c for c in self._owned_wanted(shard) if c not in shard.subscribed]
        for channels in by_slot(missing).values():
            await shard.pubsub.execute_command("SSUBSCRIBE", *channels)

    async def _supervise(self, shard: _Shard, deliver: Deliver) -> None:
        """Run the shard's session until its node leaves the topology; reconnect with jittered
        backoff whenever it fails."""
        failures = 0
        with shard.scope:
            while True:
                try:
                    await self._session(shard, deliver)
                except CLUSTER_ERRORS as exc:
                    failures += 1
                    self._changed.set()
                    delay = min(2.0, 0.05 * 2**failures) * (0.5 + random.random() / 2)
                    logger.warning(
                        "cluster shard listener lost (%s); retrying in %.2fs",
                        type(exc).__name__,
                        delay,
                    )
                    await anyio.sleep(delay)
                else:
                    failures = 0

    async def _session(self, shard: _Shard, deliver: Deliver) -> None:
        client = aioredis.Redis(host=shard.host, port=shard.port, **self._node_options)
        pubsub = client.pubsub()
        try:
            topology = self._topology
            owned = topology.slots_of(shard.name) if topology is not None else frozenset()
            if not owned:
                raise ShardLost("this node serves no slot now")
            shard.probe = probe_channel(self._worker, owned)
            shard.subscribed = set()
            await pubsub.execute_command("SSUBSCRIBE", shard.probe)
            shard.pubsub = pubsub
            shard.probe_seen = time.monotonic()
            self._live.set()
            await self._subscribe_owned(shard)
            await self._listen(shard, pubsub, deliver)
        finally:
            shard.pubsub = None
            shard.subscribed = set()
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()
                await client.aclose()

    async def _listen(self, shard: _Shard, pubsub: Any, deliver: Deliver) -> None:
        """Read the shard's connection directly (as RedisBroker._listen does, and for the same
        reasons): `[b"smessage", channel, body]` goes straight to `deliver`."""
        wanted = self._wanted
        read = pubsub.connection.read_response
        next_probe = time.monotonic()
        while True:
            try:
                reply = await read(
                    timeout=_READ_TIMEOUT_S, disconnect_on_error=False, push_request=True
                )
            except ResponseError as exc:  # MOVED/CROSSSLOT to an SSUBSCRIBE: the map is stale
                raise ShardLost(f"subscribe refused ({type(exc).__name__})") from exc
            if reply is not None:
                kind, channel = reply[0], reply[1]
                if kind == b"smessage":
                    room = wanted.get(channel)
                    if room is not None:
                        deliver(room, reply[2])
                    elif channel == shard.probe:
                        shard.probe_seen = time.monotonic()
                elif kind == b"ssubscribe":
                    self._confirmed(shard, channel)
                elif kind == b"sunsubscribe":
                    self._unsubscribed(shard, channel)
            now = time.monotonic()
            if now >= next_probe:
                if now - shard.probe_seen > _PROBE_TIMEOUT_S:
                    raise ShardLost("no probe came back")
                await self._redis.spublish(shard.probe, b"probe")
                next_probe = now + _PROBE_EVERY_S

    def _confirmed(self, shard: _Shard, channel: bytes) -> None:
        if channel == shard.probe:
            return
        shard.subscribed.add(channel)
        waiters = self._confirmations.pop(channel, ())
        for event in waiters:
            event.set()
        room = self._wanted.get(channel)
        if not waiters and room is not None and self._repair is not None:
            # Resubscribed by the listener (a reconnect, a failover, a moved slot), not by a
            # join: the room may have missed messages meanwhile.
            self.reconnects += 1
            self._repair(room)

    def _unsubscribed(self, shard: _Shard, channel: bytes) -> None:
        """The server ends a shard channel's subscription when its slot moves away; ours end
        with our own SUNSUBSCRIBE (already out of `subscribed`)."""
        if channel == shard.probe:
            raise ShardLost("the probe channel's slot moved")
        if channel in shard.subscribed:
            shard.subscribed.discard(channel)
            if channel in self._wanted:
                self._changed.set()  # read the topology and subscribe it on its new owner

    async def aclose(self) -> None:
        for shard in self._shards.values():
            shard.scope.cancel()
        with suppress(*CLUSTER_ERRORS):
            await self._redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


__all__: Sequence[str] = ("ClusterBroker",)
