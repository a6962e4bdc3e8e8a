"""Once means once at the join boundary (#17 finding 11), on both brokers.

Under traffic, a member that rejoins with `since` gets what it missed from history and the rest
live. A message published while the join reads history must reach it exactly once: in the
history or live, never both and never neither. Before the fix about one chaos run in five had a
member see message 71 in `joined.history` and again as a live frame right after.

Here one writer publishes continuously while members leave and rejoin with `since`, over and
over (sometimes alone in the room, so the worker also drops and retakes its subscription), and
every id each member sees is counted.
"""

from __future__ import annotations

import functools
import random
import time

import anyio

from rooms.broker import HistoryLimits
from rooms.envelope import Draft
from rooms.hub import LocalHub
from server.protocol import CODECS, JSON
from tests.harness import seconds
from tests.unit.test_core_hub import RecordingMember, encode_room_event

from .test_broker import Backend, backend  # noqa: F401  (the fixture)

ROOM = "boundary"
MESSAGES = 400
REJOINS = 25


async def test_members_rejoining_with_since_under_traffic_see_every_message_once(
    backend: Backend,  # noqa: F811
) -> None:
    broker = backend.make(HistoryLimits(max_messages=MESSAGES * 2))
    hub = LocalHub(broker, encode_room_event, codecs=CODECS, join_buffer=MESSAGES * 2)
    published: list[int] = []
    seen: dict[str, list[int]] = {}
    rng = random.Random(17)

    async def publish() -> None:
        for i in range(MESSAGES):
            draft = Draft(uid="w", name="Writer", text=f"m{i}", ts=int(time.time() * 1000))
            published.append((await broker.publish(ROOM, draft)).id)
            await anyio.sleep(rng.random() * 0.004)

    async def member(name: str) -> None:
        ids = seen[name] = []
        since: int | None = None
        epoch: str | None = None
        for _ in range(REJOINS):
            listener = RecordingMember(JSON)
            history = await hub.join(ROOM, listener, since=since, epoch=epoch, limit=MESSAGES)
            ids.extend(m.id for m in history.messages)
            await anyio.sleep(rng.random() * 0.03)
            await hub.leave(ROOM, listener)
            ids.extend(f["id"] for f in listener.decoded() if f.get("type") == "message")
            since, epoch = (max(ids) if ids else None), history.epoch
            await anyio.sleep(rng.random() * 0.01)

    try:
        async with anyio.create_task_group() as tg:
            await tg.start(functools.partial(broker.run, hub.deliver))
            with anyio.fail_after(seconds(60)):
                async with anyio.create_task_group() as traffic:
                    traffic.start_soon(publish)
                    for name in ("ana", "ben", "cai"):
                        traffic.start_soon(member, name)
            for ids in seen.values():  # catch up on what came after the last leave
                history = await hub.join(
                    ROOM, RecordingMember(JSON), since=max(ids), epoch=None, limit=MESSAGES
                )
                ids.extend(m.id for m in history.messages)
            tg.cancel_scope.cancel()
    finally:
        await broker.aclose()

    assert len(published) == MESSAGES
    for name, ids in seen.items():
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        assert not doubled, f"{name} saw {doubled[:5]} twice ({backend.name})"
        assert ids == sorted(ids), f"{name} saw messages out of order ({backend.name})"
        assert set(ids) == set(published), f"{name} missed {sorted(set(published) - set(ids))[:5]}"
