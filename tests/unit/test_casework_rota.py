"""The rota's pure core: shifts on each volunteer's own clock, the gaps, who is on, and when the
next volunteer is expected."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casework.rota import (
    HOUR_MS,
    Shift,
    gaps,
    gaps_to_warn_of,
    next_expected_ms,
    on_now,
    shift_from_json,
    shifts_from_json,
    shifts_to_json,
)


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# Monday 2026-03-02 (no daylight-saving change near it).
MONDAY = at("2026-03-02T00:00")


def test_a_shift_is_on_the_volunteers_own_clock() -> None:
    london = Shift("ana", 0, 9 * 60, 120, "Europe/London")  # Mondays 09:00-11:00 London (UTC)
    new_york = Shift("ben", 0, 9 * 60, 120, "America/New_York")  # 09:00 New York: 14:00 UTC
    assert on_now([london, new_york], at("2026-03-02T09:30")) == ["ana"]
    assert on_now([london, new_york], at("2026-03-02T14:30")) == ["ben"]
    assert on_now([london, new_york], at("2026-03-03T09:30")) == [], "Mondays only"


def test_a_shift_keeps_its_wall_clock_across_daylight_saving() -> None:
    shift = Shift("ana", 0, 9 * 60, 60, "Europe/London")
    assert on_now([shift], at("2026-03-02T09:30")) == ["ana"]  # GMT
    assert on_now([shift], at("2026-04-06T08:30")) == ["ana"]  # BST: 09:30 London
    assert on_now([shift], at("2026-04-06T09:30")) == []


def test_gaps_are_what_no_shift_covers_and_overlaps_merge() -> None:
    shifts = [
        Shift("ana", 0, 8 * 60, 4 * 60, "UTC"),  # 08-12
        Shift("ben", 0, 11 * 60, 3 * 60, "UTC"),  # 11-14, overlapping ana
        Shift("cy", 0, 22 * 60, 4 * 60, "UTC"),  # 22-02 Tuesday: past midnight
    ]
    found = gaps(shifts, MONDAY, MONDAY + 24 * HOUR_MS)
    assert found == [
        (MONDAY, MONDAY + 8 * HOUR_MS),
        (MONDAY + 14 * HOUR_MS, MONDAY + 22 * HOUR_MS),
    ]
    tuesday = gaps(shifts, MONDAY + 24 * HOUR_MS, MONDAY + 30 * HOUR_MS)
    assert tuesday == [(MONDAY + 26 * HOUR_MS, MONDAY + 30 * HOUR_MS)], "cy runs to 02:00"
    assert gaps([], MONDAY, MONDAY + HOUR_MS) == [(MONDAY, MONDAY + HOUR_MS)]


def test_the_next_volunteer_is_expected_only_when_the_rota_says_so() -> None:
    shifts = [Shift("ana", 0, 6 * 60, 120, "UTC")]  # Mondays 06:00
    assert next_expected_ms(shifts, MONDAY + HOUR_MS, 12 * HOUR_MS) == MONDAY + 6 * HOUR_MS
    assert next_expected_ms(shifts, MONDAY + 7 * HOUR_MS, 12 * HOUR_MS) is None, "a week away"
    assert next_expected_ms([], MONDAY, 12 * HOUR_MS) is None


def test_shifts_are_validated_and_read_back() -> None:
    shift = shift_from_json(
        "ana", {"weekday": 6, "start_minute": 1380, "minutes": 180, "tz": "Asia/Tokyo"}
    )
    assert shifts_from_json("ana", shifts_to_json([shift])) == [shift]
    bad: object
    for bad in (
        {"weekday": 7, "start_minute": 0, "minutes": 60, "tz": "UTC"},
        {"weekday": 0, "start_minute": 1440, "minutes": 60, "tz": "UTC"},
        {"weekday": 0, "start_minute": 0, "minutes": 5, "tz": "UTC"},
        {"weekday": 0, "start_minute": 0, "minutes": 60, "tz": "Mars/Olympus"},
        {"weekday": True, "start_minute": 0, "minutes": 60, "tz": "UTC"},
        [],
    ):
        with pytest.raises(ValueError):
            shift_from_json("ana", bad)


def test_a_gap_keeps_its_key_as_it_comes_into_view_and_is_warned_of_until_it_ends() -> None:
    """One gap, one key: not in view 30 h before it starts, then the same key 20 h before and
    while it goes on; a rota with no shifts at all is one gap keyed "always"."""
    shift = Shift("ana", 0, 9 * 60, 8 * 60, "UTC")  # Mondays 09-17
    evening = MONDAY + 17 * HOUR_MS
    warn = 24 * HOUR_MS

    def keys(now_ms: int) -> list[str]:
        return [key for key, _, _ in gaps_to_warn_of([shift], now_ms, warn)]

    assert f"from:{evening}" not in keys(evening - 30 * HOUR_MS)
    assert f"from:{evening}" in keys(evening - 20 * HOUR_MS)
    assert gaps_to_warn_of([shift], evening + 5 * HOUR_MS, warn) == [
        (f"from:{evening}", evening + 5 * HOUR_MS, evening + 29 * HOUR_MS)
    ]
    assert gaps_to_warn_of([], evening, warn) == [("always", evening, evening + warn)]
