"""The meeting schedule from the rooms file: validation, repetition in the meeting's own zone,
and which meeting a room is in now."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rooms.meetings import (
    DEFAULT_FORMAT,
    MeetingError,
    current,
    meetings_from_json,
    upcoming,
)

HOUR_MS = 3_600_000


def ms(year: int, month: int, day: int, hour: int = 0, *, zone: str = "UTC") -> int:
    moment = dt.datetime(year, month, day, hour, tzinfo=ZoneInfo(zone))
    return int(moment.timestamp() * 1000)


def entry(**fields: Any) -> dict[str, Any]:
    return {"id": "evening", "title": "Evening meeting", "start": "2026-03-01T19:00", **fields}


def test_a_weekly_meeting_keeps_its_local_time_over_a_clock_change() -> None:
    (meeting,) = meetings_from_json("alcohol", [entry(timezone="America/New_York")])
    starts = [o.start_ms for o in upcoming((meeting,), ms(2026, 3, 1), 15 * 24 * HOUR_MS)]
    assert starts == [
        ms(2026, 3, 1, 19, zone="America/New_York"),
        ms(2026, 3, 8, 19, zone="America/New_York"),  # after the US change: still 7 pm
        ms(2026, 3, 15, 19, zone="America/New_York"),
    ]
    assert starts[1] - starts[0] == 7 * 24 * HOUR_MS - HOUR_MS


def test_the_defaults_and_a_format_given_as_titles() -> None:
    (meeting,) = meetings_from_json("alcohol", [entry()])
    assert [s.title for s in meeting.steps] == [title for title, _ in DEFAULT_FORMAT]
    assert (meeting.repeat, meeting.length_s, meeting.turn_s, meeting.chair) == (
        "weekly",
        3600,
        0,
        "",
    )
    (short,) = meetings_from_json("alcohol", [entry(format=["Open", {"title": "Close"}])])
    assert [s.title for s in short.steps] == ["Open", "Close"]


def test_a_turn_limit_in_minutes_or_seconds_and_where_the_floor_goes_after() -> None:
    (minutes,) = meetings_from_json("alcohol", [entry(turn_min=5)])
    assert (minutes.turn_s, minutes.after_turn) == (300, "chair")
    (round_,) = meetings_from_json("alcohol", [entry(turn_s=90, after_turn="next")])
    assert (round_.turn_s, round_.after_turn) == (90, "next")


def test_a_room_is_in_its_meeting_from_a_little_before_the_start_to_the_end() -> None:
    (meeting,) = meetings_from_json("alcohol", [entry(repeat="daily", length_min=60)])
    early = 10 * 60_000
    start = ms(2026, 3, 4, 19)
    assert current((meeting,), start - early - 1, early) is None
    assert current((meeting,), start - early, early).start_ms == start  # type: ignore[union-attr]
    assert current((meeting,), start + HOUR_MS - 1, early).start_ms == start  # type: ignore[union-attr]
    assert current((meeting,), start + HOUR_MS, early) is None


def test_a_one_off_meeting_happens_once() -> None:
    (meeting,) = meetings_from_json("alcohol", [entry(repeat="once")])
    assert len(upcoming((meeting,), ms(2026, 1, 1), 365 * 24 * HOUR_MS)) == 1
    assert upcoming((meeting,), ms(2026, 3, 2), 365 * 24 * HOUR_MS) == []


@pytest.mark.parametrize(
    "bad",
    [
        entry(id="Evening!"),
        entry(title=""),
        entry(start="tomorrow"),
        entry(start="2026-03-01T19:00+01:00"),
        entry(timezone="Mars/Olympus"),
        entry(repeat="monthly"),
        entry(length_min=0),
        entry(length_min=True),
        entry(turn_min=-1),
        entry(turn_s=4),
        entry(turn_s=90, turn_min=2),
        entry(after_turn="anyone"),
        entry(format=[]),
        entry(format=[{"text": "no title"}]),
        entry(format=["x"] * 13),
        entry(chair=3),
        entry(greeting="x" * 601),
    ],
)
def test_a_malformed_meeting_is_refused_with_its_field(bad: dict[str, Any]) -> None:
    with pytest.raises(MeetingError):
        meetings_from_json("alcohol", [bad])


def test_meeting_ids_are_unique() -> None:
    with pytest.raises(MeetingError):
        meetings_from_json("alcohol", [entry(), entry()])
