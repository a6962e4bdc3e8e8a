"""Meetings on the dashboard: the ones on now (with a link to chair or join each), and the
meetings a coordinator adds and removes while Harbor runs.

Any moderator sees what is on now and whether it has a chair, so a meeting whose chair left is
one click from a volunteer taking it. Adding and removing takes a coordinator (or an admin;
casework/roles.py). An added meeting is an entry in the rooms file's own shape (rooms/meetings.py
checks it), kept in the meeting store so every worker runs and lists it (server/meeting_book.py);
the rooms file stays the base schedule and its meetings can't be removed here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casework.flags import AuditEntry
from casework.roles import Role
from rooms.envelope import broadcast_body
from rooms.meeting_store import MeetingStore
from rooms.meetings import MEETING_ID, Meeting, Occurrence

from .context import WorkerContext
from .meeting_book import added_entry, read_added
from .meetings import live_state, meeting_frame, occurrence_now
from .moderator_api import read_json, requires

# The rooms-file fields a coordinator may give; anything else is refused, not ignored.
FIELDS = frozenset(
    {"id", "title", "start", "timezone", "repeat", "length_min", "turn_min", "turn_s"}
    | {"after_turn", "chair", "format", "greeting"}
)


def _store(context: WorkerContext) -> MeetingStore:
    if context.meetings is None:
        raise ValueError("meetings are not kept on this worker")
    return context.meetings


def _problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


@requires(Role.VOLUNTEER)
async def meetings(request: Request, context: WorkerContext, name: str) -> Response:
    """What is on now (or opening soon), with its chair, and the meetings added while running."""
    store = _store(context)
    now_ms = context.clock()
    on_now: list[dict[str, Any]] = []
    for room in context.meeting_book.rooms():
        occurrence = occurrence_now(context, room)
        if occurrence is None:
            continue
        state = await live_state(context, store, occurrence)
        listed = context.catalog.get(room)
        on_now.append(
            {
                "id": occurrence.meeting.id,
                "title": occurrence.meeting.title,
                "room": room,
                "room_title": listed.title if listed else room,
                "start_ms": occurrence.start_ms,
                "end_ms": occurrence.end_ms,
                "started": occurrence.start_ms <= now_ms,
                "chair": state.chair.name if state.chair else None,
                "ended": state.ended,
                "link": f"/r/{room}?volunteer",
            }
        )
    added = [
        _described(meeting)
        for meeting in context.meeting_book.all()
        if context.meeting_book.is_added(meeting.id)
    ]
    rooms = [{"id": room.id, "title": room.title} for room in context.catalog]
    return JSONResponse({"on_now": on_now, "added": added, "rooms": rooms})


def _described(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.id,
        "title": meeting.title,
        "room": meeting.room,
        "start": meeting.start.replace(tzinfo=None).isoformat(timespec="minutes"),
        "timezone": meeting.zone,
        "repeat": meeting.repeat,
        "length_min": meeting.length_s // 60,
        "turn_s": meeting.turn_s,
    }


def _new_id(title: str) -> str:
    """An id from the title and a few random letters, so two "Evening meeting"s don't clash."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:38].strip("-")
    return f"{words or 'meeting'}-{secrets.token_hex(3)}"


@requires(Role.COORDINATOR)
async def add_meeting(request: Request, context: WorkerContext, name: str) -> Response:
    body = await read_json(request)
    unknown = set(body) - FIELDS - {"room"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    room = body.pop("room", None)
    if not isinstance(room, str) or room not in context.catalog:
        raise ValueError("'room' must be one of the rooms")
    title = body.get("title")
    if "id" not in body and isinstance(title, str):
        body["id"] = _new_id(title)
    entry = added_entry(room, body)
    meeting = read_added(context.catalog, entry)  # MeetingError (a ValueError): 400
    if context.meeting_book.is_known(meeting.id):
        return _problem(409, "exists", "a meeting with that id is already scheduled")
    store = _store(context)
    before = occurrence_now(context, room)
    said = await store.add(meeting.id, entry, limit=context.settings.meetings_added_max)
    if said == "exists":
        return _problem(409, "exists", "a meeting with that id is already scheduled")
    if said == "full":
        limit = context.settings.meetings_added_max
        return _problem(409, "full", f"at most {limit} meetings can be added; remove one first")
    context.meeting_book.refresh(await store.added())
    await _tell_room(context, store, room, before)
    detail = {"meeting": meeting.id}
    await context.store.audit(
        AuditEntry(context.clock(), name, "meeting_add", f"room:{room}", "", detail)
    )
    return JSONResponse({"meeting": _described(meeting)}, status_code=201)


@requires(Role.COORDINATOR)
async def remove_meeting(request: Request, context: WorkerContext, name: str) -> Response:
    meeting_id = request.path_params["meeting"]
    if not MEETING_ID.fullmatch(meeting_id):
        return _problem(404, "not_found", "no such meeting")
    store = _store(context)
    known = {m.id: m for m in context.meeting_book.all()}
    if meeting_id in known and not context.meeting_book.is_added(meeting_id):
        message = "this meeting is in the rooms file; change it there"
        return _problem(409, "rooms_file", message)
    stored = await store.added()
    room = known[meeting_id].room if meeting_id in known else ""
    before = occurrence_now(context, room) if room else None
    if meeting_id not in stored or not await store.remove(meeting_id):
        return _problem(404, "not_found", "no such meeting")
    context.meeting_book.refresh(await store.added())
    if room:
        await _tell_room(context, store, room, before)
    detail = {"meeting": meeting_id}
    await context.store.audit(
        AuditEntry(context.clock(), name, "meeting_remove", f"room:{room}", "", detail)
    )
    return JSONResponse({"removed": meeting_id})


async def _tell_room(
    context: WorkerContext, store: MeetingStore, room: str, before: Occurrence | None
) -> None:
    """A change of schedule that changes the meeting a room is in tells the room's pages: the
    meeting now under way, or that the one they show has ended (so none keeps waiting on, or
    holding its posts to, a meeting that is gone)."""
    after = occurrence_now(context, room)
    if (before and before.key) == (after and after.key):
        return
    if after is not None:
        frame = meeting_frame(room, after, await live_state(context, store, after))
    elif before is not None:
        state = replace(await live_state(context, store, before), ended=True)
        frame = meeting_frame(room, before, state)
    else:
        return
    await context.broker.announce(room, broadcast_body(frame))


ROUTES = [
    Route("/mod/api/meetings", meetings, methods=["GET"]),
    Route("/mod/api/meetings", add_meeting, methods=["POST"]),
    Route("/mod/api/meetings/{meeting}", remove_meeting, methods=["DELETE"]),
]
