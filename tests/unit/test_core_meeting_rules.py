"""The meeting rules as a pure state machine: hands, the floor, cross-talk, the chair."""

from __future__ import annotations

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
    pack,
    unpack,
)

CHAIR = Actor(Person("c0c0c0c0c0c0", "Steady Owl 1"), moderator="volunteer")
ANA = Actor(Person("aaaaaaaaaaaa", "Calm Heron 2"))
BO = Actor(Person("bbbbbbbbbbbb", "Kind Otter 3"))
CY = Actor(Person("cccccccccccc", "Quiet Fox 4"))
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
    assert unpack(b"\x93\x01\x02") is None
    assert unpack(b"not msgpack \xc1") is None
