"""Identity notices applied on this worker: the listener of the `feeds.IDENTITY_NOTICES` feed.

Every worker listens to that one feed; a notice names the identity (its uid) and the worker
holding that identity's sockets applies it: a warning, a mute, a check-in invitation, or a ban
that closes them. One feed for all identities costs one subscription per worker, not one per
person. Notices are sent with `feeds.notify`.
"""

from __future__ import annotations

from collections.abc import Callable

from rooms.envelope import Broadcast, Event

from .closecodes import CloseCode
from .registry import Registry


def identity_notice_listener(registry: Registry) -> Callable[[Event], None]:
    def apply(event: Event) -> None:
        if not isinstance(event, Broadcast):
            return
        notice = event.frame
        uid = notice.get("to")
        if not isinstance(uid, str):
            return
        for connection in registry.of_identity(uid):
            muted = notice.get("muted_until_ms")
            if isinstance(muted, int):
                connection.muted_until_ms = muted
            frame = notice.get("frame")
            if isinstance(frame, dict):
                connection.send(frame)
            if notice.get("ban"):
                connection.close(CloseCode.BANNED, "a moderator paused this identity for a while")

    return apply
