"""The Broker contract: how a worker publishes to a room, reads its history, and hears it live.

Follows encode/broadcaster's small backend base: one interface, a `MemoryBroker` (the reference
semantics, one process) and a `RedisBroker` (many workers), chosen by URL in
`broker_url.create_broker`, and run through one contract test suite.

Contract:
- `publish` numbers the message (ids strictly increase per room and epoch), stores it in history
  and sends it live in ONE atomic step, so history and live delivery never disagree. A repeated
  `client_id` from the same identity in the same room returns the original receipt and publishes
  nothing.
- Live delivery is at most once (pub/sub may drop during an outage); history is how clients and
  workers detect and fill gaps. An epoch changes when a room's history is lost, so a stale `since`
  can't be mistaken for a recent one.
- `subscribe` returns only once the subscription is live: a join that subscribes, then reads
  history, then de-duplicates by id misses nothing.
- `run` is the one listener of this worker; it calls `deliver(room, payload)` synchronously for each
  event, in channel order. It must be started (in the lifespan task group) before `subscribe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from anyio.abc import TaskStatus

from .envelope import Draft, Posted

Deliver = Callable[[str, bytes], None]
# Asks the hub to re-read from history what one room (or, given None, every room) may have
# missed while its subscription was down: called by a broker's listener once it hears again.
Repair = Callable[[str | None], None]


class BrokerUnavailable(Exception):
    """The broker cannot take the request now (e.g. Redis unreachable). Retryable by the client."""


@dataclass(frozen=True, slots=True)
class Receipt:
    id: int
    epoch: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class History:
    """`messages` never includes hidden ones; `hidden` lists hidden ids still in history, so a
    resuming client can remove what it showed before a moderator hid it."""

    epoch: str
    head: int
    messages: tuple[Posted, ...]
    recovered: bool
    hidden: tuple[int, ...] = ()


class Broker(Protocol):
    @property
    def ready(self) -> bool:
        """Whether publishing and live delivery work right now (for /readyz)."""
        ...

    async def publish(self, room: str, draft: Draft) -> Receipt: ...

    async def announce(self, room: str, body: bytes) -> None:
        """Send a non-history event (presence, hide) to every worker subscribed to `room`."""
        ...

    async def history(
        self, room: str, *, since: int | None, client_epoch: str | None, limit: int
    ) -> History:
        """Messages after `since` (all retained, oldest first), or the `limit` most recent."""
        ...

    async def hide(self, room: str, message_id: int) -> None:
        """Remove a message for everyone: from history, and live from every worker's members."""
        ...

    async def subscribe(self, room: str) -> None: ...

    async def unsubscribe(self, room: str) -> None: ...

    async def run(
        self,
        deliver: Deliver,
        *,
        task_status: TaskStatus[None],
        on_reconnect: Repair | None = None,
    ) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """The privacy promise and the dedupe memory, shared by both brokers."""

    max_messages: int = 200
    max_age_s: int = 24 * 3600
    client_ids: int = 64
    # The embedded broker's own memory (Redis bounds its keys by expiry and maxmemory): room
    # logs held, the bytes of text they hold, and how often expired entries are swept.
    max_rooms: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    sweep_interval_s: float = 60.0
