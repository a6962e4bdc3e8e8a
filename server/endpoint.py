"""The chat WebSocket at /ws: accept, identify, then serve one connection's commands in order.

One task per connection (uvicorn's): it reads frames and answers them. Writes never await: replies
and room fan-out both go through `Connection.write`, a direct non-blocking transport write, so this
coroutine is the only per-connection state besides the protocol object itself.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from starlette.websockets import WebSocket

from rooms.broker import BrokerUnavailable
from rooms.envelope import Draft
from rooms.hub import JoinAborted

from .closecodes import CloseCode
from .connection import Connection
from .lifespan import Services
from .origin import origin_allowed
from .protocol import (
    JSON,
    MSGPACK,
    MSGPACK_SUBPROTOCOL,
    Close,
    Command,
    Hello,
    Join,
    Leave,
    Ping,
    Refusal,
    Report,
    Send,
    error_event,
    history_item,
    parse,
)
from .ratelimit import TokenBucket
from .transport import SINK_EXTENSION, FrameSink

logger = logging.getLogger("harbor.endpoint")


async def chat_endpoint(websocket: WebSocket) -> None:
    services: Services = websocket.state.services
    settings = services.settings
    sink: FrameSink | None = websocket.scope.get("extensions", {}).get(SINK_EXTENSION)
    if sink is None:
        logger.error("no direct frame sink: run Harbor with `harbor serve`")
        await websocket.close(CloseCode.INTERNAL_ERROR)
        return
    headers = websocket.headers
    if not origin_allowed(headers.get("origin"), headers.get("host"), settings.allowed_origins):
        await websocket.close(CloseCode.POLICY_VIOLATION)
        return
    codec = MSGPACK if MSGPACK_SUBPROTOCOL in websocket.scope.get("subprotocols", ()) else JSON
    await websocket.accept(subprotocol=MSGPACK_SUBPROTOCOL if codec == MSGPACK else None)
    bucket = TokenBucket(
        rate=settings.send_rate_per_10s / 10, burst=settings.send_burst, now=time.monotonic()
    )
    conn = Connection(sink, codec, outbox_bytes=settings.outbox_bytes, send_bucket=bucket)
    services.connections += 1
    try:
        await ChatSession(websocket, services, conn).run()
    finally:
        services.connections -= 1
        with anyio.CancelScope(shield=True):
            for room in tuple(conn.rooms):
                await services.hub.leave(room, conn)


class ChatSession:
    """The command loop of one connection."""

    def __init__(self, websocket: WebSocket, services: Services, conn: Connection) -> None:
        self._websocket = websocket
        self._services = services
        self._settings = services.settings
        self._conn = conn

    async def run(self) -> None:
        with anyio.move_on_after(self._settings.hello_timeout_s):
            if not await self._hello():
                return
        if self._conn.identity is None:
            self._conn.close(CloseCode.POLICY_VIOLATION, "send hello first")
            return
        while not self._conn.closed:
            command = await self._next()
            if command is None:
                return
            await self._dispatch(command)

    async def _hello(self) -> bool:
        while (command := await self._next()) is not None:
            if isinstance(command, Hello):
                self._welcome(command.token)
                return True
            self._conn.send(error_event("hello_first", "send a hello frame first"))
        return False

    async def _next(self) -> Command | None:
        """The next well-formed command; refusals are answered here, protocol breaks close."""
        while True:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            data = message.get("text")
            if data is None:
                data = message.get("bytes", b"")
            outcome = parse(data, self._conn.codec, max_text_chars=self._settings.max_text_chars)
            if isinstance(outcome, Close):
                self._conn.close(outcome.code, outcome.reason)
                return None
            if isinstance(outcome, Refusal):
                self._refuse(outcome)
                continue
            return outcome

    def _refuse(self, refusal: Refusal) -> None:
        self._conn.send(error_event(refusal.code, refusal.message, client_id=refusal.client_id))

    def _welcome(self, token: str | None) -> None:
        identities = self._services.identities
        identity = identities.verify(token) if token else None
        identity = identity or identities.issue()
        self._conn.identity = identity
        self._conn.send({"type": "welcome", "token": identity.token, "name": identity.name})

    async def _dispatch(self, command: Command) -> None:
        if isinstance(command, Send):
            await self._send(command)
        elif isinstance(command, Join):
            await self._join(command)
        elif isinstance(command, Leave):
            await self._leave(command)
        elif isinstance(command, Ping):
            self._conn.send({"type": "pong"})
        elif isinstance(command, Hello):
            self._conn.send(error_event("already_welcomed", "hello was already answered"))
        elif isinstance(command, Report):
            self._conn.send(error_event("unsupported", "reports are not available yet"))

    async def _join(self, join: Join) -> None:
        conn = self._conn
        if join.room not in self._services.catalog:
            self._refuse(Refusal("unknown_room", "no such room"))
            return
        if join.room in conn.rooms:
            self._refuse(Refusal("already_joined", "already in this room; leave first to rejoin"))
            return
        if len(conn.rooms) >= self._settings.max_rooms_per_connection:
            self._refuse(Refusal("too_many_rooms", "leave a room before joining another"))
            return
        try:
            history = await self._services.hub.join(
                join.room,
                conn,
                since=join.since,
                epoch=join.epoch,
                limit=self._settings.join_history_messages,
            )
        except BrokerUnavailable:
            conn.send(error_event("unavailable", "rooms are unreachable; retry", retryable=True))
            return
        except JoinAborted:
            return
        conn.rooms.add(join.room)
        local = self._services.hub.room(join.room)
        conn.send(
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
        if leave.room not in self._conn.rooms:
            self._refuse(Refusal("not_joined", "not in this room"))
            return
        self._conn.rooms.discard(leave.room)
        await self._services.hub.leave(leave.room, self._conn)
        self._conn.send({"type": "left", "room": leave.room})

    async def _send(self, send: Send) -> None:
        conn = self._conn
        if send.room not in conn.rooms:
            self._refuse(Refusal("not_joined", "join the room first", send.client_id))
            return
        wait = conn.send_bucket.take(time.monotonic())
        if wait > 0:
            conn.send(_rate_limited(send.client_id, wait))
            return
        assert conn.identity is not None
        draft = Draft(
            uid=conn.identity.uid,
            name=conn.identity.name,
            text=send.text,
            ts=int(time.time() * 1000),
            client_id=send.client_id,
        )
        try:
            receipt = await self._services.broker.publish(send.room, draft)
        except BrokerUnavailable:
            conn.send(
                error_event(
                    "unavailable",
                    "message not sent; retry",
                    client_id=send.client_id,
                    retryable=True,
                )
            )
            return
        conn.send({"type": "ack", "client_id": send.client_id, "id": receipt.id})


def _rate_limited(client_id: str, wait_s: float) -> dict[str, Any]:
    return error_event(
        "rate_limited",
        "slow down a little; your message was not sent",
        client_id=client_id,
        retry_after_ms=int(wait_s * 1000) + 1,
    )
