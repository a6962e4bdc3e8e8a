"""Fair process for sanctions: the person is told the reason and the length, and may appeal once;
the appeal becomes a low-severity case that another moderator decides. Pure: no I/O.

An appeal ticket names one sanction: the flag it was given on, its kind and when it ends. It goes
to the person in their sanction notice, signed (HMAC-SHA256 under the server's secret), and
comes back with their words; nothing else identifies them, so a banned person, whose name is
closed, can still appeal. The ticket carries no identity and no moderator's name. One appeal per
sanction: the appeal's case is raised with a key made from the ticket, and raising is idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from .flags import Flag, FlagDraft, FlagState, Outcome, Sanction
from .roles import Role

# An appeal waits at the lowest severity: nobody is in danger, but someone should answer it.
APPEAL_SEVERITY = "watch"
APPEAL_SOURCE = "appeal"
APPEAL_CATEGORY = "appeal"
MAX_APPEAL_CHARS = 1000
# How a coordinator decides an appeal: the sanction stays, ends now, or ends sooner.
DECISIONS = (Outcome.UPHELD, Outcome.LIFTED, Outcome.SHORTENED)
_MAC_BYTES = 16


@dataclass(frozen=True, slots=True)
class AppealTicket:
    flag_id: str
    kind: str  # "mute" or "ban"
    until_ms: int

    @property
    def key(self) -> str:
        """The appeal's idempotency key: one case per sanction, however often it is sent."""
        return f"appeal:{self.flag_id}:{self.kind}:{self.until_ms}"


class AppealSigner:
    """Signs and reads tickets with one key derived from the server's secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("AppealSigner needs a non-empty secret")
        self._key = hashlib.sha256(b"harbor-appeal:" + secret.encode()).digest()

    def sign(self, ticket: AppealTicket) -> str:
        body = json.dumps([ticket.flag_id, ticket.kind, ticket.until_ms], separators=(",", ":"))
        data = body.encode()
        return _b64(data) + "." + _b64(self._mac(data))

    def read(self, text: object) -> AppealTicket | None:
        """The ticket, or None for anything not signed here (never an exception)."""
        if not isinstance(text, str) or len(text) > 512 or text.count(".") != 1:
            return None
        raw_body, raw_mac = text.split(".")
        data, mac = _unb64(raw_body), _unb64(raw_mac)
        if data is None or mac is None or not hmac.compare_digest(mac, self._mac(data)):
            return None
        try:
            flag_id, kind, until_ms = json.loads(data)
        except ValueError:
            return None
        if not isinstance(flag_id, str) or kind not in ("mute", "ban"):
            return None
        if isinstance(until_ms, bool) or not isinstance(until_ms, int):
            return None
        return AppealTicket(flag_id, kind, until_ms)

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()[:_MAC_BYTES]


def appealed(ticket: AppealTicket, sanctions: list[Sanction]) -> Sanction | None:
    """The live sanction the ticket names, if it has not ended."""
    for sanction in sanctions:
        if sanction.kind == ticket.kind and sanction.until_ms == ticket.until_ms:
            return sanction
    return None


def appeal_draft(
    ticket: AppealTicket, flag: Flag, sanction: Sanction, words: str, now_ms: int
) -> FlagDraft:
    """The low-severity case an appeal becomes: the person's words, and the sanction appealed
    (with who gave it, so that someone else decides)."""
    draft = flag.draft
    appeal: dict[str, Any] = {
        "kind": sanction.kind,
        "until_ms": sanction.until_ms,
        "reason": sanction.reason,
        "by": sanction.by,
        "case": flag.id,
    }
    return FlagDraft(
        key=ticket.key,
        room=draft.room,
        message_id=None,
        uid=draft.uid,
        name=draft.name,
        text=words,
        categories=(APPEAL_CATEGORY,),
        severity=APPEAL_SEVERITY,
        spans=(),
        lexicon_version="",
        context=(),
        source=APPEAL_SOURCE,
        held=False,
        created_ms=now_ms,
        appeal=appeal,
    )


def decision_message(decision: Outcome, kind: str) -> str:
    """What the person reads of the decision: what became of the pause, never who decided."""
    what = "your messages" if kind == "mute" else "your name"
    if decision is Outcome.LIFTED:
        return f"Your appeal was read, and the pause on {what} is lifted: you can write again."
    if decision is Outcome.SHORTENED:
        return f"Your appeal was read, and the pause on {what} was shortened."
    return f"Your appeal was read, and the pause on {what} stays until it ends on its own."


def decision_frame(decision: Outcome, kind: str, until_ms: int | None) -> dict[str, Any]:
    """The `appeal_decided` frame (docs/protocol.md); `until_ms` is when the pause now ends, or
    None when it has ended."""
    return {
        "type": "appeal_decided",
        "decision": str(decision),
        "kind": kind,
        "until_ms": until_ms,
        "message": decision_message(decision, kind),
    }


def appeal_status(
    ticket: AppealTicket, case: Flag | None, sanctions: list[Sanction]
) -> dict[str, Any]:
    """What the person's page shows for its kept ticket (POST /api/appeal/status): `open` (the
    pause is on and may still be appealed), `ended`, `waiting` (appealed, not yet decided), or
    `decided` with the decision as in the `appeal_decided` frame."""
    if case is None:
        live = appealed(ticket, sanctions)
        if live is None:
            return {"state": "ended"}
        return {"state": "open", "until_ms": live.until_ms}
    if case.state is not FlagState.RESOLVED or case.outcome not in DECISIONS:
        return {"state": "waiting", "until_ms": ticket.until_ms}
    # The pause as the decision left it: the same kind, ending no later than the one appealed.
    kind, until = ticket.kind, ticket.until_ms
    ends = [s.until_ms for s in sanctions if s.kind == kind and s.until_ms <= until]
    decided = case.outcome is not Outcome.LIFTED and ends
    frame = decision_frame(case.outcome, ticket.kind, max(ends) if decided else None)
    return {"state": "decided", **{k: v for k, v in frame.items() if k != "type"}}


def may_decide(flag: Flag, moderator: str) -> bool:
    """Whether `moderator` may act on this case: anyone on an ordinary case; on an appeal, anyone
    but the moderator whose sanction it appeals."""
    return flag.draft.source != APPEAL_SOURCE or flag.draft.appeal.get("by") != moderator


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


def may_take(flag: Flag, moderator: str, role: Role | None) -> bool:
    """Whether `moderator` may claim this case: an appeal only a coordinator decides, and never
    the moderator whose sanction it appeals; every other case, any moderator."""
    if flag.draft.source != APPEAL_SOURCE:
        return True
    return role is not None and role.allows(Role.COORDINATOR) and may_decide(flag, moderator)
