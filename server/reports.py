"""A member reports a message: it becomes a flag, once per message however many report it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from moderation import moderate
from moderation.flags import FlagDraft

from .gate import GateUnavailable, announce_flag
from .identity import Identity
from .protocol import Report

if TYPE_CHECKING:
    from .lifespan import Services


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
        flag, created = await services.store.raise_flag(draft)
    except Exception as exc:
        raise GateUnavailable from exc
    if created:
        services.metrics.flag_raised(draft.categories or ("reported",), draft.severity)
    await announce_flag(services, "raised" if created else "reported", flag)
