"""uvicorn's sans-I/O WebSocket protocol, plus a direct frame sink for the fan-out path.

uvicorn's ASGI `send()` awaits `writable` and frames the payload on every call: right for one
reply, wrong for a room of a thousand, where it would be a thousand awaits and encodes per message.
This subclass hands the endpoint (as the ASGI extension `harbor.sink`) a synchronous
`write_frame(prepared)` that puts an already framed message straight on the transport, and reports
how much is buffered, so a slow reader is noticed by the size of its own buffer and closed, never
waited for. All frames are written whole, from the event loop thread, so they never interleave
with uvicorn's own pings and closes.

It also keeps the peer's address out of the ASGI scope: Harbor never needs it, and uvicorn would
otherwise log it on every handshake.
"""

from __future__ import annotations

from typing import Any, Protocol

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

SINK_EXTENSION = "harbor.sink"
# How long a closing connection may take to flush its close frame before it is cut. Short: a
# connection closed for being slow is usually not reading at all.
_CLOSE_FLUSH_S = 3.0


class FrameSink(Protocol):
    def write_frame(self, frame: bytes) -> int:
        """Write a prepared frame now; the bytes still buffered after it, or -1 if closed."""
        ...

    def close_now(self, code: int, reason: str) -> None:
        """Send a close frame without waiting and end the connection soon after."""
        ...


class HarborWebSocketProtocol(WebSocketsSansIOProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.client = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][SINK_EXTENSION] = self

    def write_frame(self, frame: bytes) -> int:
        transport = self.transport
        if self.close_sent or self.disconnected or transport.is_closing():
            return -1
        transport.write(frame)
        return int(transport.get_write_buffer_size())

    def close_now(self, code: int, reason: str) -> None:
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(_CLOSE_FLUSH_S, self.transport.abort)
