"""A member reports a message: it becomes a flag, once per message however many report it.

A report of a message whose flag was already resolved reopens that flag (the store does it, in
`raise_or_fold`): a new report always reaches a moderator. The reopening is audited."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from moderation import moderate
from moderation.flags import AuditEntry, FlagDraft, Raised

from .gate import GateUnavailable, announce_flag
from .identity import Identity
from .protocol import Report

if TYPE_CHECKING:
    from .lifespan import Services


logger = logging.getLogger("harbor.reports")

# Who the audit log names for what a member's report did (no moderator acted, and never the
# reporter: reports are anonymous to moderators).
REPORT_ACTOR = "(member report)"


class ReportRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def report_message(services: Services, report: Report, reporter: Identity) -> None:
    """Raise (or add to) the flag for message `report.id`. The reported text is re-read from
    history, so a report can't put words in someone's mouth; a crisis found in it keeps its
    severity, anything else is a `concern` for a moderator to look at."""
    history = await services.broker.history(
        report.room, since=max(report.id - 1, 0), client_epoch=None, limit=1
    )
    message = next((m for m in history.messages if m.id == report.id), None)
    if message is None:
        raise ReportRefused("unknown_message", "that message is no longer in the room")
    verdict = moderate(message.text, services.lexicon)
    draft = FlagDraft(
        key=f"report:{report.room}:{report.id}",
        room=report.room,
        message_id=report.id,
        uid=message.uid,
        name=message.name,
        text=message.text,
        categories=tuple(str(c) for c in verdict.categories),
        severity=str(verdict.severity) if verdict.is_crisis and verdict.severity else "concern",
        spans=tuple(span.to_json() for span in verdict.spans),
        lexicon_version=verdict.lexicon_version,
        context=(),
        source="report",
        held=False,
        created_ms=int(time.time() * 1000),
        reason=report.reason,
    )
    try:
        flag, raised = await services.store.raise_or_fold(draft)
    except Exception as exc:
        raise GateUnavailable from exc
    if raised is Raised.CREATED:
        services.metrics.flag_raised(draft.categories or ("reported",), draft.severity)
    if raised is Raised.REOPENED:
        entry = AuditEntry(
            draft.created_ms,
            REPORT_ACTOR,
            "reopen",
            flag.id,
            "reported again after it was resolved",
            {"reports": flag.reports + 1},
        )
        try:
            await services.store.audit(entry)
        except Exception as exc:  # the flag is reopened: the report did reach the moderators
            logger.warning("could not audit reopening flag %s (%s)", flag.id, type(exc).__name__)
    event = {Raised.CREATED: "raised", Raised.REOPENED: "reopened"}.get(raised, "reported")
    await announce_flag(services, event, flag)
