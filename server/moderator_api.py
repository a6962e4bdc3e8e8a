"""Moderator routes under /mod/api: sign-in, the queue, every action, the audit log.

Nothing here is reachable without a moderator session (tests walk every route unauthenticated).
The session is an opaque token in an HttpOnly, SameSite=Strict cookie (Secure when the browser
spoke HTTPS, to Harbor or to a trusted proxy in front of it), stored only as its hash.
State-changing requests must be JSON from the same origin, scheme included. Sign-in attempts are
limited per source and per source-and-name (server/signin_guard.py), never per name alone, so
nobody can lock a volunteer out; unknown names cost the same scrypt as known ones. Every action
lands in the append-only audit log with who, what, when and why -- never message text.

Every handler validates its whole request before its first effect (a 400 changes nothing), and
every effect is audited. Warn, mute and ban take a confirmation step: the first request answers
409 `confirm_required` with a summary, and only a repeat with `"confirm": true` applies it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casework.appeals import (
    APPEAL_SOURCE,
    DECISIONS,
    AppealSigner,
    AppealTicket,
    appealed,
    decision_frame,
    may_decide,
    may_take,
)
from casework.flags import (
    AuditEntry,
    ClaimConflict,
    Flag,
    FlagError,
    FlagState,
    Outcome,
    Revocation,
    Sanction,
)
from casework.passwords import (
    hash_password,
    new_session_token,
    session_token_hash,
    verify_password,
)
from casework.response_times import summary
from casework.roles import Role
from rooms.broker import BrokerUnavailable
from rooms.envelope import Draft

from . import feeds
from .audit_words import in_words, minutes_words
from .context import WorkerContext
from .origin import origin_allowed
from .protocol import is_well_formed, well_formed
from .registry import Registry
from .sensitivity import sensitive_kind
from .time_to_human import observe_claim
from .transport import MODERATOR_COOKIE

logger = logging.getLogger("harbor.moderators")

SESSION_TTL_S = 12 * 3600
UNKNOWN_NAME = "(unknown name)"
# What a volunteer should weigh before a ban: it holds where the person connects from too
# (server/direct.py), and an address can be shared.
BAN_HOLDS_SOURCE = (
    "A ban also stops new names from the connection this person uses, for as long as it lasts. "
    "People who share it (a household, a shelter, a phone network) can't start a new name "
    "there meanwhile; those already here are not affected."
)

Handler = Callable[[Request, WorkerContext, str], Awaitable[Response]]


def _lease_ms(context: WorkerContext) -> int:
    return int(context.settings.claim_lease_s * 1000)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _context(request: Request) -> WorkerContext:
    context: WorkerContext = request.state.context
    return context


async def read_json(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ValueError("send JSON")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValueError("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def _same_origin(request: Request) -> bool:
    """The page's origin is this server's, scheme included. The scope's scheme is the one the
    browser used, also behind a trusted proxy (server/http_edge.py's ForwardedClient)."""
    context = _context(request)
    return origin_allowed(
        request.headers.get("origin"),
        request.headers.get("host"),
        context.settings.allowed_origins,
        request.url.scheme,
    )


async def moderator_name(request: Request) -> str | None:
    token = request.cookies.get(MODERATOR_COOKIE)
    if not token:
        return None
    context = _context(request)
    return await context.store.session_owner(session_token_hash(token), context.clock())


def requires(role: Role) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Refuse without a live session (401), cross-site writes (403 cross_origin), and a
    moderator whose role is below `role` (403 role_required, saying which role it needs). The
    role is read on every request, so a changed role holds from the next one."""

    def guard(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            if request.method != "GET" and not _same_origin(request):
                return _error(403, "cross_origin", "requests must come from Harbor's own pages")
            name = await moderator_name(request)
            context = _context(request)
            held = None if name is None else await context.store.role_of(name)
            if name is None or held is None:
                return _error(401, "sign_in_required", "sign in as a moderator first")
            if not held.allows(role):
                return _error(403, "role_required", f"only {role.words} can do this")
            try:
                return await handler(request, context, name)
            except ValueError as exc:
                return _error(400, "bad_request", str(exc))
            except FlagError as exc:
                return _error(409, exc.code, str(exc))
            except BrokerUnavailable:
                return _error(503, "unavailable", "rooms are unreachable; try again")

        guarded.__dict__[REQUIRED_ROLE] = role  # what tests read to see every route guarded
        return guarded

    return guard


# The attribute on a guarded route's endpoint naming the role it needs.
REQUIRED_ROLE = "required_role"
# Casework: any moderator.
authenticated = requires(Role.VOLUNTEER)


# Sign-in

# Answers for unknown names take as long as for known ones: scrypt against this stand-in.
_STAND_IN_HASH = hash_password(secrets.token_urlsafe(16))
# scrypt takes ~50 ms of CPU: run in threads, a few at once, so sign-ins never stall the chat.
_PASSWORD_CHECKS = anyio.CapacityLimiter(2)


def _source(request: Request, context: WorkerContext) -> str:
    # The client after trusted proxies (server/proxies.py), as the chat socket's source is.
    address = request.client.host if request.client is not None else None
    return context.source_keys.source(address, time.time())


async def _password_matches(password: str, stored: str | None) -> bool:
    matches = await anyio.to_thread.run_sync(
        verify_password, password, stored or _STAND_IN_HASH, limiter=_PASSWORD_CHECKS
    )
    return matches and stored is not None


async def sign_in(request: Request) -> Response:
    context = _context(request)
    registry: Registry = request.state.registry
    if not _same_origin(request):
        return _error(403, "cross_origin", "sign in from Harbor's own page")
    try:
        body = await read_json(request)
    except ValueError as exc:
        return _error(400, "bad_request", str(exc))
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or len(name) > 64:
        return _error(400, "bad_request", "name and password are required")
    if not is_well_formed(name) or not is_well_formed(password) or len(password) > 1024:
        return _error(400, "bad_request", "name and password must be valid text")
    wait = registry.sign_ins.attempt(_source(request, context), name, time.monotonic())
    if wait > 0:
        context.metrics.sign_ins.labels("throttled").inc()
        response = _error(429, "too_many_attempts", "too many attempts; wait a minute")
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    stored = await context.store.password_hash(name)
    if not await _password_matches(password, stored):
        context.metrics.sign_ins.labels("refused").inc()
        # Guesses at names that are not accounts share one line: a flood of made-up names
        # must not fill the audit log (nor write strangers' text into it).
        audited = name if stored is not None else UNKNOWN_NAME
        refusals = registry.sign_ins.refused(audited, time.monotonic())
        if refusals is not None:
            entry = AuditEntry(
                context.clock(), audited, "sign_in_refused", "moderator", "", {"count": refusals}
            )
            await context.store.audit(entry)
        return _error(401, "wrong_credentials", "that name and password don't match")
    return await _start_session(request, context, name)


async def _start_session(request: Request, context: WorkerContext, name: str) -> Response:
    token = new_session_token()
    expires = context.clock() + SESSION_TTL_S * 1000
    await context.store.create_session(session_token_hash(token), name, expires)
    await context.store.audit(AuditEntry(context.clock(), name, "sign_in", "moderator"))
    context.metrics.sign_ins.labels("ok").inc()
    response = JSONResponse({"name": name, "role": await context.store.role_of(name)})
    response.set_cookie(
        MODERATOR_COOKIE,
        token,
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def sign_in_with_link(request: Request) -> Response:
    """The embedded default's one-time sign-in link, printed at start as /mod/#link=TOKEN: the
    token sits in the URL fragment, which browsers never send, and the page posts it here."""
    context = _context(request)
    if not _same_origin(request):
        return _error(403, "cross_origin", "sign in from Harbor's own page")
    try:
        token = str((await read_json(request)).get("token", ""))
    except ValueError as exc:
        return _error(400, "bad_request", str(exc))
    link = context.sign_in_link
    if not token or link is None or not link.redeem(token):
        return _error(403, "link_used", "this link is used or unknown; restart for a new one")
    if await context.store.password_hash(link.name) is None:
        # Printed only on the operator's own terminal before any account exists: whoever holds
        # it runs this Harbor, so the account may do everything (roles, rota, appeals).
        await context.store.add_moderator(link.name, "link-only")
        await context.store.set_role(link.name, Role.ADMIN)
    response = await _start_session(request, context, link.name)
    return response


@authenticated
async def sign_out(request: Request, context: WorkerContext, name: str) -> Response:
    """Ends the session and hands the cases claimed in it back to the queue at once: someone
    who signed out here is not with the person, so no case should wait out a lease under their
    name. Cases the same moderator claimed in another session (another device) stay theirs."""
    session = session_token_hash(request.cookies.get(MODERATOR_COOKIE, ""))
    await context.store.end_session(session)
    await context.store.audit(AuditEntry(context.clock(), name, "sign_out", "moderator"))
    for flag_id in await context.store.take_session_claims(session):
        flag = await context.store.get_flag(flag_id)
        if flag is None or flag.state is not FlagState.CLAIMED or flag.owner != name:
            continue  # resolved, lapsed or taken meanwhile
        try:
            released = await context.store.release(flag.id, name, context.clock())
        except FlagError:  # resolved or lapsed meanwhile
            continue
        await _after(context, name, "release", released, "signed out")
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(MODERATOR_COOKIE, path="/")
    return response


async def me(request: Request) -> Response:
    """Who is signed in here, and their role (the page shows only what the role may do; every
    route checks again): `{"name": null}` when nobody is (the page asks on every load)."""
    name = await moderator_name(request)
    role = None if name is None else await _context(request).store.role_of(name)
    if role is None:
        return JSONResponse({"name": None, "role": None})
    return JSONResponse({"name": name, "role": role})


# The queue


@authenticated
async def list_flags(request: Request, context: WorkerContext, name: str) -> Response:
    resolved = request.query_params.get("resolved") == "1"
    flags = await context.store.list_flags(include_resolved=resolved)
    return JSONResponse({"flags": [flag.to_json() for flag in flags]})


async def _next_for(context: WorkerContext, name: str) -> Flag | None:
    """The most urgent open case this moderator may take: an appeal is skipped for a volunteer
    and for the moderator who gave the sanction (someone else decides it)."""
    flag = await context.store.next_open()
    role = await context.store.role_of(name)
    if flag is None or may_take(flag, name, role):
        return flag
    for live in await context.store.list_flags():  # most urgent first
        if live.state is FlagState.OPEN and may_take(live, name, role):
            return live
    return None


@authenticated
async def claim_next(request: Request, context: WorkerContext, name: str) -> Response:
    for _ in range(5):  # someone may claim the same one at the same moment: take the next
        flag = await _next_for(context, name)
        if flag is None:
            return JSONResponse({"flag": None})
        try:
            claimed = await context.store.claim(flag.id, name, context.clock(), _lease_ms(context))
        except FlagError:
            continue
        observe_claim(context, flag, claimed)
        await _remember_claim(request, context, claimed)
        await _after(context, name, "claim", claimed, "")
        return JSONResponse({"flag": claimed.to_json()})
    return _error(409, "busy", "every open flag was just taken; try again")


async def _remember_claim(request: Request, context: WorkerContext, flag: Flag) -> None:
    """Which session (device) took the claim: its sign-out releases only its own."""
    session = session_token_hash(request.cookies.get(MODERATOR_COOKIE, ""))
    until = context.clock() + SESSION_TTL_S * 1000
    await context.store.remember_claim(session, flag.id, until)


async def _flag_or_404(context: WorkerContext, request: Request) -> Flag:
    flag = await context.store.get_flag(request.path_params["flag_id"])
    if flag is None:
        raise FlagError("not_found", "no such flag")
    return flag


async def _after(
    context: WorkerContext, name: str, action: str, flag: Flag, reason: str, **detail: Any
) -> None:
    await context.store.audit(AuditEntry(context.clock(), name, action, flag.id, reason, detail))
    await feeds.announce_flag(context.broker, action, flag)


def text_field(body: dict[str, Any], key: str = "note") -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > 1000:
        raise ValueError(f"{key} must be text of at most 1000 characters")
    return well_formed(value)


@authenticated
async def flag_action(request: Request, context: WorkerContext, name: str) -> Response:
    action = request.path_params["action"]
    handler = _FLAG_ACTIONS.get(action)
    if handler is None:
        return _error(404, "unknown_action", "no such action")
    body = await read_json(request)
    flag = await _flag_or_404(context, request)
    if flag.draft.source == APPEAL_SOURCE:
        # An appeal is decided by a coordinator, and never by the moderator it appeals.
        role = await context.store.role_of(name)
        if role is None or not role.allows(Role.COORDINATOR):
            return _error(403, "role_required", "only a coordinator can decide an appeal")
        if not may_decide(flag, name):
            return _error(403, "own_sanction", "another moderator decides an appeal of yours")
    response = await handler(context, name, flag, body)
    if action == "claim" and response.status_code == 200:
        await _remember_claim(request, context, flag)
    return response


async def _claim(context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]) -> Response:
    claimed = await context.store.claim(flag.id, name, context.clock(), _lease_ms(context))
    observe_claim(context, flag, claimed)
    await _after(context, name, "claim", claimed, "")
    await feeds.notify(
        context.broker,
        flag.draft.uid,
        {"type": "attention", "message": "A volunteer moderator is looking at your message now."},
    )
    return JSONResponse({"flag": claimed.to_json()})


async def _release(context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]) -> Response:
    note = text_field(body)
    released = await context.store.release(flag.id, name, context.clock())
    await _after(context, name, "release", released, note)
    return JSONResponse({"flag": released.to_json()})


async def _resolve(context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]) -> Response:
    if flag.draft.source == APPEAL_SOURCE:
        raise FlagError("decide_required", "decide an appeal: uphold, lift or shorten the pause")
    try:
        outcome = Outcome(str(body.get("outcome")))
    except ValueError:
        outcome = Outcome.UPHELD  # not a case outcome: refused below
    if outcome in DECISIONS:
        cases = ", ".join(o for o in Outcome if o not in DECISIONS)
        raise ValueError(f"outcome must be one of {cases}")
    note = text_field(body)
    resolved = await context.store.resolve(flag.id, name, outcome, note, context.clock())
    await _after(context, name, "resolve", resolved, note, outcome=str(outcome))
    return JSONResponse({"flag": resolved.to_json()})


async def _escalate(
    context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]
) -> Response:
    note = text_field(body)
    escalated = await context.store.escalate(flag.id, name, note, context.clock())
    await _after(context, name, "escalate", escalated, note)
    return JSONResponse({"flag": escalated.to_json()})


async def _hide(context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]) -> Response:
    """Hide the flag's message (the released copy, once a held message was released) and
    record it on the flag, so every dashboard shows it hidden; who and when go to the audit."""
    reason = text_field(body, "reason")  # every check before the first effect
    message_id = flag.room_message_id
    if message_id is None:
        raise FlagError("nothing_to_hide", "this message never reached the room")
    if flag.hidden:
        raise FlagError("already_hidden", "this message is already hidden")
    await context.broker.hide(flag.draft.room, message_id)
    updated = await context.store.mark_hidden(flag.id, context.clock())
    await _after(context, name, "hide", updated, reason, room=flag.draft.room, id=message_id)
    return JSONResponse({"flag": updated.to_json(), "hidden": message_id})


async def _release_held(
    context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]
) -> Response:
    """Publish the original words of a held message; the placeholder (if any) is removed."""
    reason = text_field(body, "reason")  # every check before the first effect
    draft = flag.draft
    if not draft.held or flag.released:
        raise FlagError("not_held", "this message is not waiting to be released")
    receipt = await context.broker.publish(
        draft.room,
        Draft(
            uid=draft.uid,
            name=draft.name,
            text=draft.text,
            ts=context.clock(),
            client_id=f"release:{flag.id}",
            note="released",
            sensitive=sensitive_kind(draft.categories),
        ),
    )
    if draft.message_id is not None:
        await context.broker.hide(draft.room, draft.message_id)
    updated = await context.store.mark_released(flag.id, receipt.id, context.clock())
    await _after(context, name, "release_held", updated, reason, id=receipt.id)
    return JSONResponse({"flag": updated.to_json(), "id": receipt.id})


async def _warn(context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]) -> Response:
    text = text_field(body, "text").strip()
    if not text:
        raise ValueError("text is required")
    if body.get("confirm") is not True:
        summary = f"send {flag.draft.name} this warning"
        asked = {"error": "confirm_required", "summary": summary, "confirm": "send confirm: true"}
        return JSONResponse(asked, status_code=409)
    await feeds.notify(context.broker, flag.draft.uid, {"type": "warning", "text": text})
    await _after(context, name, "warn", flag, text)
    return JSONResponse({"warned": True})


def _sanction_action(kind: str) -> Callable[..., Awaitable[Response]]:
    """Mute or ban, always for a stated time (at most HARBOR_SANCTION_MAX_DAYS: every ban
    expires) and for a stated reason, both of which the person is told, with a ticket to appeal
    once (casework/appeals.py)."""

    async def apply(
        context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]
    ) -> Response:
        minutes = body.get("minutes")
        longest = context.settings.sanction_max_days * 24 * 60
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise ValueError("minutes must be a whole number")
        if not 1 <= minutes <= longest:
            raise ValueError(f"minutes must be between 1 and {longest}")
        reason = text_field(body, "reason").strip()
        if not reason:
            raise ValueError("say why: the person is told the reason")
        summary = f"{kind} {flag.draft.name} for {minutes_words(minutes)}"
        if body.get("confirm") is not True:
            asked = {"error": "confirm_required", "summary": summary}
            asked["confirm"] = "send confirm: true"
            if kind == "ban":
                asked["note"] = BAN_HOLDS_SOURCE
            return JSONResponse(asked, status_code=409)
        until = context.clock() + minutes * 60_000
        await context.store.sanction(Sanction(flag.draft.uid, kind, until, name, reason))
        notice = sanction_notice(context, flag, kind, reason, minutes, until)
        if kind == "ban":
            # Every token the identity holds stops opening it, for good: after the ban the
            # person (or whoever next holds their device) starts afresh, not in the old name
            # and check-in. No token can be issued to a banned identity, so revoking up to the
            # ban's end also catches a welcome that raced the ban. Kept until all have expired.
            idle_ms = int(context.settings.token_idle_s * 1000)
            await context.store.revoke_tokens(Revocation(flag.draft.uid, until, until + idle_ms))
            await feeds.notify(context.broker, flag.draft.uid, notice, ban_until_ms=until)
        else:
            await feeds.notify(context.broker, flag.draft.uid, notice, muted_until_ms=until)
        await _after(context, name, kind, flag, reason, minutes=minutes, until_ms=until)
        return JSONResponse({"applied": summary, "until_ms": until})

    return apply


def sanction_notice(
    context: WorkerContext, flag: Flag, kind: str, reason: str, minutes: int, until: int
) -> dict[str, Any]:
    """What the person reads: what, why, for how long, and how to appeal (never who)."""
    length = minutes_words(minutes)
    what = "paused your messages" if kind == "mute" else "paused your name"
    ticket = AppealSigner(context.settings.secret.value).sign(AppealTicket(flag.id, kind, until))
    return {
        "type": "sanction",
        "kind": kind,
        "reason": reason,
        "minutes": minutes,
        "until_ms": until,
        "message": f"A moderator {what} for {length}. The reason: {reason}",
        "appeal": ticket,
    }


async def _decide(context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]) -> Response:
    """An appeal's decision (flag_action has checked the decider is a coordinator who did not
    give the sanction): upheld, lifted (the pause ends now, on every worker, and a ban gives the
    person their name back) or shortened to `minutes` from now. The case is resolved with the
    decision, the person is told it (a frame now if online; the page asks with its ticket on
    the next load), never who decided."""
    if flag.draft.source != APPEAL_SOURCE:
        raise FlagError("not_an_appeal", "only an appeal is decided; resolve this case instead")
    try:
        decision = Outcome(str(body.get("decision")))
    except ValueError:
        decision = Outcome.SUPPORTED  # refused just below
    if decision not in DECISIONS:
        raise ValueError("decision must be upheld, lifted or shortened")
    note = text_field(body)
    if flag.state is FlagState.RESOLVED:
        raise FlagError("already_resolved", "this appeal is already decided")
    if flag.state is FlagState.CLAIMED and flag.owner != name:
        raise ClaimConflict(flag.owner, flag.state)
    appeal, uid, now = flag.draft.appeal, flag.draft.uid, context.clock()
    kind, until = str(appeal.get("kind")), int(appeal.get("until_ms", 0))
    ticket = AppealTicket(str(appeal.get("case")), kind, until)
    sanction = appealed(ticket, await context.store.active_sanctions(uid, now))
    detail: dict[str, Any] = {"outcome": str(decision)}
    new_until: int | None = None if sanction is None else sanction.until_ms
    if decision is Outcome.SHORTENED:
        minutes = body.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError("minutes must be a whole number, at least 1")
        if sanction is None:
            raise FlagError("ended", "this pause has already ended")
        if now + minutes * 60_000 >= sanction.until_ms:
            raise ValueError("a shortened pause must end sooner than it does now")
        new_until = now + minutes * 60_000
        detail["minutes"] = minutes
    elif decision is Outcome.LIFTED:
        new_until = None
    if sanction is not None and decision is not Outcome.UPHELD:
        await context.store.end_sanction(sanction, new_until or now)
        if kind == "ban":
            # The networks the ban held (the household, the shelter's wifi) are free again, or
            # free sooner, with it; a network another standing ban holds stays held by that one.
            await context.store.end_holds(uid, sanction.until_ms, new_until or now)
        if kind == "ban" and decision is Outcome.LIFTED:
            await context.store.lift_revocation(uid)
    resolved = await context.store.resolve(flag.id, name, decision, note, now)
    frame = decision_frame(decision, kind, new_until)
    muted = None
    if kind == "mute" and decision is not Outcome.UPHELD:
        # Muted still until any other mute of theirs ends, else not at all from now.
        left = await context.store.active_sanctions(uid, now)
        muted = max((s.until_ms for s in left if s.kind == "mute"), default=now)
    await feeds.notify(context.broker, uid, frame, muted_until_ms=muted)
    await _after(context, name, "decide", resolved, note, **detail)
    return JSONResponse({"flag": resolved.to_json()})


async def _checkin(context: WorkerContext, name: str, flag: Flag, body: dict[str, Any]) -> Response:
    """Invite the writer to their private check-in room, and record the room on the case so
    every dashboard shows the check-in beside it, across reloads. A resolved case may be
    checked in on again: a follow-up when the person came back."""
    room = context.identities.checkin_room(flag.draft.uid)
    invite = {
        "type": "checkin",
        "room": room,
        "message": "A volunteer moderator would like to check in with you privately.",
    }
    await feeds.notify(context.broker, flag.draft.uid, invite)
    if flag.checkin_room != room:
        flag = await context.store.mark_checkin(flag.id, room, context.clock())
    await _after(context, name, "checkin", flag, "", room=room)
    return JSONResponse({"room": room, "flag": flag.to_json()})


_FLAG_ACTIONS: dict[str, Callable[..., Awaitable[Response]]] = {
    "claim": _claim,
    "release": _release,
    "resolve": _resolve,
    "escalate": _escalate,
    "hide": _hide,
    "release-held": _release_held,
    "warn": _warn,
    "mute": _sanction_action("mute"),
    "ban": _sanction_action("ban"),
    "checkin": _checkin,
    "decide": _decide,
}


@authenticated
async def audit_log(request: Request, context: WorkerContext, name: str) -> Response:
    """The log, each entry also in words (server/audit_words.py): no raw ids on the page."""
    entries = await context.store.audit_log(limit=200)
    flags = {f.id: f for f in await context.store.list_flags(include_resolved=True, limit=500)}

    def title_of(room: str) -> str | None:
        listed = context.catalog.get(room)
        return listed.title if listed is not None else None

    return JSONResponse({"entries": [in_words(entry, flags, title_of) for entry in entries]})


@authenticated
async def duty(request: Request, context: WorkerContext, name: str) -> Response:
    """Who is on duty (any worker) and who holds which case."""
    names = await context.store.moderator_names()
    totals = await context.presence.totals([feeds.moderator(n) for n in names])
    on_duty = [n for n in names if totals.get(feeds.moderator(n), 0) > 0]
    flags = await context.store.list_flags()
    holding = {f.id: f.owner for f in flags if f.owner}
    return JSONResponse({"on_duty": on_duty, "holding": holding})


@authenticated
async def response_times(request: Request, context: WorkerContext, name: str) -> Response:
    """Time to a human over the last day, by crisis severity (casework/response_times.py)."""
    flags = await context.store.list_flags(include_resolved=True, limit=500)
    targets = context.settings.response_targets
    return JSONResponse(summary(flags, targets, context.clock()))


ROUTES = [
    Route("/mod/api/session", sign_in, methods=["POST"]),
    Route("/mod/api/session", sign_out, methods=["DELETE"]),
    Route("/mod/api/link", sign_in_with_link, methods=["POST"]),
    Route("/mod/api/me", me, methods=["GET"]),
    Route("/mod/api/flags", list_flags, methods=["GET"]),
    Route("/mod/api/flags/next", claim_next, methods=["POST"]),
    Route("/mod/api/flags/{flag_id}/{action}", flag_action, methods=["POST"]),
    Route("/mod/api/audit", audit_log, methods=["GET"]),
    Route("/mod/api/duty", duty, methods=["GET"]),
    Route("/mod/api/response", response_times, methods=["GET"]),
]
