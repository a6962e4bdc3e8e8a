"""The meeting rules as a pure state machine: hands, the floor, cross-talk, the chair."""

from __future__ import annotations

import msgpack
import pytest

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

CHAIR = Actor(Person("c0c0c0c0c0c0", "Steady Owl 1"), moderator="volunteer")
ANA = Actor(Person("aaaaaaaaaaaa", "Calm Heron 2"))
BO = Actor(Person("bbbbbbbbbbbb", "Kind Otter 3"))
CY = Actor(Person("cccccccccccc", "Quiet Fox 4"))
LATE = Actor(Person("eeeeeeeeeeee", "Late Lark 5"))
RULES = Rules(steps=6, queue_max=3, listening_max=2)


def run(state: MeetingState, *steps: tuple[Actor, Action], now_ms: int = 1000) -> MeetingState:
    for actor, action in steps:
        state = apply(state, actor, action, RULES, now_ms)
    return state


def chaired() -> MeetingState:
    return run(MeetingState("m@1"), (CHAIR, Action("chair")))


def refused(state: MeetingState, actor: Actor, action: Action, rules: Rules = RULES) -> str:
    with pytest.raises(Refused) as caught:
        apply(state, actor, action, rules, 0)
    return caught.value.code


def test_hands_queue_in_order_once_each_and_can_be_lowered() -> None:
    state = run(
        chaired(),
        (ANA, Action("raise")),
        (BO, Action("raise")),
        (ANA, Action("raise")),
    )
    assert [p.name for p in state.queue] == ["Calm Heron 2", "Kind Otter 3"]
    state = run(state, (ANA, Action("lower")))
    assert state.queue == (BO.person,)


def test_the_chair_gives_the_floor_to_the_next_hand_or_a_chosen_one() -> None:
    state = run(chaired(), (ANA, Action("raise")), (BO, Action("raise")), (CY, Action("raise")))
    state = run(state, (CHAIR, Action("give", to=BO.person.author)), now_ms=5000)
    assert (state.floor, state.floor_since_ms) == (BO.person, 5000)
    assert state.queue == (ANA.person, CY.person)
    state = run(state, (BO, Action("done")), (CHAIR, Action("give")))
    assert state.floor == ANA.person and state.queue == (CY.person,)
    assert refused(state, CHAIR, Action("give", to=BO.person.author)) == "not_in_queue"


def test_only_the_chair_runs_the_meeting() -> None:
    state = run(chaired(), (ANA, Action("raise")))
    for action in (Action("give"), Action("crosstalk", on=False), Action("end"), Action("step")):
        assert refused(state, BO, action) == "not_chair"
    assert refused(state, ANA, Action("chair")) == "not_chair"  # members don't take the chair


def test_cross_talk_off_lets_only_the_person_sharing_and_the_chair_post() -> None:
    state = run(chaired(), (ANA, Action("raise")), (CHAIR, Action("crosstalk", on=False)))
    assert not may_post(state, ANA.person.author) and not may_post(state, BO.person.author)
    state = run(state, (CHAIR, Action("give")))
    assert may_post(state, ANA.person.author) and not may_post(state, BO.person.author)
    assert may_post(state, CHAIR.person.author)
    state = run(state, (CHAIR, Action("pause")))
    assert not may_post(state, ANA.person.author) and may_post(state, CHAIR.person.author)
    state = run(state, (CHAIR, Action("pause", on=False)), (CHAIR, Action("crosstalk")))
    assert may_post(state, BO.person.author)


def test_no_chair_no_restriction_and_an_ended_meeting_frees_the_room() -> None:
    unchaired = run(MeetingState("m@1"), (ANA, Action("raise")))
    assert may_post(unchaired, BO.person.author) and may_post(None, BO.person.author)
    state = run(chaired(), (CHAIR, Action("crosstalk", on=False)), (CHAIR, Action("end")))
    assert state.ended and may_post(state, BO.person.author)
    assert refused(state, ANA, Action("raise")) == "meeting_ended"


def test_the_chair_is_handed_to_someone_who_came_forward() -> None:
    state = run(chaired(), (ANA, Action("raise")))
    assert refused(state, CHAIR, Action("hand", to=BO.person.author)) == "not_in_queue"
    state = run(state, (CHAIR, Action("hand", to=ANA.person.author)))
    assert state.chair == ANA.person and state.queue == ()
    state = run(state, (ANA, Action("crosstalk", on=False)))  # the new chair runs it
    assert not state.crosstalk
    assert refused(state, CHAIR, Action("crosstalk")) == "not_chair"  # the old chair doesn't
    state = run(state, (CHAIR, Action("chair")))  # ...but a volunteer can always take it back
    assert state.chair == CHAIR.person


def test_a_named_chair_opens_the_meeting_first() -> None:
    rules = Rules(steps=6, chair_account="volunteer")
    other = Actor(Person("dddddddddddd", "Volunteer Sam"), moderator="sam")
    assert refused(MeetingState("m@1"), other, Action("chair"), rules) == "not_chair"
    state = apply(MeetingState("m@1"), CHAIR, Action("chair"), rules, 0)
    assert apply(state, other, Action("chair"), rules, 0).chair == other.person


def test_queues_and_listeners_are_bounded() -> None:
    state = run(chaired(), (ANA, Action("raise")), (BO, Action("raise")), (CY, Action("raise")))
    late = Actor(Person("eeeeeeeeeeee", "Late Lark 5"))
    assert refused(state, late, Action("raise")) == "queue_full"
    state = run(state, (ANA, Action("listen")), (BO, Action("listen")), (late, Action("listen")))
    assert len(state.listening) == 2 and state.queue == (CY.person,)  # listening lowers a hand


def test_format_steps_and_reactions_are_checked() -> None:
    state = run(chaired(), (CHAIR, Action("step", step=3)))
    assert state.step == 3
    assert refused(state, CHAIR, Action("step", step=6)) == "bad_field"
    assert apply(state, ANA, Action("react", reaction="heart"), RULES, 0) == state
    assert refused(state, ANA, Action("react", reaction="boo")) == "bad_field"


TIMED = Rules(steps=6, turn_ms=300_000, warn_ms=30_000, away_ms=60_000)
ROUND = Rules(steps=6, turn_ms=90_000, warn_ms=30_000, after_turn="next")


def sharing(rules: Rules, since_ms: int) -> MeetingState:
    """Ana sharing since `since_ms`, Bo's hand up, the volunteer in the chair."""
    state = run(chaired(), (ANA, Action("raise")), (BO, Action("raise")))
    return apply(state, CHAIR, Action("give"), rules, since_ms)


def test_the_person_sharing_is_warned_once_before_their_time_is_up() -> None:
    state = sharing(TIMED, 10_000)
    assert settle(state, TIMED, 10_000 + 269_999) == state  # 30 s before: not yet
    warned = settle(state, TIMED, 10_000 + 270_000)
    assert warned.floor_warned and warned.floor == ANA.person
    assert settle(warned, TIMED, 10_000 + 280_000) == warned  # told once, not every sweep
    assert not apply(warned, ANA, Action("done"), TIMED, 0).floor_warned


def test_an_over_long_turn_ends_and_the_floor_goes_back_to_the_chair() -> None:
    state = settle(sharing(TIMED, 10_000), TIMED, 10_000 + 270_000)
    over = settle(state, TIMED, 10_000 + 300_000)
    assert (over.floor, over.floor_warned, over.timed_out) == (None, False, ANA.person)
    assert over.queue == (BO.person,) and over.chair == CHAIR.person  # the chair decides
    assert settle(over, TIMED, 10_000 + 900_000) == over  # exactly one effect
    again = apply(over, CHAIR, Action("give"), TIMED, 400_000)
    assert (again.floor, again.timed_out) == (BO.person, None)


def test_in_a_round_the_floor_goes_on_to_the_next_hand() -> None:
    over = settle(sharing(ROUND, 0), ROUND, 90_000)
    assert (over.floor, over.floor_since_ms, over.timed_out) == (BO.person, 90_000, ANA.person)
    assert over.queue == ()
    last = settle(over, ROUND, 180_000)
    assert (last.floor, last.timed_out) == (None, BO.person)  # nobody left: back to the chair


def test_a_pause_stops_the_turn_clock_and_gives_the_time_back() -> None:
    state = sharing(TIMED, 10_000)
    paused = apply(state, CHAIR, Action("pause", on=True), TIMED, 100_000)
    assert settle(paused, TIMED, 10_000 + 900_000) == paused  # no warning, no end while paused
    assert unpack(pack(paused)) == paused
    again = apply(paused, CHAIR, Action("pause", on=True), TIMED, 200_000)
    assert again == paused  # a second pause does not move when it began
    resumed = apply(paused, CHAIR, Action("pause", on=False), TIMED, 700_000)
    assert (resumed.paused, resumed.floor_since_ms) == (False, 610_000)  # 600 s given back
    assert settle(resumed, TIMED, 610_000 + 269_999) == resumed
    assert settle(resumed, TIMED, 610_000 + 300_000).timed_out == ANA.person


def test_no_turn_limit_no_expiry_and_an_ended_meeting_stays_ended() -> None:
    state = sharing(RULES, 0)
    assert settle(state, RULES, 10**12) == state
    ended = apply(state, CHAIR, Action("end"), TIMED, 0)
    assert settle(ended, TIMED, 10**12, seen={}) == ended


def here(*actors: Actor, at: int) -> dict[str, int]:
    return {actor.person.author: at for actor in actors}


def test_people_gone_past_the_resume_window_leave_the_queue_and_the_floor() -> None:
    state = run(sharing(TIMED, 0), (CY, Action("raise")), (LATE, Action("listen")))
    assert named(state) == {p.person.author for p in (CHAIR, ANA, BO, CY, LATE)}
    seen = here(CHAIR, ANA, CY, LATE, at=100_000) | here(BO, at=39_999)
    assert settle(state, TIMED, 99_999, seen) == state  # Bo is back within the window
    left = settle(state, TIMED, 100_000, seen)
    assert left.queue == (CY.person,) and left.floor == ANA.person
    seen = here(CHAIR, CY, at=170_000)  # Ana and the listener are gone: never seen again
    released = settle(left, TIMED, 170_000, seen)
    assert (released.floor, released.listening, released.queue) == (None, (), (CY.person,))
    assert released.chair == CHAIR.person
    round_ = settle(left, ROUND, 170_000, seen)  # a round passes the floor on
    assert round_.floor == CY.person and round_.queue == ()


def test_a_chair_gone_past_the_window_hands_the_chair_back() -> None:
    state = run(chaired(), (ANA, Action("raise")), (BO, Action("raise")))
    state = run(state, (CHAIR, Action("hand", to=ANA.person.author)))
    assert (state.chair, state.chair_before) == (ANA.person, CHAIR.person)
    back = settle(state, TIMED, 100_000, here(CHAIR, BO, at=100_000))  # Ana is gone
    assert (back.chair, back.chair_before) == (CHAIR.person, None)  # to who handed it over
    empty = settle(state, TIMED, 100_000, here(BO, at=100_000))  # both gone
    assert (empty.chair, empty.chair_before) == (None, None)
    assert may_post(empty, BO.person.author)  # no chair: nothing is restricted
    volunteer = Actor(Person("dddddddddddd", "Volunteer Sam"), moderator="sam")
    assert apply(empty, volunteer, Action("chair"), TIMED, 0).chair == volunteer.person
    kept = settle(state, TIMED, 100_000, here(ANA, at=100_000))  # only the helper left
    assert (kept.chair, kept.chair_before) == (ANA.person, None)


def test_the_stored_form_round_trips_and_damage_reads_as_none() -> None:
    state = run(
        chaired(),
        (ANA, Action("raise")),
        (BO, Action("listen")),
        (CHAIR, Action("give")),
        (CHAIR, Action("crosstalk", on=False)),
        now_ms=77,
    )
    assert unpack(pack(state)) == state
    state = run(state, (CY, Action("raise")), (CHAIR, Action("hand", to=CY.person.author)))
    later = settle(state, TIMED, 10**9)
    assert later.timed_out == ANA.person and later.chair_before == CHAIR.person
    assert unpack(pack(later)) == later
    written_before = msgpack.packb(
        [1, "m@1", 2, ["c0c0c0c0c0c0", "Steady Owl 1"], None, 0, [], [], False, False, False]
    )
    old = unpack(written_before)
    assert old is not None and (old.step, old.crosstalk, old.chair_before) == (2, False, None)
    assert unpack(b"\x93\x01\x02") is None
    assert unpack(b"not msgpack \xc1") is None
