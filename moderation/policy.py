"""Turn signals into a verdict under a room's policy: what the room sees, who is told what.

Principles, each enforced here rather than left to callers:

* Never silence someone who reaches out: a crisis message is delivered to the room with a
  support frame for the writer. The one exception is method or means detail (how, with what),
  which is held for a moderator behind a gentle placeholder; the writer still gets support.
* Harassment, solicitation and spam are held pending review; the writer is told so.
* Personal data is redacted before delivery; the writer is told why.
* Every crisis category, even one lowered to ``watch`` by context, is flagged for a moderator.

``RoomPolicy`` refuses configurations that would hold crisis categories outright.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from moderation.classifier import Signal
from moderation.normalize import Normalized
from moderation.verdict import (
    CATEGORY_PRIORITY,
    CRISIS_CATEGORIES,
    Action,
    Category,
    Notice,
    Severity,
    Span,
    Verdict,
)

# Concepts whose spans are personal data to redact (cue words such as "my number" stay).
REDACTED_CONCEPTS = frozenset(
    {"phone", "email", "street_address", "street_name", "unit_number", "full_name", "handle"}
)
_COMMUNITY_HOLDS = frozenset({Category.HARASSMENT, Category.SOLICITATION, Category.SPAM})


@dataclass(frozen=True, slots=True)
class RoomPolicy:
    """Per-room choices. The defaults are Harbor's; rooms may tighten or relax them."""

    hold_method_detail: bool = True
    held_categories: frozenset[Category] = _COMMUNITY_HOLDS
    redact_pii: bool = True
    support_from: Severity = Severity.CONCERN
    redaction_mark: str = "[removed]"
    crisis_placeholder: str = (
        "A member shared something hard. A moderator is with them; you can send kind words."
    )

    def __post_init__(self) -> None:
        if self.held_categories & CRISIS_CATEGORIES:
            raise ValueError("crisis categories are never held outright; use hold_method_detail")
        if self.support_from is Severity.WATCH:
            raise ValueError("support starts at concern or above; watch is context-lowered")


DEFAULT_POLICY = RoomPolicy()


def decide(
    text: Normalized, signals: Sequence[Signal], lexicon_version: str, policy: RoomPolicy
) -> Verdict:
    """The verdict for ``text`` given its signals; pure."""
    if not signals:
        return Verdict((), None, Action.DELIVER, (), lexicon_version, False, False, text.raw)
    levels = _levels(signals)
    listed = _ranked(category for category, level in levels.items() if level is not Severity.WATCH)
    watch = _ranked(category for category, level in levels.items() if level is Severity.WATCH)
    kept = [signal for signal in signals if levels.get(signal.category) is signal.severity]
    crisis = [category for category in listed if category in CRISIS_CATEGORIES]
    severity = max(levels.values(), key=lambda level: level.rank, default=None)
    support = any(levels[category].rank >= policy.support_from.rank for category in crisis)
    method = any(signal.method and signal.category in crisis for signal in kept)
    held = set(listed) & policy.held_categories
    action, notice = _action(support, method and policy.hold_method_detail, bool(held))
    if not support and crisis and method and policy.hold_method_detail:
        action, notice = Action.HOLD, Notice.HELD_FOR_REVIEW
    redacted = _redacted(text, kept, policy) if Category.PII in listed else None
    if action is Action.DELIVER and redacted is not None:
        action, notice = Action.REDACT, Notice.PII_REDACTED
    return Verdict(
        categories=listed,
        severity=severity,
        action=action,
        spans=_spans(text, kept),
        lexicon_version=lexicon_version,
        support=support,
        flag=bool(listed) or any(category in CRISIS_CATEGORIES for category in watch),
        delivered_text=_delivered(action, text.raw, redacted),
        watch=watch,
        method_detail=method,
        notice=notice,
        placeholder=policy.crisis_placeholder if action is Action.HOLD_WITH_SUPPORT else None,
        reasons=tuple(dict.fromkeys(signal.reason for signal in kept)),
    )


def _levels(signals: Iterable[Signal]) -> dict[Category, Severity]:
    """The highest severity each category reached."""
    levels: dict[Category, Severity] = {}
    for signal in signals:
        current = levels.get(signal.category)
        if current is None or signal.severity.rank > current.rank:
            levels[signal.category] = signal.severity
    return levels


def _ranked(categories: Iterable[Category]) -> tuple[Category, ...]:
    return tuple(sorted(categories, key=CATEGORY_PRIORITY.__getitem__))


def _action(support: bool, hold_method: bool, held: bool) -> tuple[Action, Notice | None]:
    if support and (hold_method or held):
        return Action.HOLD_WITH_SUPPORT, Notice.HELD_WITH_SUPPORT
    if held:
        return Action.HOLD, Notice.HELD_FOR_REVIEW
    if support:
        return Action.DELIVER_WITH_SUPPORT, None
    return Action.DELIVER, None


def _delivered(action: Action, raw: str, redacted: str | None) -> str | None:
    if action in (Action.HOLD, Action.HOLD_WITH_SUPPORT):
        return None
    return raw if redacted is None else redacted


def _redacted(text: Normalized, signals: list[Signal], policy: RoomPolicy) -> str | None:
    """``text.raw`` with personal data replaced by the policy's mark, or None if nothing to do."""
    if not policy.redact_pii:
        return None
    spans = sorted(
        text.raw_span(hit.view, hit.start, hit.end)
        for signal in signals
        if signal.category is Category.PII
        for hit in signal.hits
        if hit.entry.concepts & REDACTED_CONCEPTS
    )
    if not spans:
        return None
    pieces, copied_to = [], 0
    for start, end in spans:
        if start >= copied_to:
            pieces.append(text.raw[copied_to:start] + policy.redaction_mark)
        copied_to = max(copied_to, end)
    return "".join(pieces) + text.raw[copied_to:]


def _spans(text: Normalized, signals: list[Signal]) -> tuple[Span, ...]:
    """Distinct spans in text order; the term breaks ties, since two terms can cover the same
    characters and a set's iteration order (string hashing) differs between processes."""
    spans = {
        Span(*text.raw_span(hit.view, hit.start, hit.end), signal.category, hit.entry.key)
        for signal in signals
        for hit in signal.hits
    }
    return tuple(sorted(spans, key=lambda span: (span.start, span.end, span.category, span.term)))
