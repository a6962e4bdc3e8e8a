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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moderation.classifier import LEARNED, Signal
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
    # True whether or not a volunteer is online: the writer is always shown where to get help.
    crisis_placeholder: str = (
        "A member shared something hard and has been shown where to get help right now. "
        "You can send kind words."
    )

    def __post_init__(self) -> None:
        if self.held_categories & CRISIS_CATEGORIES:
            raise ValueError("crisis categories are never held outright; use hold_method_detail")
        if self.support_from is Severity.WATCH:
            raise ValueError("support starts at concern or above; watch is context-lowered")


DEFAULT_POLICY = RoomPolicy()

_FLAGS = ("hold_method_detail", "redact_pii")
_TEXTS = ("redaction_mark", "crisis_placeholder")
_POLICY_KEYS = frozenset((*_FLAGS, *_TEXTS, "held_categories", "support_from"))


def policy_from_json(options: object) -> RoomPolicy:
    """A room's policy from the ``moderation`` object of its entry in the rooms file.

    Keys left out keep Harbor's defaults. Raises ValueError naming the offending key, so a
    typo stops the worker at start (and ``harbor check``) instead of silently changing what a
    room sees; a crisis category is never accepted in ``held_categories``.
    """
    if not isinstance(options, dict):
        raise ValueError("must be an object")
    unknown = sorted(options.keys() - _POLICY_KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_POLICY_KEYS))})")
    chosen: dict[str, Any] = {}
    for key in _FLAGS:
        if key in options:
            if not isinstance(options[key], bool):
                raise ValueError(f"{key!r} must be true or false")
            chosen[key] = options[key]
    for key in _TEXTS:
        if key in options:
            text = options[key]
            if not isinstance(text, str) or not text.strip() or len(text) > 300:
                raise ValueError(f"{key!r} must be a non-empty string of at most 300 characters")
            chosen[key] = text
    if "held_categories" in options:
        names = options["held_categories"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError("'held_categories' must be a list of category names")
        known = {str(category) for category in Category if not category.is_crisis}
        for name in names:
            if name not in known:
                raise ValueError(
                    f"'held_categories': {name!r} is not one of {', '.join(sorted(known))}"
                    " (crisis messages are never held outright)"
                )
        chosen["held_categories"] = frozenset(Category(name) for name in names)
    if "support_from" in options:
        allowed = ("concern", "high", "imminent")
        if options["support_from"] not in allowed:
            raise ValueError(f"'support_from' must be one of {', '.join(allowed)}")
        chosen["support_from"] = Severity(options["support_from"])
    return RoomPolicy(**chosen)


# Enum members looked up once: a class attribute lookup on an enum costs a Python call.
_WATCH = Severity.WATCH
_PII = Category.PII
_DELIVER = Action.DELIVER
_HOLD = Action.HOLD
_HOLD_WITH_SUPPORT = Action.HOLD_WITH_SUPPORT
_RANK = {severity: severity.rank for severity in Severity}


def decide(
    text: Normalized, signals: Sequence[Signal], lexicon_version: str, policy: RoomPolicy
) -> Verdict:
    """The verdict for ``text`` given its signals; pure."""
    if not signals:
        return delivered(text.raw, lexicon_version)
    for signal in signals:  # a loop, not all(<generator>): a generator costs more here
        if signal.severity is not _WATCH:
            break
    else:  # context lowered every signal
        return _watched(text, signals, lexicon_version)
    levels = _levels(signals)
    # One walk over the levels gives what needs several: the listed and watch categories,
    # the listed crisis ones, the top severity (ranks are distinct, so the first of the
    # highest is ``max``'s) and whether a crisis category reached the support level.
    listed_found: list[Category] = []
    watch_found: list[Category] = []
    crisis: list[Category] = []
    support_from = _RANK[policy.support_from]
    support = False
    top = -1
    severity = _WATCH
    for category, level in levels.items():
        rank = _RANK[level]
        if rank > top:
            top, severity = rank, level
        if level is _WATCH:
            watch_found.append(category)
        else:
            listed_found.append(category)
            if category in CRISIS_CATEGORIES:
                crisis.append(category)
                if rank >= support_from:
                    support = True
    listed = _ranked(listed_found)
    watch = _ranked(watch_found)
    kept = [signal for signal in signals if levels[signal.category] is signal.severity]
    method = False
    if crisis:
        for signal in kept:
            if signal.method and signal.category in crisis:
                method = True
                break
    # Only rules hold a message: the learned stage's signals (resting on no words) flag it.
    held = not policy.held_categories.isdisjoint(
        signal.category for signal in kept if signal.reason != LEARNED
    )
    action, notice = _action(support, method and policy.hold_method_detail, held)
    if not support and crisis and method and policy.hold_method_detail:
        action, notice = _HOLD, Notice.HELD_FOR_REVIEW
    redacted, removed = _redacted(text, kept, policy) if _PII in listed else (None, ())
    if action is _DELIVER and redacted is not None:
        action, notice = Action.REDACT, Notice.PII_REDACTED
    made: Verdict = _new(Verdict)  # Verdict(...) in one dict update, as in ``delivered``
    made.__dict__.update(
        categories=listed,
        severity=severity,
        action=action,
        spans=_spans(text, kept),
        lexicon_version=lexicon_version,
        support=support,
        flag=True,  # a signal above watch lists its category
        delivered_text=_delivered(action, text.raw, redacted),
        watch=watch,
        method_detail=method,
        notice=notice,
        placeholder=policy.crisis_placeholder if action is _HOLD_WITH_SUPPORT else None,
        reasons=tuple(dict.fromkeys(signal.reason for signal in kept)),
        redacted_text=redacted,
        removed=removed,
    )
    return made


def _watched(text: Normalized, signals: Sequence[Signal], lexicon_version: str) -> Verdict:
    """What ``decide`` gives when context lowered every signal to ``watch``, whatever the
    policy: delivered as written, every category listed under ``watch`` and flagged when one
    is a crisis category.

    Most loud chat ends here ("five years ago I overdosed", a past-tense story), and this
    skips the levels, rankings and policy tests that only a signal above ``watch`` needs
    (nothing is listed, so nothing is held, supported, redacted or method detail).
    """
    if len(signals) == 1:  # one term lowered by context: nothing to rank or deduplicate
        signal = signals[0]
        watch: tuple[Category, ...] = (signal.category,)
        flag = signal.category in CRISIS_CATEGORIES
        reasons: tuple[str, ...] = (signal.reason,)
    else:
        watch = _ranked({signal.category: None for signal in signals})
        flag = any(category in CRISIS_CATEGORIES for category in watch)
        reasons = tuple(dict.fromkeys(signal.reason for signal in signals))
    made: Verdict = _new(Verdict)
    fields = made.__dict__
    fields.update(_WATCHED_FIELDS)
    fields["spans"] = _spans(text, signals)
    fields["lexicon_version"] = lexicon_version
    fields["flag"] = flag
    fields["delivered_text"] = text.raw
    fields["watch"] = watch
    fields["reasons"] = reasons
    return made


def delivered(raw: str, lexicon_version: str) -> Verdict:
    """The verdict on a message with no signal, whatever the policy: delivered as written,
    ``Verdict((), None, Action.DELIVER, (), lexicon_version, False, False, raw)``.

    Most messages end here, so the verdict's fields are copied in from a template in one C
    call and two stores, where the frozen dataclass's ``__init__`` makes thirteen
    ``object.__setattr__`` calls, and even filling thirteen slots one by one cost over twice
    as much (tests/unit/test_moderation_policy.py checks both give equal verdicts).
    """
    made: Verdict = _new(Verdict)
    fields = made.__dict__
    fields.update(_DELIVERED_FIELDS)
    fields["lexicon_version"] = lexicon_version
    fields["delivered_text"] = raw
    return made


_new = object.__new__
# Every field of a delivered verdict with no signal (``lexicon_version`` and ``delivered_text``
# are set per message). Plain dicts, never mutated: ``dict.update`` copies a dict in C, where
# a read-only proxy would be copied key by key.
_DELIVERED_FIELDS: dict[str, Any] = {
    "categories": (),
    "severity": None,
    "action": _DELIVER,
    "spans": (),
    "lexicon_version": "",
    "support": False,
    "flag": False,
    "delivered_text": None,
    "watch": (),
    "method_detail": False,
    "notice": None,
    "placeholder": None,
    "reasons": (),
}
_WATCHED_FIELDS: dict[str, Any] = {**_DELIVERED_FIELDS, "severity": _WATCH}


def _levels(signals: Iterable[Signal]) -> dict[Category, Severity]:
    """The highest severity each category reached."""
    levels: dict[Category, Severity] = {}
    for signal in signals:
        current = levels.get(signal.category)
        if current is None or _RANK[signal.severity] > _RANK[current]:
            levels[signal.category] = signal.severity
    return levels


def _ranked(categories: Iterable[Category]) -> tuple[Category, ...]:
    """The categories by priority (most loud messages have one, which needs no sort)."""
    found = tuple(categories)
    if len(found) < 2:
        return found
    return tuple(sorted(found, key=CATEGORY_PRIORITY.__getitem__))


def _action(support: bool, hold_method: bool, held: bool) -> tuple[Action, Notice | None]:
    if support and (hold_method or held):
        return _HOLD_WITH_SUPPORT, Notice.HELD_WITH_SUPPORT
    if held:
        return _HOLD, Notice.HELD_FOR_REVIEW
    if support:
        return Action.DELIVER_WITH_SUPPORT, None
    return _DELIVER, None


def _delivered(action: Action, raw: str, redacted: str | None) -> str | None:
    if action is _HOLD or action is _HOLD_WITH_SUPPORT:
        return None
    return raw if redacted is None else redacted


def _redacted(
    text: Normalized, signals: list[Signal], policy: RoomPolicy
) -> tuple[str | None, tuple[str, ...]]:
    """``text.raw`` with personal data replaced by the policy's mark, and the kinds removed;
    (None, ()) if there is nothing to do."""
    if not policy.redact_pii:
        return None, ()
    hits = [
        hit
        for signal in signals
        if signal.category is Category.PII
        for hit in signal.hits
        if hit.entry.concepts & REDACTED_CONCEPTS
    ]
    if not hits:
        return None, ()
    removed = tuple(sorted({c for hit in hits for c in hit.entry.concepts & REDACTED_CONCEPTS}))
    spans = sorted(text.raw_span(hit.view, hit.start, hit.end) for hit in hits)
    pieces, copied_to = [], 0
    for start, end in spans:
        if start >= copied_to:
            pieces.append(text.raw[copied_to:start] + policy.redaction_mark)
        copied_to = max(copied_to, end)
    return "".join(pieces) + text.raw[copied_to:], removed


def _spans(text: Normalized, signals: Sequence[Signal]) -> tuple[Span, ...]:
    """Distinct spans in text order; the term breaks ties, since two terms can cover the same
    characters and a set's iteration order (string hashing) differs between processes.

    Distinct and sorted as plain tuples (what ``Span`` equality and the sort key compare),
    then made into spans; a hit shared by several signals of one category maps back once.
    The set makes walking each signal's groups as good as its deduplicated ``hits``, and
    spans are filled in through their slots (as in ``delivered``). A lone signal resting on
    one hit (a single term, the commonest loud message) needs none of that bookkeeping.
    """
    if len(signals) == 1:
        signal = signals[0]
        if len(signal.groups) == 1 and len(signal.groups[0]) == 1:
            view, start, end, _, entry, _ = signal.groups[0][0]
            return (_span(*text.raw_span(view, start, end), signal.category, entry.key),)
    found: set[tuple[int, int, Category, str]] = set()
    mapped: dict[tuple[str, int, int], tuple[int, int]] = {}
    raw_span = text.raw_span
    for signal in signals:
        category = signal.category
        for group in signal.groups:
            for hit in group:
                where = (hit[0], hit[1], hit[2])  # view, start, end
                span = mapped.get(where)
                if span is None:
                    span = mapped[where] = raw_span(*where)
                found.add((*span, category, hit[4].key))
    return tuple(_span(*span) for span in sorted(found))


def _span(start: int, end: int, category: Category, term: str) -> Span:
    """``Span(start, end, category, term)`` without the frozen ``__init__``'s four
    ``object.__setattr__`` calls."""
    made: Span = _new(Span)
    _set_start(made, start)
    _set_end(made, end)
    _set_category(made, category)
    _set_term(made, term)
    return made


_span_slots: Mapping[str, Any] = vars(Span)
_set_start = _span_slots["start"].__set__
_set_end = _span_slots["end"].__set__
_set_category = _span_slots["category"].__set__
_set_term = _span_slots["term"].__set__
