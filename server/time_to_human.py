"""Time to a human, as it happens: a flag's first claim, a volunteer's first words to its
writer, and the backup list called for a crisis flag nobody claimed.

The store records each moment once (`claimed_ms`, `mark_first_words`, `take_unanswered`), so
across workers each is observed in the histograms and announced exactly once.

First words are a volunteer's message in the writer's private check-in room, or -- from the
volunteer who holds the flag -- in the room where it was raised: the two places the person reads
a volunteer. Another volunteer chatting in the same room is not a reply to them.
"""

from __future__ import annotations

import logging

from casework.flags import Flag, FlagState

from . import feeds
from .backup_call import backup_document
from .context import WorkerContext
from .identity import is_checkin_room

logger = logging.getLogger("harbor.time_to_human")


def observe_claim(context: WorkerContext, before: Flag, after: Flag) -> None:
    """Count the wait when this claim is the flag's first since it was raised (or reopened)."""
    if before.claimed_ms or not after.claimed_ms:
        return
    waited_ms = max(0, after.claimed_ms - after.waiting_since_ms)
    context.metrics.time_to_claim.labels(after.draft.severity).observe(waited_ms / 1000)


def _reaches(context: WorkerContext, flag: Flag, moderator: str, room: str) -> bool:
    if is_checkin_room(room):
        return context.identities.checkin_room(flag.draft.uid) == room
    return flag.draft.room == room and flag.state is FlagState.CLAIMED and flag.owner == moderator


async def volunteer_spoke(context: WorkerContext, moderator: str, room: str) -> None:
    """A volunteer's message was published in `room`: record first words on each live flag
    whose writer it reaches. Never fails the send: the words are in the room already."""
    try:
        now_ms = context.clock()
        for flag in await context.store.list_flags():
            if flag.first_words_ms or not _reaches(context, flag, moderator, room):
                continue
            marked = await context.store.mark_first_words(flag.id, now_ms)
            if marked is None:
                continue
            waited_ms = max(0, marked.first_words_ms - marked.waiting_since_ms)
            metric = context.metrics.time_to_first_words.labels(marked.draft.severity)
            metric.observe(waited_ms / 1000)
            await feeds.announce_flag(context.broker, "answered", marked)
    except Exception as exc:  # a store blip costs a measurement, never the message
        logger.warning("could not record first words (%s)", type(exc).__name__)


async def call_backups(context: WorkerContext, on_duty: int) -> None:
    """Hand every crisis flag unclaimed past its target and the backup delay to the backup
    caller (once each, across workers), and tell the moderators it was called."""
    caller = context.backup
    if caller is None:
        return
    now_ms = context.clock()
    targets = context.settings.response_targets
    for flag in await context.store.take_unanswered(now_ms):
        document = backup_document(
            flag,
            now_ms=now_ms,
            target_ms=targets.target_ms(flag.draft.severity),
            on_duty=on_duty,
        )
        await caller.offer(document)
        logger.warning("flag %s unclaimed past its target: calling the backup list", flag.id)
        await feeds.announce_flag(context.broker, "backup", flag)
