"""Moderator routes for the case around the person: one case with its notes and whether its
writer is here, notes on a case, shift hand-over notes, follow-ups, and the search of resolved
cases.

Every route needs a moderator session (the same `authenticated` guard as the queue's routes in
server/moderator_api.py). Notes are the volunteers' own words: the audit log records that a note
was written and by whom, never what it says.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casework.case_search import SEARCH_RESULTS_LIMIT, SEARCH_SCAN_LIMIT, query_from_params
from casework.flags import HANDOVER, AuditEntry, CaseNote, Flag, FlagError

from . import feeds
from .context import WorkerContext
from .moderator_api import authenticated, read_json, text_field
from .writer_presence import (
    back_channel,
    follow_up_window_ms,
    online_channel,
    wants_follow_up,
    watched,
)

# Hand-over notes shown: the newest, from the last week (older ones stay until retention).
HANDOVER_SHOWN = 20
HANDOVER_WINDOW_MS = 7 * 24 * 3600 * 1000
# Cases whose writers the dashboard asks about: the live ones and the most recently resolved.
WRITERS_WATCHED = 500
NOTES_SHOWN = 100


async def _flag(context: WorkerContext, request: Request) -> Flag:
    flag = await context.store.get_flag(request.path_params["flag_id"])
    if flag is None:
        raise FlagError("not_found", "no such case")
    return flag


def _notes_json(notes: list[CaseNote]) -> list[dict[str, Any]]:
    return [note.to_json() for note in notes]


async def _online(context: WorkerContext, flag: Flag) -> bool:
    totals = await context.presence.totals([online_channel(flag.id)])
    return totals.get(online_channel(flag.id), 0) > 0


@authenticated
async def one_case(request: Request, context: WorkerContext, name: str) -> Response:
    """A case in any state (a reload, or a resolved one found by search), with its notes."""
    flag = await _flag(context, request)
    notes = await context.store.notes(flag.id, NOTES_SHOWN)
    return JSONResponse(
        {
            "flag": flag.to_json(),
            "notes": _notes_json(notes),
            "online": await _online(context, flag),
        }
    )


@authenticated
async def add_case_note(request: Request, context: WorkerContext, name: str) -> Response:
    text = _required_text(await read_json(request))
    flag = await _flag(context, request)
    now = context.clock()
    await context.store.add_note(CaseNote(now, name, flag.id, text))
    await context.store.audit(AuditEntry(now, name, "note", flag.id))
    await feeds.announce_flag(context.broker, "note", flag)
    notes = await context.store.notes(flag.id, NOTES_SHOWN)
    return JSONResponse({"notes": _notes_json(notes)})


@authenticated
async def followed_up(request: Request, context: WorkerContext, name: str) -> Response:
    """A volunteer took up (or set aside) the prompt about a writer who came back."""
    flag = await _flag(context, request)
    updated = await context.store.mark_followed_up(flag.id, context.clock())
    await context.store.audit(AuditEntry(context.clock(), name, "follow_up", flag.id))
    await feeds.announce_flag(context.broker, "followed_up", updated)
    return JSONResponse({"flag": updated.to_json()})


async def _handover_json(context: WorkerContext) -> JSONResponse:
    since = context.clock() - HANDOVER_WINDOW_MS
    notes = [n for n in await context.store.notes(HANDOVER, HANDOVER_SHOWN) if n.at_ms >= since]
    return JSONResponse({"notes": _notes_json(notes)})


@authenticated
async def handover_notes(request: Request, context: WorkerContext, name: str) -> Response:
    """The hand-over notes of the last week, newest first: what the last shift left."""
    return await _handover_json(context)


@authenticated
async def add_handover_note(request: Request, context: WorkerContext, name: str) -> Response:
    text = _required_text(await read_json(request))
    now = context.clock()
    await context.store.add_note(CaseNote(now, name, HANDOVER, text))
    await context.store.audit(AuditEntry(now, name, "handover", "moderator"))
    return await _handover_json(context)


@authenticated
async def writers(request: Request, context: WorkerContext, name: str) -> Response:
    """Which cases' writers are here now (`online`: flag ids), and the resolved crisis cases
    whose writer came back within the follow-up window and nobody followed up yet."""
    now = context.clock()
    window_ms = follow_up_window_ms(context.settings.follow_up_hours)
    cases = watched(
        await context.store.list_flags(include_resolved=True, limit=WRITERS_WATCHED),
        now,
        window_ms,
    )
    channels = [online_channel(f.id) for f in cases]
    returning = [f for f in cases if wants_follow_up(f, now, window_ms)]
    channels += [back_channel(f.id) for f in returning]
    totals = await context.presence.totals(channels)
    online = [f.id for f in cases if totals.get(online_channel(f.id), 0) > 0]
    back = [f.to_json() for f in returning if totals.get(back_channel(f.id), 0) > 0]
    return JSONResponse({"online": online, "followups": back})


@authenticated
async def search_cases(request: Request, context: WorkerContext, name: str) -> Response:
    query = query_from_params(request.query_params)
    found = await context.store.search_resolved(query, SEARCH_RESULTS_LIMIT)
    return JSONResponse(
        {
            "cases": [flag.to_json() for flag in found],
            "limit": SEARCH_RESULTS_LIMIT,
            "scan_limit": SEARCH_SCAN_LIMIT,
        }
    )


def _required_text(body: dict[str, Any]) -> str:
    text = text_field(body, "text").strip()
    if not text:
        raise ValueError("write the note first")
    return text


ROUTES = [
    Route("/mod/api/cases", search_cases, methods=["GET"]),
    Route("/mod/api/cases/{flag_id}", one_case, methods=["GET"]),
    Route("/mod/api/cases/{flag_id}/notes", add_case_note, methods=["POST"]),
    Route("/mod/api/cases/{flag_id}/followed-up", followed_up, methods=["POST"]),
    Route("/mod/api/handover", handover_notes, methods=["GET"]),
    Route("/mod/api/handover", add_handover_note, methods=["POST"]),
    Route("/mod/api/writers", writers, methods=["GET"]),
]
