"""Meetings on the socket: which meeting a room is in now, its live state, and the frames.

The schedule is the rooms file's (rooms/meetings.py), the rules are pure
(rooms/meeting_rules.py), and the state lives in the meeting store (memory, or Redis for every
worker). This module joins them: an action is applied through the store, and the new state goes
to every member of the room on every worker as one `meeting` frame on the room's channel, the
way presence does. A reaction changes nothing and goes out as `meeting_reaction`.

A room is "in" a meeting from `HARBOR_MEETING_OPEN_EARLY_S` before its start until its end;
only a meeting with a chair restricts who posts, and never a crisis (the endpoint checks).
"""

from __future__ import annotations

from typing import Any

from rooms.envelope import broadcast_body
from rooms.meeting_rules import (
    Action,
    Actor,
    MeetingState,
    Person,
    Refused,
    Rules,
    apply,
    may_post,
    pack,
    unpack,
)
from rooms.meeting_store import MeetingStore
from rooms.meetings import Occurrence, current

from .context import WorkerContext

# A state outlives its meeting's end by this much (then it expires from the store).
_KEEP_AFTER_END_S = 3600.0


def occurrence_now(context: WorkerContext, room: str) -> Occurrence | None:
    listed = context.catalog.get(room)
    if listed is None or not listed.meetings:
        return None
    early_ms = round(context.settings.meeting_open_early_s * 1000)
    return current(listed.meetings, context.clock(), early_ms)


def _state_of(occurrence: Occurrence, stored: bytes | None) -> MeetingState:
    """The stored state when it belongs to this occurrence, else a fresh one."""
    state = unpack(stored) if stored is not None else None
    if state is None or state.occurrence != occurrence.key:
        return MeetingState(occurrence.key)
    return state


def rules_for(context: WorkerContext, occurrence: Occurrence) -> Rules:
    settings = context.settings
    return Rules(
        steps=len(occurrence.meeting.steps),
        chair_account=occurrence.meeting.chair,
        queue_max=settings.meeting_queue_max,
        listening_max=settings.meeting_listening_max,
    )


async def live_state(
    context: WorkerContext, store: MeetingStore, occurrence: Occurrence
) -> MeetingState:
    return _state_of(occurrence, await store.read(occurrence.meeting.room))


async def poster_may_post(
    context: WorkerContext, store: MeetingStore, room: str, author: str
) -> bool:
    """Whether the meeting in `room` (if any) lets `author` post now."""
    occurrence = occurrence_now(context, room)
    if occurrence is None:
        return True
    return may_post(await live_state(context, store, occurrence), author)


async def act(
    context: WorkerContext, store: MeetingStore, room: str, actor: Actor, action: Action
) -> None:
    """Apply one action and tell the room. Raises Refused (answered with an error frame) or
    BrokerUnavailable (retryable)."""
    occurrence = occurrence_now(context, room)
    if occurrence is None:
        raise Refused("no_meeting", "there is no meeting in this room now")
    rules = rules_for(context, occurrence)
    now_ms = context.clock()

    def change(stored: bytes | None) -> tuple[bytes | None, MeetingState]:
        before = _state_of(occurrence, stored)
        after = apply(before, actor, action, rules, now_ms)
        return (None if after == before and stored is not None else pack(after)), after

    ttl_s = max(1.0, (occurrence.end_ms - now_ms) / 1000) + _KEEP_AFTER_END_S
    state = await store.change(room, change, ttl_s=ttl_s)
    if action.kind == "react":
        frame: dict[str, Any] = {
            "type": "meeting_reaction",
            "room": room,
            "reaction": action.reaction,
        }
    else:
        frame = meeting_frame(room, occurrence, state)
    await context.broker.announce(room, broadcast_body(frame))


def _person(person: Person | None) -> dict[str, Any] | None:
    return None if person is None else {"author": person.author, "name": person.name}


def meeting_frame(room: str, occurrence: Occurrence, state: MeetingState) -> dict[str, Any]:
    """Everything a page needs to show the meeting, whole (each frame replaces the last)."""
    meeting = occurrence.meeting
    floor = _person(state.floor)
    if floor is not None and meeting.turn_s:
        floor["until_ms"] = state.floor_since_ms + meeting.turn_s * 1000
    frame: dict[str, Any] = {
        "type": "meeting",
        "room": room,
        "id": meeting.id,
        "title": meeting.title,
        "start_ms": occurrence.start_ms,
        "end_ms": occurrence.end_ms,
        "steps": [{"title": step.title, "text": step.text} for step in meeting.steps],
        "turn_s": meeting.turn_s,
        "greeting": meeting.greeting,
        "step": state.step,
        "chair": _person(state.chair),
        "floor": floor,
        "floor_since_ms": state.floor_since_ms,
        "queue": [_person(p) for p in state.queue],
        "listening": len(state.listening),
        "crosstalk": state.crosstalk,
        "paused": state.paused,
        "ended": state.ended,
    }
    return frame
