"""Every chat message and every report passes the gate: verdict -> what the room sees -> who is
told what. The gate is the one place the server calls the moderation core, always with the
room's own policy, and it returns what the connection must do (frames to send, a cooldown),
never the verdict itself.

Order matters for safety. The writer's support frame goes out first, before anything that can
fail. Then the message (or its placeholder) is published, then the flag is stored durably, and
only then is the ack returned. If the flag can't be stored, the writer gets a retryable error
instead of an ack: the client resends with the same client_id, the publish is de-duplicated,
and the flag is raised on the retry. So a crisis flag is never silently lost, and a message is
never acked that the room did not get.

A report becomes a flag once per message however many report it; a report of a message whose
flag was already resolved reopens it (the store does it, in `raise_or_fold`, and it is audited):
a new report always reaches a moderator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from casework.flags import AuditEntry, Flag, FlagDraft, Raised
from moderation import Action, Category, RoomPolicy, Verdict, moderate
from moderation.context import raised, rising
from moderation.policy import DEFAULT_POLICY
from rooms.broker import BrokerUnavailable
from rooms.envelope import Draft

from . import feeds
from .context import WorkerContext
from .identity import Identity
from .protocol import Delete, Report, error_event
from .registry import Registry
from .risk_memory import RiskMemory
from .sensitivity import verdict_kind
from .support import support_frame
from .time_to_human import volunteer_spoke

logger = logging.getLogger("harbor.gate")

CONTEXT_MESSAGES = 4
# Who the audit log names for what a member's report did (no moderator acted, and never the
# reporter: reports are anonymous to moderators).
REPORT_ACTOR = "(member report)"
# What the writer is told about their own message, by (notice, a volunteer is on duty). Never
# that a volunteer has it when none is online.
_NOTICE_TEXT = {
    ("held_for_review", True): "Your message is waiting for a volunteer moderator to look at it.",
    ("held_for_review", False): (
        "Your message is waiting for a volunteer moderator. None is online right now, so it may "
        "be a while."
    ),
    ("held_with_support", True): (
        "Only you see your words here; the room sees a short note. A volunteer moderator has "
        "been alerted."
    ),
    ("held_with_support", False): (
        "Only you see your words here; the room sees a short note. No volunteer moderator is "
        "online right now: the next one on duty will read them."
    ),
    ("pii_redacted", True): (
        "We removed personal details (like a phone number or address) to keep everyone anonymous."
    ),
}

Tell = Callable[[dict[str, Any]], object]
Context = dict[str, Any]  # one earlier message on a flag: id, from, text, ts (and removed)


class GateUnavailable(Exception):
    """Storage is unreachable; nothing was acked. Retryable with the same client_id."""


class Refused(Exception):
    """A report or a delete that cannot be done; `code` is the error frame's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the writer's connection does next: send `frames` in order, and wait `cooldown_s`
    before its next send (spam is held and rate-limited)."""

    frames: tuple[dict[str, Any], ...]
    cooldown_s: float = 0.0


class MessageGate:
    def __init__(self, context: WorkerContext, registry: Registry) -> None:
        self._context = context
        self._registry = registry
        settings = context.settings
        self._risks = RiskMemory(window_s=settings.context_window_s, people=settings.context_people)

    def _policy(self, room: str) -> RoomPolicy:
        listed = self._context.catalog.get(room)  # check-in rooms are not listed: the defaults
        return listed.policy if listed is not None else DEFAULT_POLICY

    def _moderate(self, room: str, text: str) -> Verdict:
        """A member's message read as it arrives; the time it took is the metric operators
        watch, so the re-readings a flag makes for redaction go through ``_reread``."""
        started = time.perf_counter()
        verdict = self._reread(room, text)
        self._context.metrics.moderation_time.observe(time.perf_counter() - started)
        return verdict

    def _reread(self, room: str, text: str) -> Verdict:
        return moderate(text, self._context.lexicon, self._policy(room))

    def _in_context(self, writer: Identity, room: str, verdict: Verdict) -> Verdict:
        """``verdict`` raised to a crisis when this person's recent messages and this one
        together reach the learned stage's flag threshold (moderation/context.py)."""
        model = self._context.lexicon.model
        if model is None or verdict.risk is None:
            return verdict
        now_s = self._context.clock() / 1000
        recent = self._risks.recent(writer.uid, now_s)
        category = rising(
            verdict,
            recent,
            now_s=now_s,
            window_s=self._context.settings.context_window_s,
            flag=model.thresholds.flag,
        )
        self._risks.remember(writer.uid, verdict, now_s)
        return verdict if category is None else raised(verdict, category, self._policy(room))

    def is_crisis(self, room: str, text: str) -> bool:
        """Whether a send the rate limit refused is a crisis, which must go through anyway."""
        return self._moderate(room, text).is_crisis

    async def submit(
        self,
        writer: Identity,
        room: str,
        text: str,
        client_id: str,
        *,
        tell: Tell,
        muted: bool = False,
        region: str | None = None,
        badge: str = "",
        thread: str = "",
    ) -> Outcome:
        """Moderate and route one member's message. `tell` reaches the writer at once: the
        support frame is sent through it before anything that could fail. Raises
        BrokerUnavailable or GateUnavailable when nothing was acked (the client retries)."""
        context = self._context
        verdict = self._in_context(writer, room, self._moderate(room, text))
        if verdict.support:
            frame = support_frame(
                room, context.resources, on_duty=self._registry.on_duty, region=region
            )
            tell({**frame, **self._registry.duty_fields()})
        cooldown = context.settings.spam_cooldown_s if Category.SPAM in verdict.categories else 0
        if muted:
            if verdict.flag:
                await self._flag(writer, room, text, client_id, verdict, None)
            refusal = error_event(
                "muted", "a moderator paused your messages for a while", client_id=client_id
            )
            return Outcome((refusal,), cooldown)
        published_id = await self._publish(writer, room, client_id, verdict, badge, thread)
        if verdict.flag or verdict.action in (Action.HOLD, Action.HOLD_WITH_SUPPORT):
            await self._flag(writer, room, text, client_id, verdict, published_id)
        ack = _ack(client_id, published_id, verdict, on_duty=self._registry.on_duty)
        return Outcome((ack,), cooldown)

    async def submit_volunteer(
        self,
        volunteer: Identity,
        moderator: str,
        room: str,
        text: str,
        client_id: str,
        thread: str = "",
    ) -> Outcome:
        """A volunteer's words skip the classifier: they ask about risk on purpose. Words that
        reach a flag's writer are that flag's time to first words (server/time_to_human.py)."""
        draft = Draft(
            uid=volunteer.uid,
            name=volunteer.name,
            text=text,
            ts=self._context.clock(),
            client_id=client_id,
            note="volunteer",
            thread=thread,
        )
        receipt = await self._context.broker.publish(room, draft)
        await volunteer_spoke(self._context, moderator, room)
        return Outcome(({"type": "ack", "client_id": client_id, "id": receipt.id},))

    async def _publish(
        self,
        writer: Identity,
        room: str,
        client_id: str,
        verdict: Verdict,
        badge: str = "",
        thread: str = "",
    ) -> int | None:
        if verdict.action is Action.HOLD:
            return None
        note = ""
        text = verdict.delivered_text
        sensitive = verdict_kind(verdict)
        if verdict.action is Action.HOLD_WITH_SUPPORT or text is None:
            text, note = verdict.placeholder or "A message is waiting for a moderator.", "held"
            sensitive = ""  # the room sees the gentle note, not the words
        draft = Draft(
            uid=writer.uid,
            name=writer.name,
            text=text,
            ts=self._context.clock(),
            client_id=client_id,
            note=note,
            sensitive=sensitive,
            badge=badge,
            thread=thread,  # a held placeholder stays in the thread its words answered
        )
        receipt = await self._context.broker.publish(room, draft)
        return receipt.id

    async def _flag(
        self,
        writer: Identity,
        room: str,
        text: str,
        client_id: str,
        verdict: Verdict,
        message_id: int | None,
    ) -> Flag:
        context = self._context
        draft = flag_draft(
            verdict,
            key=f"msg:{room}:{writer.uid}:{client_id}",
            room=room,
            message_id=message_id,
            uid=writer.uid,
            name=writer.name,
            # The words as the room sees them (or would, once released): personal details the
            # room never saw are not kept in the queue either, only what kind they were.
            text=verdict.redacted_text or text,
            created_ms=context.clock(),
            source="classifier",
            context=await self._context_messages(room, message_id),
            removed=verdict.removed,
        )
        if verdict.redacted_text is not None:  # highlight the words where they are now
            shown = self._reread(room, verdict.redacted_text)
            draft = replace(draft, spans=tuple(span.to_json() for span in shown.spans))
        try:
            flag, created = await context.store.raise_flag(draft)
        except Exception as exc:  # any storage failure: refuse the ack, the client retries
            logger.error("could not store a flag (%s); asking the client to retry", type(exc))
            raise GateUnavailable from exc
        if created:
            context.metrics.flag_raised(draft.categories, draft.severity)
            await feeds.announce_flag(context.broker, "raised", flag)
        return flag

    async def _context_messages(
        self, room: str, message_id: int | None
    ) -> tuple[dict[str, Any], ...]:
        try:
            history = await self._context.broker.history(
                room, since=None, client_epoch=None, limit=CONTEXT_MESSAGES + 1
            )
        except BrokerUnavailable:
            return ()
        earlier = [m for m in history.messages if m.id != message_id][-CONTEXT_MESSAGES:]
        return tuple(self._as_context(room, m.id, m.name, m.text, m.ts) for m in earlier)

    def _as_context(self, room: str, message_id: int, name: str, text: str, ts: int) -> Context:
        """One earlier message for a flag, redacted as a message of its own would be: history
        holds what the room saw, but a volunteer's words and a released message were never
        redacted, and a flag outlives the room's history by weeks."""
        verdict = self._reread(room, text)
        shared = verdict.redacted_text or text
        entry: Context = {"id": message_id, "from": name, "text": shared, "ts": ts}
        if verdict.removed:
            entry["removed"] = list(verdict.removed)
        return entry

    async def report(self, report: Report) -> None:
        """Raise (or add to) the flag for message `report.id`. The reported text is re-read
        from history, so a report can't put words in someone's mouth; a crisis found in it keeps
        its severity, anything else is a `concern` for a moderator to look at."""
        context = self._context
        history = await context.broker.history(
            report.room, since=max(report.id - 1, 0), client_epoch=None, limit=1
        )
        message = next((m for m in history.messages if m.id == report.id), None)
        if message is None:
            raise Refused("unknown_message", "that message is no longer in the room")
        draft = flag_draft(
            self._reread(report.room, message.text),
            key=f"report:{report.room}:{report.id}",
            room=report.room,
            message_id=report.id,
            uid=message.uid,
            name=message.name,
            text=message.text,
            created_ms=context.clock(),
            source="report",
            reason=report.reason,
        )
        try:
            flag, raised = await context.store.raise_or_fold(draft)
        except Exception as exc:
            raise GateUnavailable from exc
        if raised is Raised.CREATED:
            context.metrics.flag_raised(draft.categories or ("reported",), draft.severity)
        if raised is Raised.REOPENED:
            await self._audit_reopening(flag, draft.created_ms)
        event = {Raised.CREATED: "raised", Raised.REOPENED: "reopened"}.get(raised, "reported")
        await feeds.announce_flag(context.broker, event, flag)

    async def delete(self, writer: Identity, delete: Delete) -> None:
        """Take back one of the writer's own messages: hidden for everyone now, and out of the
        earlier messages any flag keeps. A flag raised about the message itself keeps it: a
        crisis is never lost from the queue because its writer took the words back."""
        context = self._context
        history = await context.broker.history(
            delete.room, since=max(delete.id - 1, 0), client_epoch=None, limit=1
        )
        message = next((m for m in history.messages if m.id == delete.id), None)
        if message is None:
            raise Refused("unknown_message", "that message is no longer in the room")
        if message.uid != writer.uid:
            raise Refused("not_yours", "you can only delete your own messages")
        await context.broker.hide(delete.room, delete.id)
        try:
            await context.store.forget_message(delete.room, delete.id)
        except Exception as exc:
            raise GateUnavailable from exc

    async def _audit_reopening(self, flag: Flag, now_ms: int) -> None:
        entry = AuditEntry(
            now_ms,
            REPORT_ACTOR,
            "reopen",
            flag.id,
            "reported again after it was resolved",
            {"reports": flag.reports + 1},
        )
        try:
            await self._context.store.audit(entry)
        except Exception as exc:  # the flag is reopened: the report did reach the moderators
            logger.warning("could not audit reopening flag %s (%s)", flag.id, type(exc).__name__)


def flag_draft(
    verdict: Verdict,
    *,
    key: str,
    room: str,
    message_id: int | None,
    uid: str,
    name: str,
    text: str,
    created_ms: int,
    source: str,
    context: tuple[dict[str, Any], ...] = (),
    reason: str = "",
    removed: tuple[str, ...] = (),
) -> FlagDraft:
    """The flag for a message the classifier raised (`source="classifier"`: its categories, or
    the watch-list ones, at the verdict's severity or `watch`) or a member reported (`"report"`:
    a crisis keeps its severity, anything else is a `concern`)."""
    if source == "report":
        categories = verdict.categories
        severity = str(verdict.severity) if verdict.is_crisis and verdict.severity else "concern"
    else:
        categories = verdict.categories or verdict.watch
        severity = str(verdict.severity or "watch")
    return FlagDraft(
        key=key,
        room=room,
        message_id=message_id,
        uid=uid,
        name=name,
        text=text,
        categories=tuple(str(c) for c in categories),
        severity=severity,
        spans=tuple(span.to_json() for span in verdict.spans),
        lexicon_version=verdict.lexicon_version,
        context=context,
        source=source,
        held=source != "report" and verdict.action in (Action.HOLD, Action.HOLD_WITH_SUPPORT),
        created_ms=created_ms,
        reason=reason,
        removed=removed,
    )


def _ack(
    client_id: str, message_id: int | None, verdict: Verdict, *, on_duty: bool
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "ack", "client_id": client_id, "id": message_id}
    if verdict.action in (Action.HOLD, Action.HOLD_WITH_SUPPORT):
        frame["held"] = True
    if verdict.notice is not None:
        notice = str(verdict.notice)
        frame["notice"] = notice
        frame["notice_text"] = _NOTICE_TEXT.get((notice, on_duty)) or _NOTICE_TEXT.get(
            (notice, True), ""
        )
    return frame
