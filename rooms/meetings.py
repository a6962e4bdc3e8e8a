"""Scheduled meetings: what the rooms file says about them, and when each one happens.

A room entry may list `meetings`, each a title, a local start time in an IANA time zone, how it
repeats (`once`, `daily`, `weekly`), a length, a format (the parts the meeting goes through:
opening words, a check-in round, a topic, open sharing, a check-out round, closing), an optional
chair (the moderator account expected to chair it; any volunteer moderator may otherwise), an
optional turn limit (`turn_min`, or `turn_s` for short round shares) with where the floor goes
when it is up (`after_turn`), and the words a late-comer is greeted with. Repetition is computed
in the meeting's own zone, so a weekly 7 pm meeting stays at 7 pm across daylight-saving changes.

Pure: no I/O (the caller passes the time in, in milliseconds since the epoch).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MEETING_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
REPEATS = ("once", "daily", "weekly")
# Where the floor goes when a share's time is up: back to the chair, who decides (the usual way),
# or straight on to the next raised hand (a round, where the chair need not click each turn).
AFTER_TURN = ("chair", "next")
MAX_STEPS = 12  # a format longer than this is a script, not a meeting
MAX_TITLE = 80
MAX_STEP_TEXT = 600
MAX_LENGTH_MIN = 240
MIN_TURN_S = 5  # `turn_s`: a round of a word or two each can be short, but not a blink
_STEP_DAYS = {"daily": 1, "weekly": 7}

# The shape of most peer-support meetings (12-step, SMART, Refuge Recovery alike).
DEFAULT_FORMAT: tuple[tuple[str, str], ...] = (
    (
        "Opening words",
        "Welcome. This is a peer-support meeting: we speak from our own experience, we listen "
        "without fixing, and what is shared here stays here.",
    ),
    ("Check-in round", "A word or two each: your name here and how you are arriving today."),
    ("Topic", "The chair suggests a topic. You don't have to share on it."),
    ("Open sharing", "Raise your hand to share. One person at a time; others listen."),
    ("Check-out round", "A word or two each: what you take with you from today."),
    ("Closing", "Thank you for being here. Take care of yourselves until next time."),
)
DEFAULT_GREETING = (
    "Welcome, come on in. The meeting has started: you can raise your hand to share when you "
    "are ready, or just listen."
)


class MeetingError(ValueError):
    """A meeting entry in the rooms file is malformed; the message says which field."""


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str
    room: str
    title: str
    start: dt.datetime  # the first occurrence, aware, in the meeting's own zone
    repeat: str
    length_s: int
    steps: tuple[Step, ...]
    chair: str = ""  # the moderator account expected to chair ("": any volunteer moderator)
    turn_s: int = 0  # how long one share may be (0: no limit)
    greeting: str = DEFAULT_GREETING
    after_turn: str = "chair"  # AFTER_TURN: where the floor goes when a share's time is up

    @property
    def zone(self) -> str:
        return str(self.start.tzinfo)


@dataclass(frozen=True, slots=True)
class Occurrence:
    meeting: Meeting
    start_ms: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.meeting.length_s * 1000

    @property
    def key(self) -> str:
        """Names this occurrence in the meeting store: a new one starts with a fresh state."""
        return f"{self.meeting.id}@{self.start_ms}"


def meetings_from_json(room: str, entries: object) -> tuple[Meeting, ...]:
    if not isinstance(entries, list):
        raise MeetingError("'meetings' must be a list")
    meetings = tuple(_meeting(room, entry, index) for index, entry in enumerate(entries))
    if len({m.id for m in meetings}) != len(meetings):
        raise MeetingError("meeting ids must be unique")
    return meetings


def _meeting(room: str, entry: object, index: int) -> Meeting:
    where = f"meeting #{index}"
    if not isinstance(entry, dict):
        raise MeetingError(f"{where}: expected an object")
    meeting_id = entry.get("id")
    if not isinstance(meeting_id, str) or not MEETING_ID.fullmatch(meeting_id):
        raise MeetingError(f"{where}: 'id' must be 1-48 lowercase letters, digits or dashes")
    where = f"meeting {meeting_id!r}"
    title = _text(entry, "title", where, MAX_TITLE, required=True)
    zone_name = entry.get("timezone", "UTC")
    try:
        zone = ZoneInfo(zone_name) if isinstance(zone_name, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        raise MeetingError(f"{where}: 'timezone' must be an IANA zone such as Europe/London")
    try:
        start = dt.datetime.fromisoformat(str(entry.get("start")))
    except ValueError:
        raise MeetingError(f"{where}: 'start' must be a local time like 2026-01-05T19:00") from None
    if start.tzinfo is not None:
        raise MeetingError(f"{where}: give 'start' without an offset, and 'timezone' beside it")
    repeat = entry.get("repeat", "weekly")
    if repeat not in REPEATS:
        raise MeetingError(f"{where}: 'repeat' must be one of {', '.join(REPEATS)}")
    length = _minutes(entry, "length_min", where, default=60, minimum=5)
    turn_s = _turn_seconds(entry, where)
    after_turn = entry.get("after_turn", "chair")
    if after_turn not in AFTER_TURN:
        raise MeetingError(f"{where}: 'after_turn' must be one of {', '.join(AFTER_TURN)}")
    chair = entry.get("chair", "")
    if not isinstance(chair, str):
        raise MeetingError(f"{where}: 'chair' must be a moderator's name")
    return Meeting(
        id=meeting_id,
        room=room,
        title=title,
        start=start.replace(tzinfo=zone),
        repeat=str(repeat),
        length_s=length * 60,
        steps=_steps(entry.get("format"), where),
        chair=chair,
        turn_s=turn_s,
        greeting=_text(entry, "greeting", where, MAX_STEP_TEXT) or DEFAULT_GREETING,
        after_turn=str(after_turn),
    )


def _turn_seconds(entry: dict[str, Any], where: str) -> int:
    """A share's limit: `turn_min` in minutes, or `turn_s` in seconds for a round of short
    shares (a word or two each at check-in); not both."""
    if "turn_s" not in entry:
        return _minutes(entry, "turn_min", where, default=0, minimum=0) * 60
    if "turn_min" in entry:
        raise MeetingError(f"{where}: give 'turn_min' or 'turn_s', not both")
    value = entry["turn_s"]
    limit = MAX_LENGTH_MIN * 60
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_TURN_S <= value <= limit:
        raise MeetingError(f"{where}: 'turn_s' must be seconds, {MIN_TURN_S}-{limit}")
    return value


def _text(entry: dict[str, Any], name: str, where: str, limit: int, required: bool = False) -> str:
    value = entry.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise MeetingError(f"{where}: {name!r} must be text of at most {limit} characters")
    return value.strip()


def _minutes(entry: dict[str, Any], name: str, where: str, *, default: int, minimum: int) -> int:
    value = entry.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (minimum <= value <= MAX_LENGTH_MIN)
    ):
        raise MeetingError(f"{where}: {name!r} must be minutes, {minimum}-{MAX_LENGTH_MIN}")
    return value


def _steps(value: object, where: str) -> tuple[Step, ...]:
    if value is None:
        return tuple(Step(title, text) for title, text in DEFAULT_FORMAT)
    if not isinstance(value, list) or not 0 < len(value) <= MAX_STEPS:
        raise MeetingError(f"{where}: 'format' must list 1-{MAX_STEPS} parts")
    steps = []
    for item in value:
        if isinstance(item, str):
            item = {"title": item}
        if not isinstance(item, dict):
            raise MeetingError(f"{where}: each part of 'format' is a title or {{title, text}}")
        steps.append(
            Step(
                _text(item, "title", where, MAX_TITLE, required=True),
                _text(item, "text", where, MAX_STEP_TEXT),
            )
        )
    return tuple(steps)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def occurrences(meeting: Meeting, from_ms: int, until_ms: int) -> Iterator[Occurrence]:
    """Every occurrence that has not ended by `from_ms` and starts before `until_ms`, in order.
    Dates step in the meeting's zone (wall time), so 7 pm stays 7 pm over a clock change."""
    first = meeting.start
    step_days = _STEP_DAYS.get(meeting.repeat)
    if step_days is None:
        if _ms(first) + meeting.length_s * 1000 > from_ms and _ms(first) < until_ms:
            yield Occurrence(meeting, _ms(first))
        return
    # Jump near `from_ms` instead of walking every week since the first one.
    behind_days = (from_ms - _ms(first)) // 86_400_000 - step_days
    skip = max(0, behind_days // step_days)
    date = first.date() + dt.timedelta(days=skip * step_days)
    while True:
        local = dt.datetime.combine(date, first.timetz()).replace(tzinfo=first.tzinfo)
        start_ms = _ms(local)
        if start_ms >= until_ms:
            return
        if start_ms + meeting.length_s * 1000 > from_ms:
            yield Occurrence(meeting, start_ms)
        date += dt.timedelta(days=step_days)


def current(meetings: tuple[Meeting, ...], now_ms: int, early_ms: int) -> Occurrence | None:
    """The occurrence a room is in now: from `early_ms` before its start until its end (the
    earliest, if two overlap)."""
    found = [
        occurrence
        for meeting in meetings
        for occurrence in occurrences(meeting, now_ms, now_ms + early_ms + 1)
    ]
    return min(found, key=lambda o: o.start_ms) if found else None


def upcoming(meetings: tuple[Meeting, ...], now_ms: int, horizon_ms: int) -> list[Occurrence]:
    """Occurrences not yet ended, starting within `horizon_ms`, soonest first."""
    found = [o for m in meetings for o in occurrences(m, now_ms, now_ms + horizon_ms)]
    return sorted(found, key=lambda o: (o.start_ms, o.meeting.id))
