"""uvicorn's sans-I/O WebSocket protocol, serving Harbor's chat socket without an ASGI task.

Measured, not guessed (docs/performance.md): behind ASGI every idle connection costs an app task
with its coroutine chain, an `asyncio.Queue` and an `Event` -- about 28 KB per connection, against
15 KB for a bare `websockets` server. So for `/ws` this protocol answers the handshake itself and
hands each complete message to a `ChatSocket` (server/endpoint.py's `ChatConnection`, opened
through the `ChatServer` the lifespan puts in the app state as "chat"), which runs a short task only
while it has commands in flight. An idle member is this object, websockets' parser, and a few
slots. Every other path (HTTP, any other WebSocket) goes through the Starlette app as usual.

The same object is the connection's `FrameSink`: `write_frame` puts an already framed message
straight on the transport, and `outlet` hands the hub the transport's own `is_closing` and `write`
so the fan-out calls C directly for each member. The outbox bound is the transport's high-water
mark: when a reader falls that far behind, the transport calls `pause_writing` and the connection
closes as slow (4008) -- flow control instead of a buffer check after every write. All frames are
written whole, from the event loop thread, so they never interleave with uvicorn's pings and closes.

The peer's address is never put in any scope or log: Harbor does not need it. It is read once,
at the handshake, to find the client behind any trusted proxy (server/proxies.py), whose
address the chat server turns into a per-source key and whose scheme the Origin must match.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Coroutine
from contextlib import suppress
from http.cookies import CookieError, SimpleCookie
from typing import Any, Protocol

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from rooms.hub import Outlet

from .closecodes import CloseCode
from .origin import origin_allowed
from .protocol import MSGPACK, MSGPACK_SUBPROTOCOL, negotiate_codec
from .proxies import networks, resolve
from .settings import Settings

CHAT_PATH = "/ws"
# How long a closing connection may take to flush its close frame before it is cut. Short: a
# connection closed for being slow is usually not reading at all.
_CLOSE_FLUSH_S = 3.0


class FrameSink(Protocol):
    """What a chat connection needs from the socket under it."""

    def write_frame(self, frame: bytes) -> bool:
        """Write a prepared frame now; False if the socket is closing (nothing written)."""
        ...

    @property
    def outlet(self) -> Outlet:
        """The socket's `is_closing` and `write`, for the hub's fan-out loop."""
        ...

    def close_now(self, code: int, reason: str) -> None:
        """Send a close frame without waiting and end the connection soon after."""
        ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` as a task the server waits for on graceful shutdown."""
        ...


class ChatSocket(Protocol):
    """One chat connection, as the transport drives it."""

    def on_frame(self, data: str | bytes) -> None:
        """A complete client message."""
        ...

    def on_closed(self) -> None:
        """The socket is gone (called once)."""
        ...

    def fell_behind(self) -> None:
        """The write buffer passed the outbox bound."""
        ...

    def close(self, code: int, reason: str) -> None: ...


class ChatServer(Protocol):
    """What opens chat connections on this worker (the app state's "chat")."""

    @property
    def settings(self) -> Settings: ...

    def open(
        self, sink: FrameSink, codec: int, session_token: str | None, address: str | None
    ) -> ChatSocket:
        """A chat connection for this socket. `address` is the client's (behind any trusted
        proxy), only to derive its per-source key (server/sources.py); it must not be kept."""
        ...

    def drain_delay(self) -> float:
        """Seconds until this socket is closed for a restart (marks the worker draining)."""
        ...


MODERATOR_COOKIE = "harbor_mod"


def moderator_cookie(headers: Any) -> str | None:
    """The moderator session token from the handshake's Cookie header, if any."""
    jar = SimpleCookie()
    for header in headers.get_all("Cookie"):
        try:
            jar.load(header)
        except CookieError:
            continue
    morsel = jar.get(MODERATOR_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


class _Discard:
    """Stands in for uvicorn's per-connection ASGI queue and writable event on chat sockets,
    which have no ASGI app to feed: one shared object instead of five deques per connection."""

    def put_nowait(self, item: object) -> None:
        pass

    def empty(self) -> bool:
        return True

    def set(self) -> None:
        pass

    def clear(self) -> None:
        pass


_DISCARD = _Discard()

# websockets logs "connection open" / "connection closed" at INFO for every socket: at a
# reconnect storm's rate that is thousands of lines and ~5 % of the worker's CPU, with nothing in
# them an operator acts on. Its own logger, which `server/logs.py` keeps at WARNING unless
# HARBOR_LOG_LEVEL=debug.
CONNECTION_LOGGER = "harbor.connection"


def _bound_kernel_buffer(transport: Any, outbox: int) -> None:
    """Cap the socket's kernel send buffer at the outbox size (Linux doubles it for its own
    bookkeeping), so a reader that stops reading holds a bounded amount of this server's memory.

    Left to autotuning, the kernel alone queued up to 4 MB (`tcp_wmem`'s maximum) for a stalled
    reader before the transport buffered a byte, so flow control -- and the 4008 close -- came
    only after ~40 s of 2,000-character messages at 50/s (the slow-member bench). Chat frames
    are small; a capped buffer still holds hundreds of them for a reader that is merely slow.
    """
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, outbox)


def _peer_address(protocol: Any) -> str | None:
    """The client's IP address, read from the socket when it is needed and not kept (uvicorn's
    `client` attribute is cleared at connection_made)."""
    peer = protocol.transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer and isinstance(peer[0], str):
        return peer[0]
    return None


class HarborWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.logger = logging.getLogger(CONNECTION_LOGGER)
        self.chat: ChatSocket | None = None  # once the chat handshake is accepted

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.client = None

    def handle_connect(self, event: Any) -> None:
        server: ChatServer | None = self.app_state.get("chat")
        if server is None or event.path.partition("?")[0] != CHAT_PATH:
            super().handle_connect(event)
            return
        self.queue = _DISCARD  # type: ignore[assignment]
        self.writable = _DISCARD  # type: ignore[assignment]
        self.handshake_initiated = True
        response = self.conn.accept(event)
        headers = event.headers
        settings = server.settings
        client = resolve(  # who the socket serves, after trusted proxies (server/proxies.py)
            _peer_address(self),
            "https" if self.scheme == "wss" else "http",
            headers.get_all("X-Forwarded-For"),
            headers.get_all("X-Forwarded-Proto"),
            networks(settings.trusted_proxies),
        )
        if response.status_code == 101 and not origin_allowed(
            headers.get("Origin"), headers.get("Host"), settings.allowed_origins, client.scheme
        ):
            response = self.conn.reject(403, "Origin not allowed\n")
        if response.status_code != 101:
            self._refuse_handshake(response)
            return
        codec = negotiate_codec(headers.get_all("Sec-WebSocket-Protocol"))
        if codec == MSGPACK:
            response.headers["Sec-WebSocket-Protocol"] = MSGPACK_SUBPROTOCOL
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.handshake_complete = True
        # Flow control is the outbox bound: past it the transport calls pause_writing.
        outbox = server.settings.outbox_bytes
        self.transport.set_write_buffer_limits(high=outbox)
        _bound_kernel_buffer(self.transport, outbox)
        self.chat = server.open(self, codec, moderator_cookie(headers), client.address)
        self.start_keepalive()

    def _refuse_handshake(self, response: Any) -> None:
        self.handshake_complete = True
        self.close_sent = True
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def shutdown(self) -> None:
        """uvicorn calls this on every connection at SIGTERM. Chat clients are closed with 1012
        in batches spread over time (then reconnect elsewhere and resume with `since`); uvicorn
        waits for them, within HARBOR_SHUTDOWN_GRACE_S, before it stops."""
        server: ChatServer | None = self.app_state.get("chat")
        if self.chat is None or server is None:
            super().shutdown()
            return
        self.loop.call_later(server.drain_delay(), self._close_for_restart, self.chat)

    def _close_for_restart(self, chat: ChatSocket) -> None:
        self.stop_keepalive()
        chat.close(CloseCode.SERVICE_RESTART, "service restart; reconnect and resume")

    def send_receive_event_to_app(self) -> None:
        chat = self.chat
        if chat is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type == "bytes":
            chat.on_frame(bytes(data))
            return
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError:
            chat.close(CloseCode.INVALID_PAYLOAD, "text frames must be UTF-8")
            return
        chat.on_frame(text)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.chat is not None:
            self.chat.on_closed()

    # FrameSink

    def pause_writing(self) -> None:
        # The transport's buffer passed the outbox bound (set at the handshake): too slow.
        if self.chat is not None:
            self.chat.fell_behind()
        else:
            super().pause_writing()

    def resume_writing(self) -> None:
        if self.chat is None:
            super().resume_writing()

    def write_frame(self, frame: bytes) -> bool:
        if self.close_sent or self.transport.is_closing():
            return False
        self.transport.write(frame)
        return True

    @property
    def outlet(self) -> Outlet:
        transport = self.transport
        return transport.is_closing, transport.write

    def close_now(self, code: int, reason: str) -> None:
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.resume_reading()  # to read the peer's answering close frame
        self.close_timer = self.loop.call_later(_CLOSE_FLUSH_S, self.transport.abort)

    def pause_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self.loop.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task
