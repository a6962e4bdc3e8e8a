"""The person's one appeal of a sanction: POST /api/appeal {"ticket", "text"}.

No identity is needed (a banned person's name is closed): the signed ticket from their sanction
notice names the sanction (casework/appeals.py). The appeal becomes a low-severity case in the
moderators' queue, decided by a coordinator other than the moderator who gave the sanction
(server/moderator_api.py checks both). One appeal per sanction: a second answers 409
`already_appealed`. An ended sanction (or a case no longer kept) answers 410 `ended`.
POST /api/appeal/status {"ticket"} tells the page where the appeal stands, decision included.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casework.appeals import (
    MAX_APPEAL_CHARS,
    AppealSigner,
    AppealTicket,
    appeal_draft,
    appeal_status,
    appealed,
)
from casework.flags import AuditEntry, Raised

from . import feeds
from .context import WorkerContext
from .moderator_api import read_json
from .origin import origin_allowed
from .protocol import is_well_formed


def _answer(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _same_origin(request: Request, context: WorkerContext) -> bool:
    return origin_allowed(
        request.headers.get("origin"),
        request.headers.get("host"),
        context.settings.allowed_origins,
        request.url.scheme,
    )


async def _ticketed(
    request: Request, doing: str
) -> Response | tuple[WorkerContext, dict[str, Any], AppealTicket]:
    """The checks both routes open with (Harbor's own page, a JSON body, a ticket Harbor
    signed): the refusal, or the worker's context, the body and the ticket."""
    context: WorkerContext = request.state.context
    if not _same_origin(request, context):
        return _answer(403, "cross_origin", f"{doing} from Harbor's own page")
    try:
        body = await read_json(request)
    except ValueError as exc:
        return _answer(400, "bad_request", str(exc))
    ticket = AppealSigner(context.settings.secret.value).read(body.get("ticket"))
    if ticket is None:
        return _answer(400, "bad_ticket", "this appeal link isn't one Harbor gave")
    return context, body, ticket


async def appeal(request: Request) -> Response:
    checked = await _ticketed(request, "appeal")
    if isinstance(checked, Response):
        return checked
    context, body, ticket = checked
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_APPEAL_CHARS:
        return _answer(400, "bad_text", f"say why, in at most {MAX_APPEAL_CHARS} characters")
    if not is_well_formed(text):
        return _answer(400, "bad_text", "the appeal must be valid text")
    now = context.clock()
    flag = await context.store.get_flag(ticket.flag_id)
    sanction = None
    if flag is not None:
        sanction = appealed(ticket, await context.store.active_sanctions(flag.draft.uid, now))
    if flag is None or sanction is None:
        return _answer(410, "ended", "this pause has already ended")
    draft = appeal_draft(ticket, flag, sanction, text.strip(), now)
    case, raised = await context.store.raise_or_fold(draft)
    if raised is not Raised.CREATED:
        return _answer(409, "already_appealed", "you have appealed this already")
    await context.store.audit(AuditEntry(now, "the person", "appeal", case.id))
    await feeds.announce_flag(context.broker, "raised", case)
    return JSONResponse({"appealed": True})


async def status(request: Request) -> Response:
    """Where the appeal of the ticket's sanction stands, for the page that kept the ticket on its
    device (casework/appeals.appeal_status): so a person told nothing live (a ban closed their
    connection) reads the decision on their next visit. POST, so the ticket stays out of logs."""
    checked = await _ticketed(request, "ask")
    if isinstance(checked, Response):
        return checked
    context, _, ticket = checked
    now = context.clock()
    case = await context.store.flag_by_key(ticket.key)
    flag = await context.store.get_flag(ticket.flag_id)
    sanctions = [] if flag is None else await context.store.active_sanctions(flag.draft.uid, now)
    return JSONResponse(appeal_status(ticket, case, sanctions))


ROUTES = [
    Route("/api/appeal", appeal, methods=["POST"]),
    Route("/api/appeal/status", status, methods=["POST"]),
]
