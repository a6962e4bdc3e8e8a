"""The embedded broker: one process, no Redis. Also the reference semantics for RedisBroker."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskStatus

from .broker import Deliver, History, HistoryLimits, Receipt
from .envelope import Draft, Posted, hide_body, wire
from .history import is_recovered


@dataclass(slots=True)
class _RoomLog:
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    head: int = 0
    messages: deque[Posted] = field(default_factory=deque)
    client_ids: dict[str, OrderedDict[str, int]] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)


class MemoryBroker:
    """In-process rooms. History lives as long as the process: a restart starts a new epoch."""

    def __init__(self, limits: HistoryLimits) -> None:
        self._limits = limits
        self._logs: dict[str, _RoomLog] = {}
        self._subscribed: set[str] = set()
        self._deliver: Deliver | None = None

    @property
    def ready(self) -> bool:
        return self._deliver is not None

    async def run(
        self,
        deliver: Deliver,
        *,
        task_status: TaskStatus[None],
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        """In-process delivery never disconnects, so `on_reconnect` is never called."""
        self._deliver = deliver
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            self._deliver = None

    async def publish(self, room: str, draft: Draft) -> Receipt:
        log = self._logs.setdefault(room, _RoomLog())
        seen = log.client_ids.setdefault(draft.uid, OrderedDict())
        if draft.client_id and draft.client_id in seen:
            return Receipt(seen[draft.client_id], log.epoch, duplicate=True)
        log.head += 1
        seq = log.head  # the head moves on if another send runs during the checkpoint below
        body = draft.body()
        log.messages.append(
            Posted(room, seq, log.epoch, draft.ts, draft.uid, draft.name, draft.text, draft.note)
        )
        self._trim(log, now_ms=draft.ts)
        if draft.client_id:
            seen[draft.client_id] = seq
            while len(seen) > self._limits.client_ids:
                seen.popitem(last=False)
        self._send(room, wire(seq, log.epoch, body))
        await anyio.lowlevel.checkpoint()
        return Receipt(seq, log.epoch, duplicate=False)

    async def hide(self, room: str, message_id: int) -> None:
        log = self._logs.setdefault(room, _RoomLog())
        log.hidden.add(message_id)
        self._send(room, wire(0, "-", hide_body(message_id)))
        await anyio.lowlevel.checkpoint()

    async def announce(self, room: str, body: bytes) -> None:
        self._send(room, wire(0, "-", body))
        await anyio.lowlevel.checkpoint()

    async def history(
        self, room: str, *, since: int | None, client_epoch: str | None, limit: int
    ) -> History:
        await anyio.lowlevel.checkpoint()
        log = self._logs.setdefault(room, _RoomLog())
        self._trim(log, now_ms=int(time.time() * 1000))
        visible = [m for m in log.messages if m.id not in log.hidden]
        hidden = tuple(sorted(log.hidden.intersection(m.id for m in log.messages)))
        if since is None:
            kept = tuple(visible[-limit:]) if limit else ()
            return History(log.epoch, log.head, kept, recovered=False, hidden=hidden)
        after = [m for m in log.messages if m.id > since]
        recovered = is_recovered(
            since=since,
            client_epoch=client_epoch,
            epoch=log.epoch,
            head=log.head,
            first_after_since=after[0].id if after else None,
        )
        if recovered:
            kept = tuple(m for m in after if m.id not in log.hidden)
        else:
            kept = tuple(visible[-limit:]) if limit else ()
        return History(log.epoch, log.head, kept, recovered, hidden)

    async def subscribe(self, room: str) -> None:
        self._subscribed.add(room)
        await anyio.lowlevel.checkpoint()

    async def unsubscribe(self, room: str) -> None:
        self._subscribed.discard(room)
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self._subscribed.clear()

    def _send(self, room: str, payload: bytes) -> None:
        if self._deliver is not None and room in self._subscribed:
            self._deliver(room, payload)

    def _trim(self, log: _RoomLog, *, now_ms: int) -> None:
        cutoff = now_ms - self._limits.max_age_s * 1000
        messages = log.messages
        while messages and (len(messages) > self._limits.max_messages or messages[0].ts < cutoff):
            log.hidden.discard(messages.popleft().id)
