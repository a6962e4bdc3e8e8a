"""One client connection as the hub and the endpoint see it: codec, identity, rooms, limits."""

from __future__ import annotations

import uuid
from typing import Any

from .closecodes import CloseCode
from .identity import Identity
from .protocol import encode
from .ratelimit import TokenBucket
from .transport import FrameSink


class Connection:
    """Implements the hub's `Member`: `write` never blocks and reports a slow reader.

    The outbox is the transport's own write buffer, bounded by `outbox_bytes`: when a write leaves
    more than that queued, the member is closed with SLOW_CONSUMER (it can resume with `since`),
    so its backlog never grows the worker's memory and never delays anyone else.
    """

    __slots__ = ("closed", "codec", "id", "identity", "rooms", "send_bucket", "_outbox", "_sink")

    def __init__(
        self, sink: FrameSink, codec: int, *, outbox_bytes: int, send_bucket: TokenBucket
    ) -> None:
        self._sink = sink
        self._outbox = outbox_bytes
        self.codec = codec
        self.id = uuid.uuid4().hex[:12]  # for logs; never tied to an address
        self.identity: Identity | None = None
        self.rooms: set[str] = set()
        self.send_bucket = send_bucket
        self.closed = False

    def write(self, frame: bytes) -> bool:
        if self.closed:
            return False
        buffered = self._sink.write_frame(frame)
        if buffered < 0:
            self.closed = True
            return False
        if buffered > self._outbox:
            self.close(CloseCode.SLOW_CONSUMER, "too far behind; reconnect and resume with since")
            return False
        return True

    def send(self, frame: dict[str, Any]) -> bool:
        return self.write(encode(frame, self.codec))

    def evicted(self) -> None:
        self.close(CloseCode.SLOW_CONSUMER, "too far behind; reconnect and resume with since")

    def close(self, code: CloseCode, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self._sink.close_now(int(code), reason)
