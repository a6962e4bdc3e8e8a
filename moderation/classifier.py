"""Match a normalised message against the lexicon and turn co-occurring concepts into signals.

Pure: ``match`` finds hits (lexicon terms on word boundaries, structural patterns), and
``classify`` evaluates the rules per clause or per message, applies context, and returns
:class:`Signal` objects for :mod:`moderation.policy` to decide on.

Context concept names the code relies on (every other concept is free for rules to use):

``shield``     a benign phrase ("relapse prevention", "killing it"): hits inside it are dropped.
``clause_break`` a word such as "but" that starts a new clause (sentence ends always do).
``negation``   within two words before one of a signal's hits, in the same clause: lowered.
``past``       in the clause, unless the clause has ``present`` (recent times too), or in an
               earlier clause with no present or ``now`` clause between (a story runs forward
               from its past word): lowered ("five years ago I overdosed. it was the worst
               night"); so is a rule whose act (its first requirement's hits) lies only in
               such clauses, though its other requirements meet in present ones ("he used to
               hit me ... now"). A clause before every past word keeps its signal ("i want
               to kill myself. years ago i was happy") unless the next clause points back
               (``past_then``) and is past itself ("i overdosed. that was years ago").
``media``, ``education``, ``rules_quote``, ``accident``, ``resolved``, ``general_question``
               (unless the message has ``self_assert``) in the clause: lowered.
``laughter``   anywhere in the message lowers signals resting on an ``idiomatic`` term, and
               those resting on ``figurative`` terms alone ("can't breathe", "blue lips").
``literal``    (the lexicon's _LITERAL concepts: a drug, taking something, too much, an
               overdose named, a rescue) anywhere in the message keeps a signal resting on
               ``figurative`` terms alone; without one it is lowered (pollen, a cold lake),
               and the learned stage, which reads every message, decides.
``now``        in the clause raises a crisis signal one level; a ``means`` hit in the message
               raises a suicide or self-harm signal that does not already rest on it.

Lowered signals keep their category at ``watch``: a human can still see them.

Speed: :func:`signals` (what the pipeline calls) first proves, for most chat, that
``classify`` would return nothing, using one automaton pass and integer masks instead of
hits, clauses and scopes (see :func:`quiet`); only other messages are classified, reusing
that pass (:func:`scan_terms`), its concept bits and the patterns whose triggers hold. A
clause or the message is the OR of its hits' concept bits, a rule is a tuple of requirement
masks, and context tests are bit tests. Hit groups are built only for rules whose masks all
meet a scope.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import itemgetter, or_
from typing import Any, NamedTuple

from moderation.lexicon import SIGNAL_BIT, ContextBits, Entry, Lexicon, Rule, match_text
from moderation.normalize import Normalized
from moderation.verdict import CRISIS_CATEGORIES, Category, Severity

MESSAGE = -1  # clause index of hits found in a view without clauses
NEGATION_REACH = 2  # words allowed between a negation and what it negates

_METHOD_CATEGORIES = frozenset({Category.SUICIDE, Category.SELF_HARM})
_VALUE = itemgetter(1)  # (last, value) from the automaton -> value
_BITS = itemgetter(3)  # value, or a span of ``_match``, -> the entry's concept bits
_HIT_BITS = itemgetter(5)  # Hit -> its bits
_WATCH = Severity.WATCH

# (last, (start back, end back, entry, concept bits)) per term occurrence (see Lexicon).
TermMatches = list[tuple[int, tuple[int, int, Entry, int]]]


class Hit(NamedTuple):
    """One match: ``view[start:end]`` means ``entry``; ``clause`` indexes the words view.

    A named tuple, not a dataclass: a message has a dozen hits and they are built per message.
    ``bits`` are the entry's concept bits (:class:`~moderation.lexicon.QuietIndex`).
    """

    view: str
    start: int
    end: int
    clause: int
    entry: Entry
    bits: int = 0


_hit = tuple.__new__  # builds a Hit from a tuple without NamedTuple's Python-level __new__


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
        """Every hit the signal rests on, in requirement order (each once).

        Deduplicated by equality, as ``dict.fromkeys`` would, but without hashing: a hit's
        hash would hash its entry's every term, and a signal rests on a handful of hits.
        A term's signal rests on one hit, which is its own answer.
        """
        return _distinct_hits(self.groups)

    def at(self, severity: Severity, *, lowered: bool) -> Signal:
        """The same evidence at another severity."""
        return _signal(self.category, severity, self.reason, self.groups, lowered, self.method)


def _signal(
    category: Category,
    severity: Severity,
    reason: str,
    groups: tuple[tuple[Hit, ...], ...],
    lowered: bool,
    method: bool,
) -> Signal:
    """``Signal(category, severity, reason, groups, lowered, method)``, filled in through its
    slots as the frozen dataclass's ``__init__`` would, without its six
    ``object.__setattr__`` calls: a loud message builds a few signals, and those calls cost
    more than the rest of building one (tests/unit/test_moderation_classify.py checks both
    give equal signals)."""
    made: Signal = _new(Signal)
    _set_category(made, category)
    _set_severity(made, severity)
    _set_reason(made, reason)
    _set_groups(made, groups)
    _set_lowered(made, lowered)
    _set_method(made, method)
    return made


# The reason of a signal the learned stage added (moderation/blend.py): it rests on no hit.
LEARNED = "learned"


def make_signal(category: Category, severity: Severity, reason: str) -> Signal:
    """A signal resting on no hit (the learned stage's)."""
    return _signal(category, severity, reason, (), False, False)


_new = object.__new__
_slots: Mapping[str, Any] = vars(Signal)
_set_category = _slots["category"].__set__
_set_severity = _slots["severity"].__set__
_set_reason = _slots["reason"].__set__
_set_groups = _slots["groups"].__set__
_set_lowered = _slots["lowered"].__set__
_set_method = _slots["method"].__set__


def scan_terms(text: Normalized, lexicon: Lexicon) -> TermMatches:
    """Every term occurrence in the words view: the one automaton pass ``quiet`` and
    ``classify`` share."""
    return lexicon.automaton.iter(match_text(text.words))


def term_bits(terms: TermMatches) -> int:
    """The OR of the concept bits of every term occurrence (folded in C)."""
    return reduce(or_, map(_BITS, map(_VALUE, terms)), 0)


def signals_and_bits(text: Normalized, lexicon: Lexicon) -> tuple[tuple[Signal, ...], int]:
    """``signals(text, lexicon)`` and the OR of every term's concept bits (what the learned
    stage reads; a message with none shows no sign of anything, and the learned stage judges
    it alone, by a stricter threshold: moderation.blend.alone)."""
    automaton = lexicon.automaton
    found = automaton.find(match_text(text.words))
    bits: int = reduce(or_, map(_BITS, automaton.values_of(found)), 0)
    triggered = lexicon.triggered(text.plain)
    if _proved_quiet(text, lexicon, bits, triggered):
        return (), bits
    return _classify(text, lexicon, automaton.pairs(found), bits, triggered), bits


def signals(
    text: Normalized, lexicon: Lexicon, terms: TermMatches | None = None
) -> tuple[Signal, ...]:
    """Exactly ``classify(text, lexicon)``, at the cost of :func:`quiet` for quiet messages:
    the automaton pass, the concept bits and the triggered patterns are computed once."""
    if terms is None:  # scan_terms, with (last, value) pairs built only if classify runs
        automaton = lexicon.automaton
        found = automaton.find(match_text(text.words))
        bits: int = reduce(or_, map(_BITS, automaton.values_of(found)), 0)
        triggered = lexicon.triggered(text.plain)
        if _proved_quiet(text, lexicon, bits, triggered):
            return ()
        return _classify(text, lexicon, automaton.pairs(found), bits, triggered)
    bits = reduce(or_, map(_BITS, map(_VALUE, terms)), 0)  # term_bits, inlined
    triggered = lexicon.triggered(text.plain)
    if _proved_quiet(text, lexicon, bits, triggered):
        return ()
    return _classify(text, lexicon, terms, bits, triggered)


def _proved_quiet(text: Normalized, lexicon: Lexicon, bits: int, triggered: list[int]) -> bool:
    """:func:`quiet`'s proof, given the term bits and triggered patterns already found."""
    if bits & SIGNAL_BIT or lexicon.quiet.can_fire(bits):
        return False
    return not triggered or not _patterns_complete_a_rule(text, lexicon, bits, triggered)


def match(text: Normalized, lexicon: Lexicon, terms: TermMatches | None = None) -> tuple[Hit, ...]:
    """All hits in ``text``, with hits inside a shield phrase removed.

    Clauses end at sentence ends (newlines in the words view) and at ``clause_break`` terms
    ("but", "pero"); shields such as "nothing but" keep those from breaking.
    """
    if terms is None:
        terms = scan_terms(text, lexicon)
    hits, _ = _match(text, lexicon, terms, term_bits(terms), lexicon.triggered(text.plain))
    return tuple(hits)


def quiet(text: Normalized, lexicon: Lexicon, terms: TermMatches | None = None) -> bool:
    """True only when ``classify(text, lexicon)`` is certainly empty; cheaper than finding out.

    Every signal rests on a term that is a signal on its own or on a rule all of whose
    requirements some hit meets. So the OR of the concept bits of *every* term occurrence
    (before shields remove any: a superset of what ``match`` keeps), plus those of structural
    patterns that actually match, bounds what ``classify`` could see; if that holds no signal
    bit and lets no rule fire, ``classify`` returns ``()``. The fold runs in C; pattern
    regexes run only when their trigger holds and they could complete a rule. A ``False``
    only means "look properly": the caller then runs ``classify``.
    """
    if terms is None:
        terms = scan_terms(text, lexicon)
    return _proved_quiet(text, lexicon, term_bits(terms), lexicon.triggered(text.plain))


def _patterns_complete_a_rule(
    text: Normalized, lexicon: Lexicon, bits: int, triggered: list[int]
) -> bool:
    """Whether the patterns among ``triggered`` that match let a rule fire with ``bits``.

    If even every triggered pattern matching would not let one fire, no regex runs. Patterns
    that fire a rule on their own (``alone``: a name is personal data) are tried first, and
    one of them matching is a yes. When none does, the others often cannot fire a rule
    without them, and then none of their regexes runs. (Firing only gains from more bits,
    so deciding before every regex has run changes no answer.)
    """
    index = lexicon.quiet
    pattern_bits = index.pattern_bits
    alone = index.alone
    possible = bits
    first = []
    for number in triggered:
        possible |= pattern_bits[number]
        if alone[number]:
            first.append(number)
    if possible == bits or not (first or index.can_fire(possible)):
        return False
    for number in first:
        adds = pattern_bits[number]
        if adds & ~bits:
            pattern = lexicon.patterns[number]
            if pattern.occurs_in(getattr(text, pattern.view)):
                return True
    if len(first) == len(triggered):
        return False
    others = [number for number in triggered if not alone[number]]
    if first:  # the others now have to fire a rule without them
        possible = bits
        for number in others:
            possible |= pattern_bits[number]
        if possible == bits or not index.can_fire(possible):
            return False
    found = 0
    for number in others:
        adds = pattern_bits[number]
        if adds & ~(bits | found):
            pattern = lexicon.patterns[number]
            if pattern.occurs_in(getattr(text, pattern.view)):
                found |= adds
    return bool(found) and index.can_fire(bits | found)


def classify(
    text: Normalized, lexicon: Lexicon, terms: TermMatches | None = None
) -> tuple[Signal, ...]:
    """Signals for every term and rule that fired, with context applied.

    ``terms`` is :func:`scan_terms`'s result when the caller has it.
    """
    if terms is None:
        terms = scan_terms(text, lexicon)
    return _classify(text, lexicon, terms, term_bits(terms), lexicon.triggered(text.plain))


def _classify(
    text: Normalized, lexicon: Lexicon, terms: TermMatches, bits: int, triggered: list[int]
) -> tuple[Signal, ...]:
    hits, message = _match(text, lexicon, terms, bits, triggered)
    context = lexicon.quiet.context
    rules = lexicon.quiet.candidates(message)
    if not (rules or message & SIGNAL_BIT):
        return ()  # ordinary talk, no clause bookkeeping needed
    signal_hits = []
    clause_bits: dict[int, int] = {}  # in the order clauses first appear among the hits
    for hit in hits:  # (MESSAGE gets bits too; nothing looks them up)
        clause = hit[3]
        concepts = hit[5]
        clause_bits[clause] = clause_bits.get(clause, 0) | concepts
        if concepts & SIGNAL_BIT:
            signal_hits.append(hit)
    fired = _fired_rules(lexicon, rules, hits, message, clause_bits, context) if rules else []
    if not (signal_hits or fired):
        return ()  # candidate rules whose concepts meet only across clauses
    scope = _Context(text.words, hits, message, clause_bits, context)
    found: list[Signal] = []
    for hit in signal_hits:
        found.extend(scope.term_signals(hit))
    for rule, groups, method in fired:
        found.append(scope.rule_signal(rule, groups, method))
    return tuple(found)


def _match(
    text: Normalized, lexicon: Lexicon, terms: TermMatches, bits: int, triggered: list[int]
) -> tuple[list[Hit], int]:
    """The hits (terms in automaton order, then patterns in file order) and their bits' OR."""
    context = lexicon.quiet.context
    message = bits
    breaks = []
    shielded = bits & context.shield
    if shielded:
        found = [
            (last - back, last - tail, entry, concepts)
            for last, (back, tail, entry, concepts) in terms
        ]
        shields = [span for span in found if span[3] & context.shield]
        found = [span for span in found if not _shielded(span, shields)]
        message = reduce(or_, map(_BITS, found), 0)
        if message & context.clause_break:
            breaks = [start for start, _, _, concepts in found if concepts & context.clause_break]
    elif bits & context.clause_break:  # no shield: every term is a hit
        breaks = [
            last - back for last, (back, _, _, concepts) in terms if concepts & context.clause_break
        ]
    words = text.words
    position = words.find("\n")
    if position >= 0:
        while position >= 0:
            breaks.append(position)
            position = words.find("\n", position + 1)
        breaks.sort()
    if shielded:
        hits = [
            _hit(Hit, ("words", start, end, bisect_right(breaks, start), entry, concepts))
            for start, end, entry, concepts in found
        ]
    else:  # the same hits straight from the automaton's values, with no list of spans between
        hits = [
            _hit(Hit, ("words", start, last - tail, bisect_right(breaks, start), entry, concepts))
            for last, (back, tail, entry, concepts) in terms
            for start in (last - back,)
        ]
    if triggered:
        masks = lexicon.quiet.pattern_masks
        for number in triggered:
            pattern = lexicon.patterns[number]
            view = getattr(text, pattern.view)
            if pattern.guard is not None and pattern.guard.search(view) is None:
                continue  # the guard is necessary for a match, and far cheaper
            spans = "span" in pattern.regex.groupindex
            in_words = pattern.view == "words"
            for occurrence in pattern.regex.finditer(view):
                start, end = occurrence.span("span") if spans else occurrence.span()
                clause = bisect_right(breaks, start) if in_words else MESSAGE
                hits.append(
                    _hit(Hit, (pattern.view, start, end, clause, pattern.entry, masks[number]))
                )
                message |= masks[number]
    return hits, message


def _shielded(span: tuple[int, int, Any, int], shields: list[tuple[int, int, Any, int]]) -> bool:
    start, end = span[0], span[1]
    return any(shield is not span and shield[0] <= start and end <= shield[1] for shield in shields)


def _fired_rules(
    lexicon: Lexicon,
    rules: list[int],
    hits: Sequence[Hit],
    message: int,
    clause_bits: dict[int, int],
    bits: ContextBits,
) -> list[tuple[Rule, tuple[tuple[Hit, ...], ...], bool]]:
    """``(rule, hit groups, method)`` of each rule that fired, in rules-file order; a sentence
    rule once per clause that satisfies it.

    Scopes are tested on their bits alone, and a clause's hits are gathered only for a rule
    it satisfies: most candidate rules of chat meet their concepts in different sentences
    only ("I don't drink anymore. Two months today"), and then no clause needs its hits.
    """
    fired = []
    clauses: dict[int, list[Hit]] = {}  # a clause's hits, gathered on first need
    for number in rules:
        rule = lexicon.rules[number]
        masks = lexicon.quiet.rule_masks[number]
        if rule.scope == "message":
            scopes: list[Sequence[Hit]] = [hits] if all(map(message.__and__, masks)) else []
        else:
            scopes = []
            for clause, scope_bits in clause_bits.items():
                if clause != MESSAGE and all(map(scope_bits.__and__, masks)):
                    gathered = clauses.get(clause)
                    if gathered is None:
                        gathered = clauses[clause] = [hit for hit in hits if hit[3] == clause]
                    scopes.append(gathered)
        for members in scopes:
            groups = []
            for requirement, mask in zip(rule.requires, masks, strict=True):
                group = tuple(hit for hit in members if hit[5] & mask)
                if requirement.count > 1 and len({hit.entry.key for hit in group}) < (
                    requirement.count
                ):
                    break
                groups.append(group)
            else:
                means = any(hit[5] & bits.means for group in groups for hit in group)
                fired.append((rule, tuple(groups), rule.method or means))
    return fired


def _distinct_hits(groups: tuple[tuple[Hit, ...], ...]) -> tuple[Hit, ...]:
    """The hits of ``groups`` in order, each once (see :attr:`Signal.hits`)."""
    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0]
    found: list[Hit] = []
    for group in groups:
        for hit in group:
            if hit not in found:
                found.append(hit)
    return tuple(found)


def _raised(category: Category, severity: Severity, now: bool, means_elsewhere: bool) -> Severity:
    """A crisis signal's severity after context raised it: one level when its clause says
    ``now``, one more for suicide or self-harm when the message names means the signal does
    not already rest on (``means_elsewhere``). Other signals, and ``watch``, stay."""
    if category not in CRISIS_CATEGORIES or severity is _WATCH:
        return severity
    steps = 1 if now else 0
    if means_elsewhere and category in _METHOD_CATEGORIES:
        steps += 1
    return severity.raised(steps) if steps else severity


class _Context:
    """Lowers and raises signals by what surrounds their hits (see the module docstring)."""

    __slots__ = ("_negations", "_past", "bits", "clause_bits", "hits", "message", "words")

    def __init__(
        self,
        words: str,
        hits: Sequence[Hit],
        message: int,
        clause_bits: dict[int, int],
        bits: ContextBits,
    ) -> None:
        self.words = words
        self.hits = hits
        self.message = message
        self.clause_bits = clause_bits
        self.bits = bits
        self._negations: list[Hit] | None = None  # the message's, computed on first need
        self._past: frozenset[int] | None = None  # see _past_clauses, computed on first need

    def term_signals(self, hit: Hit) -> list[Signal]:
        """The signals of a term that is a signal on its own, context applied: what ``apply``
        gives for each, with the hit's lowering decided once for all of its entry's signals
        and no unlowered signal built first. A term's hit lies in one clause, so the clause
        tests of ``_lowered_hits`` are made on its bits directly."""
        bits = self.bits
        message = self.message
        clause = self.clause_bits[hit[3]]  # a term's hit is in the words view: in a clause
        groups = ((hit,),)
        reason = f"term:{hit[4].key}"
        method = bool(hit[5] & bits.means)
        if clause & bits.distancing and not (
            message & bits.self_assert and clause & bits.general_question
        ):
            lowered = True
        elif message & bits.past:
            lowered = hit[3] in self._past_clauses()
        else:
            lowered = False
        if not lowered and message & bits.negation:
            lowered = self._negated(groups)
        if not lowered:
            lowered = self._figure_of_speech(groups[0])
        if lowered:
            return [
                _signal(category, _WATCH, reason, groups, True, method)
                for category, _ in hit[4].signals
            ]
        now = bool(clause & bits.now)
        means_elsewhere = bool(message & bits.means) and not method
        return [
            _signal(
                category,
                _raised(category, severity, now, means_elsewhere),
                reason,
                groups,
                False,
                method,
            )
            for category, severity in hit[4].signals
        ]

    def rule_signal(self, rule: Rule, groups: tuple[tuple[Hit, ...], ...], method: bool) -> Signal:
        """The signal of a rule that fired on ``groups``, context applied: what ``apply``
        gives for it, without the unlowered signal built first."""
        hits = _distinct_hits(groups)
        numbers = {hit[3] for hit in hits}
        numbers.discard(MESSAGE)
        clauses = [self.clause_bits[number] for number in numbers]
        category = rule.category
        if self._lowered_hits(hits, groups, numbers, clauses):
            return _signal(category, _WATCH, rule.name, groups, True, method)
        severity = self._raise(category, rule.severity, hits, clauses)
        return _signal(category, severity, rule.name, groups, False, method)

    def apply(self, signal: Signal) -> Signal:
        """``signal`` lowered or raised by its context: the definition ``term_signals`` and
        ``rule_signal`` build from directly (the classifier's tests hold them to it)."""
        hits = signal.hits  # built once per signal: the checks below all walk it
        numbers = {hit[3] for hit in hits}
        numbers.discard(MESSAGE)
        clauses = [self.clause_bits[number] for number in numbers]
        if self._lowered_hits(hits, signal.groups, numbers, clauses):
            return signal.at(_WATCH, lowered=True)
        severity = self._raise(signal.category, signal.severity, hits, clauses)
        return signal if severity is signal.severity else signal.at(severity, lowered=False)

    def _lowered_hits(
        self,
        hits: tuple[Hit, ...],
        groups: tuple[tuple[Hit, ...], ...],
        numbers: set[int],
        clauses: list[int],
    ) -> bool:
        """Whether a signal resting on ``hits`` (``groups``, by requirement), in the clauses
        numbered ``numbers`` (whose bits are ``clauses``), is lowered to watch."""
        bits = self.bits
        message = self.message
        if clauses:
            distancing = bits.distancing
            if message & bits.self_assert:  # then a general question is not distancing
                question = bits.general_question
                if all(clause & distancing and not clause & question for clause in clauses):
                    return True
            elif all(clause & distancing for clause in clauses):
                return True
            if message & bits.past:  # (else no clause has it either)
                if self._past_clauses().issuperset(numbers):
                    return True
                if self._act_in_the_past(groups[0]):
                    return True
        if message & bits.negation and self._negated(groups):
            return True
        return self._figure_of_speech(hits)

    def _figure_of_speech(self, hits: tuple[Hit, ...]) -> bool:
        """Whether a signal resting on ``hits`` reads as a figure of speech: ``figurative``
        terms alone with nothing ``literal`` in the message, or beside laughter; an
        ``idiomatic`` term beside laughter. The term and rule paths both ask here."""
        bits = self.bits
        message = self.message
        figurative = all("figurative" in hit[4].flags for hit in hits)
        if figurative and not message & bits.literal:
            return True
        if not message & bits.laughter:
            return False
        return figurative or any("idiomatic" in hit[4].flags for hit in hits)

    def _past_clauses(self) -> frozenset[int]:
        """The clauses a story in the past covers: each with a past word and no present one
        ("five years ago i overdosed, today i coach"), and each after such a clause with no
        time word of its own ("... it was the worst night of my life"), up to one that is
        present, recent or now; and the clause just before one that both points back and says
        how long ago ("i overdosed. that was years ago"), if it has no present or now word.

        A story runs forward from its past word. A clause before every past word is not in it
        unless a dated pointer names it: "i want to kill myself. years ago i was happy" is about
        today, and so is "i cut myself. that was an hour ago" (a pointer, but no past)."""
        if self._past is None:
            bits = self.bits
            clause_bits = self.clause_bits
            past, today = bits.past, bits.present | bits.now
            covered: set[int] = set()
            telling = False
            for number in sorted(clause_bits):
                if number == MESSAGE:
                    continue
                clause = clause_bits[number]
                if clause & past and not clause & bits.present:  # "years ago ..., today ..."
                    telling = True
                    if clause & bits.past_then and not clause_bits.get(number - 1, 0) & today:
                        covered.add(number - 1)
                elif clause & today:
                    telling = False
                if telling:
                    covered.add(number)
            self._past = frozenset(covered)
        return self._past

    def _act_in_the_past(self, act: tuple[Hit, ...]) -> bool:
        """Whether every clause of ``act`` (the hits of a rule's first requirement: the act
        itself -- the violence, the pills, the jump -- where the others qualify it) says it is
        past and nothing in it says it is still so: "my husband used to hit me. we divorced in
        2015. i'm safe and happy now" is a story, though "now" and the husband complete the
        rule from other sentences. A clause without a past word of its own keeps the signal
        ("i used to cut. last night i cut again")."""
        bits = self.bits
        numbers = {hit[3] for hit in act}
        numbers.discard(MESSAGE)
        clause_bits = self.clause_bits
        return bool(numbers) and all(
            clause_bits[number] & bits.past and not clause_bits[number] & bits.present
            for number in numbers
        )

    def _negated(self, groups: tuple[tuple[Hit, ...], ...]) -> bool:
        """True when every hit meeting one of the signal's requirements is negated."""
        if not self.message & self.bits.negation:
            return False
        negations = self._negations
        if negations is None:  # the same for every signal of the message
            negation_bit = self.bits.negation
            negations = [hit for hit in self.hits if hit[5] & negation_bit]
            if negations:
                words = [hit for hit in self.hits if hit[0] == "words"]
                negations = [hit for hit in negations if not _inside_phrase(hit, words)]
            self._negations = negations
        if not negations:
            return False
        for group in groups:
            for hit in group:
                if not self._is_negated(hit, negations):
                    break
            else:
                return True
        return False

    def _is_negated(self, hit: Hit, negations: list[Hit]) -> bool:
        if hit.view != "words" or hit.bits & (self.bits.now | self.bits.present):
            return False
        return any(
            negation.clause == hit.clause
            and negation.end <= hit.start
            and "," not in self.words[negation.end : hit.start]
            and self.words.count(" ", negation.end, hit.start) <= NEGATION_REACH + 1
            for negation in negations
        )

    def _raise(
        self, category: Category, severity: Severity, hits: tuple[Hit, ...], clauses: list[int]
    ) -> Severity:
        """``_raised`` for a signal resting on ``hits`` in ``clauses``."""
        if category not in CRISIS_CATEGORIES or severity is _WATCH:
            return severity  # (before the clause and means walks below)
        bits = self.bits
        now = any(clause & bits.now for clause in clauses)
        means = bits.means
        means_elsewhere = bool(self.message & means) and not any(hit[5] & means for hit in hits)
        return _raised(category, severity, now, means_elsewhere)


def _inside_phrase(negation: Hit, words: list[Hit]) -> bool:
    """A negation inside a longer phrase ("can't stop", "won't wake up") negates nothing."""
    return any(
        hit.start <= negation.start and negation.end <= hit.end and hit is not negation
        for hit in words
    )
