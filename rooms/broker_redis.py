"""The shared broker: rooms carried between workers by Redis.

Per room, all keys share the hash tag `{room:<id>}` so a room lives in one Redis Cluster slot:
- `harbor:{room:R}:meta`  hash: `seq` (last id) and `epoch` (changes when history is lost)
- `harbor:{room:R}:log`   stream: entry id `<seq>-0`, fields `b` (envelope body) and `t` (ms)
- `harbor:{room:R}:cid:<uid>` sorted set: an identity's recent client_ids scored by their id
- channel `harbor:{room:R}:ch`: live events, `b"<id> <epoch> " + body`

One Lua script numbers, stores, trims (length and age) and publishes a message, so live delivery
and history can never disagree (centrifuge: "history and publish must be atomic per channel").
Every key expires with the history age, so an idle room leaves nothing behind.

The worker holds ONE pub/sub connection, subscribed to a room's channel only while it has local
members (the hub counts them). The listener is supervised: when the connection drops it reconnects
with jittered backoff and resubscribes every wanted room in batches; until then `ready` is False
and publishing raises BrokerUnavailable.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import anyio
import redis.asyncio as aioredis
from anyio.abc import TaskStatus
from redis.exceptions import NoScriptError, RedisError

from .batching import BatchFailed, TurnBatch
from .broker import BrokerUnavailable, Deliver, History, HistoryLimits, Receipt, Repair
from .envelope import Draft, EnvelopeError, Posted, hide_body, read_body, wire
from .history import Carried, carry_over, is_recovered
from .redis_direct import DirectConnections

logger = logging.getLogger("harbor.broker")

_PUBLISH = """
local meta, log, cids = KEYS[1], KEYS[2], KEYS[3]
local channel, epoch_candidate, client_id, body = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now_ms, max_len, max_age_ms, keep_ids = ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
if client_id ~= '' then
  local previous = redis.call('ZSCORE', cids, client_id)
  if previous then
    return {tonumber(previous), redis.call('HGET', meta, 'epoch'), 1}
  end
end
redis.call('HSETNX', meta, 'epoch', epoch_candidate)
local epoch = redis.call('HGET', meta, 'epoch')
local seq = redis.call('HINCRBY', meta, 'seq', 1)
if seq == 1 then redis.call('DEL', log, KEYS[4]) end
redis.call('XADD', log, 'MAXLEN', max_len, seq .. '-0', 'b', body, 't', now_ms)
local cutoff = tonumber(now_ms) - max_age_ms
local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 16)
local expired = nil
for _, entry in ipairs(oldest) do
  if tonumber(entry[2][4]) < cutoff then expired = entry[1] else break end
end
if expired then
  redis.call('XTRIM', log, 'MINID', (tonumber(string.match(expired, '^(%d+)')) + 1) .. '-0')
end
redis.call('PUBLISH', channel, seq .. ' ' .. epoch .. ' ' .. body)
if client_id ~= '' then
  redis.call('ZADD', cids, seq, client_id)
  redis.call('ZREMRANGEBYRANK', cids, 0, -(tonumber(keep_ids) + 1))
  redis.call('PEXPIRE', cids, max_age_ms)
end
redis.call('PEXPIRE', meta, max_age_ms)
redis.call('PEXPIRE', log, max_age_ms)
return {seq, epoch, 0}
"""

_HISTORY = """
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[3]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local meta = redis.call('HMGET', KEYS[1], 'seq', 'epoch', 'from_epoch', 'from_seq')
local hidden = redis.call('SMEMBERS', KEYS[3])
local entries
if ARGV[1] == '' then
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[2])
else
  entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
end
return {meta[1] or '0', meta[2] or '', entries, hidden, meta[3] or '', meta[4] or '0'}
"""

_HIDE = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""


def sharded(script: str) -> str:
    """The same script for Redis Cluster: SPUBLISH keeps the message on the shard that owns
    the room's slot (the channel shares the room's hash tag), where PUBLISH would copy it to
    every node of the cluster."""
    return script.replace("redis.call('PUBLISH',", "redis.call('SPUBLISH',")


# Run first by the cluster's publish and history scripts (KEYS[1] is the room's meta hash).
# Replication is asynchronous: a primary that dies may take its last writes with it, and the
# replica that takes over continues from an older `seq`, so an id could be given twice. The
# meta hash remembers which node numbered the room; on any other node (after a failover, or a
# slot moved) the room starts a new epoch, so ids that may have been reused are never trusted.
# It also keeps where the new epoch came from (`from_epoch`, and `from_seq`: the last id the
# new node inherited, the same message on both sides), so a client that had seen no further
# resumes without a loss (rooms.history.carry_over).
_EPOCH_PER_NODE = """
local here = redis.call('CLUSTER', 'MYID')
local was = redis.call('HMGET', KEYS[1], 'node', 'epoch', 'seq')
if was[1] ~= here then
  redis.call('HSET', KEYS[1], 'node', here)
  if was[2] then
    redis.call('HDEL', KEYS[1], 'epoch')
    redis.call('HSET', KEYS[1], 'from_epoch', was[2], 'from_seq', was[3] or '0')
  end
end
"""


def on_cluster(script: str) -> str:
    """A room script for Redis Cluster: sharded pub/sub, and a new epoch on a new node."""
    return _EPOCH_PER_NODE + sharded(script)


_SUBSCRIBE_BATCH = 100
_WARM_CONNECTIONS = 16  # pooled connections opened before serving (see _warm_pool)
_WARM_WITHIN_S = 2.0  # a warm-up never holds the listener back longer
_CONFIRM_TIMEOUT_S = 5.0
# The listener publishes a probe to its own control channel this often; if none comes back for
# _PROBE_TIMEOUT_S the connection is "connected but deaf" and is recycled.
_PROBE_EVERY_S = 2.0
_PROBE_TIMEOUT_S = 6.0


class DeafListener(RedisError):
    """The pub/sub connection stopped delivering its own probes."""


def room_key(room: str, suffix: str) -> str:
    return f"harbor:{{room:{room}}}:{suffix}"


def room_channel(room: str) -> bytes:
    return room_key(room, "ch").encode()


class RedisBroker:
    """Rooms over one Redis, shared by any number of workers on any number of machines."""

    def __init__(self, url: str, limits: HistoryLimits, *, max_connections: int = 64) -> None:
        self._limits = limits
        # A blocking pool: under a burst, commands wait (up to 5 s) for one of `max_connections`
        # instead of failing. redis-py's default pool raises "Too many connections" past its cap,
        # which turned busy moments into refused sends and refused reconnects.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=5, health_check_interval=30
        )
        self._redis: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self._max_connections = max_connections
        self._sends = DirectConnections(pool, max_connections)  # the per-message publish
        self._listen_client: aioredis.Redis = aioredis.from_url(url)
        self._publish = self._redis.register_script(_PUBLISH)
        self._history = self._redis.register_script(_HISTORY)
        self._hide = self._redis.register_script(_HIDE)
        self._history_reads = TurnBatch(self._read_histories)
        self._wanted: dict[bytes, str] = {}  # channel -> room, while the hub has local members
        self._pubsub: Any = None  # the live PubSub session, None while disconnected
        self._confirmations: dict[bytes, list[anyio.Event]] = {}
        self._control = f"harbor:worker:{secrets.token_hex(8)}".encode()
        self._probe_seen = 0.0
        self.reconnects = 0

    @property
    def ready(self) -> bool:
        return self._pubsub is not None

    @property
    def client(self) -> aioredis.Redis:
        """The command connection pool, shared with RedisPresence and the flag queue."""
        return self._redis

    async def publish(self, room: str, draft: Draft) -> Receipt:
        """Works whenever Redis answers: while only this worker's listener is reconnecting, the
        message is still stored and published, and the hub repairs its members from history."""
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
        command = ("EVALSHA", self._publish.sha, len(keys), *keys, *args)
        try:
            try:
                seq, epoch, duplicate = await self._sends.call(*command)
            except NoScriptError:  # Redis restarted and lost its scripts: nothing ran
                await self._redis.script_load(_PUBLISH)
                seq, epoch, duplicate = await self._sends.call(*command)
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc
        return Receipt(int(seq), _text(epoch), duplicate=bool(duplicate))

    async def announce(self, room: str, body: bytes) -> None:
        try:
            await self._redis.publish(room_channel(room), wire(0, "-", body))
        except RedisError as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc

    async def hide(self, room: str, message_id: int) -> None:
        args: list[bytes | str | int] = [
            message_id,
            self._limits.max_age_s * 1000,
            room_channel(room),
            wire(0, "-", hide_body(message_id)),
        ]
        try:
            await self._hide(keys=[room_key(room, "hidden")], args=args)
        except RedisError as exc:
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
        """The history script for every join of one event-loop turn, in one pipelined round
        trip (a reconnect storm's joins). EVALSHA, loading the script once if Redis lost it."""
        sha = self._history.sha
        for attempt in range(2):
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in reads:
                    pipe.evalsha(sha, len(keys), *keys, *args)
                replies: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt or not any(isinstance(r, NoScriptError) for r in replies):
                break
            await self._redis.script_load(_HISTORY)
        return replies

    async def subscribe(self, room: str) -> None:
        channel = room_channel(room)
        self._wanted[channel] = room
        pubsub = self._pubsub
        if pubsub is None:
            raise BrokerUnavailable("live delivery is down")
        confirmed = anyio.Event()
        self._confirmations.setdefault(channel, []).append(confirmed)
        try:
            await pubsub.subscribe(channel)
            with anyio.fail_after(_CONFIRM_TIMEOUT_S):
                await confirmed.wait()
        except (RedisError, TimeoutError) as exc:
            raise BrokerUnavailable("subscribe was not confirmed") from exc

    async def unsubscribe(self, room: str) -> None:
        channel = room_channel(room)
        self._wanted.pop(channel, None)
        if self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(channel)
            except RedisError:
                logger.warning(
                    "unsubscribe failed; the listener will resubscribe only wanted rooms"
                )

    async def run(
        self,
        deliver: Deliver,
        *,
        task_status: TaskStatus[None],
        on_reconnect: Repair | None = None,
    ) -> None:
        """Listen until cancelled; reconnect with jittered backoff whenever the connection drops
        or goes deaf. The app starts serving after the first attempt even if Redis is down
        (/readyz says so); after each later reconnect, `on_reconnect` lets the hub repair what
        its members missed."""
        started = False
        failures = 0

        def live() -> None:
            nonlocal started, failures
            failures = 0
            if not started:
                started = True
                task_status.started()
                return
            self.reconnects += 1
            logger.info("redis listener reconnected; %d rooms resubscribed", len(self._wanted))
            if on_reconnect is not None:
                on_reconnect(None)

        while True:
            try:
                await self._session(deliver, live)
            except (RedisError, OSError) as exc:
                self._pubsub = None
                if not started:
                    started = True
                    task_status.started()
                failures += 1
                delay = min(5.0, 0.1 * 2**failures) * (0.5 + random.random() / 2)
                logger.warning(
                    "redis listener lost (%s); retrying in %.2fs", type(exc).__name__, delay
                )
                await anyio.sleep(delay)

    async def _warm_pool(self) -> None:
        """Open `_WARM_CONNECTIONS` pooled connections now, before the worker serves.

        The pool connects lazily, and a new redis-py connection costs several round trips
        (connect, client handshake). Since joins share pipelined reads, a worker reaches its first
        burst of sends with one or two connections open, and every send of the burst queued
        behind connection setup: in the rooms-of-10 bench the first ~0.5 s of messages arrived
        up to 330 ms late in most runs (p99 36-246 ms). Warmed, p99 stayed at 3-4 ms in 3 of 4
        runs. Concurrent PINGs each hold a connection, so the pool grows to that many; the
        send path's own connections (DirectConnections) are replaced by as many fresh ones."""
        count = min(_WARM_CONNECTIONS, self._max_connections)

        async def ping() -> None:
            # Best effort: a pooled connection left from before a Redis restart may fail once
            # (and is replaced); the listener, not the warm-up, decides whether Redis is back.
            with suppress(RedisError, OSError):
                await self._redis.ping()

        async def renew_sends() -> None:
            with suppress(RedisError, OSError):
                await self._sends.renew(count)

        with anyio.move_on_after(_WARM_WITHIN_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(renew_sends)
                for _ in range(count):
                    tg.start_soon(ping)

    async def _session(self, deliver: Deliver, live: Callable[[], None]) -> None:
        pubsub = self._listen_client.pubsub()
        try:
            await pubsub.subscribe(self._control)
            channels = list(self._wanted)
            for start in range(0, len(channels), _SUBSCRIBE_BATCH):
                await pubsub.subscribe(*channels[start : start + _SUBSCRIBE_BATCH])
            self._pubsub = pubsub
            self._probe_seen = time.monotonic()
            await self._warm_pool()
            live()
            await self._listen(pubsub, deliver)
        finally:
            self._pubsub = None
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()

    async def _listen(self, pubsub: Any, deliver: Deliver) -> None:
        """Read the subscription's connection directly: a chat message is `[b"message",
        channel, body]`, handed to `deliver` as is. PubSub.get_message wraps every read in a
        health check, a retry layer, observability hooks and a dict per message -- ~12 % of a
        worker's CPU in the rooms-of-10 bench, for one message at a time. (Un)subscribe
        replies still go through PubSub.handle_message, which keeps its bookkeeping. A read
        error ends the session (no silent reconnect inside redis-py): `run` reconnects,
        resubscribes and has the hub repair what its members missed."""
        wanted = self._wanted
        control = self._control
        read = pubsub.connection.read_response
        next_probe = time.monotonic()
        while True:
            reply = await read(
                timeout=_PROBE_EVERY_S / 2, disconnect_on_error=False, push_request=True
            )
            if reply is not None:
                if reply[0] == b"message":
                    channel = reply[1]
                    room = wanted.get(channel)
                    if room is not None:
                        deliver(room, reply[2])
                    elif channel == control:
                        self._probe_seen = time.monotonic()
                else:
                    message = await pubsub.handle_message(reply)
                    if message is not None and message["type"] == "subscribe":
                        for event in self._confirmations.pop(message["channel"], ()):
                            event.set()
            now = time.monotonic()
            if now >= next_probe:
                if now - self._probe_seen > _PROBE_TIMEOUT_S:
                    raise DeafListener("no probe came back")
                await self._redis.publish(control, b"probe")
                next_probe = now + _PROBE_EVERY_S

    async def aclose(self) -> None:
        # The pool was passed in explicitly: Redis.aclose() alone would leave its sockets open.
        await self._sends.aclose()
        await self._redis.aclose(close_connection_pool=True)
        await self._listen_client.aclose()


def history_args(
    room: str, *, since: int | None, limit: int, limits: HistoryLimits
) -> tuple[list[str], list[str | int]]:
    """Keys and arguments of the history script (one Redis or a cluster)."""
    keys = [room_key(room, "meta"), room_key(room, "log"), room_key(room, "hidden")]
    count = limits.max_messages if since is not None else limit
    args: list[str | int] = [
        "" if since is None else since,
        max(count, 1),
        secrets.token_hex(4),
        limits.max_age_s * 1000,
    ]
    return keys, args


HistoryRead = tuple[list[str], list[str | int]]


async def read_history(
    read: TurnBatch[HistoryRead, Any],
    room: str,
    *,
    since: int | None,
    client_epoch: str | None,
    limit: int,
    limits: HistoryLimits,
) -> History:
    """The Broker contract's `history` over the history script (one Redis or a cluster): read
    after `since`; a resume from before a cluster node change starts where both epochs agree
    (rooms.history.carry_over, a second read); one that cannot be recovered gets the `limit`
    most recent messages instead."""
    reply = await _read_one(read, history_args(room, since=since, limit=limit, limits=limits))
    resume = carry_over(since, client_epoch, epoch=_text(reply[1]), carried=carried_of(reply))
    if resume.since != since:
        args = history_args(room, since=resume.since, limit=limit, limits=limits)
        reply = await _read_one(read, args)
    shaped = shape_history(
        room,
        reply,
        since=resume.since,
        client_epoch=resume.client_epoch,
        limit=limit,
        limits=limits,
    )
    if shaped is not None:
        if resume.lost:
            return History(shaped.epoch, shaped.head, shaped.messages, False, shaped.hidden)
        return shaped
    recent = await _read_one(read, history_args(room, since=None, limit=limit, limits=limits))
    latest = shape_history(room, recent, since=None, client_epoch=None, limit=limit, limits=limits)
    assert latest is not None  # a read without `since` is always shaped
    return latest


async def _read_one(read: TurnBatch[HistoryRead, Any], request: HistoryRead) -> Any:
    try:
        reply = await read(request)
    except BatchFailed as exc:
        raise BrokerUnavailable(type(exc.__cause__).__name__) from exc.__cause__
    if isinstance(reply, Exception):
        raise BrokerUnavailable(type(reply).__name__) from reply
    return reply


def carried_of(reply: Any) -> Carried | None:
    """Where the room's epoch came from, if it began on a new cluster node (the history
    script's last two fields; never set on one Redis)."""
    from_epoch = _text(reply[4])
    return Carried(from_epoch, int(reply[5])) if from_epoch else None


def shape_history(
    room: str,
    reply: Any,
    *,
    since: int | None,
    client_epoch: str | None,
    limit: int,
    limits: HistoryLimits,
) -> History | None:
    """The history script's reply as the Broker contract's History; None when `since` could not
    be recovered (the caller then reads the most recent messages instead)."""
    head, epoch, entries, hidden_raw = reply[:4]
    epoch = _text(epoch)
    cutoff = int(time.time() * 1000) - limits.max_age_s * 1000
    messages = _decode_entries(room, epoch, entries, cutoff)
    hidden = {int(value) for value in hidden_raw}
    shown_hidden = tuple(sorted(hidden))
    if since is None:
        visible = [m for m in reversed(messages) if m.id not in hidden]
        recent = tuple(visible[-limit:]) if limit else ()
        return History(epoch, int(head), recent, recovered=False, hidden=shown_hidden)
    recovered = is_recovered(
        since=since,
        client_epoch=client_epoch,
        epoch=epoch,
        head=int(head),
        first_after_since=messages[0].id if messages else None,
    )
    if recovered:
        kept = tuple(m for m in messages if m.id not in hidden)
        return History(epoch, int(head), kept, True, shown_hidden)
    return None


def _decode_entries(room: str, epoch: str, entries: list[Any], cutoff_ms: int) -> list[Posted]:
    messages = []
    for entry_id, fields in entries:
        values = dict(zip(fields[::2], fields[1::2], strict=True))
        if int(values.get(b"t", 0)) < cutoff_ms:
            continue
        try:
            event = read_body(room, int(entry_id.split(b"-")[0]), epoch, values[b"b"])
        except (EnvelopeError, KeyError, ValueError):
            logger.warning("dropped an unreadable history entry in one room")
            continue
        if isinstance(event, Posted):
            messages.append(event)
    return messages


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
