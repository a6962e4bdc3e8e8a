"""Meetings as an iCalendar file (RFC 5545), so a person can put them in their own calendar.

Each coming occurrence is its own event, in UTC: no time-zone tables to ship, and every
calendar shows it in the viewer's own zone. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from rooms.meetings import Occurrence

_FOLD_AT = 75  # octets per line, before the CRLF


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets continue on the next, after one space (never mid-character)."""
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode())
        if size + width > _FOLD_AT:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return out


def calendar(
    occurrences: Iterable[Occurrence], *, room_titles: dict[str, str], base_url: str, now_ms: int
) -> str:
    """The calendar text (CRLF line ends) for `occurrences`, linking each to its room."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Harbor//Meetings//EN",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:Harbor meetings",
    ]
    for occurrence in occurrences:
        meeting = occurrence.meeting
        room = room_titles.get(meeting.room, meeting.room)
        steps = ", ".join(step.title for step in meeting.steps)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{meeting.id}-{_utc(occurrence.start_ms)}@harbor",
            f"DTSTAMP:{_utc(now_ms)}",
            f"DTSTART:{_utc(occurrence.start_ms)}",
            f"DTEND:{_utc(occurrence.end_ms)}",
            f"SUMMARY:{_escape(f'{meeting.title} ({room})')}",
            f"DESCRIPTION:{_escape(f'A Harbor peer-support meeting in {room}. Format: {steps}.')}",
            f"URL:{base_url}/r/{meeting.room}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(f"{part}\r\n" for line in lines for part in _fold(line))
