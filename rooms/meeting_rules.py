"""The rules of a meeting in progress, as a pure state machine: a state and an action in, a new
state (or a refusal) out. No I/O, no clock of its own: the store keeps the state (in memory, or
in Redis so every worker sees one queue and one floor), the endpoint turns frames into actions.

The chair runs the meeting: gives the floor to someone in the share queue, turns cross-talk off
(then only the person sharing posts; the others send quiet reactions), moves the format on,
pauses, hands the chair to someone in the queue or sharing, and ends it. Anyone may raise or
lower their own hand, or say they are just listening. A volunteer moderator may always take the
chair: a meeting is never left with a chair nobody can replace.

Time and absence come in from outside too: `settle` is the step the server runs on every action
and on a short periodic sweep, with `now_ms` and when each person named in the meeting was last
seen connected. It warns the person sharing before their turn is up, ends an over-long turn
(the floor goes back to the chair, or on to the next hand, as the meeting says), and lets go of
people gone past the resume window: their hand, their floor, and their chair. Being pure, it
gives every worker the same answer, and the store's compare-and-set lets only one of them write
it, so each expiry has exactly one effect.

People are named by their writer's tag (`author`, the same on every worker) and carried with
their pseudonym, so a page can show the queue without asking anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    floor_warned: bool = False  # the person sharing was told their time is nearly up
    timed_out: Person | None = None  # whose share the turn limit ended last (until the next)
    chair_before: Person | None = None  # who handed the chair over: it goes back to them
    paused_since_ms: int = 0  # when the chair paused: a pause stops the turn clock
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
    turn_ms: int = 0  # how long one share may be (0: no limit)
    warn_ms: int = 0  # the person sharing is told this long before their time is up
    after_turn: str = "chair"  # "chair": the floor goes back to the chair; "next": next hand
    away_ms: int = 60_000  # the resume window: gone longer than this, a person is let go


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
        return replace(state, floor=None, floor_since_ms=0, floor_warned=False)
    if kind == "give":
        return _give_floor(state, action.to, now_ms)
    if kind == "crosstalk":
        return replace(state, crosstalk=action.on)
    if kind == "pause":
        return _pause(state, action.on, now_ms)
    if kind == "step":
        if not 0 <= action.step < rules.steps:
            raise Refused("bad_field", "no such part of the format")
        return replace(state, step=action.step)
    if kind == "hand":
        return _hand_over(state, action.to)
    if kind == "end":
        return replace(
            state,
            ended=True,
            floor=None,
            floor_warned=False,
            queue=(),
            crosstalk=True,
            paused=False,
            paused_since_ms=0,
        )
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
    return replace(
        state,
        chair=actor.person,
        chair_before=None,
        queue=_without(state.queue, actor.person.author),
    )


def _pause(state: MeetingState, on: bool, now_ms: int) -> MeetingState:
    """A pause stops the clock of the share under way: the time paused is given back on
    resuming, so a chair's pause never costs the person sharing their turn."""
    if on:
        return state if state.paused else replace(state, paused=True, paused_since_ms=now_ms)
    if not state.paused:
        return state
    since = state.floor_since_ms
    if state.floor is not None and state.paused_since_ms:
        since += max(0, now_ms - state.paused_since_ms)
    return replace(state, paused=False, paused_since_ms=0, floor_since_ms=since)


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
    return replace(
        state,
        floor=chosen,
        floor_since_ms=now_ms,
        floor_warned=False,
        timed_out=None,
        queue=_without(state.queue, to),
    )


def _hand_over(state: MeetingState, to: str) -> MeetingState:
    """The chair goes to someone in the queue or sharing (people who came forward)."""
    chosen = next((p for p in state.queue if p.author == to), None)
    if chosen is None and state.floor is not None and state.floor.author == to:
        chosen = state.floor
    if chosen is None:
        raise Refused("not_in_queue", "hand the chair to someone in the queue or sharing")
    keep = state.chair_before or state.chair  # the chair goes back to the first who handed it
    if keep is not None and keep.author == chosen.author:
        keep = None
    return replace(state, chair=chosen, chair_before=keep, queue=_without(state.queue, to))


def named(state: MeetingState) -> set[str]:
    """The writers' tags of everyone the meeting holds a place for: the chair, the one who
    handed it over, the person sharing, the hands raised and those just listening. Only they
    need to be seen to stay."""
    people = (state.chair, state.chair_before, state.floor, *state.queue)
    return {p.author for p in people if p is not None} | set(state.listening)


def settle(
    state: MeetingState, rules: Rules, now_ms: int, seen: Mapping[str, int] | None = None
) -> MeetingState:
    """What time and absence do to a meeting by `now_ms`: the state unchanged, or with

    - the people gone past the resume window let go (`seen`: when each was last seen
      connected; someone missing from it is gone; None: don't judge absence now): a hand is
      lowered, a floor released, and a chair goes back to whoever handed it over, if they are
      still here, else it waits for a volunteer moderator to take it (or the next chosen chair);
    - a share's time up: the floor goes back to the chair, or on to the next hand
      (`after_turn`), and `timed_out` names whose it was so their page can thank them;
    - a share nearly up (`warn_ms` before): `floor_warned`, so their page tells them gently.
    """
    if state.ended:
        return state
    if seen is not None:
        state = _let_go(state, rules, now_ms, seen)
    if state.floor is None or rules.turn_ms <= 0 or state.paused:
        return state  # paused, the turn clock stands still
    until = state.floor_since_ms + rules.turn_ms
    if now_ms >= until:
        state = replace(
            state, floor=None, floor_since_ms=0, floor_warned=False, timed_out=state.floor
        )
        return _pass_floor(state, rules, now_ms)
    if not state.floor_warned and rules.warn_ms > 0 and now_ms >= until - rules.warn_ms:
        return replace(state, floor_warned=True)
    return state


def _let_go(
    state: MeetingState, rules: Rules, now_ms: int, seen: Mapping[str, int]
) -> MeetingState:
    def gone(person: Person | str | None) -> bool:
        author = person.author if isinstance(person, Person) else person
        return author is not None and seen.get(author, -1) < now_ms - rules.away_ms

    queue = tuple(p for p in state.queue if not gone(p))
    listening = tuple(a for a in state.listening if not gone(a))
    chair, chair_before = state.chair, state.chair_before
    if gone(chair_before):
        chair_before = None
    if gone(chair):
        chair, chair_before = chair_before, None
    left = replace(state, queue=queue, listening=listening, chair=chair, chair_before=chair_before)
    if gone(state.floor):
        left = _pass_floor(
            replace(left, floor=None, floor_since_ms=0, floor_warned=False), rules, now_ms
        )
    return state if left == state else left


def _pass_floor(state: MeetingState, rules: Rules, now_ms: int) -> MeetingState:
    """A floor just freed goes to the next hand when the meeting runs as a round and a chair
    runs it (an unchaired meeting gives no floor), else it stays with the chair to give."""
    if rules.after_turn == "next" and state.queue and state.chair is not None and not state.paused:
        given = _give_floor(state, state.queue[0].author, now_ms)
        return replace(given, timed_out=state.timed_out)
    return state


# The stored form (the store keeps bytes; the shape is this module's business).

# 2 added the turn warning, whose share timed out, who handed the chair over and when the chair
# paused; a version 1 state (written before) reads with those empty.
_VERSION = 2


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
            state.floor_warned,
            _person(state.timed_out),
            _person(state.chair_before),
            state.paused_since_ms,
        ]
    )
    return packed


def unpack(data: bytes) -> MeetingState | None:
    """The stored state, or None when it is unreadable (a newer shape, a damaged value): the
    meeting then starts afresh rather than failing every action."""
    try:
        fields = msgpack.unpackb(data)
        version, occurrence, step, chair, floor, since, queue, listening, *flags = fields
        crosstalk, paused, ended, *added = flags
        warned, timed_out, chair_before, paused_since = (
            (*added, 0)[:4] if version >= 2 else (False, None, None, 0)
        )
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return None
    if version not in (1, _VERSION) or not isinstance(occurrence, str):
        return None
    if not isinstance(queue, list):
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
        floor_warned=warned is True,
        timed_out=_read_person(timed_out),
        chair_before=_read_person(chair_before),
        paused_since_ms=paused_since if isinstance(paused_since, int) else 0,
    )
