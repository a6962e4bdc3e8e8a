"""The room catalog: which topic rooms exist, read once from a JSON data file.

Rooms are data, not code, so an operator can run a community with its own rooms by pointing
`HARBOR_ROOMS` at a file of the same shape as the shipped `rooms.json`. An entry's optional
`moderation` object sets that room's moderation policy (see moderation.policy.policy_from_json),
and its optional `meetings` list the meetings it hosts (rooms/meetings.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from moderation.policy import DEFAULT_POLICY, RoomPolicy, policy_from_json

from .meetings import Meeting, MeetingError, meetings_from_json

DEFAULT_ROOMS_FILE = Path(__file__).with_name("rooms.json")
# Every room id, listed or a private check-in: what the wire protocol accepts and the rooms file
# may use. Starts with a letter or digit, so no room can be taken for a feed ("@...").
ROOM_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")


class CatalogError(ValueError):
    """The rooms file is unreadable or malformed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    title: str
    description: str
    guidelines: str
    # What moderation does with this room's messages (the entry's optional `moderation` object).
    policy: RoomPolicy = DEFAULT_POLICY
    # Scheduled meetings this room hosts (the entry's optional `meetings` list).
    meetings: tuple[Meeting, ...] = ()


class Catalog:
    """An immutable, ordered set of rooms with lookup by id."""

    def __init__(self, rooms: list[Room]) -> None:
        if not rooms:
            raise CatalogError("the room catalog is empty")
        self._rooms = {room.id: room for room in rooms}
        if len(self._rooms) != len(rooms):
            raise CatalogError("room ids must be unique")
        meeting_ids = [meeting.id for room in rooms for meeting in room.meetings]
        if len(set(meeting_ids)) != len(meeting_ids):
            raise CatalogError("meeting ids must be unique across rooms")

    def __iter__(self) -> Iterator[Room]:
        return iter(self._rooms.values())

    def __len__(self) -> int:
        return len(self._rooms)

    def __contains__(self, room_id: object) -> bool:
        return room_id in self._rooms

    def get(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    def meetings(self) -> tuple[Meeting, ...]:
        """Every room's meetings, in room order (ids are unique across the catalog)."""
        return tuple(meeting for room in self for meeting in room.meetings)

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        path = path or DEFAULT_ROOMS_FILE
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CatalogError(f"cannot read rooms file {path}: {exc}") from exc
        if not isinstance(entries, list):
            raise CatalogError(f"{path}: expected a JSON list of rooms")
        return cls([_room(entry, index) for index, entry in enumerate(entries)])


def _room(entry: object, index: int) -> Room:
    if not isinstance(entry, dict):
        raise CatalogError(f"room #{index}: expected an object")
    fields = {}
    for name in ("id", "title", "description", "guidelines"):
        value = entry.get(name, None if name in ("id", "title") else "")
        if not isinstance(value, str) or (name == "title" and not value.strip()):
            raise CatalogError(f"room #{index}: {name!r} must be a non-empty string")
        fields[name] = value
    if not ROOM_ID.fullmatch(fields["id"]):
        raise CatalogError(
            f"room #{index}: id {fields['id']!r} must be 1-48 lowercase letters, digits or dashes"
        )
    policy = DEFAULT_POLICY
    if "moderation" in entry:
        try:
            policy = policy_from_json(entry["moderation"])
        except ValueError as exc:
            raise CatalogError(f"room #{index} ({fields['id']}): 'moderation' {exc}") from exc
    meetings: tuple[Meeting, ...] = ()
    if "meetings" in entry:
        try:
            meetings = meetings_from_json(fields["id"], entry["meetings"])
        except MeetingError as exc:
            raise CatalogError(f"room #{index} ({fields['id']}): {exc}") from exc
    return Room(**fields, policy=policy, meetings=meetings)
