"""Risk across one person's messages: several weaker signals close together raise it.

"can't do this anymore", then "nobody is home till monday": neither is a crisis on its own,
both together may be. The learned stage gives each message a risk (the chance that it is not
ordinary talk); a message whose own risk stays under the flag threshold is raised to a crisis
when, with the same person's recent messages of some risk, the chance that at least one of
them is not ordinary talk (``1 - prod(1 - risk)``) reaches it.

Pure: the caller keeps the recent risks (in memory, per pseudonym, for a few minutes, never
stored; see server/gate.py) and passes them in with the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from moderation.policy import RoomPolicy
from moderation.verdict import Action, Category, Severity, Verdict

# A message below this risk adds nothing: ordinary talk must not add up to a crisis.
FLOOR = 0.3
CONTEXT = "context"


@dataclass(frozen=True, slots=True)
class Recent:
    """One earlier message of the same person, as the caller keeps it."""

    at_s: float
    risk: float
    likeliest: Category | None


def combined_risk(risks: Iterable[float]) -> float:
    """The chance that at least one of the messages is not ordinary talk."""
    ordinary = 1.0
    for risk in risks:
        ordinary *= 1 - risk
    return 1 - ordinary


def rising(
    verdict: Verdict, recent: Iterable[Recent], *, now_s: float, window_s: float, flag: float
) -> Category | None:
    """The crisis category ``verdict`` should be raised to, given the same person's ``recent``
    messages within ``window_s`` of ``now_s``; None when it stands as it is."""
    risk = verdict.risk
    if risk is None or risk < FLOOR or verdict.is_crisis:
        return None
    earlier = [r for r in recent if now_s - r.at_s <= window_s and r.risk >= FLOOR]
    if not earlier or combined_risk([risk, *(r.risk for r in earlier)]) < flag:
        return None
    crisis = [r for r in earlier if r.likeliest is not None and r.likeliest.is_crisis]
    if verdict.likeliest is not None and verdict.likeliest.is_crisis:
        crisis.append(Recent(now_s, risk, verdict.likeliest))
    if not crisis:
        return None  # weaker signals of community harm do not add up to a crisis
    return max(crisis, key=lambda r: r.risk).likeliest


def raised(verdict: Verdict, category: Category, policy: RoomPolicy) -> Verdict:
    """``verdict`` raised to ``category`` at concern by the person's recent messages: flagged,
    with support when the room's policy gives it at concern, delivered as it was otherwise."""
    support = Severity.CONCERN.rank >= policy.support_from.rank
    action = verdict.action
    if support and action is Action.DELIVER:
        action = Action.DELIVER_WITH_SUPPORT
    return replace(
        verdict,
        categories=(category, *verdict.categories),
        severity=Severity.CONCERN
        if verdict.severity is None or verdict.severity.rank < Severity.CONCERN.rank
        else verdict.severity,
        support=verdict.support or support,
        flag=True,
        action=action,
        reasons=(*verdict.reasons, CONTEXT),
    )
