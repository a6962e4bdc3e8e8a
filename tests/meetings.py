"""A rooms file with a meeting happening now, for tests that need one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from rooms.catalog import DEFAULT_ROOMS_FILE

MEETING_ROOM = "alcohol"
MEETING_ID = "alcohol-evening"


def rooms_with_a_meeting(directory: Path, *, started_min_ago: int = 5, **meeting: Any) -> Path:
    """The shipped rooms, the alcohol room hosting a daily meeting that started
    `started_min_ago` minutes ago (UTC), with `meeting` overriding its fields (None: drop it)."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=started_min_ago)
    rooms = json.loads(DEFAULT_ROOMS_FILE.read_text(encoding="utf-8"))
    for room in rooms:
        if room["id"] == MEETING_ROOM:
            entry = {
                "id": MEETING_ID,
                "title": "Evening meeting",
                "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "timezone": "UTC",
                "repeat": "daily",
                "length_min": 90,
                "turn_min": 5,
                **meeting,
            }
            room["meetings"] = [{k: v for k, v in entry.items() if v is not None}]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "rooms.json"
    path.write_text(json.dumps(rooms), encoding="utf-8")
    return path
