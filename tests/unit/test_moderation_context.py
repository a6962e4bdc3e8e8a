"""Risk across one person's messages (moderation/context.py) and its memory
(server/risk_memory.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moderation import Action, Category, Severity, Verdict
from moderation.context import CONTEXT, FLOOR, Recent, combined_risk, raised, rising
from moderation.policy import DEFAULT_POLICY, RoomPolicy
from server.risk_memory import PER_PERSON, RiskMemory

ORDINARY = Verdict((), None, Action.DELIVER, (), "v", False, False, "text")
FLAG = 0.7
WINDOW = 600.0


def weak(risk: float, likeliest: Category | None = Category.SUICIDE) -> Verdict:
    return replace(ORDINARY, risk=risk, likeliest=likeliest)


def test_combined_risk_is_the_chance_that_one_is_not_ordinary() -> None:
    assert combined_risk([0.5, 0.5]) == pytest.approx(0.75)
    assert combined_risk([]) == 0.0


def test_two_weaker_signals_close_together_rise_to_a_crisis() -> None:
    earlier = [Recent(100.0, 0.5, Category.SUICIDE)]
    assert rising(weak(0.5), earlier, now_s=160.0, window_s=WINDOW, flag=FLAG) is (Category.SUICIDE)


def test_one_weaker_signal_alone_stays_as_it_is() -> None:
    assert rising(weak(0.6), [], now_s=0.0, window_s=WINDOW, flag=FLAG) is None


@pytest.mark.parametrize(
    ("current", "earlier", "now_s"),
    [
        pytest.param(weak(0.5), Recent(0.0, 0.5, Category.SUICIDE), 700.0, id="earlier too old"),
        pytest.param(
            weak(FLOOR - 0.01), Recent(0.0, 0.6, Category.SUICIDE), 10.0, id="current ordinary"
        ),
        pytest.param(
            weak(0.5), Recent(0.0, FLOOR - 0.01, Category.SUICIDE), 10.0, id="earlier ordinary"
        ),
        pytest.param(
            weak(0.5, Category.SPAM), Recent(0.0, 0.5, Category.SPAM), 10.0, id="community harm"
        ),
    ],
)
def test_ordinary_talk_old_messages_and_community_harm_do_not_add_up(
    current: Verdict, earlier: Recent, now_s: float
) -> None:
    assert rising(current, [earlier], now_s=now_s, window_s=WINDOW, flag=FLAG) is None


def test_a_message_already_a_crisis_is_left_alone() -> None:
    crisis = replace(weak(0.5), categories=(Category.SUICIDE,), severity=Severity.HIGH)
    earlier = [Recent(0.0, 0.9, Category.SUICIDE)]
    assert rising(crisis, earlier, now_s=1.0, window_s=WINDOW, flag=FLAG) is None


def test_the_riskiest_message_names_the_category() -> None:
    earlier = [Recent(0.0, 0.4, Category.RELAPSE), Recent(5.0, 0.6, Category.OVERDOSE)]
    assert rising(weak(0.35), earlier, now_s=10.0, window_s=WINDOW, flag=FLAG) is (
        Category.OVERDOSE
    )


def test_a_raised_verdict_is_flagged_with_support_and_says_why() -> None:
    verdict = raised(weak(0.5), Category.SUICIDE, DEFAULT_POLICY)
    assert verdict.categories == (Category.SUICIDE,) and verdict.severity is Severity.CONCERN
    assert verdict.flag and verdict.support and verdict.is_crisis
    assert verdict.action is Action.DELIVER_WITH_SUPPORT and verdict.reasons[-1] == CONTEXT
    quiet_room = RoomPolicy(support_from=Severity.HIGH)
    assert not raised(weak(0.5), Category.SUICIDE, quiet_room).support


def test_the_memory_keeps_a_few_recent_risks_per_person_within_the_window() -> None:
    memory = RiskMemory(window_s=WINDOW, people=10)
    memory.remember("u1", weak(FLOOR - 0.1), 0.0)  # ordinary: not kept
    assert memory.recent("u1", 0.0) == []
    for n in range(PER_PERSON + 2):
        memory.remember("u1", weak(0.5), float(n))
    assert [r.at_s for r in memory.recent("u1", 10.0)] == [2.0, 3.0, 4.0, 5.0]
    assert memory.recent("u1", 4.5 + WINDOW) == [Recent(5.0, 0.5, Category.SUICIDE)]


def test_the_memory_keeps_no_crisis_so_what_follows_one_is_not_raised_for_it() -> None:
    memory = RiskMemory(window_s=WINDOW, people=10)
    crisis = replace(weak(0.9), categories=(Category.SUICIDE,), severity=Severity.HIGH)
    memory.remember("u1", crisis, 0.0)
    assert memory.recent("u1", 1.0) == []


def test_the_memory_forgets_the_longest_unseen_person_first() -> None:
    memory = RiskMemory(window_s=WINDOW, people=2)
    memory.remember("a", weak(0.5), 0.0)
    memory.remember("b", weak(0.5), 1.0)
    memory.remember("a", weak(0.5), 2.0)  # a seen again: b is now the longest unseen
    memory.remember("c", weak(0.5), 3.0)
    assert len(memory) == 2
    assert memory.recent("b", 3.0) == [] and len(memory.recent("a", 3.0)) == 2
