"""One contract, run unchanged against MemoryBroker, RedisBroker (a private redis-server) and
ClusterBroker (a real local Redis Cluster: 3 primaries, 3 replicas)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
import redis

from rooms.broker import Broker, History, HistoryLimits, Receipt
from rooms.broker_url import create_broker
from rooms.envelope import Draft, Hidden, Posted, PresenceChanged, presence_body, read
from tests.harness import RedisClusterProcesses, RedisProcess, seconds


@dataclass
class Backend:
    make: Callable[[HistoryLimits], Broker]
    lose_history: Callable[[Broker, str], None]
    name: str


@dataclass
class Delivered:
    """The broker's `deliver` callback, recording events and waking waiters on each one."""

    events: list[object] = field(default_factory=list)
    changed: anyio.Event = field(default_factory=anyio.Event)

    def __call__(self, room: str, payload: bytes) -> None:
        self.events.append(read(room, payload))
        self.changed.set()
        self.changed = anyio.Event()

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        with anyio.fail_after(seconds(5)):
            while not condition():
                await self.changed.wait()

    def posted(self) -> list[Posted]:
        return [e for e in self.events if isinstance(e, Posted)]


def _forget_memory(broker: Broker, room: str) -> None:
    broker._logs.pop(room, None)  # type: ignore[attr-defined]


@pytest.fixture(params=["memory", "redis", "cluster"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield Backend(lambda limits: create_broker(None, limits), _forget_memory, "memory")
        return
    if request.param == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("cluster")

        def forget_on_cluster(broker: Broker, room: str) -> None:
            owner = cluster.owner_of(f"harbor:{{room:{room}}}:meta")
            cluster.cli(owner, "del", f"harbor:{{room:{room}}}:meta", f"harbor:{{room:{room}}}:log")

        yield Backend(
            lambda limits: create_broker(cluster.url, limits), forget_on_cluster, "cluster"
        )
        return
    server = RedisProcess(tmp_path / "redis").start()

    def forget(broker: Broker, room: str) -> None:
        with redis.Redis.from_url(server.url) as client:
            client.delete(f"harbor:{{room:{room}}}:meta", f"harbor:{{room:{room}}}:log")

    try:
        yield Backend(lambda limits: create_broker(server.url, limits), forget, "redis")
    finally:
        server.stop()


@asynccontextmanager
async def running(broker: Broker) -> AsyncIterator[Delivered]:
    delivered = Delivered()
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(broker.run, delivered)
            yield delivered
            tg.cancel_scope.cancel()
    finally:
        await broker.aclose()


def draft(text: str, client_id: str = "", *, uid: str = "u1", age_s: float = 0) -> Draft:
    ts = int((time.time() - age_s) * 1000)
    return Draft(uid=uid, name="Calm Heron 1", text=text, ts=ts, client_id=client_id)


async def test_ids_strictly_increase_and_subscribers_hear_every_message_in_order(
    backend: Backend,
) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker) as delivered:
        await broker.subscribe("newcomers")
        receipts = [await broker.publish("newcomers", draft(f"m{n}")) for n in range(20)]
        ids = [r.id for r in receipts]
        assert ids == sorted(ids) and len(set(ids)) == 20 and ids[0] == 1
        await delivered.until(lambda: len(delivered.posted()) == 20, "20 deliveries")
        assert [m.id for m in delivered.posted()] == ids
        assert [m.text for m in delivered.posted()] == [f"m{n}" for n in range(20)]
        assert {m.epoch for m in delivered.posted()} == {receipts[0].epoch}


async def test_a_repeated_client_id_returns_the_original_receipt_and_publishes_nothing(
    backend: Backend,
) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker) as delivered:
        await broker.subscribe("alcohol")
        first = await broker.publish("alcohol", draft("hi", "c1"))
        again = await broker.publish("alcohol", draft("hi", "c1"))
        other_identity = await broker.publish("alcohol", draft("hi", "c1", uid="u2"))
        assert (again.id, again.duplicate) == (first.id, True)
        assert other_identity.id == first.id + 1 and not other_identity.duplicate
        await delivered.until(lambda: len(delivered.posted()) == 2, "2 deliveries")
        history = await broker.history("alcohol", since=None, client_epoch=None, limit=10)
        assert [m.id for m in history.messages] == [first.id, other_identity.id]


async def test_client_ids_are_remembered_up_to_the_limit(backend: Backend) -> None:
    broker = backend.make(HistoryLimits(client_ids=3))
    async with running(broker):
        first = await broker.publish("alcohol", draft("a", "c0"))
        for n in range(1, 4):
            await broker.publish("alcohol", draft("a", f"c{n}"))
        forgotten = await broker.publish("alcohol", draft("a", "c0"))
        assert forgotten.id != first.id and not forgotten.duplicate


async def test_history_without_since_is_the_most_recent_messages_oldest_first(
    backend: Backend,
) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker):
        for n in range(10):
            await broker.publish("opioids", draft(f"m{n}"))
        history = await broker.history("opioids", since=None, client_epoch=None, limit=4)
        assert [m.text for m in history.messages] == ["m6", "m7", "m8", "m9"]
        assert not history.recovered
        assert history.head == 10


async def test_history_since_an_id_returns_exactly_the_missed_messages(backend: Backend) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker):
        receipts = [await broker.publish("opioids", draft(f"m{n}")) for n in range(10)]
        epoch = receipts[0].epoch
        history = await broker.history("opioids", since=4, client_epoch=epoch, limit=2)
        assert [m.id for m in history.messages] == [5, 6, 7, 8, 9, 10]
        assert history.recovered
        caught_up = await broker.history("opioids", since=10, client_epoch=epoch, limit=2)
        assert caught_up.messages == () and caught_up.recovered


async def test_many_concurrent_history_reads_each_get_their_own_rooms_answer(
    backend: Backend,
) -> None:
    """Reads arriving together (a reconnect storm's joins) may share a round trip; each still
    gets exactly its own room and `since`, past the batch size too."""
    broker = backend.make(HistoryLimits())
    async with running(broker):
        rooms = [f"storm-{n}" for n in range(5)]
        epochs = {}
        for n, room in enumerate(rooms):
            receipts = [await broker.publish(room, draft(f"{room}/{k}")) for k in range(n + 1)]
            epochs[room] = receipts[0].epoch
        reads = [(rooms[i % 5], i % 3) for i in range(600)]
        answers: list[object] = [None] * len(reads)

        async def read(i: int, room: str, since: int) -> None:
            answers[i] = await broker.history(room, since=since, client_epoch=epochs[room], limit=5)

        async with anyio.create_task_group() as tg:
            for i, (room, since) in enumerate(reads):
                tg.start_soon(read, i, room, since)
        for (room, since), history in zip(reads, answers, strict=True):
            n = rooms.index(room) + 1
            assert isinstance(history, History)
            assert [m.text for m in history.messages] == [
                f"{room}/{k}" for k in range(n) if k + 1 > since
            ] or (since > n and not history.recovered)


async def test_concurrent_sends_each_get_their_own_receipt_and_are_stored_once(
    backend: Backend,
) -> None:
    """Sends arriving together share a round trip (Redis); each still gets its own id and
    room, a repeated client_id inside one batch is still a duplicate, and nothing is stored
    twice."""
    broker = backend.make(HistoryLimits(max_messages=500))
    async with running(broker):
        sends = [(f"busy-{i % 3}", f"c{i // 2}" if i % 2 == 0 else f"solo{i}") for i in range(300)]
        sends += [(f"busy-{i % 3}", f"c{i // 2}") for i in range(0, 300, 2)]  # repeats
        receipts: list[object] = [None] * len(sends)

        async def send(i: int, room: str, client_id: str) -> None:
            text = f"{room}:{client_id}"
            receipts[i] = await broker.publish(room, draft(text, client_id, uid=client_id))

        async with anyio.create_task_group() as tg:
            for i, (room, client_id) in enumerate(sends):
                tg.start_soon(send, i, room, client_id)
        by_text: dict[str, set[int]] = {}
        for (room, client_id), receipt in zip(sends, receipts, strict=True):
            assert isinstance(receipt, Receipt)
            by_text.setdefault(f"{room}:{client_id}", set()).add(receipt.id)
        assert all(len(ids) == 1 for ids in by_text.values()), "a repeat got a new id"
        for n in range(3):
            room = f"busy-{n}"
            history = await broker.history(room, since=None, client_epoch=None, limit=500)
            stored = [m.text for m in history.messages]
            assert len(stored) == len(set(stored)) == 100
            assert [m.id for m in history.messages] == list(range(1, 101))
            assert {by_text[text].pop() for text in stored} == set(range(1, 101))


async def test_since_older_than_the_retained_history_is_not_recovered(backend: Backend) -> None:
    broker = backend.make(HistoryLimits(max_messages=5))
    async with running(broker):
        for n in range(12):
            await broker.publish("opioids", draft(f"m{n}"))
        history = await broker.history("opioids", since=3, client_epoch=None, limit=3)
        assert not history.recovered
        assert [m.id for m in history.messages] == [10, 11, 12]
        retained = await broker.history("opioids", since=7, client_epoch=None, limit=3)
        assert retained.recovered and [m.id for m in retained.messages] == [8, 9, 10, 11, 12]


async def test_a_since_from_another_epoch_or_beyond_the_head_is_not_recovered(
    backend: Backend,
) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker):
        receipt = await broker.publish("stimulants", draft("m"))
        stale = await broker.history("stimulants", since=0, client_epoch="other", limit=5)
        assert not stale.recovered
        ahead = await broker.history("stimulants", since=99, client_epoch=receipt.epoch, limit=5)
        assert not ahead.recovered


async def test_lost_history_starts_a_new_epoch_that_clients_can_detect(backend: Backend) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker):
        for n in range(3):
            before = await broker.publish("sober-living", draft(f"m{n}"))
        backend.lose_history(broker, "sober-living")
        after = await broker.publish("sober-living", draft("fresh"))
        assert after.epoch != before.epoch
        history = await broker.history(
            "sober-living", since=before.id, client_epoch=before.epoch, limit=5
        )
        assert not history.recovered
        assert [m.text for m in history.messages] == ["fresh"]


async def test_messages_older_than_the_age_limit_are_not_served(backend: Backend) -> None:
    broker = backend.make(HistoryLimits(max_age_s=3600))
    async with running(broker):
        await broker.publish("mental-health", draft("old", age_s=7200))
        await broker.publish("mental-health", draft("new"))
        history = await broker.history("mental-health", since=None, client_epoch=None, limit=10)
        assert [m.text for m in history.messages] == ["new"]
        resumed = await broker.history("mental-health", since=0, client_epoch=None, limit=10)
        assert not resumed.recovered


async def test_unsubscribed_rooms_are_not_delivered(backend: Backend) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker) as delivered:
        await broker.subscribe("a-room")
        await broker.subscribe("b-room")
        await broker.unsubscribe("a-room")
        await broker.publish("a-room", draft("not for us"))
        await broker.publish("b-room", draft("for us"))
        await delivered.until(lambda: len(delivered.posted()) >= 1, "b-room delivery")
        assert [m.room for m in delivered.posted()] == ["b-room"]


async def test_announcements_reach_subscribers_and_stay_out_of_history(backend: Backend) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker) as delivered:
        await broker.subscribe("wins-milestones")
        await broker.announce("wins-milestones", presence_body(7))
        await delivered.until(lambda: bool(delivered.events), "announcement")
        assert delivered.events == [PresenceChanged("wins-milestones", 7)]
        history = await broker.history("wins-milestones", since=None, client_epoch=None, limit=5)
        assert history.messages == ()


async def test_an_empty_room_already_has_the_epoch_its_first_message_will_carry(
    backend: Backend,
) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker):
        empty = await broker.history("newcomers", since=None, client_epoch=None, limit=5)
        receipt = await broker.publish("newcomers", draft("first"))
        assert empty.epoch and receipt.epoch == empty.epoch
        resumed = await broker.history("newcomers", since=0, client_epoch=empty.epoch, limit=5)
        assert resumed.recovered and [m.text for m in resumed.messages] == ["first"]


async def test_a_hidden_message_leaves_history_and_is_announced_to_subscribers(
    backend: Backend,
) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker) as delivered:
        await broker.subscribe("newcomers")
        kept = await broker.publish("newcomers", draft("kind words"))
        hidden = await broker.publish("newcomers", draft("something cruel"))
        await broker.hide("newcomers", hidden.id)
        await delivered.until(lambda: any(isinstance(e, Hidden) for e in delivered.events), "hide")
        assert Hidden("newcomers", hidden.id) in delivered.events
        recent = await broker.history("newcomers", since=None, client_epoch=None, limit=10)
        assert [m.id for m in recent.messages] == [kept.id]
        assert recent.hidden == (hidden.id,)
        resumed = await broker.history("newcomers", since=0, client_epoch=kept.epoch, limit=10)
        assert resumed.recovered
        assert [m.id for m in resumed.messages] == [kept.id]
        assert resumed.hidden == (hidden.id,)


async def test_a_message_note_survives_history_and_live_delivery(backend: Backend) -> None:
    broker = backend.make(HistoryLimits())
    async with running(broker) as delivered:
        await broker.subscribe("newcomers")
        now_ms = int(time.time() * 1000)
        note_draft = Draft(uid="u", name="n", text="placeholder", ts=now_ms, note="held")
        await broker.publish("newcomers", note_draft)
        await delivered.until(lambda: bool(delivered.posted()), "delivery")
        assert delivered.posted()[0].note == "held"
        history = await broker.history("newcomers", since=None, client_epoch=None, limit=5)
        assert history.messages[0].note == "held"


async def test_message_marks_survive_history_and_live_delivery(backend: Backend) -> None:
    """A message's sensitive subject and badge reach live members and history alike."""
    broker = backend.make(HistoryLimits())
    async with running(broker) as delivered:
        await broker.subscribe("newcomers")
        now_ms = int(time.time() * 1000)
        draft = Draft(uid="u", name="n", text="w", ts=now_ms, sensitive="using", badge="1y")
        await broker.publish("newcomers", draft)
        await delivered.until(lambda: bool(delivered.posted()), "delivery")
        live = delivered.posted()[0]
        assert (live.note, live.sensitive, live.badge) == ("", "using", "1y")
        history = await broker.history("newcomers", since=None, client_epoch=None, limit=5)
        assert (history.messages[0].sensitive, history.messages[0].badge) == ("using", "1y")


async def test_history_reads_survive_redis_forgetting_its_scripts(tmp_path: Path) -> None:
    """History is read with EVALSHA in a pipeline; after SCRIPT FLUSH (a Redis restart or
    failover loses loaded scripts) the broker loads the script again and answers."""
    server = RedisProcess(tmp_path / "redis").start()
    try:
        broker = create_broker(server.url, HistoryLimits())
        async with running(broker):
            receipt = await broker.publish("opioids", draft("before"))
            with redis.Redis.from_url(server.url) as client:
                client.script_flush()
            history = await broker.history("opioids", since=0, client_epoch=receipt.epoch, limit=5)
            assert [m.text for m in history.messages] == ["before"] and history.recovered
    finally:
        server.stop()


async def test_sends_survive_redis_forgetting_its_scripts_and_are_stored_once(
    tmp_path: Path,
) -> None:
    """A batch of sends after SCRIPT FLUSH is refused with NOSCRIPT; the broker loads the
    script and runs the refused sends again, each exactly once."""
    server = RedisProcess(tmp_path / "redis").start()
    try:
        broker = create_broker(server.url, HistoryLimits())
        async with running(broker):
            await broker.publish("alcohol", draft("before"))
            with redis.Redis.from_url(server.url) as client:
                client.script_flush()
            async with anyio.create_task_group() as tg:
                for n in range(40):
                    tg.start_soon(broker.publish, "alcohol", draft(f"after {n}", f"c{n}"))
            history = await broker.history("alcohol", since=None, client_epoch=None, limit=100)
            texts = [m.text for m in history.messages]
            assert sorted(texts) == sorted(["before", *(f"after {n}" for n in range(40))])
            assert [m.id for m in history.messages] == list(range(1, 42))
    finally:
        server.stop()


async def test_a_redis_broker_opens_its_connections_before_it_serves(tmp_path: Path) -> None:
    """Lazily opened pooled connections made the first burst of sends after the joins queue
    behind connection setup (the rooms-of-10 bench): they are opened when the broker starts."""
    server = RedisProcess(tmp_path / "redis").start()
    try:
        broker = create_broker(server.url, HistoryLimits(), max_connections=64)
        with redis.Redis.from_url(server.url) as client:
            before = len(client.client_list())
            async with running(broker):
                opened = len(client.client_list()) - before
        assert opened >= 16, f"only {opened} connections open when the broker started"
    finally:
        server.stop()
