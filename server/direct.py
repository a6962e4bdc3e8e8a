"""Notices to one anonymous identity, wherever its connections are.

Every worker listens to one shared channel; a notice names the identity (its uid) and the worker
holding that identity's sockets applies it: a warning, a mute, a check-in invitation, or a ban
that closes them. One channel for all identities costs one subscription per worker, not one per
person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rooms.broker import BrokerUnavailable
from rooms.envelope import Broadcast, Event, broadcast_body

from .closecodes import CloseCode

if TYPE_CHECKING:
    from .lifespan import Services

logger = logging.getLogger("harbor.direct")

DIRECT_CHANNEL = "@direct"


async def notify(
    services: Services,
    uid: str,
    frame: dict[str, Any] | None,
    *,
    muted_until_ms: int | None = None,
    ban: bool = False,
) -> None:
    notice: dict[str, object] = {"to": uid, "frame": frame, "ban": ban}
    if muted_until_ms is not None:
        notice["muted_until_ms"] = muted_until_ms
    try:
        await services.broker.announce(DIRECT_CHANNEL, broadcast_body(notice))
    except BrokerUnavailable:
        logger.warning("direct notice not delivered live; it applies on the next hello")


def direct_listener(services: Services) -> Callable[[Event], None]:
    def apply(event: Event) -> None:
        if not isinstance(event, Broadcast):
            return
        notice = event.frame
        uid = notice.get("to")
        connections = services.by_uid.get(uid) if isinstance(uid, str) else None
        for conn in list(connections or ()):
            muted = notice.get("muted_until_ms")
            if isinstance(muted, int):
                conn.muted_until_ms = muted
            frame = notice.get("frame")
            if isinstance(frame, dict):
                conn.send(frame)
            if notice.get("ban"):
                conn.close(CloseCode.BANNED, "a moderator paused this identity for a while")

    return apply
