"""The meeting schedule over HTTP: `/api/meetings` (JSON for the schedule page) and the same as
a calendar file, `/api/meetings.ics` and `/api/meetings/<id>.ics`. The page shows times in the
viewer's own zone; the server sends milliseconds since the epoch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from rooms.meetings import MEETING_ID, Occurrence, upcoming

from .context import WorkerContext
from .ics import calendar

_DAY_MS = 86_400_000


def _coming(request: Request) -> tuple[WorkerContext, list[Occurrence]]:
    context: WorkerContext = request.state.context
    horizon = context.settings.meeting_schedule_days * _DAY_MS
    return context, upcoming(context.meeting_book.all(), context.clock(), horizon)


async def list_meetings(request: Request) -> Response:
    context, occurrences = _coming(request)
    rooms = {room.id: room.title for room in context.catalog}
    return JSONResponse(
        {
            "meetings": [
                {
                    "id": o.meeting.id,
                    "title": o.meeting.title,
                    "room": o.meeting.room,
                    "room_title": rooms.get(o.meeting.room, o.meeting.room),
                    "start_ms": o.start_ms,
                    "end_ms": o.end_ms,
                    "repeat": o.meeting.repeat,
                    "zone": o.meeting.zone,
                    "format": [step.title for step in o.meeting.steps],
                }
                for o in occurrences
            ]
        }
    )


async def meetings_calendar(request: Request) -> Response:
    context, occurrences = _coming(request)
    wanted = request.path_params.get("meeting")
    if wanted is not None:
        known = {meeting.id for meeting in context.meeting_book.all()}
        if not MEETING_ID.fullmatch(wanted) or wanted not in known:
            return PlainTextResponse("no such meeting\n", status_code=404)
        occurrences = [o for o in occurrences if o.meeting.id == wanted]
    text = calendar(
        occurrences,
        room_titles={room.id: room.title for room in context.catalog},
        base_url=str(request.base_url).rstrip("/"),
        now_ms=context.clock(),
    )
    name = f"harbor-{wanted}.ics" if wanted else "harbor-meetings.ics"
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [
    Route("/api/meetings", list_meetings),
    Route("/api/meetings.ics", meetings_calendar),
    Route("/api/meetings/{meeting}.ics", meetings_calendar),
]
