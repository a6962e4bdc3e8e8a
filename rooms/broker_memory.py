"""The embedded broker: one process, no Redis. Also the reference semantics for RedisBroker.

Its memory is bounded like Redis's keys are: every `sweep_interval_s` messages past the history
age go, and so do resend ids (`client_id`s) of identities that have not written for that long,
and a room with no messages left that nobody here listens to is dropped whole (a later join
starts a new epoch, as when Redis expires an idle room's keys). Past `max_rooms` room logs, or
`max_bytes` of message text in all of them, the least recently used rooms nobody listens to are
dropped at once, so a flood of throwaway rooms costs a bounded amount until the sweep.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskStatus

from .broker import Deliver, History, HistoryLimits, Receipt, Repair
from .envelope import Draft, Posted, hide_body, wire
from .history import is_recovered


@dataclass(slots=True)
class _RoomLog:
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    head: int = 0
    messages: deque[Posted] = field(default_factory=deque)
    # Per identity, oldest writer first: its recent client_ids, and when it last wrote.
    client_ids: OrderedDict[str, OrderedDict[str, int]] = field(default_factory=OrderedDict)
    wrote_ms: dict[str, int] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)
    text_bytes: int = 0


def _size(message: Posted) -> int:
    """What a message costs in memory, roughly: its characters plus the objects around them."""
    return len(message.text) + len(message.name) + 200


class MemoryBroker:
    """In-process rooms. History lives as long as the process: a restart starts a new epoch."""

    def __init__(self, limits: HistoryLimits) -> None:
        self._limits = limits
        self._logs: OrderedDict[str, _RoomLog] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._subscribed: set[str] = set()
        self._deliver: Deliver | None = None

    @property
    def rooms_held(self) -> int:
        return len(self._logs)

    @property
    def bytes_held(self) -> int:
        return self._bytes

    @property
    def ready(self) -> bool:
        return self._deliver is not None

    async def run(
        self,
        deliver: Deliver,
        *,
        task_status: TaskStatus[None],
        on_reconnect: Repair | None = None,
    ) -> None:
        """In-process delivery never disconnects, so `on_reconnect` is never called. Sweeps
        expired history every `sweep_interval_s` while it runs."""
        self._deliver = deliver
        task_status.started()
        try:
            while True:
                await anyio.sleep(self._limits.sweep_interval_s)
                self.sweep(now_ms=int(time.time() * 1000))
        finally:
            self._deliver = None

    def sweep(self, *, now_ms: int) -> int:
        """Drop what has expired everywhere; returns how many room logs were dropped whole."""
        cutoff = now_ms - self._limits.max_age_s * 1000
        dropped = 0
        for room, log in list(self._logs.items()):
            self._trim(log, now_ms=now_ms)
            while log.client_ids:
                uid = next(iter(log.client_ids))
                if log.wrote_ms.get(uid, 0) >= cutoff:
                    break
                del log.client_ids[uid]
                log.wrote_ms.pop(uid, None)
            if not log.messages and not log.client_ids and room not in self._subscribed:
                self._drop(room)
                dropped += 1
        return dropped

    def _log(self, room: str) -> _RoomLog:
        """The room's log, made if needed and marked most recently used; makes room for it."""
        log = self._logs.get(room)
        if log is not None:
            self._logs.move_to_end(room)
            return log
        log = self._logs[room] = _RoomLog()
        self._make_room(keep=room)
        return log

    def _make_room(self, *, keep: str) -> None:
        """Drop least recently used logs nobody here listens to while over a bound."""
        limits = self._limits
        if len(self._logs) <= limits.max_rooms and self._bytes <= limits.max_bytes:
            return
        for room in list(self._logs):
            if len(self._logs) <= limits.max_rooms and self._bytes <= limits.max_bytes:
                return
            if room != keep and room not in self._subscribed:
                self._drop(room)

    def _drop(self, room: str) -> None:
        log = self._logs.pop(room)
        self._bytes -= log.text_bytes

    async def publish(self, room: str, draft: Draft) -> Receipt:
        log = self._log(room)
        seen = log.client_ids.get(draft.uid)
        if seen is not None and draft.client_id and draft.client_id in seen:
            return Receipt(seen[draft.client_id], log.epoch, duplicate=True)
        log.head += 1
        seq = log.head  # the head moves on if another send runs during the checkpoint below
        body = draft.body()
        posted = Posted(
            room,
            seq,
            log.epoch,
            draft.ts,
            draft.uid,
            draft.name,
            draft.text,
            draft.note,
            draft.sensitive,
            draft.badge,
            draft.thread,
        )
        log.messages.append(posted)
        log.text_bytes += _size(posted)
        self._bytes += _size(posted)
        self._trim(log, now_ms=draft.ts)
        if draft.client_id:
            if seen is None:
                seen = log.client_ids[draft.uid] = OrderedDict()
            else:
                log.client_ids.move_to_end(draft.uid)
            log.wrote_ms[draft.uid] = draft.ts
            seen[draft.client_id] = seq
            while len(seen) > self._limits.client_ids:
                seen.popitem(last=False)
        self._make_room(keep=room)
        self._send(room, wire(seq, log.epoch, body))
        await anyio.lowlevel.checkpoint()
        return Receipt(seq, log.epoch, duplicate=False)

    async def hide(self, room: str, message_id: int) -> None:
        log = self._log(room)
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
        log = self._log(room)
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
            gone = messages.popleft()
            log.hidden.discard(gone.id)
            log.text_bytes -= _size(gone)
            self._bytes -= _size(gone)
