"""Every meeting a worker knows: the rooms file's, and those a coordinator added while it runs.

The rooms file is the base schedule, fixed at start. A coordinator adds and removes meetings on
the dashboard (server/meeting_admin_api.py); they live in the meeting store, so every worker
sees them, and each worker's copy here is refreshed from the store on each meeting sweep (and at
once on the worker that made the change). Lookups stay synchronous and cheap: a room's meetings
are needed on every join and every send in a meeting.

An added meeting is kept in the rooms file's own shape, with its room, and read with the same
parser (rooms/meetings.py), so it can do everything a listed one can. One that no longer parses
(a newer shape, a room since dropped from the rooms file) is skipped, and logged without its
contents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from rooms.catalog import Catalog
from rooms.meetings import Meeting, MeetingError, meetings_from_json

logger = logging.getLogger("harbor.meeting_book")


def added_entry(room: str, entry: Mapping[str, Any]) -> bytes:
    """The stored form of an added meeting: its rooms-file entry, with its room."""
    return json.dumps({**entry, "room": room}, separators=(",", ":")).encode()


def read_added(catalog: Catalog, stored: bytes) -> Meeting:
    """The meeting an added entry describes; MeetingError when it can't be one here."""
    try:
        entry = json.loads(stored)
    except ValueError:
        raise MeetingError("not JSON") from None
    if not isinstance(entry, dict):
        raise MeetingError("expected an object")
    room = entry.pop("room", None)
    if not isinstance(room, str) or room not in catalog:
        raise MeetingError("'room' must be one of the rooms")
    (meeting,) = meetings_from_json(room, [entry])
    return meeting


class MeetingBook:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._listed = catalog.meetings()
        self._added: dict[str, tuple[bytes, Meeting]] = {}
        self._all = self._listed
        self._by_room = self._index()

    def all(self) -> tuple[Meeting, ...]:
        """The rooms file's meetings, then the added ones (in the order they were added)."""
        return self._all

    def for_room(self, room: str) -> tuple[Meeting, ...]:
        return self._by_room.get(room, ())

    def rooms(self) -> tuple[str, ...]:
        """The rooms that host any meeting."""
        return tuple(self._by_room)

    def is_added(self, meeting_id: str) -> bool:
        return meeting_id in self._added

    def is_known(self, meeting_id: str) -> bool:
        return any(meeting.id == meeting_id for meeting in self._all)

    def refresh(self, stored: Mapping[str, bytes]) -> None:
        """Take the store's added meetings (id -> entry); only changed entries are parsed."""
        listed = {meeting.id for meeting in self._listed}
        added: dict[str, tuple[bytes, Meeting]] = {}
        for meeting_id, entry in stored.items():
            held = self._added.get(meeting_id)
            if held is not None and held[0] == entry:
                added[meeting_id] = held
                continue
            try:
                meeting = read_added(self._catalog, entry)
            except MeetingError as exc:
                logger.warning("an added meeting can't be read here (%s); skipped", exc)
                continue
            if meeting.id != meeting_id or meeting.id in listed:
                logger.warning("an added meeting's id is not its own; skipped")
                continue
            added[meeting_id] = (entry, meeting)
        if added.keys() == self._added.keys() and all(
            added[k][0] == self._added[k][0] for k in added
        ):
            return
        self._added = added
        self._all = self._listed + tuple(meeting for _, meeting in added.values())
        self._by_room = self._index()

    def _index(self) -> dict[str, tuple[Meeting, ...]]:
        by_room: dict[str, list[Meeting]] = {}
        for meeting in self._all:
            by_room.setdefault(meeting.room, []).append(meeting)
        return {room: tuple(found) for room, found in by_room.items()}
