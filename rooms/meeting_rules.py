"""The rules of a meeting in progress, as a pure state machine: a state and an action in, a new
state (or a refusal) out. No I/O, no clock of its own: the store keeps the state (in memory, or
in Redis so every worker sees one queue and one floor), the endpoint turns frames into actions.

The chair runs the meeting: gives the floor to someone in the share queue, turns cross-talk off
(then only the person sharing posts; the others send quiet reactions), moves the format on,
pauses, hands the chair to someone in the queue or sharing, and ends it. Anyone may raise or
lower their own hand, or say they are just listening. A volunteer moderator may always take the
chair: a meeting is never left with a chair nobody can replace.

People are named by their writer's tag (`author`, the same on every worker) and carried with
their pseudonym, so a page can show the queue without asking anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import msgpack

# Quiet support the others can send while someone shares (the page shows them as words/emoji).
REACTIONS = ("heart", "hug", "strength", "thanks", "me_too")
# Actions and who may take them.
OWN_ACTIONS = frozenset({"raise", "lower", "listen", "react", "done"})
CHAIR_ACTIONS = frozenset({"give", "crosstalk", "step", "pause", "hand", "end", "remove"})
ACTIONS = OWN_ACTIONS | CHAIR_ACTIONS | {"chair"}


@dataclass(frozen=True, slots=True)
class Person:
    author: str
    name: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: their tag and name, and the moderator account behind them ("" for members)."""

    person: Person
    moderator: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    to: str = ""  # a writer's tag: whom the floor or the chair goes to, whose hand is lowered
    on: bool = True  # crosstalk, pause and listen: turned on or off
    step: int = 0
    reaction: str = ""


@dataclass(frozen=True, slots=True)
class MeetingState:
    occurrence: str  # rooms.meetings.Occurrence.key: a new occurrence starts afresh
    step: int = 0
    chair: Person | None = None
    floor: Person | None = None
    floor_since_ms: int = 0
    queue: tuple[Person, ...] = ()
    listening: tuple[str, ...] = ()  # writers' tags of those just listening (counted, not named)
    crosstalk: bool = True
    paused: bool = False
    ended: bool = False


@dataclass(frozen=True, slots=True)
class Rules:
    """The meeting's fixed facts the rules need, and the bounds that keep a state small."""

    steps: int
    chair_account: str = ""  # the moderator account named in the rooms file ("": any)
    queue_max: int = 50
    listening_max: int = 500


class Refused(Exception):
    """An action the rules do not allow now; `code` is the error frame's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def may_post(state: MeetingState | None, author: str) -> bool:
    """Whether `author` may post in the room now. Only a chaired, running meeting restricts
    anything: with cross-talk off only the person sharing (and the chair) post; paused, only the
    chair. The endpoint lets a crisis through regardless: no meeting rule silences one."""
    if state is None or state.ended or state.chair is None:
        return True
    if author == state.chair.author:
        return True
    if state.paused:
        return False
    return state.crosstalk or (state.floor is not None and state.floor.author == author)


def apply(
    state: MeetingState, actor: Actor, action: Action, rules: Rules, now_ms: int
) -> MeetingState:
    """The state after `actor` takes `action`, or Refused."""
    if state.ended:
        raise Refused("meeting_ended", "this meeting has ended")
    kind, me = action.kind, actor.person
    if kind == "chair":
        return _take_chair(state, actor, rules)
    if kind == "react":
        if action.reaction not in REACTIONS:
            raise Refused("bad_field", "not a reaction")
        return state  # reactions change nothing; the endpoint passes them on
    if kind in CHAIR_ACTIONS and (state.chair is None or state.chair.author != me.author):
        raise Refused("not_chair", "only the chair can do that")
    if kind == "raise":
        sharing = state.floor is not None and state.floor.author == me.author
        if sharing or any(p.author == me.author for p in state.queue):
            return state
        if len(state.queue) >= rules.queue_max:
            raise Refused("queue_full", "the share queue is full; try again in a while")
        return replace(
            state,
            queue=(*state.queue, me),
            listening=tuple(a for a in state.listening if a != me.author),
        )
    if kind == "lower":
        return replace(state, queue=_without(state.queue, me.author))
    if kind == "remove":  # the chair lowers someone's hand
        return replace(state, queue=_without(state.queue, action.to))
    if kind == "listen":
        listening = tuple(a for a in state.listening if a != me.author)
        if action.on and len(listening) < rules.listening_max:
            listening = (*listening, me.author)
        queue = _without(state.queue, me.author) if action.on else state.queue
        return replace(state, listening=listening, queue=queue)
    if kind == "done":  # the person sharing is finished (or the chair ends the share)
        is_chair = state.chair is not None and state.chair.author == me.author
        if state.floor is None or (state.floor.author != me.author and not is_chair):
            raise Refused("not_sharing", "you don't have the floor")
        return replace(state, floor=None, floor_since_ms=0)
    if kind == "give":
        return _give_floor(state, action.to, now_ms)
    if kind == "crosstalk":
        return replace(state, crosstalk=action.on)
    if kind == "pause":
        return replace(state, paused=action.on)
    if kind == "step":
        if not 0 <= action.step < rules.steps:
            raise Refused("bad_field", "no such part of the format")
        return replace(state, step=action.step)
    if kind == "hand":
        return _hand_over(state, action.to)
    if kind == "end":
        return replace(state, ended=True, floor=None, queue=(), crosstalk=True, paused=False)
    raise Refused("bad_field", "unknown meeting action")


def _without(queue: tuple[Person, ...], author: str) -> tuple[Person, ...]:
    return tuple(p for p in queue if p.author != author)


def _take_chair(state: MeetingState, actor: Actor, rules: Rules) -> MeetingState:
    """A volunteer moderator takes the chair: the one the rooms file names, or, when it names
    none, any of them; any of them may also take over a chair held by someone else."""
    if not actor.moderator:
        raise Refused("not_chair", "a volunteer moderator opens the meeting")
    named = rules.chair_account
    if state.chair is None and named and actor.moderator != named:
        raise Refused("not_chair", "this meeting has its own chair")
    return replace(state, chair=actor.person, queue=_without(state.queue, actor.person.author))


def _give_floor(state: MeetingState, to: str, now_ms: int) -> MeetingState:
    """The floor goes to `to` (someone in the queue, or the chair) or, given "", to the first
    person in the queue."""
    if not to:
        if not state.queue:
            raise Refused("queue_empty", "nobody has raised a hand")
        to = state.queue[0].author
    chosen = next((p for p in state.queue if p.author == to), None)
    if chosen is None and state.chair is not None and state.chair.author == to:
        chosen = state.chair
    if chosen is None:
        raise Refused("not_in_queue", "that person has not raised a hand")
    return replace(state, floor=chosen, floor_since_ms=now_ms, queue=_without(state.queue, to))


def _hand_over(state: MeetingState, to: str) -> MeetingState:
    """The chair goes to someone in the queue or sharing (people who came forward)."""
    chosen = next((p for p in state.queue if p.author == to), None)
    if chosen is None and state.floor is not None and state.floor.author == to:
        chosen = state.floor
    if chosen is None:
        raise Refused("not_in_queue", "hand the chair to someone in the queue or sharing")
    return replace(state, chair=chosen, queue=_without(state.queue, to))


# The stored form (the store keeps bytes; the shape is this module's business).

_VERSION = 1


def _person(p: Person | None) -> list[str] | None:
    return None if p is None else [p.author, p.name]


def _read_person(value: object) -> Person | None:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return Person(value[0], value[1])
    return None


def pack(state: MeetingState) -> bytes:
    packed: bytes = msgpack.packb(
        [
            _VERSION,
            state.occurrence,
            state.step,
            _person(state.chair),
            _person(state.floor),
            state.floor_since_ms,
            [_person(p) for p in state.queue],
            list(state.listening),
            state.crosstalk,
            state.paused,
            state.ended,
        ]
    )
    return packed


def unpack(data: bytes) -> MeetingState | None:
    """The stored state, or None when it is unreadable (a newer shape, a damaged value): the
    meeting then starts afresh rather than failing every action."""
    try:
        fields = msgpack.unpackb(data)
        version, occurrence, step, chair, floor, since, queue, listening, *flags = fields
        crosstalk, paused, ended = flags
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return None
    if version != _VERSION or not isinstance(occurrence, str) or not isinstance(queue, list):
        return None
    people = tuple(p for p in (_read_person(v) for v in queue) if p is not None)
    return MeetingState(
        occurrence=occurrence,
        step=step if isinstance(step, int) else 0,
        chair=_read_person(chair),
        floor=_read_person(floor),
        floor_since_ms=since if isinstance(since, int) else 0,
        queue=people,
        listening=tuple(a for a in listening if isinstance(a, str))
        if isinstance(listening, list)
        else (),
        crosstalk=crosstalk is not False,
        paused=paused is True,
        ended=ended is True,
    )
