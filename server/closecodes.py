"""WebSocket close codes Harbor uses, with what a client should do after each.

RFC 6455 codes cover protocol faults. Harbor's own codes follow centrifuge's split: 4000-4499 mean
"reconnect (with backoff) and resume with `since`", 4500-4999 mean "do not reconnect".
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001  # worker shutting down; reconnect elsewhere
    UNSUPPORTED_DATA = 1003  # binary frame on a JSON connection, or text on msgpack
    INVALID_PAYLOAD = 1007  # text frame that is not UTF-8
    POLICY_VIOLATION = 1008  # origin refused, hello missing or late
    MESSAGE_TOO_BIG = 1009  # frame over HARBOR_MAX_FRAME_BYTES
    INTERNAL_ERROR = 1011  # a bug; details are logged, never sent
    SERVICE_RESTART = 1012  # deploy: reconnect with jittered backoff and resume
    TRY_AGAIN_LATER = 1013  # a per-source limit (sockets, new identities): back off, then retry
    # Retryable (4000-4499)
    SLOW_CONSUMER = 4008  # outbox overflowed; reconnect and resume with `since`
    # Terminal (4500-4999)
    BANNED = 4503  # a moderator banned this identity for a while

    @property
    def retryable(self) -> bool:
        """Whether a well-behaved client reconnects after this code."""
        return self not in {CloseCode.POLICY_VIOLATION, CloseCode.BANNED} and self < 4500
