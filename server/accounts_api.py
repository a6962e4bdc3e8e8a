"""Moderator accounts on the dashboard, for coordinators and admins: who has an account, with
which role, and who is on duty; change a role, remove an account.

Making an account stays on the command line (`harbor moderators add NAME --role ROLE`): it needs
a password, which only its owner should type. What a coordinator may change is
`casework.roles.may_manage`: volunteers and coordinators, never an admin's account, never up to
admin; nobody changes their own (an admin cannot lock the last admin out by a slip). Each change
is audited, and a removed moderator's open dashboards close within a second (their session
ends with the account).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casework.flags import AuditEntry, FlagError
from casework.roles import Role, may_manage, parse_role

from . import feeds
from .context import WorkerContext
from .moderator_api import read_json, requires


def _account_target(name: str) -> str:
    return f"account:{name}"


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _refusal(
    context: WorkerContext, actor: str, account: str, new_role: Role | None
) -> JSONResponse | None:
    """Why `actor` may not make this change (nothing changed), or None when they may."""
    if account == actor:
        return _refused(409, "own_account", "ask another coordinator or an admin to change yours")
    current = await context.store.role_of(account)
    if current is None:
        return _refused(404, "not_found", "no such account")
    held = await context.store.role_of(actor)
    if held is None or not may_manage(held, current, new_role):
        return _refused(403, "role_required", "only an admin can change an admin or make one")
    return None


@requires(Role.COORDINATOR)
async def list_accounts(request: Request, context: WorkerContext, name: str) -> Response:
    names = await context.store.moderator_names()
    totals = await context.presence.totals([feeds.moderator(n) for n in names])
    accounts = [
        {
            "name": account,
            "role": await context.store.role_of(account),
            "on_duty": totals.get(feeds.moderator(account), 0) > 0,
        }
        for account in names
    ]
    return JSONResponse({"accounts": [a for a in accounts if a["role"] is not None]})


@requires(Role.COORDINATOR)
async def set_role(request: Request, context: WorkerContext, name: str) -> Response:
    role = parse_role((await read_json(request)).get("role"))
    account = request.path_params["name"]
    refusal = await _refusal(context, name, account, role)
    if refusal is not None:
        return refusal
    if not await context.store.set_role(account, role):
        raise FlagError("not_found", "no such account")
    entry = AuditEntry(context.clock(), name, "role", _account_target(account), "", {"role": role})
    await context.store.audit(entry)
    return JSONResponse({"name": account, "role": role})


@requires(Role.COORDINATOR)
async def remove_account(request: Request, context: WorkerContext, name: str) -> Response:
    await read_json(request)  # a write is JSON, like every other
    account = request.path_params["name"]
    refusal = await _refusal(context, name, account, None)
    if refusal is not None:
        return refusal
    if not await context.store.remove_moderator(account):
        raise FlagError("not_found", "no such account")
    await context.store.audit(
        AuditEntry(context.clock(), name, "remove_account", _account_target(account))
    )
    return JSONResponse({"removed": account})


ROUTES = [
    Route("/mod/api/accounts", list_accounts, methods=["GET"]),
    Route("/mod/api/accounts/{name}/role", set_role, methods=["POST"]),
    Route("/mod/api/accounts/{name}/remove", remove_account, methods=["POST"]),
]
