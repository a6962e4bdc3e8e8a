"""One place that turns flags, audit entries and sanctions into stored text and back.

Both stores use it, so a flag written by the SQLite store and one written by the Redis store have
the same shape, and a field added to `FlagDraft` or `Flag` is added here once.

Storage layout (`flag_to_fields` / `flag_from_fields`): a flat mapping of strings and integers, one
entry per state field, plus `draft` holding the immutable draft as compact JSON. The state fields
are flat because Redis Lua scripts change them with HSET and SQLite queries and indexes them as
columns; the draft is one opaque JSON string because nothing ever changes or queries inside it
(and round-tripping it through Lua's cjson would lose empty arrays and number precision).
`None` is stored as "" (Redis hashes cannot hold null) and booleans as 0/1; `released_id`, an
integer column, stores None as 0 (message ids start at 1). A state field missing from stored
fields (a flag written before the field existed) reads as its empty value.

`flag_to_dict` / `flag_from_dict` are the nested, JSON-ready form (draft as an object), for export
and for anything that wants one document per flag. Readers are strict: a malformed document
raises `CodecError` (a ValueError) rather than producing a half-filled flag.

Pure: no I/O, no event loop (importing it pulls in nothing beyond the standard library).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from casework.flags import (
    SEVERITY_ORDER,
    AuditEntry,
    CaseNote,
    Flag,
    FlagDraft,
    FlagState,
    Outcome,
    Sanction,
)

# The state fields of a Flag, in storage order; `draft` and `id` complete a stored flag.
STATE_FIELDS = (
    "state",
    "owner",
    "lease_until_ms",
    "due_ms",
    "outcome",
    "note",
    "escalated",
    "released",
    "updated_ms",
    "resolved_ms",
    "reports",
    "hidden",
    "released_id",
    "reopened_ms",
    "claimed_ms",
    "first_words_ms",
    "backup_due_ms",
    "backup_ms",
    "checkin_room",
    "followed_up_ms",
)
_TIME_TO_HUMAN = ("claimed_ms", "first_words_ms", "backup_due_ms", "backup_ms")
_INT_FIELDS = (
    "lease_until_ms",
    "due_ms",
    "updated_ms",
    "resolved_ms",
    "reports",
    "reopened_ms",
    *_TIME_TO_HUMAN,
)
_BOOL_FIELDS = ("escalated", "released", "hidden")
# Fields added after the first layout: a document without them reads as their default.
_LATER_FIELDS: dict[str, object] = {
    "hidden": False,
    "released_id": None,
    "reopened_ms": 0,
    **dict.fromkeys(_TIME_TO_HUMAN, 0),
    "checkin_room": "",
    "followed_up_ms": 0,
}


class CodecError(ValueError):
    """Stored text that does not describe a flag, audit entry or sanction."""


def _dumps(value: object) -> str:
    # Compact and UTF-8 as-is: message text in many scripts stays readable and small.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"not JSON: {exc}") from exc


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise CodecError(f"{name} must be a string")
    return value


def _int(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"{name} must be an integer")
    return value


def _dicts(data: Mapping[str, Any], name: str) -> tuple[dict[str, Any], ...]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CodecError(f"{name} must be a list of objects")
    return tuple(value)


# Drafts


def draft_to_dict(draft: FlagDraft) -> dict[str, Any]:
    """The draft as a JSON-ready dict (tuples become lists)."""
    return draft.to_dict()


def draft_from_dict(data: Mapping[str, Any]) -> FlagDraft:
    """The inverse of `draft_to_dict`; raises CodecError on a missing or mistyped field."""
    message_id = data.get("message_id")
    if message_id is not None and (isinstance(message_id, bool) or not isinstance(message_id, int)):
        raise CodecError("message_id must be an integer or null")
    categories = data.get("categories")
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise CodecError("categories must be a list of strings")
    held = data.get("held")
    if not isinstance(held, bool):
        raise CodecError("held must be a boolean")
    return FlagDraft(
        key=_str(data, "key"),
        room=_str(data, "room"),
        message_id=message_id,
        uid=_str(data, "uid"),
        name=_str(data, "name"),
        text=_str(data, "text"),
        categories=tuple(categories),
        severity=_str(data, "severity"),
        spans=_dicts(data, "spans"),
        lexicon_version=_str(data, "lexicon_version"),
        context=_dicts(data, "context"),
        source=_str(data, "source"),
        held=held,
        created_ms=_int(data, "created_ms"),
        reason=_str(data, "reason") if "reason" in data else "",
        removed=_removed(data),
        appeal=_appeal(data),
    )


def _removed(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Optional: drafts stored before redaction was recorded have none."""
    removed = data.get("removed", [])
    if not isinstance(removed, list) or not all(isinstance(kind, str) for kind in removed):
        raise CodecError("removed must be a list of strings")
    return tuple(removed)


def _appeal(data: Mapping[str, Any]) -> dict[str, Any]:
    """Optional: only appeals carry one, and drafts stored before appeals existed have none."""
    appeal = data.get("appeal", {})
    if not isinstance(appeal, dict):
        raise CodecError("appeal must be an object")
    return appeal


def draft_to_json(draft: FlagDraft) -> str:
    return _dumps(draft_to_dict(draft))


def draft_from_json(text: str | bytes) -> FlagDraft:
    data = _loads(text)
    if not isinstance(data, dict):
        raise CodecError("a draft must be a JSON object")
    return draft_from_dict(data)


# Flags: nested document


def flag_to_dict(flag: Flag) -> dict[str, Any]:
    """The flag as one JSON-ready document: id, state fields, and the draft nested as `draft`."""
    return {
        "id": flag.id,
        "state": str(flag.state),
        "owner": flag.owner,
        "lease_until_ms": flag.lease_until_ms,
        "due_ms": flag.due_ms,
        "outcome": None if flag.outcome is None else str(flag.outcome),
        "note": flag.note,
        "escalated": flag.escalated,
        "released": flag.released,
        "updated_ms": flag.updated_ms,
        "resolved_ms": flag.resolved_ms,
        "reports": flag.reports,
        "hidden": flag.hidden,
        "released_id": flag.released_id,
        "reopened_ms": flag.reopened_ms,
        **{name: getattr(flag, name) for name in _TIME_TO_HUMAN},
        "checkin_room": flag.checkin_room,
        "followed_up_ms": flag.followed_up_ms,
        "draft": draft_to_dict(flag.draft),
    }


def flag_from_dict(data: Mapping[str, Any]) -> Flag:
    """The inverse of `flag_to_dict`; raises CodecError on anything malformed. Fields added
    after the first layout (`hidden`, `released_id`, `reopened_ms`, the time-to-a-human
    fields, `checkin_room`, `followed_up_ms`) may be absent."""
    data = {**_LATER_FIELDS, **data}
    draft = data.get("draft")
    if not isinstance(draft, dict):
        raise CodecError("draft must be an object")
    owner = data.get("owner")
    if owner is not None and not isinstance(owner, str):
        raise CodecError("owner must be a string or null")
    outcome = data.get("outcome")
    if outcome is not None and not isinstance(outcome, str):
        raise CodecError("outcome must be a string or null")
    for name in _BOOL_FIELDS:
        if not isinstance(data.get(name), bool):
            raise CodecError(f"{name} must be a boolean")
    released_id = data.get("released_id")
    if released_id is not None and (
        isinstance(released_id, bool) or not isinstance(released_id, int)
    ):
        raise CodecError("released_id must be an integer or null")
    return Flag(
        id=_str(data, "id"),
        draft=draft_from_dict(draft),
        state=_state(_str(data, "state")),
        owner=owner,
        lease_until_ms=_int(data, "lease_until_ms"),
        due_ms=_int(data, "due_ms"),
        outcome=None if outcome is None else _outcome(outcome),
        note=_str(data, "note"),
        escalated=bool(data["escalated"]),
        released=bool(data["released"]),
        updated_ms=_int(data, "updated_ms"),
        resolved_ms=_int(data, "resolved_ms"),
        reports=_int(data, "reports"),
        hidden=bool(data["hidden"]),
        released_id=released_id,
        reopened_ms=_int(data, "reopened_ms"),
        **{name: _int(data, name) for name in _TIME_TO_HUMAN},
        checkin_room=_str(data, "checkin_room"),
        followed_up_ms=_int(data, "followed_up_ms"),
    )


def _state(value: str) -> FlagState:
    try:
        return FlagState(value)
    except ValueError as exc:
        raise CodecError(f"unknown flag state {value!r}") from exc


def _outcome(value: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError as exc:
        raise CodecError(f"unknown outcome {value!r}") from exc


# Flags: flat storage fields


def flag_to_fields(flag: Flag) -> dict[str, str | int]:
    """The flag as flat storage fields: `id`, `draft` (JSON) and every state field.

    Integers stay integers (SQLite compares and indexes them; Redis stores their decimal text).
    """
    return {
        "id": flag.id,
        "draft": draft_to_json(flag.draft),
        "state": str(flag.state),
        "owner": flag.owner or "",
        "lease_until_ms": flag.lease_until_ms,
        "due_ms": flag.due_ms,
        "outcome": "" if flag.outcome is None else str(flag.outcome),
        "note": flag.note,
        "escalated": int(flag.escalated),
        "released": int(flag.released),
        "updated_ms": flag.updated_ms,
        "resolved_ms": flag.resolved_ms,
        "reports": flag.reports,
        "hidden": int(flag.hidden),
        "released_id": flag.released_id or 0,
        "reopened_ms": flag.reopened_ms,
        **{name: int(getattr(flag, name)) for name in _TIME_TO_HUMAN},
        "checkin_room": flag.checkin_room,
        "followed_up_ms": flag.followed_up_ms,
    }


def flag_from_fields(fields: Mapping[str, str | int | bytes | None]) -> Flag:
    """A flag from storage fields, as a SQLite row or a Redis hash gives them back.

    Accepts integers or their decimal text (bytes or str), so both stores share this reader.
    Fields other than `id`, `draft` and `STATE_FIELDS` (a store's own indexes) are ignored.
    """

    def text(name: str) -> str:
        value = fields.get(name)
        if value is None:
            return ""
        if isinstance(value, bytes):
            return value.decode()
        return str(value)

    def number(name: str) -> int:
        try:
            return int(text(name) or "0")
        except ValueError as exc:
            raise CodecError(f"{name} must be an integer") from exc

    flag_id = text("id")
    if not flag_id:
        raise CodecError("a stored flag has no id")
    outcome = text("outcome")
    owner = text("owner")
    draft = fields.get("draft")
    if draft is None or isinstance(draft, int):
        raise CodecError("a stored flag has no draft")
    return Flag(
        id=flag_id,
        draft=draft_from_json(draft),
        state=_state(text("state")),
        owner=owner or None,
        lease_until_ms=number("lease_until_ms"),
        due_ms=number("due_ms"),
        outcome=_outcome(outcome) if outcome else None,
        note=text("note"),
        escalated=bool(number("escalated")),
        released=bool(number("released")),
        updated_ms=number("updated_ms"),
        resolved_ms=number("resolved_ms"),
        reports=number("reports"),
        hidden=bool(number("hidden")),
        released_id=number("released_id") or None,
        reopened_ms=number("reopened_ms"),
        **{name: number(name) for name in _TIME_TO_HUMAN},
        checkin_room=text("checkin_room"),
        followed_up_ms=number("followed_up_ms"),
    )


# Audit entries and sanctions


def audit_to_dict(entry: AuditEntry) -> dict[str, Any]:
    return entry.to_json()


def audit_from_dict(data: Mapping[str, Any]) -> AuditEntry:
    detail = data.get("detail", {})
    if not isinstance(detail, dict):
        raise CodecError("detail must be an object")
    return AuditEntry(
        at_ms=_int(data, "at_ms"),
        moderator=_str(data, "moderator"),
        action=_str(data, "action"),
        target=_str(data, "target"),
        reason=_str(data, "reason") if "reason" in data else "",
        detail=detail,
    )


def audit_to_json(entry: AuditEntry) -> str:
    return _dumps(audit_to_dict(entry))


def audit_from_json(text: str | bytes) -> AuditEntry:
    data = _loads(text)
    if not isinstance(data, dict):
        raise CodecError("an audit entry must be a JSON object")
    return audit_from_dict(data)


def note_to_json(note: CaseNote) -> str:
    """A note as stored (its subject is where it is stored: the SQLite column, the Redis key)."""
    return _dumps({"at_ms": note.at_ms, "moderator": note.moderator, "text": note.text})


def note_from_json(subject: str, text: str | bytes) -> CaseNote:
    data = _loads(text)
    if not isinstance(data, dict):
        raise CodecError("a note must be a JSON object")
    return CaseNote(_int(data, "at_ms"), _str(data, "moderator"), subject, _str(data, "text"))


def sanction_to_dict(sanction: Sanction) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uid": sanction.uid,
        "kind": sanction.kind,
        "until_ms": sanction.until_ms,
        "by": sanction.by,
        "reason": sanction.reason,
    }
    # Only a network hold names the ban it was placed for: every other sanction is stored as
    # it was before holds were told apart (the Redis store matches members by their text).
    if sanction.held_for:
        data["held_for"] = sanction.held_for
    return data


def sanction_from_dict(data: Mapping[str, Any]) -> Sanction:
    return Sanction(
        uid=_str(data, "uid"),
        kind=_str(data, "kind"),
        until_ms=_int(data, "until_ms"),
        by=_str(data, "by"),
        reason=_str(data, "reason") if "reason" in data else "",
        held_for=_str(data, "held_for") if data.get("held_for") else "",
    )


def sanction_to_json(sanction: Sanction) -> str:
    return _dumps(sanction_to_dict(sanction))


def sanction_from_json(text: str | bytes) -> Sanction:
    data = _loads(text)
    if not isinstance(data, dict):
        raise CodecError("a sanction must be a JSON object")
    return sanction_from_dict(data)


# Rules both stores apply the same way


def without_message(draft: FlagDraft, message_id: int) -> FlagDraft:
    """`draft` without message `message_id` among its earlier messages; the same object when
    it was not there (so a caller can tell nothing changed)."""
    kept = tuple(entry for entry in draft.context if entry.get("id") != message_id)
    return draft if len(kept) == len(draft.context) else replace(draft, context=kept)


def severity_rank(severity: str) -> int:
    """0 for the most urgent severity; raises ValueError for a name outside SEVERITY_ORDER, so a
    flag that could not be sorted (Flag.urgency) is refused when raised, not when listed."""
    if severity not in SEVERITY_ORDER:
        raise ValueError(f"unknown severity {severity!r}; expected one of {SEVERITY_ORDER}")
    return SEVERITY_ORDER.index(severity)
