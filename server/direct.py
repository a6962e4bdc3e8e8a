"""Identity notices applied on this worker: the listener of the `feeds.IDENTITY_NOTICES` feed.

Every worker listens to that one feed; a notice names the identity (its uid) and the worker
holding that identity's sockets applies it: a warning, a mute, a check-in invitation, or a ban
that closes them. One feed for all identities costs one subscription per worker, not one per
person. Notices are sent with `feeds.notify`.

A ban also holds the sources (keyed hashes of the addresses, server/sources.py) of the sockets
it closes, for as long as the ban lasts, so the person cannot come straight back under a fresh
identity: only the worker that holds the sockets knows their sources, so it records the hold,
naming the ban (the uid and its end) it holds for, so that a ban lifted or shortened on appeal
ends or shortens exactly its own holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rooms.envelope import Broadcast, Event

from .closecodes import CloseCode
from .registry import Registry

HoldSources = Callable[[str, Iterable[str], int], None]


def identity_notice_listener(
    registry: Registry, hold_sources: HoldSources
) -> Callable[[Event], None]:
    """`hold_sources(uid, sources, until_ms)` records the holds of the ban of `uid` (it may not
    block: it is called from the fan-out listener, so it starts the store write and returns)."""

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
                until = notice.get("until_ms")
                if isinstance(until, int):
                    hold_sources(uid, connection.sources, until)
                connection.close(CloseCode.BANNED, "a moderator paused this identity for a while")

    return apply
