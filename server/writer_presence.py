"""Whether the person behind a case is here now, and whether they came back after it closed.

A volunteer deciding whether to open a check-in needs to know if anyone will read it; and a
person whose crisis case was resolved and who returns within `HARBOR_FOLLOW_UP_HOURS` deserves a
volunteer's hello. Only the worker holding a person's sockets knows they are here, so each
worker reports, through the shared presence counts, two numbers per case it can see: how many
of the writer's sockets are open here (`online_channel`) and how many of them arrived after the
case was resolved (`back_channel`). Channels are named by flag id, never by identity, and only
cases are counted, never everyone connected. The moderator API reads the totals
(server/casebook_api.py).

`writer_counts` is pure; `WriterPresence` reports what changed each heartbeat and everything
every third of the presence TTL, as the rooms' presence does (rooms/presence.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from casework.flags import CRISIS_SEVERITIES, Flag, FlagState, Outcome
from rooms.presence import Presence

logger = logging.getLogger("harbor.writer_presence")

# Outcomes after which a returning person is not followed up: there was no crisis to follow.
NO_FOLLOW_UP = (Outcome.FALSE_ALARM, Outcome.DUPLICATE)
_HOUR_MS = 3600 * 1000


def online_channel(flag_id: str) -> str:
    return "@writer:" + flag_id


def back_channel(flag_id: str) -> str:
    return "@back:" + flag_id


def follow_up_window_ms(hours: int) -> int:
    return hours * _HOUR_MS


def wants_follow_up(flag: Flag, now_ms: int, window_ms: int) -> bool:
    """A resolved crisis case, resolved within the window, not yet followed up since."""
    return (
        flag.state is FlagState.RESOLVED
        and flag.draft.severity in CRISIS_SEVERITIES
        and flag.outcome not in NO_FOLLOW_UP
        and now_ms - flag.resolved_ms <= window_ms
        and flag.followed_up_ms < flag.resolved_ms
    )


def watched(flags: Iterable[Flag], now_ms: int, window_ms: int) -> list[Flag]:
    """The cases whose writer's presence is worth counting: every live one, and the resolved
    ones still within the follow-up window."""
    return [
        flag
        for flag in flags
        if flag.state is not FlagState.RESOLVED or now_ms - flag.resolved_ms <= window_ms
    ]


def writer_counts(
    flags: Iterable[Flag], arrivals: Callable[[str], list[int]], now_ms: int, window_ms: int
) -> dict[str, int]:
    """This worker's counts for the cases whose writer has a socket here (others are absent:
    zero). `arrivals(uid)` gives when each of that identity's sockets here said hello."""
    counts: dict[str, int] = {}
    for flag in watched(flags, now_ms, window_ms):
        here = arrivals(flag.draft.uid)
        if not here:
            continue
        counts[online_channel(flag.id)] = len(here)
        if wants_follow_up(flag, now_ms, window_ms):
            back = sum(1 for at in here if at > flag.resolved_ms)
            if back:
                counts[back_channel(flag.id)] = back
    return counts


class WriterPresence:
    """Reports this worker's writer counts: changes every call, all of them every `ttl_s / 3`
    (so the shared entries never expire while true), and a zero for each count that vanished."""

    def __init__(self, presence: Presence, ttl_s: float) -> None:
        self._presence = presence
        self._refresh_s = ttl_s / 3
        self._reported: dict[str, int] = {}
        self._refreshed_at = float("-inf")

    async def report(self, counts: dict[str, int], now_s: float) -> None:
        if now_s - self._refreshed_at >= self._refresh_s:
            changes = dict(counts)
            self._refreshed_at = now_s
        else:
            changes = {key: n for key, n in counts.items() if self._reported.get(key) != n}
        changes.update(dict.fromkeys(self._reported.keys() - counts.keys(), 0))
        if not changes:
            return
        try:
            await self._presence.report(changes)
        except Exception as exc:  # a Redis blip: everything is sent again next time
            logger.warning("writer presence report failed (%s)", type(exc).__name__)
            self._refreshed_at = float("-inf")
            return
        self._reported = dict(counts)
