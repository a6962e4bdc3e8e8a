"""ChatConnection without sockets: a recording sink stands in for the transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from rooms.catalog import Catalog
from server.endpoint import ChatConnection
from server.lifespan import Worker, build_worker
from server.protocol import JSON
from server.settings import Secret, Settings
from tests.harness import until


class RecordingSink:
    """Implements FrameSink: keeps frames, closes, read pauses and spawned tasks."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closes: list[tuple[int, str]] = []
        self.paused = 0
        self.resumed = 0
        self.tasks: list[asyncio.Task[None]] = []

    def write_frame(self, frame: bytes) -> bool:
        length = frame[1] & 0x7F
        offset = 2 if length < 126 else 4 if length == 126 else 10
        self.frames.append(json.loads(frame[offset:]))
        return True

    @property
    def outlet(self) -> tuple[Callable[[], bool], Callable[[bytes], object]]:
        return lambda: bool(self.closes), self.write_frame

    def close_now(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.append(task)
        return task

    async def settle(self) -> None:
        while any(not task.done() for task in self.tasks):
            await asyncio.gather(*self.tasks)


def worker(**overrides: Any) -> Worker:
    settings = Settings(secret=Secret("unit-test-secret"), **overrides)
    return build_worker(settings, Catalog.load())


def connect(sink: RecordingSink, shared: Worker | None = None, **overrides: Any) -> ChatConnection:
    return (shared or worker(**overrides)).chat.open(sink, JSON, None, "127.0.0.1")


async def test_an_idle_connection_holds_no_task_once_its_commands_are_answered() -> None:
    sink = RecordingSink()
    conn = connect(sink)
    conn.on_frame('{"type": "hello"}')
    conn.on_frame('{"type": "ping"}')
    await sink.settle()
    assert [f["type"] for f in sink.frames] == ["welcome", "pong"]
    assert conn._task is None


async def test_commands_are_answered_in_arrival_order_including_refusals() -> None:
    sink = RecordingSink()
    conn = connect(sink)
    for frame in ('{"type": "hello"}', "garbage", '{"type": "ping"}', '{"type": "nope"}'):
        conn.on_frame(frame)
    await sink.settle()
    assert [f.get("code", f["type"]) for f in sink.frames] == [
        "welcome",
        "bad_frame",
        "pong",
        "unknown_type",
    ]


async def test_a_full_inbox_pauses_reading_until_it_drains() -> None:
    sink = RecordingSink()
    conn = connect(sink)
    conn.on_frame('{"type": "hello"}')
    for _ in range(40):
        conn.on_frame('{"type": "ping"}')
    assert sink.paused == 1
    await sink.settle()
    assert sink.resumed == 1
    assert len(sink.frames) == 41


async def test_no_hello_within_the_timeout_closes_with_policy_violation() -> None:
    sink = RecordingSink()
    connect(sink, hello_timeout_s=0.01)
    await until(lambda: bool(sink.closes), 5, "the close once the timeout has run")
    assert sink.closes and sink.closes[0][0] == 1008


async def test_closing_ends_the_connection_once_and_releases_its_count() -> None:
    shared = worker()
    sink = RecordingSink()
    conn = connect(sink, shared)
    assert shared.registry.open_count == 1
    conn.on_closed()
    conn.on_closed()
    await sink.settle()
    assert shared.registry.open_count == 0
    assert not conn.write(b"\x81\x00")


def test_a_started_worker_freezes_its_startup_objects_and_widens_the_young_generation() -> None:
    """In a fresh interpreter (freezing this one would pin the test run's objects)."""
    import subprocess
    import sys

    code = (
        "import gc; from server.lifespan import GC_YOUNG_THRESHOLD, tune_gc;"
        "before = gc.get_threshold(); tune_gc(); after = gc.get_threshold();"
        "print(gc.get_freeze_count() > 1000, after == (GC_YOUNG_THRESHOLD, *before[1:]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
