"""rooms.batching.TurnBatch: requests of one event-loop turn share one run."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from rooms.batching import BatchFailed, TurnBatch


class Doubler:
    """A run that records each batch it is given."""

    def __init__(self, *, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def __call__(self, requests: list[int]) -> list[int]:
        self.batches.append(list(requests))
        await anyio.sleep(0.01)
        if self.fail:
            raise ConnectionError("redis went away")
        return [2 * r for r in requests]


async def test_requests_of_one_turn_share_a_run_and_get_their_own_answers() -> None:
    run = Doubler()
    batch = TurnBatch(run, limit=4)
    answers: dict[int, int] = {}

    async def ask(n: int) -> None:
        answers[n] = await batch(n)

    async with anyio.create_task_group() as tg:
        for n in range(10):
            tg.start_soon(ask, n)
    assert answers == {n: 2 * n for n in range(10)}
    assert sorted(n for b in run.batches for n in b) == list(range(10))
    assert max(len(b) for b in run.batches) == 4 and len(run.batches) == 3


async def test_a_failed_run_fails_every_request_in_it() -> None:
    batch = TurnBatch(Doubler(fail=True))
    errors: list[BaseException] = []

    async def ask(n: int) -> None:
        with pytest.raises(BatchFailed) as raised:
            await batch(n)
        errors.append(raised.value.__cause__ or raised.value)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(ask, n)
    assert [type(e) for e in errors] == [ConnectionError] * 3


async def test_followers_get_answers_even_when_the_leaders_caller_is_cancelled() -> None:
    run = Doubler()
    batch = TurnBatch(run)
    answers: list[int] = []
    leader = anyio.CancelScope()

    async def lead() -> None:
        with leader:
            await batch(0)

    async def follow() -> None:
        answers.append(await batch(5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(lead)
        tg.start_soon(follow)
        while not run.batches:  # the run is out, with both in its batch (it records on entry)
            await anyio.lowlevel.checkpoint()
        leader.cancel()
    assert run.batches == [[0, 5]]
    assert answers == [10]


async def test_requests_arriving_while_a_run_is_out_wait_and_share_the_next_one() -> None:
    """A saturated worker reads few requests per turn: batching only within one turn gave
    batches of 2-3 in a reconnect storm. Later arrivals join the batch behind the one out."""
    released = anyio.Event()  # the first run stays out until every later request is in
    batches: list[list[int]] = []

    async def run(requests: list[int]) -> list[int]:
        batches.append(list(requests))
        await released.wait()
        return [2 * r for r in requests]

    batch = TurnBatch(run)
    answers: dict[int, int] = {}

    async def ask(n: int) -> None:
        answers[n] = await batch(n)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, 0)
        for _ in range(3):
            await anyio.lowlevel.checkpoint()  # the first run is out
        for n in range(1, 6):  # each in a turn of its own
            tg.start_soon(ask, n)
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
        assert batches == [[0]]
        released.set()
    assert batches == [[0], [1, 2, 3, 4, 5]]
    assert answers == {n: 2 * n for n in range(6)}


async def test_in_flight_bounds_the_runs_out_at_once() -> None:
    out = 0
    most = 0

    async def run(requests: list[int]) -> list[int]:
        nonlocal out, most
        out += 1
        most = max(most, out)
        await anyio.sleep(0.005)
        out -= 1
        return requests

    batch = TurnBatch(run, limit=1, in_flight=2)
    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(batch, n)
    assert most == 2
