"""rooms.hub.LocalHub over the real MemoryBroker: fan-out, slow members, joins, presence."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import msgpack
import pytest

from rooms.broker import BrokerUnavailable, History, HistoryLimits
from rooms.broker_memory import MemoryBroker
from rooms.envelope import Draft, Event, hide_body, presence_body
from rooms.hub import (
    REPAIR_RETRY_FIRST_S,
    REPAIR_RETRY_MAX_S,
    JoinAborted,
    LocalHub,
    repair_retry_delay,
)
from server.identity import IdentityIssuer
from server.protocol import CODECS, JSON, MSGPACK, room_encoder

ROOM = "newcomers"
OTHER = "alcohol"
TS = 1_700_000_000_000
# Old enough timestamps never age out of history while a test runs.
LIMITS = HistoryLimits(max_messages=200, max_age_s=10**9, client_ids=64)

# The worker's encoder, with writers' tags as a worker derives them.
encode_room_event = room_encoder(IdentityIssuer("unit-hub").author_tag)


class RecordingMember:
    """A hub member that records every frame written to its outlet.

    `falls_behind`: the hub it belongs to; after its first frame it detaches itself from it
    during the write, as a connection does when its transport pauses it (flow control)."""

    def __init__(self, codec: int = JSON, *, falls_behind: LocalHub | None = None) -> None:
        self.codec = codec
        self.falls_behind = falls_behind
        self.closing = False
        self.frames: list[bytes] = []
        self.evictions = 0
        self.wrote = anyio.Event()  # set by the next frame written

    @property
    def outlet(self) -> tuple[Callable[[], bool], Callable[[bytes], object]]:
        return self.is_closing, self.write

    def is_closing(self) -> bool:
        return self.closing

    def write(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.wrote.set()
        self.wrote = anyio.Event()
        if self.falls_behind is not None:
            self.falls_behind.detach(self, slow=True)

    def evicted(self) -> None:
        self.evictions += 1

    def decoded(self) -> list[dict[str, Any]]:
        """The client frames this member received, decoded from the prepared WebSocket frames."""
        return [payload_of(frame, self.codec) for frame in self.frames]


class CountingEncoder:
    """The protocol's encoder, counting each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Event, int]] = []

    def __call__(self, event: Event, codec: int) -> bytes:
        self.calls.append((event, codec))
        return encode_room_event(event, codec)


class RecordingBroker(MemoryBroker):
    """A MemoryBroker that records (un)subscriptions and can publish while a history read runs.

    `before_history` / `after_history` texts are published once, on the next history() call,
    before and after the real read, as if another worker posted while a join was in progress.
    """

    def __init__(self, limits: HistoryLimits = LIMITS) -> None:
        super().__init__(limits)
        self.subscribes: list[str] = []
        self.unsubscribes: list[str] = []
        self.before_history: list[str] = []
        self.after_history: list[str] = []
        self.history_error: Exception | None = None

    async def subscribe(self, room: str) -> None:
        self.subscribes.append(room)
        await super().subscribe(room)

    async def unsubscribe(self, room: str) -> None:
        self.unsubscribes.append(room)
        await super().unsubscribe(room)

    async def history(
        self, room: str, *, since: int | None, client_epoch: str | None, limit: int
    ) -> History:
        if self.history_error is not None:
            raise self.history_error
        before, self.before_history = self.before_history, []
        after, self.after_history = self.after_history, []
        for text in before:
            await self.publish(room, draft(text))
        history = await super().history(room, since=since, client_epoch=client_epoch, limit=limit)
        for text in after:
            await self.publish(room, draft(text))
        return history


def draft(text: str) -> Draft:
    return Draft(uid="u-1", name="Calm Heron 1", text=text, ts=TS)


def payload_of(frame: bytes, codec: int) -> dict[str, Any]:
    """The payload of one unmasked server frame under 64 KiB."""
    length, start = frame[1], 2
    if length == 126:
        length, start = int.from_bytes(frame[2:4], "big"), 4
    assert length < 65536
    payload = frame[start:]
    assert len(payload) == length
    decoded: dict[str, Any] = json.loads(payload) if codec == JSON else msgpack.unpackb(payload)
    return decoded


def ids(history: History) -> list[int]:
    return [m.id for m in history.messages]


def texts(history: History) -> list[str]:
    return [m.text for m in history.messages]


@asynccontextmanager
async def running(
    *, join_buffer: int = 100
) -> AsyncIterator[tuple[LocalHub, RecordingBroker, CountingEncoder]]:
    """A hub and its broker, with the broker's listener running in a task group."""
    broker = RecordingBroker()
    encoder = CountingEncoder()
    hub = LocalHub(broker, encoder, codecs=CODECS, join_buffer=join_buffer)
    async with anyio.create_task_group() as tg:
        await tg.start(broker.run, hub.deliver)
        try:
            yield hub, broker, encoder
        finally:
            tg.cancel_scope.cancel()


async def join(hub: LocalHub, member: RecordingMember, room: str = ROOM, **kwargs: Any) -> History:
    options: dict[str, Any] = {"since": None, "epoch": None, "limit": 50, **kwargs}
    return await hub.join(room, member, **options)


# Fan-out


async def test_one_message_is_encoded_once_per_codec_and_every_member_gets_the_same_bytes() -> None:
    """Fan-out encodes once per codec in use and hands each member that very bytes object."""
    async with running() as (hub, broker, encoder):
        json_members = [RecordingMember(JSON) for _ in range(3)]
        msgpack_members = [RecordingMember(MSGPACK) for _ in range(2)]
        for member in json_members + msgpack_members:
            await join(hub, member)
        assert encoder.calls == []

        receipt = await broker.publish(ROOM, draft("first day"))

        assert sorted(codec for _, codec in encoder.calls) == [JSON, MSGPACK]
        assert hub.stats.frames_encoded == 2
        assert hub.stats.events_fanned_out == 1
        assert hub.stats.deliveries == 5
        for group in (json_members, msgpack_members):
            assert all(len(member.frames) == 1 for member in group)
            assert all(member.frames[0] is group[0].frames[0] for member in group)
        expected = {
            "type": "message",
            "room": ROOM,
            "id": receipt.id,
            "from": "Calm Heron 1",
            "author": IdentityIssuer("unit-hub").author_tag("u-1"),
            "text": "first day",
            "ts": TS,
        }
        assert json_members[0].decoded() == [expected]
        assert msgpack_members[0].decoded() == [expected]


async def test_a_room_with_one_codec_in_use_encodes_once() -> None:
    """When every member speaks JSON, one message costs one encode, whatever the member count."""
    async with running() as (hub, broker, encoder):
        members = [RecordingMember(JSON) for _ in range(10)]
        for member in members:
            await join(hub, member)
        await broker.publish(ROOM, draft("a"))
        await broker.publish(ROOM, draft("b"))
        assert [codec for _, codec in encoder.calls] == [JSON, JSON]
        assert hub.stats.frames_encoded == 2
        assert hub.stats.deliveries == 20
        assert all(m.decoded()[1]["text"] == "b" for m in members)


async def test_messages_reach_only_members_of_their_room() -> None:
    """A message published in one room is not delivered to another room's members."""
    async with running() as (hub, broker, _):
        here, there = RecordingMember(), RecordingMember()
        await join(hub, here, ROOM)
        await join(hub, there, OTHER)
        await broker.publish(OTHER, draft("over there"))
        assert here.frames == []
        assert [f["text"] for f in there.decoded()] == ["over there"]


async def test_a_member_that_falls_behind_mid_fan_out_is_detached_and_the_others_continue() -> None:
    """A member detaching itself during its own write (flow control paused its socket) gets
    no further frames, and every other member still gets every frame, that one included."""
    async with running() as (hub, broker, _):
        fast = [RecordingMember(), RecordingMember(MSGPACK)]
        slow = RecordingMember(falls_behind=hub)
        for member in [fast[0], slow, *fast[1:]]:
            await join(hub, member)

        await broker.publish(ROOM, draft("one"))
        await broker.publish(ROOM, draft("two"))

        assert len(slow.frames) == 1
        assert [[f["text"] for f in m.decoded()] for m in fast] == [["one", "two"]] * 2
        assert hub.stats.slow_members_dropped == 1
        assert hub.local_counts() == {ROOM: 2}
        assert slow.evictions == 0  # it closed itself; the hub does not close it again


async def test_nothing_is_written_to_a_member_whose_socket_is_closing() -> None:
    """A socket already closing (its close frame sent) is skipped, not written to."""
    async with running() as (hub, broker, _):
        closing, open_ = RecordingMember(), RecordingMember()
        for member in (closing, open_):
            await join(hub, member)
        closing.closing = True
        await broker.publish(ROOM, draft("one"))
        assert closing.frames == []
        assert [f["text"] for f in open_.decoded()] == ["one"]


async def test_detach_aborts_a_join_in_progress() -> None:
    """A member closed while its history is read never becomes a member."""
    async with running() as (hub, broker, _):
        joiner = RecordingMember()
        original = broker.history

        async def history(*args: Any, **kwargs: Any) -> History:
            hub.detach(joiner)
            return await original(*args, **kwargs)

        broker.history = history  # type: ignore[method-assign]
        with pytest.raises(JoinAborted):
            await join(hub, joiner)
        assert hub.room(ROOM) is None
        assert broker.unsubscribes == [ROOM]


async def test_a_hidden_event_is_fanned_out_to_members() -> None:
    """A moderator's hide reaches every member as a `hidden` frame."""
    async with running() as (hub, broker, _):
        member = RecordingMember()
        await join(hub, member)
        await broker.announce(ROOM, hide_body(4))
        assert member.decoded() == [{"type": "hidden", "room": ROOM, "id": 4}]


async def test_an_unreadable_envelope_is_counted_and_dropped() -> None:
    """A malformed channel payload is counted in bad_envelopes and reaches nobody."""
    async with running() as (hub, _, encoder):
        member = RecordingMember()
        await join(hub, member)
        hub.deliver(ROOM, b"not an envelope")
        assert hub.stats.bad_envelopes == 1
        assert member.frames == []
        assert encoder.calls == []


async def test_an_event_for_a_room_without_local_members_is_ignored() -> None:
    """deliver() for a room this worker doesn't hold encodes nothing."""
    async with running() as (hub, _, encoder):
        hub.deliver("elsewhere", b"1 e " + draft("x").body())
        assert encoder.calls == []
        assert hub.stats.events_fanned_out == 0


# Joining


async def test_join_returns_the_most_recent_history() -> None:
    """A join without `since` returns the `limit` most recent messages, not recovered."""
    async with running() as (hub, broker, _):
        for text in ["a", "b", "c", "d"]:
            await broker.publish(ROOM, draft(text))
        history = await join(hub, RecordingMember(), limit=2)
        assert texts(history) == ["c", "d"]
        assert ids(history) == [3, 4]
        assert history.head == 4
        assert history.recovered is False


async def test_join_with_since_returns_the_missed_messages_and_recovered() -> None:
    """A join with `since` and the room's epoch returns exactly the later messages, recovered."""
    async with running() as (hub, broker, _):
        first = await join(hub, RecordingMember())
        for text in ["a", "b", "c", "d", "e"]:
            await broker.publish(ROOM, draft(text))
        history = await join(hub, RecordingMember(), since=2, epoch=first.epoch, limit=1)
        assert ids(history) == [3, 4, 5]
        assert texts(history) == ["c", "d", "e"]
        assert history.recovered is True
        assert history.epoch == first.epoch


async def test_join_with_since_at_head_returns_nothing_and_recovered() -> None:
    """A client that saw everything gets an empty, recovered history."""
    async with running() as (hub, broker, _):
        for text in ["a", "b"]:
            await broker.publish(ROOM, draft(text))
        epoch = (await join(hub, RecordingMember())).epoch
        history = await join(hub, RecordingMember(), since=2, epoch=epoch)
        assert history.messages == ()
        assert history.recovered is True


async def test_join_with_a_stale_epoch_is_not_recovered() -> None:
    """A `since` from another epoch gets recent history and recovered False."""
    async with running() as (hub, broker, _):
        for text in ["a", "b", "c"]:
            await broker.publish(ROOM, draft(text))
        history = await join(hub, RecordingMember(), since=1, epoch="not-this", limit=2)
        assert texts(history) == ["b", "c"]
        assert history.recovered is False


async def test_a_joined_member_receives_later_messages_live() -> None:
    """After join returns, the member is in the room and gets live frames."""
    async with running() as (hub, broker, _):
        member = RecordingMember()
        await join(hub, member)
        assert member.frames == []
        await broker.publish(ROOM, draft("live"))
        assert [f["text"] for f in member.decoded()] == ["live"]
        assert hub.local_counts() == {ROOM: 1}


async def test_messages_published_before_the_history_read_are_merged_exactly_once() -> None:
    """Messages that race a join (live-buffered and also in history) appear once in its history."""
    async with running() as (hub, broker, _):
        watcher, joiner = RecordingMember(), RecordingMember()
        await join(hub, watcher)
        await broker.publish(ROOM, draft("old"))
        broker.before_history = ["race-1", "race-2"]

        history = await join(hub, joiner)

        assert texts(history) == ["old", "race-1", "race-2"]
        assert ids(history) == [1, 2, 3]
        assert history.head == 3
        assert joiner.frames == []
        assert [f["text"] for f in watcher.decoded()] == ["old", "race-1", "race-2"]
        await broker.publish(ROOM, draft("after"))
        assert [f["text"] for f in joiner.decoded()] == ["after"]


async def test_messages_published_after_the_history_read_are_appended_exactly_once() -> None:
    """Messages buffered live but missing from the history read are appended, in order, once."""
    async with running() as (hub, broker, _):
        await broker.publish(ROOM, draft("old"))
        broker.before_history = ["race-1"]
        broker.after_history = ["race-2", "race-3"]
        joiner = RecordingMember()

        history = await join(hub, joiner)

        assert texts(history) == ["old", "race-1", "race-2", "race-3"]
        assert ids(history) == [1, 2, 3, 4]
        assert history.head == 4
        assert joiner.frames == []


async def test_a_resuming_join_merges_raced_messages_after_the_missed_ones() -> None:
    """With `since`, racing messages join the missed ones without duplicates and stay recovered."""
    async with running() as (hub, broker, _):
        epoch = (await join(hub, RecordingMember())).epoch
        for text in ["a", "b", "c"]:
            await broker.publish(ROOM, draft(text))
        broker.before_history = ["d"]
        broker.after_history = ["e"]
        history = await join(hub, RecordingMember(), since=1, epoch=epoch)
        assert texts(history) == ["b", "c", "d", "e"]
        assert history.recovered is True
        assert history.head == 5


async def test_a_joiner_whose_buffer_overflows_is_evicted_and_the_join_aborts() -> None:
    """More racing messages than join_buffer evict the joiner and join raises JoinAborted."""
    async with running(join_buffer=2) as (hub, broker, _):
        broker.before_history = ["1", "2", "3"]
        joiner = RecordingMember()
        with pytest.raises(JoinAborted):
            await join(hub, joiner)
        assert joiner.evictions == 1
        assert joiner.frames == []
        assert hub.stats.slow_members_dropped == 1
        assert hub.room(ROOM) is None
        assert broker.unsubscribes == [ROOM]


async def test_a_joiner_with_exactly_join_buffer_racing_messages_joins() -> None:
    """join_buffer messages racing a join fit; the join succeeds with all of them."""
    async with running(join_buffer=2) as (hub, broker, _):
        broker.after_history = ["1", "2"]
        joiner = RecordingMember()
        history = await join(hub, joiner)
        assert texts(history) == ["1", "2"]
        assert joiner.evictions == 0


async def test_an_evicted_joiner_does_not_disturb_existing_members() -> None:
    """Members already in the room keep receiving while a joiner is evicted."""
    async with running(join_buffer=1) as (hub, broker, _):
        member = RecordingMember()
        await join(hub, member)
        broker.before_history = ["x", "y"]
        with pytest.raises(JoinAborted):
            await join(hub, RecordingMember())
        await broker.publish(ROOM, draft("z"))
        assert [f["text"] for f in member.decoded()] == ["x", "y", "z"]
        assert hub.local_counts() == {ROOM: 1}
        assert broker.unsubscribes == []


async def test_a_failed_history_read_propagates_and_releases_the_room() -> None:
    """If the broker can't read history, join raises its error and the room is unsubscribed."""
    async with running() as (hub, broker, _):
        broker.history_error = BrokerUnavailable("redis down")
        with pytest.raises(BrokerUnavailable):
            await join(hub, RecordingMember())
        assert hub.room(ROOM) is None
        assert broker.subscribes == [ROOM]
        assert broker.unsubscribes == [ROOM]


# Subscriptions


async def test_the_first_join_subscribes_and_the_last_leave_unsubscribes() -> None:
    """A room is subscribed once for its first local member and unsubscribed after its last."""
    async with running() as (hub, broker, _):
        alice, bob = RecordingMember(), RecordingMember(MSGPACK)
        await join(hub, alice)
        await join(hub, bob)
        assert broker.subscribes == [ROOM]

        await hub.leave(ROOM, alice)
        assert broker.unsubscribes == []
        assert hub.local_counts() == {ROOM: 1}

        await hub.leave(ROOM, bob)
        assert broker.unsubscribes == [ROOM]
        assert hub.room(ROOM) is None
        assert hub.local_counts() == {}


async def test_a_member_that_left_gets_no_more_frames() -> None:
    """After leave, messages in the room are not written to the member."""
    async with running() as (hub, broker, _):
        stays, leaves = RecordingMember(), RecordingMember()
        await join(hub, stays)
        await join(hub, leaves)
        await hub.leave(ROOM, leaves)
        await broker.publish(ROOM, draft("after"))
        assert leaves.frames == []
        assert [f["text"] for f in stays.decoded()] == ["after"]


async def test_leaving_a_room_not_held_is_a_no_op() -> None:
    """leave() for an unknown room or a non-member changes nothing."""
    async with running() as (hub, broker, _):
        member = RecordingMember()
        await join(hub, member)
        await hub.leave(OTHER, member)
        await hub.leave(ROOM, RecordingMember())
        assert broker.unsubscribes == []
        assert hub.local_counts() == {ROOM: 1}


async def test_rejoining_after_the_room_was_released_subscribes_again() -> None:
    """A room released by its last leave is subscribed again on the next join."""
    async with running() as (hub, broker, _):
        member = RecordingMember()
        await join(hub, member)
        await hub.leave(ROOM, member)
        await join(hub, member)
        assert broker.subscribes == [ROOM, ROOM]
        await broker.publish(ROOM, draft("back"))
        assert [f["text"] for f in member.decoded()] == ["back"]


# Presence


async def test_a_presence_event_sets_the_count_without_sending_a_frame() -> None:
    """Presence updates the room's count and marks it dirty; nothing is sent until a flush."""
    async with running() as (hub, broker, encoder):
        member = RecordingMember()
        await join(hub, member)
        await broker.announce(ROOM, presence_body(7))
        local = hub.room(ROOM)
        assert local is not None
        assert local.count == 7
        assert local.presence_dirty
        assert local.visible_count == 7
        assert member.frames == []
        assert encoder.calls == []


async def test_flush_presence_sends_one_coalesced_frame_per_dirty_room() -> None:
    """flush_presence sends each dirty room's latest count once; clean rooms get nothing."""
    async with running() as (hub, broker, encoder):
        a_json, a_msgpack, b_member, c_member = (
            RecordingMember(),
            RecordingMember(MSGPACK),
            RecordingMember(),
            RecordingMember(),
        )
        await join(hub, a_json)
        await join(hub, a_msgpack)
        await join(hub, b_member, OTHER)
        await join(hub, c_member, "opioids")
        for count in (3, 5, 9):
            await broker.announce(ROOM, presence_body(count))
        await broker.announce(OTHER, presence_body(2))

        hub.flush_presence()

        presence_a = {"type": "presence", "room": ROOM, "count": 9}
        assert a_json.decoded() == [presence_a]
        assert a_msgpack.decoded() == [presence_a]
        assert b_member.decoded() == [{"type": "presence", "room": OTHER, "count": 2}]
        assert c_member.frames == []
        assert len(encoder.calls) == 3  # ROOM: JSON + msgpack; OTHER: JSON

        hub.flush_presence()
        assert [len(m.frames) for m in (a_json, a_msgpack, b_member, c_member)] == [1, 1, 1, 0]


async def test_an_unchanged_presence_count_is_not_sent_again() -> None:
    """Announcing the count the room already shows leaves it clean."""
    async with running() as (hub, broker, _):
        member = RecordingMember()
        await join(hub, member)
        await broker.announce(ROOM, presence_body(4))
        hub.flush_presence()
        await broker.announce(ROOM, presence_body(4))
        local = hub.room(ROOM)
        assert local is not None and not local.presence_dirty
        hub.flush_presence()
        assert len(member.frames) == 1


async def test_visible_count_is_never_below_the_local_members() -> None:
    """Before presence catches up, the room shows at least its local members."""
    async with running() as (hub, broker, _):
        for _ in range(3):
            await join(hub, RecordingMember())
        local = hub.room(ROOM)
        assert local is not None
        assert local.visible_count == 3
        await broker.announce(ROOM, presence_body(1))
        assert local.visible_count == 3
        await broker.announce(ROOM, presence_body(40))
        assert local.visible_count == 40


async def test_a_listener_hears_channel_events_without_being_a_member() -> None:
    """hub.listen subscribes the channel and hands each decoded event to the callback."""
    from rooms.envelope import Broadcast, broadcast_body

    broker = MemoryBroker(HistoryLimits())
    hub = LocalHub(broker, lambda event, codec: b"", codecs=2, join_buffer=10)
    heard: list[object] = []
    async with anyio.create_task_group() as tg:
        await tg.start(broker.run, hub.deliver)
        await hub.listen("@direct", heard.append)
        await broker.announce("@direct", broadcast_body({"to": "u1"}))
        tg.cancel_scope.cancel()
    assert heard == [Broadcast("@direct", {"to": "u1"})]
    room = hub.room("@direct")
    assert room is not None and not room.empty


class LaggingBroker(RecordingBroker):
    """Stores messages at once but, while `lagging`, holds back their pub/sub copies, as Redis
    delivers a message to a worker a moment after the history can already show it."""

    def __init__(self) -> None:
        super().__init__()
        self.lagging = False
        self.held: list[tuple[str, bytes]] = []

    def _send(self, room: str, payload: bytes) -> None:
        if self.lagging:
            self.held.append((room, payload))
        else:
            super()._send(room, payload)

    def catch_up(self) -> None:
        held, self.held, self.lagging = self.held, [], False
        for room, payload in held:
            super()._send(room, payload)


async def test_a_message_in_the_joined_history_is_not_delivered_again_live() -> None:
    """Once means once at the join boundary: a message stored before its live copy reached
    this worker is in the joiner's history, and the live copy goes to the others only; the
    next message reaches everyone once."""
    broker = LaggingBroker()
    hub = LocalHub(broker, CountingEncoder(), codecs=CODECS, join_buffer=100)
    async with anyio.create_task_group() as tg:
        await tg.start(broker.run, hub.deliver)
        watcher, joiner = RecordingMember(), RecordingMember(MSGPACK)
        await join(hub, watcher)
        await broker.publish(ROOM, draft("seen by all"))
        await anyio.wait_all_tasks_blocked()
        broker.lagging = True
        await broker.publish(ROOM, draft("stored, not yet live"))
        history = await join(hub, joiner)
        assert texts(history)[-1] == "stored, not yet live"
        assert hub.local_counts() == {ROOM: 2}
        broker.catch_up()
        await anyio.wait_all_tasks_blocked()
        await broker.publish(ROOM, draft("after"))
        await anyio.wait_all_tasks_blocked()
        assert [f["text"] for f in watcher.decoded()] == [
            "seen by all",
            "stored, not yet live",
            "after",
        ]
        assert [f["text"] for f in joiner.decoded()] == ["after"]
        tg.cancel_scope.cancel()


async def test_a_trailing_joiner_that_leaves_is_forgotten() -> None:
    broker = LaggingBroker()
    hub = LocalHub(broker, CountingEncoder(), codecs=CODECS, join_buffer=100)
    async with anyio.create_task_group() as tg:
        await tg.start(broker.run, hub.deliver)
        watcher, joiner = RecordingMember(), RecordingMember()
        await join(hub, watcher)
        await broker.publish(ROOM, draft("first"))
        await anyio.wait_all_tasks_blocked()
        broker.lagging = True
        await broker.publish(ROOM, draft("second"))
        await join(hub, joiner)
        await hub.leave(ROOM, joiner)
        broker.catch_up()
        await broker.publish(ROOM, draft("third"))
        await anyio.wait_all_tasks_blocked()
        assert joiner.frames == []
        assert hub.local_counts() == {ROOM: 1}
        tg.cancel_scope.cancel()


# Repairs


@asynccontextmanager
async def repairing_hub(
    broker: RecordingBroker,
) -> AsyncIterator[LocalHub]:
    """A hub whose repairs run (the lifespan's `keep_repaired` task) over `broker`."""
    hub = LocalHub(broker, CountingEncoder(), codecs=CODECS, join_buffer=100)
    async with anyio.create_task_group() as tg:
        await tg.start(broker.run, hub.deliver)
        tg.start_soon(functools.partial(hub.keep_repaired, limit=50))
        try:
            yield hub
        finally:
            tg.cancel_scope.cancel()


def got_or_evicted(member: RecordingMember, text: str) -> bool:
    return member.evictions > 0 or text in [f.get("text") for f in member.decoded()]


async def test_a_new_epoch_drops_trailing_members_too_not_only_the_joined_ones() -> None:
    """A room began a new epoch (a cluster shard failed over) while this worker still holds
    the old one. A member that joins in the new epoch ahead of the worker trails behind its
    join's history; the repair the join asked for parks live messages, then finds the new
    epoch and drops the room's members. The trailing member must be dropped with them (it
    resumes from history): kept, it silently lacked the parked messages."""
    broker = LaggingBroker()
    async with repairing_hub(broker) as hub:
        old, new = RecordingMember(), RecordingMember()
        await join(hub, old)
        await broker.publish(ROOM, draft("before the failover"))
        await anyio.wait_all_tasks_blocked()
        broker._drop(ROOM)  # the history the worker numbered from is gone: a new epoch
        broker.lagging = True
        await broker.publish(ROOM, draft("first in the new epoch"))
        await broker.publish(ROOM, draft("second in the new epoch"))
        history = await join(hub, new)
        assert texts(history)[-1] == "second in the new epoch"
        broker.catch_up()  # parked: the join found a new epoch and asked for a repair
        await broker.publish(ROOM, draft("parked during the repair"))
        await anyio.wait_all_tasks_blocked()
        assert old.evictions == 1, "the members of the old epoch are told to resume"
        assert got_or_evicted(new, "parked during the repair")
        await broker.publish(ROOM, draft("after the repair"))
        await anyio.wait_all_tasks_blocked()
        assert got_or_evicted(new, "parked during the repair")


async def test_a_repair_hands_what_it_releases_to_joiners_as_well() -> None:
    """Messages a repair fans out (from history, then the parked ones) reach a member whose
    join is in progress through its join buffer, merged by id: its own history read may have
    run before they were stored."""
    broker = LaggingBroker()
    async with repairing_hub(broker) as hub:
        member, joiner = RecordingMember(), RecordingMember()
        await join(hub, member)
        await broker.publish(ROOM, draft("one"))
        await anyio.wait_all_tasks_blocked()
        broker.lagging = True
        await broker.publish(ROOM, draft("two, lost live"))
        broker.held.clear()  # pub/sub dropped it
        broker.lagging = False
        hub.request_repair(ROOM)
        broker.after_history = ["three, after the joiner's read"]
        history = await join(hub, joiner)
        await anyio.wait_all_tasks_blocked()
        seen = texts(history) + [f["text"] for f in joiner.decoded()]
        assert seen[-2:] == ["two, lost live", "three, after the joiner's read"]
        assert len(seen) == len(set(seen)), "each message once"
        assert [f["text"] for f in member.decoded()] == [
            "one",
            "two, lost live",
            "three, after the joiner's read",
        ]


class FailingHistory(LaggingBroker):
    """History reads fail while `down`, counted."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.reads = 0

    async def history(
        self, room: str, *, since: int | None, client_epoch: str | None, limit: int
    ) -> History:
        self.reads += 1
        if self.down:
            raise BrokerUnavailable("down")
        return await super().history(room, since=since, client_epoch=client_epoch, limit=limit)


async def test_a_failed_repair_read_backs_off_instead_of_spinning_then_repairs() -> None:
    """A broker that refuses at once made the repair loop retry in a tight loop that never
    yielded to the event loop; now it waits (bounded, jittered) and repairs once it answers."""
    broker = FailingHistory()
    async with repairing_hub(broker) as hub:
        member = RecordingMember()
        await join(hub, member)
        await broker.publish(ROOM, draft("one"))
        await anyio.wait_all_tasks_blocked()
        broker.lagging = True
        await broker.publish(ROOM, draft("two, lost live"))
        broker.held.clear()
        broker.lagging = False
        broker.down, broker.reads = True, 0
        hub.request_repair(ROOM)
        member.wrote = anyio.Event()
        with anyio.fail_after(5):
            await anyio.wait_all_tasks_blocked()
        assert broker.reads == 1, "one read, then a wait: no tight loop"
        broker.down = False
        with anyio.fail_after(5):
            await member.wrote.wait()  # the retry, within one backoff
        assert [f["text"] for f in member.decoded()] == ["one", "two, lost live"]


def test_the_repair_retry_delay_doubles_up_to_its_cap() -> None:
    delays = [repair_retry_delay(n) for n in range(1, 12)]
    assert delays[0] == REPAIR_RETRY_FIRST_S
    assert all(b == min(2 * a, REPAIR_RETRY_MAX_S) for a, b in itertools.pairwise(delays))
    assert delays[-1] == REPAIR_RETRY_MAX_S
    assert repair_retry_delay(10**6) == REPAIR_RETRY_MAX_S


async def test_events_parked_by_a_stuck_repair_are_bounded_by_the_join_buffer() -> None:
    """While history cannot be read, a repair parks live events; past the join buffer the
    room's members are dropped to resume instead of the worker holding ever more."""
    broker = FailingHistory()
    hub = LocalHub(broker, CountingEncoder(), codecs=CODECS, join_buffer=3)
    async with anyio.create_task_group() as tg:
        await tg.start(broker.run, hub.deliver)
        tg.start_soon(functools.partial(hub.keep_repaired, limit=50))
        member = RecordingMember()
        await join(hub, member)
        broker.down = True
        hub.request_repair(ROOM)
        for n in range(3):
            await broker.publish(ROOM, draft(f"parked {n}"))
        await anyio.wait_all_tasks_blocked()
        assert member.evictions == 0 and member.frames == []
        await broker.publish(ROOM, draft("one too many"))
        await anyio.wait_all_tasks_blocked()
        assert member.evictions == 1
        local = hub.room(ROOM)
        assert local is not None and local.repairing is None
        tg.cancel_scope.cancel()
