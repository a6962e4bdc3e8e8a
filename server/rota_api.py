"""The rota on the dashboard: every volunteer's weekly shifts, who the rota has on now, the gaps
in the next 24 hours and 7 days, and (for coordinators) the gaps close enough to warn about.

A volunteer sets their own shifts; a coordinator may set anyone's (`casework.roles`). Shifts are
kept on each volunteer's own clock (casework/rota.py); every time here is UTC milliseconds, and
the page shows them in the reader's zone, nights marked.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casework.flags import AuditEntry
from casework.roles import Role
from casework.rota import (
    DAY_MS,
    HOUR_MS,
    MAX_SHIFTS_PER_MODERATOR,
    WEEK_MS,
    gaps,
    next_expected_ms,
    on_now,
    shift_from_json,
)

from .context import WorkerContext
from .moderator_api import read_json, requires


def _spans(found: list[tuple[int, int]]) -> list[dict[str, int]]:
    return [{"from_ms": start, "to_ms": end} for start, end in found]


@requires(Role.VOLUNTEER)
async def rota(request: Request, context: WorkerContext, name: str) -> Response:
    now = context.clock()
    shifts = await context.store.shifts()
    role = await context.store.role_of(name)
    warn_ms = int(context.settings.rota_warning_hours * HOUR_MS)
    warning = gaps(shifts, now, now + warn_ms) if role and role.allows(Role.COORDINATOR) else []
    horizon_ms = int(context.settings.next_volunteer_hours * HOUR_MS)
    return JSONResponse(
        {
            "shifts": [shift.to_json() for shift in shifts],
            "on_now": on_now(shifts, now),
            "gaps_day": _spans(gaps(shifts, now, now + DAY_MS)),
            "gaps_week": _spans(gaps(shifts, now, now + WEEK_MS)),
            "warning": _spans(warning),
            "next_ms": next_expected_ms(shifts, now, horizon_ms),
        }
    )


@requires(Role.VOLUNTEER)
async def set_shifts(request: Request, context: WorkerContext, name: str) -> Response:
    """Replace one volunteer's shifts: one's own, or anyone's for a coordinator."""
    whose = request.path_params["name"]
    body = await read_json(request)
    if whose != name:
        role = await context.store.role_of(name)
        if role is None or not role.allows(Role.COORDINATOR):
            message = "only a coordinator can change someone else's shifts"
            return JSONResponse({"error": "role_required", "message": message}, status_code=403)
        if await context.store.role_of(whose) is None:
            return JSONResponse({"error": "not_found", "message": "no such account"}, 404)
    given = body.get("shifts")
    if not isinstance(given, list) or len(given) > MAX_SHIFTS_PER_MODERATOR:
        raise ValueError(f"shifts must be a list of at most {MAX_SHIFTS_PER_MODERATOR}")
    shifts = [shift_from_json(whose, item) for item in given]
    await context.store.set_shifts(whose, shifts)
    target = f"account:{whose}"
    detail = {"shifts": len(shifts)}
    await context.store.audit(AuditEntry(context.clock(), name, "rota", target, "", detail))
    return JSONResponse({"shifts": [shift.to_json() for shift in shifts]})


ROUTES = [
    Route("/mod/api/rota", rota, methods=["GET"]),
    Route("/mod/api/rota/{name}", set_shifts, methods=["POST"]),
]
