"""Each worker's meeting sweep: time and absence acting on the meetings under way.

A turn limit must end a turn nobody ends, and a person who closed the page must not keep a hand
up, the floor or the chair. Neither comes with a frame, so every `HARBOR_MEETING_SWEEP_S` each
worker settles (server/meetings.sweep_room) every room in a meeting in which it holds members:
it marks the people the meeting names whom it holds as seen, and lets the pure rules decide.
A room with nobody on this worker is left to the workers that hold its members; a room with
nobody anywhere is settled by the first worker someone joins it on, within one sweep.

Each sweep also refreshes the worker's meeting book (server/meeting_book.py) with the meetings
a coordinator added, so every worker lists and runs them within one sweep.

The work per sweep is bounded: one read of the added meetings (at most
`HARBOR_MEETINGS_ADDED_MAX`), and per room hosting a meeting under way with members here, one
read, and for a meeting that names anyone one `seen` call and at most one compare-and-set.
"""

from __future__ import annotations

import functools
import logging

import anyio

from rooms.broker import BrokerUnavailable
from rooms.meeting_store import MeetingStore

from .context import WorkerContext
from .endpoint import ChatConnection
from .meetings import sweep_room

logger = logging.getLogger("harbor.meeting_sweep")


def authors_here(context: WorkerContext, room: str) -> set[str]:
    """The writers' tags of the room's members on this worker (the hub's own members)."""
    local = context.hub.room(room)
    if local is None:
        return set()
    tag = context.identities.author_tag
    members = [m for codec in local.members for m in codec] + list(local.trailing)
    return {
        tag(m.identity.uid)
        for m in members
        if isinstance(m, ChatConnection) and m.identity is not None and not m.closed
    }


async def sweep_once(context: WorkerContext, store: MeetingStore) -> int:
    """Settle every room in a meeting that has members here; the number whose state changed."""
    changed = 0
    for room in context.meeting_book.rooms():
        local = context.hub.room(room)
        if local is None or local.local_count == 0:
            continue
        try:
            if await sweep_room(
                context, store, room, functools.partial(authors_here, context, room)
            ):
                changed += 1
        except BrokerUnavailable as exc:
            logger.warning("meeting sweep of a room failed (%s); next sweep", exc)
    return changed


async def keep_meetings_settled(context: WorkerContext) -> None:
    """Sweep until cancelled; an outage costs one sweep, never the loop. Each round is counted
    by how it ended: ``ok`` when no error escaped it (a room whose store call failed is logged
    and waits for the next round), ``store_unavailable``, or ``failed``; a round cut
    short by shutdown is not counted, so a deploy raises no alert."""
    store = context.meetings
    if store is None:
        return
    while True:
        await anyio.sleep(context.settings.meeting_sweep_s)
        result = "ok"  # one of server.metrics.SWEEP_RESULTS
        try:
            context.meeting_book.refresh(await store.added())
            await sweep_once(context, store)
        except BrokerUnavailable as exc:  # Redis away: the added meetings are kept as they were
            logger.warning("meeting sweep: store unavailable (%s); next sweep", exc)
            result = "store_unavailable"
        except Exception:
            logger.exception("meeting sweep failed; next sweep")
            result = "failed"
        context.metrics.meeting_sweeps.labels(result).inc()
