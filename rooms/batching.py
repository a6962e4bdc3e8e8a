"""TurnBatch: requests that arrive together share one round trip.

After a worker restart thousands of clients come back at once, and each `hello` and `join` asks
Redis something (sanctions, room history). One pooled redis-py command per request costs most of
its time in client-side Python (pool, timeouts, packing); a pipeline of many costs little more
than one. So the first request leads a batch, yields once so the others of the same event-loop
turn can join it, runs them all through `run`, and every caller gets its own answer.

Joining only within one turn gave batches of 2-3 in a 5,000-client reconnect storm (measured):
a saturated worker reads few new requests per turn. So at most `in_flight` runs go at once, and
while they are out the next batch stays open and keeps filling -- the way a pipelining client
batches behind a round trip. A quiet server never waits for a slot and pays one extra
checkpoint per request; a batch holds at most `limit` requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel

Request = TypeVar("Request")
Answer = TypeVar("Answer")


class BatchFailed(Exception):
    """The batch's round trip failed; `__cause__` says why."""


@dataclass(slots=True, eq=False)
class _Batch(Generic[Request, Answer]):
    requests: list[Request]
    answers: list[Answer] = field(default_factory=list)
    error: Exception | None = None
    done: anyio.Event = field(default_factory=anyio.Event)

    def answer(self, index: int) -> Answer:
        if self.error is not None:
            raise BatchFailed(str(self.error)) from self.error
        return self.answers[index]


class TurnBatch(Generic[Request, Answer]):
    def __init__(
        self,
        run: Callable[[list[Request]], Awaitable[list[Answer]]],
        *,
        limit: int = 256,
        in_flight: int = 1,
    ) -> None:
        self._run = run
        self._limit = limit
        self._open: _Batch[Request, Answer] | None = None  # the batch still open to join
        self._slots = anyio.Semaphore(in_flight)  # runs that may be out at once

    async def __call__(self, request: Request) -> Answer:
        """`run`'s answer for `request`; BatchFailed if the shared round trip failed."""
        batch = self._open
        if batch is not None and len(batch.requests) < self._limit:
            index = len(batch.requests)
            batch.requests.append(request)
            await batch.done.wait()
            return batch.answer(index)
        batch = self._open = _Batch([request])
        # Shielded: the followers depend on this leader, even if its own caller is cancelled.
        with anyio.CancelScope(shield=True):
            try:
                await anyio.lowlevel.checkpoint()  # the other requests of this turn join
                async with self._slots:  # and, while earlier runs are out, later ones too
                    if self._open is batch:
                        self._open = None
                    batch.answers = await self._run(batch.requests)
            except Exception as exc:  # every waiter gets it
                batch.error = exc
            finally:
                batch.done.set()
        return batch.answer(0)
