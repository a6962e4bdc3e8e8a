"""Every channel that is not a room, named in one place, and what is published on them.

Rooms are what members join; feeds ride on the same broker and hub but carry notices between
workers: the moderators' feed (flags raised, claimed, resolved ...), one feed per moderator (a
signed-in volunteer's own sockets), and the identity notices (a warning, a mute, a check-in
invitation, a ban) that the worker holding that identity's sockets applies. A feed's name starts
with "@", which no room id can (rooms/catalog.ROOM_ID), so the two never meet; the hub is told
which channels are feeds by `is_feed`, and knows nothing else about them.

Publishing on a feed is best effort: the store is the truth (a flag is stored before it is
announced), so a broker outage costs a live update, never a flag.
"""

from __future__ import annotations

import logging
from typing import Any

from casework.flags import Flag
from rooms.broker import Broker, BrokerUnavailable
from rooms.envelope import broadcast_body

logger = logging.getLogger("harbor.feeds")

MODERATORS = "@moderators"
IDENTITY_NOTICES = "@direct"
_MODERATOR_PREFIX = "@mod:"


def moderator(name: str) -> str:
    """The feed of one signed-in moderator: joined by each of their sockets, so presence on it
    says whether they are on duty anywhere."""
    return _MODERATOR_PREFIX + name


def is_feed(channel: str) -> bool:
    return channel.startswith("@")


async def announce_flag(broker: Broker, event: str, flag: Flag) -> None:
    """Tell every signed-in moderator, on every worker."""
    frame: dict[str, object] = {"type": "flag", "event": event, "flag": flag.to_json()}
    try:
        await broker.announce(MODERATORS, broadcast_body(frame))
    except BrokerUnavailable:
        logger.warning("moderator feed unreachable; moderators will see the flag on refresh")


async def notify(
    broker: Broker,
    uid: str,
    frame: dict[str, Any] | None,
    *,
    muted_until_ms: int | None = None,
    ban_until_ms: int | None = None,
) -> None:
    """Send `frame` to every socket of identity `uid`, wherever it is connected; set its mute,
    or close it for a ban until `ban_until_ms` (server/direct.py applies the notice on each
    worker)."""
    notice: dict[str, object] = {"to": uid, "frame": frame, "ban": ban_until_ms is not None}
    if ban_until_ms is not None:
        notice["until_ms"] = ban_until_ms
    if muted_until_ms is not None:
        notice["muted_until_ms"] = muted_until_ms
    try:
        await broker.announce(IDENTITY_NOTICES, broadcast_body(notice))
    except BrokerUnavailable:
        logger.warning("identity notice not delivered live; it applies on the next hello")
