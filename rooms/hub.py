"""LocalHub: this worker's rooms, their local members, and the fan-out hot loop.

The broker's one listener hands every event to `deliver`, synchronously. The hub encodes the
outgoing frame ONCE per codec in use in that room and hands the same `bytes` object straight to
every local member's socket: the loop calls each member's `Outlet` -- the transport's own
`is_closing` and `write`, two C calls -- so there is no Python frame, task, queue hop, `await` or
encode per member (websockets' `broadcast()`, centrifuge's prepared data). Measured with py-spy on
a worker fanning out to 500 members, ~80 % of its CPU is the `write` syscall itself; every Python
call per member added on top showed up as a few percent of the whole.

A member that can't keep up is found by the socket's own flow control (its write buffer passes
the outbox bound and the transport pauses the protocol): the member closes itself and calls
`detach`, which removes it from every room at once, mid-loop if need be, so one slow reader never
slows the room or grows the worker's memory.

Joining follows the subscribe -> read history -> de-duplicate order: the member is parked in
`joining` (a bounded buffer of live messages) while history is read, then the two are merged by id,
so nothing published during the join is lost or repeated.

Pub/sub is at most once. The hub remembers the last message id it delivered per room; when the
broker reconnects, or an id arrives that skips one, the room is repaired from history: live
events are parked while the missed messages are read and fanned out in order, then the parked
ones follow (joiners get them in their join buffers, like live ones). Members see every message
once and in order; if history no longer reaches back, or the room began a new epoch (a Redis
Cluster shard failed over), every member -- joined, trailing or mid-join -- is dropped to
reconnect and resume on its own, so no one keeps a position the parked events were meant to
continue. A failed repair read is retried with a bounded, jittered backoff.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from .broker import Broker, BrokerUnavailable, History
from .envelope import EnvelopeError, Event, Hidden, Posted, PresenceChanged, read

logger = logging.getLogger("harbor.hub")

# A repair whose history read failed (the broker unreachable) is tried again after this, doubled
# per failure up to the cap and jittered, or at once when another repair is asked for.
REPAIR_RETRY_FIRST_S = 0.05
REPAIR_RETRY_MAX_S = 2.0


# (is_closing, write) of one member's socket: called directly by the fan-out loop.
Outlet = tuple[Callable[[], bool], Callable[[bytes], object]]


class Member(Hashable, Protocol):
    """One connection as the hub sees it."""

    @property
    def codec(self) -> int:
        """Index of the wire codec this member speaks; frames are encoded once per codec."""
        ...

    @property
    def outlet(self) -> Outlet:
        """The socket's own non-blocking write and its closing test. A member whose socket
        falls behind must `detach` itself; nothing is written once `is_closing()` is true."""
        ...

    def evicted(self) -> None:
        """The hub dropped this member (its join buffer overflowed): close it as slow."""
        ...


FrameEncoder = Callable[[Event, int], bytes]


class JoinAborted(Exception):
    """The member was dropped while its join was in progress (it fell too far behind)."""


@dataclass(slots=True, eq=False)
class LocalRoom:
    id: str
    codecs: int
    members: list[set[Member]] = field(init=False)
    # Per codec, the members' outlets as the hot loop reads them; None: rebuild (membership
    # changed). A rebuilt tuple never alters one a running loop holds.
    outlets: list[tuple[Outlet, ...] | None] = field(init=False)
    joining: dict[Member, list[Posted | Hidden]] = field(default_factory=dict)
    # Joined members whose history reached past the last message fanned out here (a message
    # stored before its pub/sub copy arrived): id of the last one they have. They get live
    # messages only past it, then join the hot loop (see `_catch_up`).
    trailing: dict[Member, int] = field(default_factory=dict)
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    count: int = 0  # members across all workers, from presence
    presence_dirty: bool = False
    last_id: int = -1  # last message id fanned out here (-1: unknown yet)
    epoch: str = ""
    repairing: list[Posted | Hidden] | None = None  # live events parked during a repair

    def __post_init__(self) -> None:
        self.members = [set() for _ in range(self.codecs)]
        self.outlets = [None] * self.codecs

    def add(self, member: Member) -> None:
        self.members[member.codec].add(member)
        self.outlets[member.codec] = None

    def discard(self, member: Member) -> bool:
        """Remove a member; True if it was one."""
        if self.trailing.pop(member, None) is not None:
            return True
        members = self.members[member.codec]
        if member not in members:
            return False
        members.discard(member)
        self.outlets[member.codec] = None
        return True

    @property
    def local_count(self) -> int:
        return sum(len(members) for members in self.members) + len(self.trailing)

    @property
    def visible_count(self) -> int:
        """The count to show now: presence lags by up to one interval, local joins don't."""
        return max(self.count, self.local_count)

    @property
    def empty(self) -> bool:
        return (
            not self.joining and not self.trailing and not self.listeners and not any(self.members)
        )


@dataclass(slots=True)
class HubStats:
    """Counters for /metrics and the benchmark (frames encoded per fanned-out event: expect 1)."""

    events_fanned_out: int = 0
    frames_encoded: int = 0
    deliveries: int = 0
    slow_members_dropped: int = 0
    bad_envelopes: int = 0
    repairs: int = 0
    repaired_messages: int = 0


class LocalHub:
    def __init__(
        self,
        broker: Broker,
        encode: FrameEncoder,
        *,
        codecs: int,
        join_buffer: int,
        is_feed: Callable[[str], bool] = lambda channel: False,
    ) -> None:
        self._broker = broker
        self._encode = encode
        # Channels that carry notices rather than a room's numbered history: never repaired.
        self._is_feed = is_feed
        self._codecs = codecs
        self._join_buffer = join_buffer
        self._rooms: dict[str, LocalRoom] = {}
        self._lifecycle = anyio.Lock()
        self._to_repair: set[str] = set()
        # Called once per fanned-out message with seconds since it was published (metrics).
        self.observe_latency: Callable[[float], None] | None = None
        self._repair_wanted = anyio.Event()
        self.stats = HubStats()

    def room(self, room_id: str) -> LocalRoom | None:
        return self._rooms.get(room_id)

    def local_counts(self) -> dict[str, int]:
        return {room_id: local.local_count for room_id, local in self._rooms.items()}

    def deliver(self, room_id: str, payload: bytes) -> None:
        """Fan one channel event out to this worker's members. Called by the broker listener."""
        local = self._rooms.get(room_id)
        if local is None:
            return
        try:
            event = read(room_id, payload)
        except EnvelopeError:
            self.stats.bad_envelopes += 1
            logger.warning("dropped an unreadable envelope")
            return
        if isinstance(event, PresenceChanged):
            if event.count != local.count:
                local.count = event.count
                local.presence_dirty = True
            return
        if isinstance(event, Posted | Hidden):
            if local.repairing is not None:
                local.repairing.append(event)
                if len(local.repairing) > self._join_buffer:
                    # A repair that cannot read history in time: hold no more, resume instead.
                    local.repairing = None
                    self._drop_everyone(local)
                return
            if isinstance(event, Posted) and event.epoch == local.epoch:
                if event.id <= local.last_id:
                    return  # already delivered (e.g. by a repair)
                if self._is_gap(local, event):
                    local.repairing = [event]
                    self.request_repair(local.id)
                    return
            if local.joining:
                self._buffer_for_joiners(local, event)
        for listener in local.listeners:
            listener(event)
        self.fan_out(local, event)

    def fan_out(self, local: LocalRoom, event: Event) -> None:
        """The hot loop: one encode per codec, two C calls per member."""
        if isinstance(event, Posted):
            local.last_id = event.id
            local.epoch = event.epoch
        stats = self.stats
        stats.events_fanned_out += 1
        encoded: dict[int, bytes] = {}
        for codec, members in enumerate(local.members):
            if not members:
                continue
            outlets = local.outlets[codec]
            if outlets is None:
                outlets = local.outlets[codec] = tuple(member.outlet for member in members)
            frame = encoded[codec] = self._encode(event, codec)
            stats.frames_encoded += 1
            stats.deliveries += len(outlets)
            for is_closing, write in outlets:
                if not is_closing():
                    write(frame)
        if local.trailing:
            self._catch_up(local, event, encoded)
        if self.observe_latency is not None and isinstance(event, Posted):
            self.observe_latency(time.time() - event.ts / 1000)

    def _catch_up(self, local: LocalRoom, event: Event, frames: dict[int, bytes]) -> None:
        """Write ``event`` to the trailing members that lack it (with the frames the hot loop
        encoded, each codec still encoded once); a message past a member's history brings it
        into step, into the hot loop. Rare: only right after a join."""
        for member, head in list(local.trailing.items()):
            if isinstance(event, Posted) and event.epoch == local.epoch and event.id <= head:
                continue  # already in the history it joined with
            if isinstance(event, Posted):
                del local.trailing[member]
                local.add(member)
            codec = member.codec
            frame = frames.get(codec)
            if frame is None:
                frame = frames[codec] = self._encode(event, codec)
                self.stats.frames_encoded += 1
            is_closing, write = member.outlet
            if not is_closing():
                self.stats.deliveries += 1
                write(frame)

    def detach(self, member: Member, *, slow: bool = False) -> None:
        """Stop every write to `member` now, synchronously (it is closing: after its close
        frame nothing else may follow), and abort a join it has in progress. Room
        subscriptions are released later by `leave`. `slow`: it fell behind (counted)."""
        for local in self._rooms.values():
            self._forget(local, member)
        if slow:
            self.stats.slow_members_dropped += 1

    def flush_presence(self) -> None:
        """Send one coalesced presence frame per room whose count changed since the last flush."""
        for local in self._rooms.values():
            if local.presence_dirty:
                local.presence_dirty = False
                self.fan_out(local, PresenceChanged(local.id, local.count))

    async def join(
        self, room_id: str, member: Member, *, since: int | None, epoch: str | None, limit: int
    ) -> History:
        """Subscribe (if first here), read history, merge live messages that raced it, and add
        the member. The caller must write the returned history before its next `await`."""
        local = await self._enter(room_id, member)
        try:
            history = await self._broker.history(
                room_id, since=since, client_epoch=epoch, limit=limit
            )
        except BaseException:
            local.joining.pop(member, None)
            await self._release_if_empty(local)
            raise
        raced = local.joining.pop(member, None)
        if raced is None:
            await self._release_if_empty(local)
            raise JoinAborted(room_id)
        merged = _merge(history, raced)
        if local.last_id < 0:
            local.last_id, local.epoch = merged.head, merged.epoch
        elif local.epoch != merged.epoch and local.repairing is None:
            # The room began a new epoch (its history was lost, or its cluster shard failed
            # over) that this worker's members have not heard of: they may have missed
            # messages, so the repair tells them to resume. Moving the room to the new head
            # here would skip those messages for them without a word.
            self.request_repair(room_id)
        if merged.head > local.last_id:
            # Its history holds messages whose live copies have not reached this worker yet:
            # it must get each of them once, from the history, not again live.
            local.trailing[member] = merged.head
        else:
            local.add(member)
        return merged

    async def listen(self, room_id: str, listener: Callable[[Event], None]) -> None:
        """Hear every event of a channel in this worker (e.g. direct notices to one identity),
        without being a member; keeps the subscription for the worker's lifetime."""
        async with self._lifecycle:
            local = self._rooms.get(room_id)
            if local is None:
                await self._broker.subscribe(room_id)
                local = self._rooms[room_id] = LocalRoom(room_id, self._codecs)
            local.listeners.append(listener)

    def request_repair(self, room_id: str | None = None) -> None:
        """Ask `keep_repaired` to re-read missed messages: for one room (a gap was seen) or for
        every room (the broker reconnected: anything may have been missed). Synchronous, so the
        broker's listener can call it."""
        if room_id is not None and self._is_feed(room_id):
            return  # a feed has no numbered history to repair from
        rooms = [room_id] if room_id else [r for r in self._rooms if not self._is_feed(r)]
        for room in rooms:
            local = self._rooms.get(room)
            if local is not None and local.repairing is None:
                local.repairing = []
            self._to_repair.add(room)
        self._repair_wanted.set()

    async def keep_repaired(self, *, limit: int) -> None:
        """Run repairs as they are requested (a lifespan task)."""
        failures = 0
        while True:
            if failures:
                with anyio.move_on_after(
                    repair_retry_delay(failures) * (0.5 + random.random() / 2)
                ):
                    await self._repair_wanted.wait()
            else:
                await self._repair_wanted.wait()
            self._repair_wanted = anyio.Event()
            rooms, self._to_repair = self._to_repair, set()
            repaired = [await self._repair(room, limit) for room in rooms]
            failures = 0 if all(repaired) else failures + 1

    async def _repair(self, room_id: str, limit: int) -> bool:
        """Fill one room's gap from history; False if the read failed (the room stays queued)."""
        local = self._rooms.get(room_id)
        if local is None or local.repairing is None:
            return True
        if local.last_id < 0:
            # Nothing was fanned out here yet (everyone was just dropped): no position to
            # repair from, and joiners read history of their own.
            parked, local.repairing = local.repairing, None
            for event in parked:
                self._release(local, event)
            return True
        self.stats.repairs += 1
        try:
            history = await self._broker.history(
                room_id, since=local.last_id, client_epoch=local.epoch or None, limit=limit
            )
        except BrokerUnavailable:
            self._to_repair.add(room_id)
            return False
        parked, local.repairing = local.repairing, None
        if not history.recovered or history.epoch != local.epoch:
            # Members' clients hold the old epoch: only a resume tells them the new one, and
            # (on a cluster) recovers what they missed across it.
            self._drop_everyone(local)
            return True
        for message in history.messages:
            if message.id > local.last_id:
                self.stats.repaired_messages += 1
                self._release(local, message)
        for event in parked:
            if isinstance(event, Hidden) or event.id > local.last_id:
                self._release(local, event)
        return True

    def _release(self, local: LocalRoom, event: Posted | Hidden) -> None:
        """An event held back by a repair, on its way as if live: joiners whose history read
        may have missed it get it in their buffers (merged by id), members get it fanned out."""
        if local.joining:
            self._buffer_for_joiners(local, event)
        self.fan_out(local, event)

    def _drop_everyone(self, local: LocalRoom) -> None:
        """History can't continue what members have (a gap it no longer holds, or a new epoch):
        each member -- joined, trailing behind its join's history, or mid-join -- is dropped to
        reconnect and resume, learning the epoch and what it missed. Parked events are
        discarded with them; the resumes read history instead."""
        dropped = [m for members in local.members for m in members]
        dropped += [*local.trailing, *local.joining]
        for member in dropped:
            self._forget(local, member)
            member.evicted()
        local.last_id = -1

    def _is_gap(self, local: LocalRoom, event: Posted) -> bool:
        return local.last_id >= 0 and event.id > local.last_id + 1

    async def leave(self, room_id: str, member: Member) -> None:
        local = self._rooms.get(room_id)
        if local is not None:
            self._forget(local, member)
            await self._release_if_empty(local)

    async def _enter(self, room_id: str, member: Member) -> LocalRoom:
        local = self._rooms.get(room_id)
        if local is not None:
            # Already subscribed: parking the joiner is synchronous, so no release can run
            # between the lookup and it (a release deletes the room before it awaits), and the
            # lock's checkpoint is skipped -- one event-loop turn less per join in a storm.
            local.joining[member] = []
            return local
        async with self._lifecycle:
            local = self._rooms.get(room_id)
            if local is None:
                await self._broker.subscribe(room_id)
                local = self._rooms[room_id] = LocalRoom(room_id, self._codecs)
            local.joining[member] = []
            return local

    async def _release_if_empty(self, local: LocalRoom) -> None:
        if not local.empty:
            return
        with anyio.CancelScope(shield=True):
            async with self._lifecycle:
                if local.empty and self._rooms.get(local.id) is local:
                    del self._rooms[local.id]
                    await self._broker.unsubscribe(local.id)

    def _forget(self, local: LocalRoom, member: Member) -> None:
        local.discard(member)
        local.joining.pop(member, None)

    def _buffer_for_joiners(self, local: LocalRoom, event: Posted | Hidden) -> None:
        overflowed = []
        for member, buffered in local.joining.items():
            buffered.append(event)
            if len(buffered) > self._join_buffer:
                overflowed.append(member)
        for member in overflowed:
            del local.joining[member]
            self.stats.slow_members_dropped += 1
            member.evicted()


def repair_retry_delay(failures: int) -> float:
    """Seconds before a repair is tried again after `failures` failed rounds (before jitter)."""
    return min(REPAIR_RETRY_MAX_S, REPAIR_RETRY_FIRST_S * 2.0 ** min(max(failures - 1, 0), 16))


def _merge(history: History, raced: list[Posted | Hidden]) -> History:
    """History plus the live events that raced the read: new messages appended once by id,
    hides applied, so the joiner ends exactly where the room's members are."""
    if not raced:
        return history
    hidden = {event.id for event in raced if isinstance(event, Hidden)}
    last = history.messages[-1].id if history.messages else history.head
    posted = [e for e in raced if isinstance(e, Posted) and e.epoch == history.epoch]
    extra = tuple(m for m in posted if m.id > last)
    messages = tuple(m for m in history.messages + extra if m.id not in hidden)
    head = extra[-1].id if extra else history.head
    all_hidden = tuple(sorted(set(history.hidden) | hidden))
    return History(history.epoch, head, messages, history.recovered, all_hidden)
