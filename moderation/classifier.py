"""Match a normalised message against the lexicon and turn co-occurring concepts into signals.

Pure: ``match`` finds hits (lexicon terms on word boundaries, structural patterns), and
``classify`` evaluates the rules per clause or per message, applies context, and returns
:class:`Signal` objects for :mod:`moderation.policy` to decide on.

Context concept names the code relies on (every other concept is free for rules to use):

``shield``     a benign phrase ("relapse prevention", "killing it"): hits inside it are dropped.
``clause_break`` a word such as "but" that starts a new clause (sentence ends always do).
``negation``   within two words before one of a signal's hits, in the same clause: lowered.
``past``       in the clause (or the message, when the clause has no ``now``), unless the
               clause has ``present``: lowered ("five years ago I overdosed").
``media``, ``education``, ``rules_quote``, ``accident``, ``resolved``, ``general_question``
               (unless the message has ``self_assert``) in the clause: lowered.
``laughter``   anywhere in the message lowers signals resting on an ``idiomatic`` term.
``now``        in the clause raises a crisis signal one level; a ``means`` hit in the message
               raises a suicide or self-harm signal that does not already rest on it.

Lowered signals keep their category at ``watch``: a human can still see them.

Speed: :func:`quiet` proves, for most chat, that ``classify`` would return nothing, using one
automaton pass and integer masks instead of hits, clauses and scopes (see its docstring).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import reduce
from operator import itemgetter, or_
from typing import NamedTuple

from moderation.lexicon import SIGNAL_BIT, Entry, Lexicon, Requirement, Rule, match_text
from moderation.normalize import Normalized
from moderation.verdict import CRISIS_CATEGORIES, Category, Severity

MESSAGE = -1  # clause index of hits found in a view without clauses
NEGATION_REACH = 2  # words allowed between a negation and what it negates

_DISTANCING = frozenset(
    {"media", "education", "rules_quote", "accident", "resolved", "general_question"}
)
_METHOD_CATEGORIES = frozenset({Category.SUICIDE, Category.SELF_HARM})
_VALUE = itemgetter(1)  # (end, value) from the automaton -> value
_BITS = itemgetter(4)  # value -> the entry's concept bits


class Hit(NamedTuple):
    """One match: ``view[start:end]`` means ``entry``; ``clause`` indexes the words view.

    A named tuple, not a dataclass: a message has a dozen hits and they are built per message.
    """

    view: str
    start: int
    end: int
    clause: int
    entry: Entry


@dataclass(frozen=True, slots=True)
class Signal:
    """Evidence that a message belongs to ``category`` at ``severity``, and why (``reason``)."""

    category: Category
    severity: Severity
    reason: str
    groups: tuple[tuple[Hit, ...], ...]
    lowered: bool
    method: bool

    @property
    def hits(self) -> tuple[Hit, ...]:
        """Every hit the signal rests on, in requirement order."""
        return tuple(dict.fromkeys(hit for group in self.groups for hit in group))

    def at(self, severity: Severity, *, lowered: bool) -> Signal:
        """The same evidence at another severity."""
        return Signal(self.category, severity, self.reason, self.groups, lowered, self.method)


@dataclass(frozen=True, slots=True)
class _Scope:
    """Hits grouped by concept for one clause, or for the whole message."""

    by_concept: dict[str, list[Hit]]

    def has(self, concept: str) -> bool:
        return concept in self.by_concept

    def meet(self, requirement: Requirement) -> list[Hit] | None:
        # Concepts in sorted order, not frozenset order (which follows the hash seed), so a
        # signal's hits come in the same order in every process.
        names = sorted(requirement.concepts)
        found = [hit for name in names for hit in self.by_concept.get(name, ())]
        distinct = {hit.entry.key for hit in found}
        return found if len(distinct) >= requirement.count else None


def match(text: Normalized, lexicon: Lexicon) -> tuple[Hit, ...]:
    """All hits in ``text``, with hits inside a shield phrase removed.

    Clauses end at sentence ends (newlines in the words view) and at ``clause_break`` terms
    ("but", "pero"); shields such as "nothing but" keep those from breaking.
    """
    found = _term_spans(text.words, lexicon)
    shields = [span for span in found if "shield" in span[2].concepts]
    if shields:
        found = [span for span in found if not _shielded(span, shields)]
    breaks = sorted(
        [*_newlines(text.words), *(s for s, _, entry in found if "clause_break" in entry.concepts)]
    )
    hits = [
        Hit("words", start, end, bisect_right(breaks, start), entry) for start, end, entry in found
    ]
    hits.extend(_pattern_hits(text, lexicon, breaks))
    return tuple(hits)


def quiet(text: Normalized, lexicon: Lexicon) -> bool:
    """True only when ``classify(text, lexicon)`` is certainly empty; cheaper than finding out.

    Every signal rests on a term that is a signal on its own or on a rule all of whose
    requirements some hit meets. So the OR of the concept bits of *every* term occurrence
    (before shields remove any: a superset of what ``match`` keeps), plus those of structural
    patterns that actually match, bounds what ``classify`` could see; if that holds no signal
    bit and lets no rule fire, ``classify`` returns ``()``. The fold runs in C; pattern
    regexes run only when their trigger holds and they could complete a rule. A ``False``
    only means "look properly": the caller then runs ``classify``.
    """
    values = lexicon.automaton.iter(match_text(text.words))
    bits: int = reduce(or_, map(_BITS, map(_VALUE, values)), 0)
    index = lexicon.quiet
    if bits & SIGNAL_BIT or index.can_fire(bits):
        return False
    found = 0
    for number in lexicon.triggered(text.plain):
        pattern_bits = index.pattern_bits[number]
        if pattern_bits & ~(bits | found):
            pattern = lexicon.patterns[number]
            if pattern.occurs_in(getattr(text, pattern.view)):
                found |= pattern_bits
    return not (found and index.can_fire(bits | found))


def classify(text: Normalized, lexicon: Lexicon) -> tuple[Signal, ...]:
    """Signals for every term and rule that fired, with context applied."""
    hits = match(text, lexicon)
    message = _scope(hits)
    rules = _candidates(lexicon.rules_for(message.by_concept), message)
    found = list(_term_signals(hits))
    if not rules and not found:
        return ()  # the common case: ordinary talk, no clause bookkeeping needed
    clauses = _clauses(hits)
    found.extend(_rule_signals(rules, message, clauses))
    context = _Context(text.words, hits, message, clauses)
    return tuple(context.apply(signal) for signal in found)


def _candidates(rules: Iterable[Rule], message: _Scope) -> list[Rule]:
    """Rules every requirement of which some hit in the message could meet (a C-level test)."""
    present = message.by_concept.keys()
    return [
        rule
        for rule in rules
        if not any(requirement.concepts.isdisjoint(present) for requirement in rule.requires)
    ]


def _term_spans(words: str, lexicon: Lexicon) -> list[tuple[int, int, Entry]]:
    """(start, end, entry) of every term occurrence; a list comprehension, not a generator,
    as it runs once per occurrence (match_text adds one leading space)."""
    return [
        (last - length + lead, last - trail, entry)
        for last, (length, lead, trail, entry, _) in lexicon.automaton.iter(match_text(words))
    ]


def _newlines(words: str) -> Iterator[int]:
    position = words.find("\n")
    while position >= 0:
        yield position
        position = words.find("\n", position + 1)


def _pattern_hits(text: Normalized, lexicon: Lexicon, breaks: list[int]) -> Iterator[Hit]:
    for pattern in lexicon.patterns_for(text.plain):
        view = getattr(text, pattern.view)
        if pattern.guard is not None and pattern.guard.search(view) is None:
            continue  # the guard is necessary for a match, and far cheaper
        for found in pattern.regex.finditer(view):
            start, end = found.span("span") if "span" in pattern.regex.groupindex else found.span()
            clause = bisect_right(breaks, start) if pattern.view == "words" else MESSAGE
            yield Hit(pattern.view, start, end, clause, pattern.entry)


def _shielded(span: tuple[int, int, Entry], shields: list[tuple[int, int, Entry]]) -> bool:
    start, end, _ = span
    return any(shield is not span and shield[0] <= start and end <= shield[1] for shield in shields)


def _scope(hits: Iterable[Hit]) -> _Scope:
    by_concept: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        for concept in hit.entry.concepts:
            by_concept[concept].append(hit)
    return _Scope(dict(by_concept))


def _clauses(hits: tuple[Hit, ...]) -> dict[int, _Scope]:
    grouped: dict[int, list[Hit]] = defaultdict(list)
    for hit in hits:
        if hit.clause != MESSAGE:
            grouped[hit.clause].append(hit)
    return {clause: _scope(members) for clause, members in grouped.items()}


def _term_signals(hits: Iterable[Hit]) -> Iterator[Signal]:
    for hit in hits:
        for category, severity in hit.entry.signals:
            method = "means" in hit.entry.concepts
            yield Signal(category, severity, f"term:{hit.entry.key}", ((hit,),), False, method)


def _rule_signals(
    rules: Iterable[Rule], message: _Scope, clauses: dict[int, _Scope]
) -> Iterator[Signal]:
    for rule in rules:
        scopes = (message,) if rule.scope == "message" else tuple(clauses.values())
        for scope in scopes:
            groups = _satisfy(rule, scope)
            if groups is not None:
                means = any("means" in hit.entry.concepts for group in groups for hit in group)
                method = rule.method or means
                yield Signal(rule.category, rule.severity, rule.name, groups, False, method)


def _satisfy(rule: Rule, scope: _Scope) -> tuple[tuple[Hit, ...], ...] | None:
    """For each requirement of ``rule``, the hits meeting it in ``scope``; None if one fails."""
    groups = []
    for requirement in rule.requires:
        hits = scope.meet(requirement)
        if hits is None:
            return None
        groups.append(tuple(hits))
    return tuple(groups)


class _Context:
    """Lowers and raises signals by what surrounds their hits (see the module docstring)."""

    def __init__(
        self, words: str, hits: tuple[Hit, ...], message: _Scope, clauses: dict[int, _Scope]
    ) -> None:
        self.words = words
        self.all_words = [hit for hit in hits if hit.view == "words"]
        self.message = message
        self.clauses = clauses
        self._negations: list[Hit] | None = None  # the message's, computed on first need

    def apply(self, signal: Signal) -> Signal:
        hits = signal.hits  # built once per signal: the checks below all walk it
        clauses = self._clauses_of(hits)
        if self._lowered(signal, hits, clauses):
            return signal.at(Severity.WATCH, lowered=True)
        steps = self._raise_by(signal, hits, clauses)
        if not steps or signal.severity is Severity.WATCH:
            return signal
        return signal.at(signal.severity.raised(steps), lowered=False)

    def _clauses_of(self, hits: tuple[Hit, ...]) -> list[_Scope]:
        numbers = {hit.clause for hit in hits if hit.clause != MESSAGE}
        return [self.clauses[number] for number in sorted(numbers)]

    def _lowered(self, signal: Signal, hits: tuple[Hit, ...], clauses: list[_Scope]) -> bool:
        if clauses and all(self._distanced(clause) for clause in clauses):
            return True
        if clauses and all(self._past(clause) for clause in clauses):
            return True
        if self._negated(signal):
            return True
        idiomatic = any("idiomatic" in hit.entry.flags for hit in hits)
        return idiomatic and self.message.has("laughter")

    def _distanced(self, clause: _Scope) -> bool:
        if clause.has("general_question") and self.message.has("self_assert"):
            return False
        return any(clause.has(name) for name in _DISTANCING)

    def _past(self, clause: _Scope) -> bool:
        if clause.has("present"):
            return False
        return clause.has("past") or (self.message.has("past") and not clause.has("now"))

    def _negated(self, signal: Signal) -> bool:
        """True when every hit meeting one of the signal's requirements is negated."""
        if self._negations is None:  # the same for every signal of the message
            self._negations = [
                negation
                for negation in self.message.by_concept.get("negation", ())
                if not self._inside_phrase(negation)
            ]
        negations = self._negations
        return bool(negations) and any(
            all(self._is_negated(hit, negations) for hit in group) for group in signal.groups
        )

    def _inside_phrase(self, negation: Hit) -> bool:
        """A negation inside a longer phrase ("can't stop", "won't wake up") negates nothing."""
        return any(
            hit.start <= negation.start and negation.end <= hit.end and hit is not negation
            for hit in self.all_words
        )

    def _is_negated(self, hit: Hit, negations: list[Hit]) -> bool:
        if hit.view != "words" or hit.entry.concepts & {"now", "present"}:
            return False
        return any(
            negation.clause == hit.clause
            and negation.end <= hit.start
            and "," not in self.words[negation.end : hit.start]
            and self.words.count(" ", negation.end, hit.start) <= NEGATION_REACH + 1
            for negation in negations
        )

    def _raise_by(self, signal: Signal, hits: tuple[Hit, ...], clauses: list[_Scope]) -> int:
        if signal.category not in CRISIS_CATEGORIES:
            return 0
        steps = 1 if any(clause.has("now") for clause in clauses) else 0
        rests_on_means = any("means" in hit.entry.concepts for hit in hits)
        if signal.category in _METHOD_CATEGORIES and not rests_on_means:
            steps += 1 if self.message.has("means") else 0
        return steps
