"""Every chat message passes the gate: verdict -> what the room sees -> who is told what.

Order matters for safety. The writer's support frame goes out first, before anything that can
fail. Then the message (or its placeholder) is published, then the flag is stored durably. If the
flag can't be stored, the writer gets a retryable error instead of an ack: the client resends
with the same client_id, the publish is de-duplicated, and the flag is raised on the retry. So a
crisis flag is never silently lost, and a message is never acked that the room did not get.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moderation import Action, Verdict, moderate
from moderation.flags import Flag, FlagDraft
from moderation.policy import DEFAULT_POLICY
from rooms.broker import BrokerUnavailable
from rooms.envelope import Draft, broadcast_body

from .identity import Identity
from .protocol import error_event
from .support import support_frame

if TYPE_CHECKING:
    from .lifespan import Services

logger = logging.getLogger("harbor.gate")

MODERATOR_FEED = "@moderators"
CONTEXT_MESSAGES = 4
_NOTICE_TEXT = {
    "held_for_review": "Your message is waiting for a volunteer moderator to look at it.",
    "held_with_support": (
        "Your message is with a volunteer moderator; the room sees a short note instead."
    ),
    "pii_redacted": (
        "We removed personal details (like a phone number or address) to keep everyone anonymous."
    ),
}


class GateUnavailable(Exception):
    """Storage is unreachable; nothing was acked. Retryable with the same client_id."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the writer should receive, in order."""

    frames: tuple[dict[str, Any], ...]
    verdict: Verdict


class MessageGate:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def submit(
        self,
        writer: Identity,
        room: str,
        text: str,
        client_id: str,
        *,
        tell: Callable[[dict[str, Any]], object],
        muted: bool = False,
        region: str | None = None,
    ) -> Outgoing:
        """Moderate and route one message. `tell` reaches the writer at once: the support frame
        is sent through it before anything that could fail."""
        services = self._services
        started = time.perf_counter()
        listed = services.catalog.get(room)  # check-in rooms are not listed: Harbor's defaults
        policy = listed.policy if listed is not None else DEFAULT_POLICY
        verdict = moderate(text, services.lexicon, policy)
        services.metrics.moderation_time.observe(time.perf_counter() - started)
        frames: list[dict[str, Any]] = []
        if verdict.support:
            on_duty = services.on_duty
            tell(support_frame(room, services.resources, on_duty=on_duty, region=region))
        if muted:
            return await self._muted(writer, room, text, client_id, verdict, frames)
        published_id = await self._publish(writer, room, client_id, verdict)
        if verdict.flag or verdict.action in (Action.HOLD, Action.HOLD_WITH_SUPPORT):
            await self._flag(writer, room, text, client_id, verdict, published_id)
        frames.insert(0, _ack(client_id, published_id, verdict))
        return Outgoing(tuple(frames), verdict)

    async def _muted(
        self,
        writer: Identity,
        room: str,
        text: str,
        client_id: str,
        verdict: Verdict,
        frames: list[dict[str, Any]],
    ) -> Outgoing:
        """A muted writer's message reaches no one but, if it is a crisis, still a moderator."""
        if verdict.flag:
            await self._flag(writer, room, text, client_id, verdict, None)
        refusal = error_event(
            "muted", "a moderator paused your messages for a while", client_id=client_id
        )
        return Outgoing((refusal, *frames), verdict)

    async def _publish(
        self, writer: Identity, room: str, client_id: str, verdict: Verdict
    ) -> int | None:
        if verdict.action is Action.HOLD:
            return None
        note = ""
        text = verdict.delivered_text
        if verdict.action is Action.HOLD_WITH_SUPPORT or text is None:
            text, note = verdict.placeholder or "A message is waiting for a moderator.", "held"
        draft = Draft(
            uid=writer.uid,
            name=writer.name,
            text=text,
            ts=int(time.time() * 1000),
            client_id=client_id,
            note=note,
        )
        receipt = await self._services.broker.publish(room, draft)
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
        services = self._services
        context = await self._context(room, message_id)
        draft = FlagDraft(
            key=f"msg:{room}:{writer.uid}:{client_id}",
            room=room,
            message_id=message_id,
            uid=writer.uid,
            name=writer.name,
            text=text,
            categories=tuple(str(c) for c in (verdict.categories or verdict.watch)),
            severity=str(verdict.severity or "watch"),
            spans=tuple(span.to_json() for span in verdict.spans),
            lexicon_version=verdict.lexicon_version,
            context=context,
            source="classifier",
            held=verdict.action in (Action.HOLD, Action.HOLD_WITH_SUPPORT),
            created_ms=int(time.time() * 1000),
        )
        try:
            flag, created = await services.store.raise_flag(draft)
        except Exception as exc:  # any storage failure: refuse the ack, the client retries
            logger.error("could not store a flag (%s); asking the client to retry", type(exc))
            raise GateUnavailable from exc
        if created:
            services.metrics.flag_raised(draft.categories, draft.severity)
            await announce_flag(services, "raised", flag)
        return flag

    async def _context(self, room: str, message_id: int | None) -> tuple[dict[str, Any], ...]:
        try:
            history = await self._services.broker.history(
                room, since=None, client_epoch=None, limit=CONTEXT_MESSAGES + 1
            )
        except BrokerUnavailable:
            return ()
        earlier = [m for m in history.messages if m.id != message_id][-CONTEXT_MESSAGES:]
        return tuple({"id": m.id, "from": m.name, "text": m.text, "ts": m.ts} for m in earlier)


async def announce_flag(services: Services, event: str, flag: Flag) -> None:
    """Tell every signed-in moderator, on every worker (best effort: the store is the truth)."""
    frame: dict[str, object] = {"type": "flag", "event": event, "flag": flag.to_json()}
    try:
        await services.broker.announce(MODERATOR_FEED, broadcast_body(frame))
    except BrokerUnavailable:
        logger.warning("moderator feed unreachable; moderators will see the flag on refresh")


def _ack(client_id: str, message_id: int | None, verdict: Verdict) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "ack", "client_id": client_id, "id": message_id}
    if verdict.action in (Action.HOLD, Action.HOLD_WITH_SUPPORT):
        frame["held"] = True
    if verdict.notice is not None:
        frame["notice"] = str(verdict.notice)
        frame["notice_text"] = _NOTICE_TEXT.get(str(verdict.notice), "")
    return frame
