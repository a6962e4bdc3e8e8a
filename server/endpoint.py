"""The chat socket at /ws: one `ChatConnection` per client, driven by events, not by a task.

`server/transport.py` hands every complete client message to `on_frame`. Commands are answered
strictly in arrival order by a short-lived task that exists only while the connection has
commands waiting, so an idle member costs no task at all (the idle-memory target), while a busy
one is still served one command at a time. The inbox is bounded: past `_INBOX_LIMIT` waiting
commands the socket stops being read (TCP pushes back on the client), so nobody can queue
unbounded work in a worker.

A `ChatConnection` is also the hub's `Member`: `write` is a direct, non-blocking transport write.
Its outbox is the transport's own write buffer, bounded by `HARBOR_OUTBOX_BYTES`: a member that
falls further behind is closed with SLOW_CONSUMER (it resumes with `since`), so its backlog never
grows the worker's memory and never delays anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from rooms.broker import BrokerUnavailable
from rooms.envelope import Draft
from rooms.hub import JoinAborted

from .closecodes import CloseCode
from .identity import Identity
from .protocol import (
    Close,
    Command,
    Hello,
    Join,
    Leave,
    Ping,
    Refusal,
    Report,
    Send,
    encode,
    error_event,
    history_item,
    parse,
)
from .ratelimit import TokenBucket

if TYPE_CHECKING:
    from .lifespan import Services
    from .transport import FrameSink

logger = logging.getLogger("harbor.endpoint")

_INBOX_LIMIT = 32
_SLOW = "too far behind; reconnect and resume with since"


class ChatConnection:
    __slots__ = (
        "closed",
        "codec",
        "id",
        "identity",
        "rooms",
        "_ended",
        "_hello_timer",
        "_inbox",
        "_paused",
        "_send_bucket",
        "_services",
        "_sink",
        "_task",
    )

    def __init__(self, services: Services, sink: FrameSink, codec: int) -> None:
        settings = services.settings
        self._services = services
        self._sink = sink
        self.codec = codec
        self.id = uuid.uuid4().hex[:12]  # for logs; never tied to an address
        self.identity: Identity | None = None
        self.rooms: set[str] = set()
        self.closed = False
        self._ended = False
        self._inbox: deque[Command | Refusal] = deque()
        self._paused = False
        self._task: asyncio.Task[None] | None = None
        self._send_bucket = TokenBucket(
            rate=settings.send_rate_per_10s / 10, burst=settings.send_burst, now=time.monotonic()
        )
        loop = asyncio.get_running_loop()
        self._hello_timer: asyncio.TimerHandle | None = loop.call_later(
            settings.hello_timeout_s, self._hello_expired
        )
        services.connections += 1

    # Events from the transport

    def on_frame(self, data: str | bytes) -> None:
        if self.closed:
            return
        outcome = parse(data, self.codec, max_text_chars=self._services.settings.max_text_chars)
        if isinstance(outcome, Close):
            self.close(outcome.code, outcome.reason)
            return
        self._inbox.append(outcome)
        if len(self._inbox) >= _INBOX_LIMIT and not self._paused:
            self._paused = True
            self._sink.pause_reading()
        if self._task is None:
            self._task = self._sink.spawn(self._drain())

    def on_closed(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.closed = True
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        self._sink.spawn(self._cleanup(self._task))

    # Member (for the hub)

    def write(self, frame: bytes) -> bool:
        if self.closed:
            return False
        buffered = self._sink.write_frame(frame)
        if buffered < 0:
            self.closed = True
            return False
        if buffered > self._services.settings.outbox_bytes:
            self.close(CloseCode.SLOW_CONSUMER, _SLOW)
            return False
        return True

    def evicted(self) -> None:
        self.close(CloseCode.SLOW_CONSUMER, _SLOW)

    def send(self, frame: dict[str, Any]) -> bool:
        return self.write(encode(frame, self.codec))

    def close(self, code: CloseCode, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self._sink.close_now(int(code), reason)

    # Command processing, in order

    async def _drain(self) -> None:
        try:
            while self._inbox and not self.closed:
                item = self._inbox.popleft()
                if self._paused and len(self._inbox) <= _INBOX_LIMIT // 2:
                    self._paused = False
                    self._sink.resume_reading()
                await self._handle(item)
        except Exception:
            logger.exception("connection %s failed; closing it", self.id)
            self.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._task = None

    async def _cleanup(self, running: asyncio.Task[None] | None) -> None:
        if running is not None:
            running.cancel()
            with suppress(asyncio.CancelledError):
                await running
        self._services.connections -= 1
        for room in tuple(self.rooms):
            await self._services.hub.leave(room, self)
        self.rooms.clear()

    async def _handle(self, item: Command | Refusal) -> None:
        if isinstance(item, Refusal):
            self.send(error_event(item.code, item.message, client_id=item.client_id))
        elif self.identity is None:
            if isinstance(item, Hello):
                self._welcome(item.token)
            else:
                self.send(error_event("hello_first", "send a hello frame first"))
        elif isinstance(item, Send):
            await self._send_message(item)
        elif isinstance(item, Join):
            await self._join(item)
        elif isinstance(item, Leave):
            await self._leave(item)
        elif isinstance(item, Ping):
            self.send({"type": "pong"})
        elif isinstance(item, Hello):
            self.send(error_event("already_welcomed", "hello was already answered"))
        elif isinstance(item, Report):
            self.send(error_event("unsupported", "reports are not available yet"))

    def _hello_expired(self) -> None:
        self._hello_timer = None
        if self.identity is None:
            self.close(CloseCode.POLICY_VIOLATION, "send hello first")

    def _welcome(self, token: str | None) -> None:
        identities = self._services.identities
        identity = (identities.verify(token) if token else None) or identities.issue()
        self.identity = identity
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        self.send({"type": "welcome", "token": identity.token, "name": identity.name})

    def _refuse(self, code: str, message: str, client_id: str | None = None) -> None:
        self.send(error_event(code, message, client_id=client_id))

    async def _join(self, join: Join) -> None:
        settings = self._services.settings
        if join.room not in self._services.catalog:
            self._refuse("unknown_room", "no such room")
        elif join.room in self.rooms:
            self._refuse("already_joined", "already in this room; leave first to rejoin")
        elif len(self.rooms) >= settings.max_rooms_per_connection:
            self._refuse("too_many_rooms", "leave a room before joining another")
        else:
            await self._enter(join, settings.join_history_messages)

    async def _enter(self, join: Join, limit: int) -> None:
        hub = self._services.hub
        try:
            history = await hub.join(
                join.room, self, since=join.since, epoch=join.epoch, limit=limit
            )
        except BrokerUnavailable:
            self.send(error_event("unavailable", "rooms are unreachable; retry", retryable=True))
            return
        except JoinAborted:
            return
        self.rooms.add(join.room)
        local = hub.room(join.room)
        self.send(
            {
                "type": "joined",
                "room": join.room,
                "epoch": history.epoch,
                "history": [history_item(m) for m in history.messages],
                "recovered": history.recovered,
                "count": local.visible_count if local is not None else 1,
            }
        )

    async def _leave(self, leave: Leave) -> None:
        if leave.room not in self.rooms:
            self._refuse("not_joined", "not in this room")
            return
        self.rooms.discard(leave.room)
        await self._services.hub.leave(leave.room, self)
        self.send({"type": "left", "room": leave.room})

    async def _send_message(self, send: Send) -> None:
        if send.room not in self.rooms:
            self._refuse("not_joined", "join the room first", send.client_id)
            return
        wait = self._send_bucket.take(time.monotonic())
        if wait > 0:
            self.send(
                error_event(
                    "rate_limited",
                    "slow down a little; your message was not sent",
                    client_id=send.client_id,
                    retry_after_ms=int(wait * 1000) + 1,
                )
            )
            return
        assert self.identity is not None
        draft = Draft(
            uid=self.identity.uid,
            name=self.identity.name,
            text=send.text,
            ts=int(time.time() * 1000),
            client_id=send.client_id,
        )
        try:
            receipt = await self._services.broker.publish(send.room, draft)
        except BrokerUnavailable:
            self.send(
                error_event(
                    "unavailable",
                    "message not sent; retry",
                    client_id=send.client_id,
                    retryable=True,
                )
            )
            return
        self.send({"type": "ack", "client_id": send.client_id, "id": receipt.id})
