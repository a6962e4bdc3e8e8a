"""Meetings on the socket: which meeting a room is in now, its live state, and the frames.

The schedule is the rooms file's (rooms/meetings.py), the rules are pure
(rooms/meeting_rules.py), and the state lives in the meeting store (memory, or Redis for every
worker). This module joins them: an action is applied through the store, and the new state goes
to every member of the room on every worker as one `meeting` frame on the room's channel, the
way presence does. A reaction changes nothing and goes out as `meeting_reaction`.

A room is "in" a meeting from `HARBOR_MEETING_OPEN_EARLY_S` before its start until its end;
only a meeting with a chair restricts who posts, and never a crisis (the endpoint checks).

Time acts on a meeting through `settle` (rooms/meeting_rules.py): before every action here, and
on each worker's sweep (`sweep_room`, driven by server/meeting_sweep.py), which also marks the
people this worker holds as seen and lets go of those gone past the resume window. Every worker
may sweep the same room; the store's compare-and-set lets one write, and only the one whose
write changed the state tells the room, so a turn ends, and is announced, exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
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
    named,
    pack,
    settle,
    unpack,
)
from rooms.meeting_store import MeetingStore
from rooms.meetings import Occurrence, current

from .context import WorkerContext

# A state outlives its meeting's end by this much (then it expires from the store).
_KEEP_AFTER_END_S = 3600.0


def occurrence_now(context: WorkerContext, room: str) -> Occurrence | None:
    hosted = context.meeting_book.for_room(room)
    if not hosted:
        return None
    early_ms = round(context.settings.meeting_open_early_s * 1000)
    return current(hosted, context.clock(), early_ms)


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
        turn_ms=occurrence.meeting.turn_s * 1000,
        warn_ms=round(settings.meeting_turn_warning_s * 1000),
        after_turn=occurrence.meeting.after_turn,
        away_ms=resume_ms(context),
    )


def resume_ms(context: WorkerContext) -> int:
    return round(context.settings.meeting_resume_s * 1000)


# Actions that put the one taking them in the meeting's keeping (a hand, a listener, a chair):
# they are marked seen first, so no sweep lets them go before their own worker's next one.
_JOINING = frozenset({"raise", "listen", "chair"})


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
    state = await live_state(context, store, occurrence)
    return may_post(settle(state, rules_for(context, occurrence), context.clock()), author)


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
    if action.kind in _JOINING:
        await store.seen(room, [actor.person.author], now_ms, rules.away_ms)

    def change(stored: bytes | None) -> tuple[bytes | None, MeetingState]:
        before = _state_of(occurrence, stored)
        after = apply(settle(before, rules, now_ms), actor, action, rules, now_ms)
        return (None if after == before and stored is not None else pack(after)), after

    state = await store.change(room, change, ttl_s=_ttl_s(occurrence, now_ms))
    if action.kind == "react":
        frame: dict[str, Any] = {
            "type": "meeting_reaction",
            "room": room,
            "reaction": action.reaction,
        }
    else:
        frame = meeting_frame(room, occurrence, state)
    await context.broker.announce(room, broadcast_body(frame))


def _ttl_s(occurrence: Occurrence, now_ms: int) -> float:
    return max(1.0, (occurrence.end_ms - now_ms) / 1000) + _KEEP_AFTER_END_S


async def sweep_room(
    context: WorkerContext, store: MeetingStore, room: str, here: Callable[[], set[str]]
) -> bool:
    """Settle the meeting in `room`: mark as seen the people it names whom this worker holds
    (`here()`: the writers' tags of the room's members on this worker), let go of those gone
    past the resume window, end or warn of an over-long turn, and tell the room if this worker's
    write is the one that changed it. True when it did. Raises BrokerUnavailable."""
    occurrence = occurrence_now(context, room)
    if occurrence is None:
        return False
    state = _state_of(occurrence, await store.read(room))
    people = named(state)
    if state.ended or (not people and state.floor is None):
        return False  # nothing to settle: no reading of who is here
    rules = rules_for(context, occurrence)
    now_ms = context.clock()
    seen = await store.seen(room, people & here(), now_ms, rules.away_ms)

    def change(stored: bytes | None) -> tuple[bytes | None, MeetingState | None]:
        before = _state_of(occurrence, stored)
        after = settle(before, rules, now_ms, seen)
        return (None, None) if after == before else (pack(after), after)

    settled = await store.change(room, change, ttl_s=_ttl_s(occurrence, now_ms))
    if settled is None:
        return False
    await context.broker.announce(room, broadcast_body(meeting_frame(room, occurrence, settled)))
    return True


def _person(person: Person | None) -> dict[str, Any] | None:
    return None if person is None else {"author": person.author, "name": person.name}


def meeting_frame(room: str, occurrence: Occurrence, state: MeetingState) -> dict[str, Any]:
    """Everything a page needs to show the meeting, whole (each frame replaces the last)."""
    meeting = occurrence.meeting
    floor = _person(state.floor)
    if floor is not None and meeting.turn_s:
        floor["until_ms"] = state.floor_since_ms + meeting.turn_s * 1000
        floor["warned"] = state.floor_warned
    frame: dict[str, Any] = {
        "type": "meeting",
        "room": room,
        "id": meeting.id,
        "title": meeting.title,
        "start_ms": occurrence.start_ms,
        "end_ms": occurrence.end_ms,
        "steps": [{"title": step.title, "text": step.text} for step in meeting.steps],
        "turn_s": meeting.turn_s,
        "after_turn": meeting.after_turn,
        "greeting": meeting.greeting,
        "step": state.step,
        "chair": _person(state.chair),
        "floor": floor,
        "floor_since_ms": state.floor_since_ms,
        "timed_out": _person(state.timed_out),
        "queue": [_person(p) for p in state.queue],
        "listening": len(state.listening),
        "crosstalk": state.crosstalk,
        "paused": state.paused,
        "ended": state.ended,
    }
    return frame
