"""The vocabulary of moderation results: enums and frozen dataclasses, no logic beyond ordering.

Category, Severity, Action and Notice are ``StrEnum`` so a verdict serialises as plain names.

Counting rule, used everywhere (pipeline, scan output, bench figures): ``Verdict.categories``
lists only categories that reached at least ``Severity.CONCERN``. A category whose only evidence
was lowered by context (negation, idiom, clearly past, films, rules quoted, general questions)
sits at ``Severity.WATCH`` and is listed in ``Verdict.watch`` instead: a moderator can still see
it (``flag`` is set for crisis categories at watch), but it is not counted as a crisis.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """What a message is about; the first five are crises of a person, the rest community harm."""

    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    OVERDOSE = "overdose"
    RELAPSE = "relapse"
    ABUSE = "abuse"
    HARASSMENT = "harassment"
    PII = "pii"
    SOLICITATION = "solicitation"
    SPAM = "spam"

    @property
    def is_crisis(self) -> bool:
        """True for the categories where someone's life or safety may be at risk."""
        return self in CRISIS_CATEGORIES


CRISIS_CATEGORIES = frozenset(
    {Category.SUICIDE, Category.SELF_HARM, Category.OVERDOSE, Category.RELAPSE, Category.ABUSE}
)

# Tie-break when two categories share a severity: the one a moderator would act on first.
CATEGORY_PRIORITY: dict[Category, int] = {category: rank for rank, category in enumerate(Category)}


class Severity(StrEnum):
    """How soon a human should look; ``watch`` means "visible to a moderator, not urgent"."""

    IMMINENT = "imminent"
    HIGH = "high"
    CONCERN = "concern"
    WATCH = "watch"

    @property
    def rank(self) -> int:
        """Larger is more urgent, so ``max(..., key=rank)`` picks the most urgent."""
        return _SEVERITY_RANK[self]

    def raised(self, steps: int) -> Severity:
        """This severity moved ``steps`` levels towards imminent, capped there."""
        ladder = SEVERITY_LADDER
        return ladder[min(len(ladder) - 1, ladder.index(self) + steps)]


SEVERITY_LADDER: tuple[Severity, ...] = (
    Severity.WATCH,
    Severity.CONCERN,
    Severity.HIGH,
    Severity.IMMINENT,
)
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITY_LADDER)}


class Action(StrEnum):
    """What the server does with the message in the room."""

    DELIVER = "deliver"
    DELIVER_WITH_SUPPORT = "deliver_with_support"
    HOLD_WITH_SUPPORT = "hold_with_support"
    HOLD = "hold"
    REDACT = "redact"


class Notice(StrEnum):
    """What the writer is told about their own message, when anything."""

    HELD_FOR_REVIEW = "held_for_review"
    HELD_WITH_SUPPORT = "held_with_support"
    PII_REDACTED = "pii_redacted"


@dataclass(frozen=True, slots=True)
class Span:
    """Evidence for a moderator: ``text[start:end]`` of the ORIGINAL message matched ``term``."""

    start: int
    end: int
    category: Category
    term: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping with enum values as their names."""
        return {"start": self.start, "end": self.end, "category": self.category, "term": self.term}


@dataclass(frozen=True)
class Verdict:
    """The decision on one message.

    ``delivered_text`` is exactly what the room receives: the original text, the text with
    personal data redacted, or ``None`` when the message is held (the room may then show
    ``placeholder``). ``support`` asks the server to send the writer a support frame;
    ``flag`` asks for a moderator. ``reasons`` names the lexicon rules that fired, never text.

    No ``__slots__``: a verdict lives for one message, and with an instance dict
    :mod:`moderation.policy` fills its thirteen fields from a template in one C call.
    """

    categories: tuple[Category, ...]
    severity: Severity | None
    action: Action
    spans: tuple[Span, ...]
    lexicon_version: str
    support: bool
    flag: bool
    delivered_text: str | None
    watch: tuple[Category, ...] = ()
    method_detail: bool = False
    notice: Notice | None = None
    placeholder: str | None = None
    reasons: tuple[str, ...] = ()
    # The learned stage's reading, when it read the message: the chance that it is not
    # ordinary talk, and its likeliest category (for risk across messages, moderation.context).
    risk: float | None = None
    likeliest: Category | None = None
    # The text with personal data replaced by the mark, whatever the action (a held message
    # too), and the kinds of detail removed ("phone", "email", ...): what a flag keeps, so a
    # moderator's queue holds no more than the room would see.
    redacted_text: str | None = None
    removed: tuple[str, ...] = ()

    @property
    def is_crisis(self) -> bool:
        """True when a crisis category reached at least concern (watch-only does not count)."""
        return any(category.is_crisis for category in self.categories)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping; the scan CLI prints this, so keys are part of its contract."""
        return {
            "categories": list(self.categories),
            "watch": list(self.watch),
            "severity": self.severity,
            "action": self.action,
            "support": self.support,
            "flag": self.flag,
            "method_detail": self.method_detail,
            "notice": self.notice,
            "delivered_text": self.delivered_text,
            "spans": [span.to_json() for span in self.spans],
            "reasons": list(self.reasons),
            "lexicon_version": self.lexicon_version,
        }
