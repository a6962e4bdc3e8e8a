"""The rota: volunteers' weekly recurring shifts, each in its volunteer's own time zone, and
what follows from them -- who is on now, the gaps, and when the next volunteer is expected.
Pure: no I/O; times in, intervals out (epoch milliseconds, UTC).

A shift is "every <weekday> from <start> for <minutes>" on the volunteer's wall clock, so it
follows their daylight-saving changes (zoneinfo does the arithmetic). Gaps are the stretches of
a window no shift covers. The rota says who *signed up*, not who is signed in: the page says a
volunteer is "expected", never that one is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
MINUTES_PER_DAY = 24 * 60
# Bounds on what one volunteer may put on the rota (a request is refused past them).
MAX_SHIFTS_PER_MODERATOR = 21
MAX_SHIFT_MINUTES = 12 * 60
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Shift:
    moderator: str
    weekday: int  # 0 Monday .. 6 Sunday, on the volunteer's clock
    start_minute: int  # minutes after local midnight
    minutes: int
    tz: str  # an IANA zone name, "Europe/London"

    def to_json(self) -> dict[str, object]:
        return {
            "moderator": self.moderator,
            "weekday": self.weekday,
            "start_minute": self.start_minute,
            "minutes": self.minutes,
            "tz": self.tz,
        }


def shift_from_json(moderator: str, data: object) -> Shift:
    """A shift from a request or the store; ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a shift is an object")
    fields = ("weekday", "start_minute", "minutes", "tz")
    weekday, start, minutes, tz = (data.get(k) for k in fields)
    for name, value, low, high in (
        ("weekday", weekday, 0, 6),
        ("start_minute", start, 0, MINUTES_PER_DAY - 1),
        ("minutes", minutes, 15, MAX_SHIFT_MINUTES),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high}")
    if not isinstance(tz, str) or not tz or len(tz) > 64:
        raise ValueError("tz must be a time zone name")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    assert isinstance(weekday, int) and isinstance(start, int) and isinstance(minutes, int)
    return Shift(moderator, weekday, start, minutes, tz)


def shifts_to_json(shifts: Iterable[Shift]) -> str:
    """One moderator's shifts as the stores keep them (the name is the key, not repeated)."""
    return json.dumps(
        [[s.weekday, s.start_minute, s.minutes, s.tz] for s in shifts], separators=(",", ":")
    )


def shifts_from_json(moderator: str, text: str | bytes) -> list[Shift]:
    return [
        Shift(moderator, int(weekday), int(start), int(minutes), str(tz))
        for weekday, start, minutes, tz in json.loads(text)
    ]


def occurrences(shift: Shift, from_ms: int, to_ms: int) -> list[tuple[int, int]]:
    """The shift's [start, end) intervals that overlap [from_ms, to_ms)."""
    zone = ZoneInfo(shift.tz)
    # Start a day early: a shift that began yesterday evening may still be running.
    day = datetime.fromtimestamp(from_ms / 1000, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(to_ms / 1000, zone).date()
    found = []
    while day <= last:
        if day.weekday() == shift.weekday:
            local = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(
                minutes=shift.start_minute
            )
            # Wall-clock arithmetic above; normalise through UTC for the true instant.
            start = int(local.astimezone(UTC).timestamp() * 1000)
            end = start + shift.minutes * 60_000
            if end > from_ms and start < to_ms:
                found.append((start, end))
        day += timedelta(days=1)
    return found


def covered(shifts: Iterable[Shift], from_ms: int, to_ms: int) -> list[tuple[int, int]]:
    """The merged intervals of [from_ms, to_ms) some shift covers."""
    spans = sorted(
        (max(s, from_ms), min(e, to_ms))
        for shift in shifts
        for s, e in occurrences(shift, from_ms, to_ms)
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def gaps(shifts: Iterable[Shift], from_ms: int, to_ms: int) -> list[tuple[int, int]]:
    """The stretches of [from_ms, to_ms) nobody signed up for."""
    found, at = [], from_ms
    for start, end in covered(shifts, from_ms, to_ms):
        if start > at:
            found.append((at, start))
        at = max(at, end)
    if at < to_ms:
        found.append((at, to_ms))
    return found


def on_now(shifts: Iterable[Shift], now_ms: int) -> list[str]:
    """Who the rota has on at `now_ms` (signed up, not necessarily signed in)."""
    return sorted({s.moderator for s in shifts if occurrences(s, now_ms, now_ms + 1)})


def next_expected_ms(shifts: Sequence[Shift], now_ms: int, horizon_ms: int) -> int | None:
    """When the next shift starts within the horizon, or None: the only time the page may say
    a volunteer is expected."""
    starts = [
        start
        for shift in shifts
        for start, _ in occurrences(shift, now_ms, now_ms + horizon_ms)
        if start >= now_ms
    ]
    return min(starts, default=None)


def gaps_to_warn_of(
    shifts: Sequence[Shift], now_ms: int, warn_ms: int
) -> list[tuple[str, int, int]]:
    """The gaps that start (or go on) within the next `warn_ms`, each as (its key, from_ms,
    to_ms): the key names the gap by its true edge, found over a week either side, so one gap
    keeps one key from the moment it comes into view until it ends, and is warned of once.
    A rota with no shifts at all is one endless gap, keyed "always"."""
    low, high = now_ms - WEEK_MS, now_ms + warn_ms + WEEK_MS
    found = []
    for start, end in gaps(shifts, low, high):
        if end <= now_ms or start >= now_ms + warn_ms:
            continue
        if start > low:
            key = f"from:{start}"
        elif end < high:
            key = f"until:{end}"
        else:
            key = "always"
        found.append((key, max(start, now_ms), min(end, now_ms + warn_ms)))
    return found
