"""The audit log in words a volunteer reads: what was done, to which case, and the details.

The store keeps each entry as it happened (an action code, a target id, a detail mapping), which
tools and exports need. A person reading the log on the dashboard needs "Claimed", "a high flag
about Calm Heron 12 in Newcomers" and "for 1 hour" -- not "claim", "9d5ad748134f2ef5" and
"minutes: 60" -- and never the id of a private check-in room, which is derived from the person's
identity. Pure: an entry and what it refers to in, words out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from casework.flags import AuditEntry, Flag, Outcome

from .identity import is_checkin_room

ACTION_WORDS = {
    "sign_in": "Signed in",
    "sign_in_refused": "Sign-in refused",
    "sign_out": "Signed out",
    "claim": "Claimed",
    "release": "Handed back to the queue",
    "resolve": "Resolved",
    "escalate": "Escalated",
    "hide": "Hid the message",
    "release_held": "Released the held message",
    "warn": "Sent a warning",
    "mute": "Paused their messages",
    "ban": "Paused their name",
    "checkin": "Invited to a private check-in",
    "reopen": "Reopened by a new report",
    "appeal": "Appealed",
    "decide": "Decided the appeal",
    "note": "Wrote a note on",
    "follow_up": "Followed up on",
    "handover": "Left a hand-over note",
    "role": "Changed the role of",
    "remove_account": "Removed the account of",
    "rota": "Set the shifts of",
    "meeting_add": "Added a meeting in",
    "meeting_remove": "Removed a meeting from",
}

OUTCOME_WORDS = {
    Outcome.SUPPORTED: "supported",
    Outcome.REFERRED: "referred to a crisis line",
    Outcome.FALSE_ALARM: "false alarm",
    Outcome.USER_LEFT: "person left",
    Outcome.ESCALATED: "escalated",
    Outcome.DUPLICATE: "duplicate",
    Outcome.UPHELD: "upheld: the pause stays",
    Outcome.LIFTED: "lifted: the pause ended",
    Outcome.SHORTENED: "shortened",
}

RoomTitle = Callable[[str], str | None]


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def room_words(room: str, title_of: RoomTitle) -> str:
    if is_checkin_room(room):
        return "a private check-in"
    return title_of(room) or room


def minutes_words(minutes: int) -> str:
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour")):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}" + ("s" if count > 1 else "")
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


def subject(entry: AuditEntry, flags: Mapping[str, Flag], title_of: RoomTitle) -> str:
    """Which case (or person, or room) the entry is about, without ids."""
    target = entry.target
    if target == "moderator":
        return ""
    flag = flags.get(target)
    if flag is not None:
        draft = flag.draft
        severity = draft.severity
        where = room_words(draft.room, title_of)
        return f"{article(severity)} {severity} flag about {draft.name} in {where}"
    if target.startswith("account:"):
        return target.removeprefix("account:")
    if target.startswith("uid:"):
        return "a person"
    if target.startswith("room:"):
        return room_words(target.removeprefix("room:"), title_of)
    return "a case no longer kept"


def detail_words(entry: AuditEntry) -> str:
    """The details worth reading (ids and exact times are left out)."""
    detail: Mapping[str, Any] = entry.detail
    parts = []
    outcome = detail.get("outcome")
    if isinstance(outcome, str):
        try:
            parts.append(f"outcome: {OUTCOME_WORDS[Outcome(outcome)]}")
        except ValueError:
            parts.append(f"outcome: {outcome.replace('_', ' ')}")
    minutes = detail.get("minutes")
    if isinstance(minutes, int) and not isinstance(minutes, bool):
        parts.append(f"for {minutes_words(minutes)}")
    count = detail.get("count")
    if isinstance(count, int) and not isinstance(count, bool):
        parts.append(f"{count} attempt" + ("s" if count != 1 else ""))
    role = detail.get("role")
    if isinstance(role, str):
        parts.append(f"now {article(role)} {role}")
    reports = detail.get("reports")
    if isinstance(reports, int) and not isinstance(reports, bool):
        parts.append(f"reported {reports} time" + ("s" if reports != 1 else ""))
    return ", ".join(parts)


def in_words(entry: AuditEntry, flags: Mapping[str, Flag], title_of: RoomTitle) -> dict[str, Any]:
    """The entry as stored, plus `action_text`, `subject` and `detail_text` for people."""
    return {
        **entry.to_json(),
        "action_text": ACTION_WORDS.get(entry.action, entry.action.replace("_", " ").capitalize()),
        "subject": subject(entry, flags, title_of),
        "detail_text": detail_words(entry),
    }
