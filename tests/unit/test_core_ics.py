"""The meetings calendar file: one event per occurrence in UTC, text escaped, long lines folded
at 75 octets without splitting a character."""

from __future__ import annotations

from rooms.meetings import meetings_from_json, upcoming
from server.ics import calendar

DAY_MS = 86_400_000


def test_each_occurrence_is_an_event_in_utc_linking_to_its_room() -> None:
    (meeting,) = meetings_from_json(
        "alcohol",
        [
            {
                "id": "evening",
                "title": "Evening; meeting, with \\ marks",
                "start": "2026-01-05T19:00",
                "timezone": "Europe/London",
                "repeat": "weekly",
                "format": ["Opening words — welcome", "Sharing"] + ["Closing, gently"] * 3,
            }
        ],
    )
    occurrences = upcoming((meeting,), 1_767_225_600_000, 14 * DAY_MS)  # from 1 Jan 2026
    text = calendar(
        occurrences,
        room_titles={"alcohol": "Alcohol"},
        base_url="https://harbor.example",
        now_ms=1_767_225_600_000,
    )
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert text.count("BEGIN:VEVENT") == 2
    assert "DTSTART:20260105T190000Z\r\n" in text and "DTEND:20260105T200000Z\r\n" in text
    assert "SUMMARY:Evening\\; meeting\\, with \\\\ marks (Alcohol)\r\n" in text
    assert "URL:https://harbor.example/r/alcohol\r\n" in text
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75
    unfolded = text.replace("\r\n ", "")
    assert "Format: Opening words — welcome\\, Sharing\\, Closing\\, gently" in unfolded
