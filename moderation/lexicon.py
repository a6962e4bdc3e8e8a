"""Load the lexicon data files and compile them once into an immutable :class:`Lexicon`.

The words and rules are data (``moderation/lexicon/``), reviewed like code and versioned by
``manifest.json``; this module only parses, validates and compiles them. Every term is passed
through :func:`moderation.normalize.normalize_term`, the same transform messages get, so a term
written "kill myself" meets "k i l l  m y s e l f" and "kіll mysеlf". All terms go into one
Aho-Corasick automaton: matching costs one pass over the message whatever the lexicon's size.

Term files (TSV, ``#`` comments): ``term concepts category severity lang source flags``.
``concepts`` is a comma list of concept classes; a term with a category and severity is also
a signal on its own. Flags: ``idiomatic`` (lowered by laughter), ``maskable`` (also matches
with up to three inner letters starred, "b*tch"), ``exact`` (no apostrophe-free variant).

Patterns file (TSV): ``pattern concepts view trigger regex`` for what a word list cannot hold
(phone numbers, addresses, links, years); ``view`` names the
:class:`~moderation.normalize.Normalized` view it runs on, and a group named ``span`` narrows
the reported span. Python regexes cost microseconds per message each, so a pattern runs only
when its ``trigger`` holds on the plain view: ``|``-separated literals of which one must
occur, or with an ``N~`` prefix, which must occur N times in total ("7~0|1|...|9": seven
digits). Groups joined by ``&`` must all hold ("\\d&street| st": a digit and a street word).
A group listing exactly the ten ASCII digits is counted with one C call instead of the
automaton (digits are the commonest literals); the group ``\\d`` (``N~\\d``) counts decimal
digits of any script, as the regex ``\\d`` matches them. A group starting with ``=`` lists
whole words ("=street|st|ave"), of which one must be a maximal run of ASCII letters, digits
and underscores in the plain view: a word the regex needs between ``\\s`` or ``\\b`` on both
sides, where a literal such as " st" also meets "still" and "stress". Such a group is only
allowed for patterns on the plain view, and tested (one split) only when the rest of the
trigger holds. At most one group of other literals may be given. An empty trigger always
runs.

Rules file (TSV): ``rule category severity requires scope flags``. ``requires`` is
``+``-separated groups of ``|``-separated concepts; ``concept*2`` needs two distinct terms.
Scope is ``sentence`` (one clause) or ``message``. Flag ``method``: the rule is evidence of
method or means detail.

Real words (``real_words`` in the manifest, one word a line): common words no one-word term
may become when one of its doubled letters is written once, since a writer typing the word is
far likelier than one stretching the term ("noose" -> "nose"); see :func:`_singled`.

Speed: most chat messages meet lexicon terms ("today", "but", "last night") yet nothing that
can become a signal. :class:`QuietIndex` compiles, once per lexicon, what lets the classifier
prove that cheaply: every concept is a bit, every automaton value carries the OR of its
entry's concept bits (and a bit for "is a signal on its own"), and every rule is a tuple of
requirement masks. Trigger literals count into fixed-width bit fields of one integer, biased
so that a field's top bit is set exactly when its pattern's trigger holds.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import reduce
from importlib import resources
from operator import add, itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ahocorasick_rs import AhoCorasick, Implementation, MatchKind

from moderation.learned import LearnedModel
from moderation.normalize import Vocabulary, normalize_term
from moderation.verdict import Category, Severity

_TERM_COLUMNS = ("term", "concepts", "category", "severity", "lang", "source", "flags")
_RULE_COLUMNS = ("rule", "category", "severity", "requires", "scope", "flags")
_PATTERN_COLUMNS = ("pattern", "concepts", "view", "trigger", "regex")
_VIEWS = frozenset({"raw", "plain", "words", "links"})
_TERM_FLAGS = frozenset({"idiomatic", "figurative", "maskable", "exact"})
_SCOPES = frozenset({"sentence", "message"})
_MAX_MASK = 3
SIGNAL_BIT = 1  # in an automaton value's concept bits: the entry is a signal on its own
_FIELD = 64  # bits per pattern in the trigger counter (see QuietIndex)
_TOP = 1 << (_FIELD - 1)
_first = itemgetter(0)


class LexiconError(ValueError):
    """A data file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Term:
    """One lexicon row after validation."""

    text: str
    concepts: frozenset[str]
    category: Category | None
    severity: Severity | None
    lang: str
    source: str
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class Entry:
    """Everything one normalised key means, merged at compile time so matching does no work.

    ``signals`` holds the (category, severity) of every term under the key that is a signal
    on its own; ``flags`` is the union of the terms' flags.
    """

    key: str
    terms: tuple[Term, ...]
    concepts: frozenset[str]
    signals: tuple[tuple[Category, Severity], ...]
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class ClassGuard:
    """A guard regex over the classes ``[A-Z]``, ``[a-z'-]`` and ``\\s`` alone, searched in
    ASCII text as the same regex over one class byte per character (``U``, ``l``, ``s``,
    else ``x``; see :func:`class_guard`).

    ``full_name``'s guard runs on most chat (its trigger holds on "is ") and almost never
    passes; a byte translation and a search for literal bytes cost about half of the
    ``str`` regex scanning for a capital letter. Text that is not ASCII (where ``\\s`` also
    means Unicode spaces) goes to ``regex`` itself.
    """

    regex: re.Pattern[str]
    classes: re.Pattern[bytes]

    def search(self, view: str) -> object | None:
        """Not None exactly when ``regex.search(view)`` is not None."""
        if view.isascii():
            return self.classes.search(view.encode().translate(_CLASS_BYTES))
        return self.regex.search(view)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression run on one view when its trigger holds; matches mean ``entry``.

    ``guard`` (derived at load, see :func:`span_guard`) is a cheaper regex that matches
    wherever ``regex`` does, so when it finds nothing ``regex`` need not run; a guard made
    only of letter-case and space classes is searched as a :class:`ClassGuard`.
    """

    regex: re.Pattern[str]
    view: str
    entry: Entry
    literals: tuple[str, ...] = ()
    at_least: int = 1
    guard: re.Pattern[str] | ClassGuard | None = None
    digits: int = 0  # ASCII digits the plain view must hold (a trigger group of the ten digits)
    decimals: int = 0  # decimal digits of any script it must hold (a ``\\d`` trigger group)
    words: frozenset[bytes] = frozenset()  # one must be a whole word of plain (a ``=`` group)

    def occurs_in(self, view: str) -> bool:
        """Whether ``regex`` matches somewhere in ``view`` (the guard first, when there is one)."""
        if self.guard is not None and self.guard.search(view) is None:
            return False
        return self.regex.search(view) is not None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One group of a rule: any of ``concepts``, from at least ``count`` distinct terms."""

    concepts: frozenset[str]
    count: int = 1


@dataclass(frozen=True, slots=True)
class Rule:
    """Concepts that together signal ``category`` at ``severity`` within ``scope``."""

    name: str
    category: Category
    severity: Severity
    requires: tuple[Requirement, ...]
    scope: str
    method: bool


_DISTANCING = ("media", "education", "rules_quote", "accident", "resolved", "general_question")
# Concepts that make a figurative term ("can't breathe", "blue lips") literal: a drug, taking
# something, too much of it, an overdose named, a rescue. Without one of them, laughter, pollen
# and a cold lake are likelier than an overdose, and the learned stage decides.
_LITERAL = (
    "substance",
    "ingest",
    "overdose_term",
    "excess",
    "use_act",
    "mixing",
    "rescue",
    "rescue_failing",
    "urgent_help",
    "opioid",
    "benzo",
    "stimulant",
    "alcohol",
    "paraphernalia",
    "substance_slang",
)


@dataclass(frozen=True, slots=True)
class ContextBits:
    """The bits of the concept names the classifier's context rules rely on (see
    moderation/classifier.py); 0 for a name this lexicon does not use (never present)."""

    shield: int
    clause_break: int
    negation: int
    past: int
    past_then: int  # a past word that points back at what was just said ("that was")
    present: int
    now: int
    means: int
    laughter: int
    self_assert: int
    general_question: int
    distancing: int  # media, education, rules_quote, accident, resolved, general_question
    literal: int  # what makes a figurative term literal (_LITERAL)

    @classmethod
    def of(cls, bits: Mapping[str, int]) -> ContextBits:
        """The context bits under the concept numbering ``bits``."""
        bit = bits.get
        return cls(
            shield=bit("shield", 0),
            clause_break=bit("clause_break", 0),
            negation=bit("negation", 0),
            past=bit("past", 0),
            past_then=bit("past_then", 0),
            present=bit("present", 0),
            now=bit("now", 0),
            means=bit("means", 0),
            laughter=bit("laughter", 0),
            self_assert=bit("self_assert", 0),
            general_question=bit("general_question", 0),
            distancing=_mask((name for name in _DISTANCING if name in bits), bits),
            literal=_mask((name for name in _LITERAL if name in bits), bits),
        )


@dataclass(frozen=True, slots=True)
class QuietIndex:
    """Bitmask forms of the concepts, rules and triggers, compiled once per lexicon.

    ``concept_bits`` gives each concept one bit (bit 0 is :data:`SIGNAL_BIT`).
    ``firsts`` maps a concept bit to ``(rule number, masks of the other requirements)`` for
    every rule whose first requirement names that concept (file order): with that bit
    present, the rule can fire exactly when each of the other masks meets the message's bits.
    ``can_fire`` asks only whether one can, and most rules have at most one other
    requirement, so ``first_pairs`` folds those per concept bit into one mask (all bits set
    when a rule needs nothing else): with the bit present, some of them fires exactly when
    that mask meets the message's bits. ``first_longer`` keeps the other masks of the rest.
    ``pattern_bits`` are each pattern's concepts that some rule requires (patterns never
    signal on their own, so other concepts cannot make a message loud); ``alone`` says, per
    pattern, whether its own bits let a rule fire (a name alone is personal data).

    Triggers: pattern ``i`` owns bits ``[64 i, 64 i + 64)`` of one integer, which starts at
    ``trigger_bias`` (``2**63 - at_least`` in each field) and gains ``1 << 64 i`` per literal
    occurrence, so the field's top bit is set exactly when the count reaches ``at_least``
    (patterns without literals start with it set). A field cannot overflow while the text is
    shorter than ``count_limit`` (occurrences <= length x literals of the pattern).
    """

    concept_bits: Mapping[str, int]
    firsts: Mapping[int, tuple[tuple[int, tuple[int, ...]], ...]]
    first_bits: int
    first_pairs: Mapping[int, int]
    first_longer: Mapping[int, tuple[tuple[int, ...], ...]]
    pattern_bits: tuple[int, ...]
    alone: tuple[bool, ...]
    trigger_bias: int
    trigger_tops: tuple[tuple[int, int], ...]  # (top bit of the field, pattern index)
    count_limit: int
    all_tops: int  # every field's top bit, so one AND tells which triggers hold
    # (top bit, count) of each pattern that also needs that many ASCII digits, or decimals;
    # and the OR of those top bits, so one AND tells whether to count at all
    digit_needs: tuple[tuple[int, int], ...]
    digit_tops: int
    decimal_needs: tuple[tuple[int, int], ...]
    decimal_tops: int
    # (top bit, words) of each pattern with a whole-word group, and the OR of those top bits
    word_needs: tuple[tuple[int, frozenset[bytes]], ...]
    word_tops: int
    # For the classifier (see moderation.classifier): every concept bit of each pattern and
    # each rule's requirement masks (file order).
    pattern_masks: tuple[int, ...]
    rule_masks: tuple[tuple[int, ...], ...]
    context: ContextBits

    def candidates(self, bits: int) -> list[int]:
        """File-order numbers of the rules each requirement of which some concept in ``bits``
        meets (what ``can_fire`` tests, but every such rule).

        A first concept's rules are walked only when ``can_fire``'s test for that concept
        (its folded pair mask, or rules needing two others or more) says one may fire.
        """
        first = bits & self.first_bits
        numbers: list[int] = []
        meets = bits.__and__
        pairs = self.first_pairs
        longer = self.first_longer
        while first:
            low = first & -first
            first ^= low
            if bits & pairs[low] or longer[low]:
                numbers.extend(number for number, rest in self.firsts[low] if all(map(meets, rest)))
        if len(numbers) > 1:
            return sorted(set(numbers))
        return numbers

    def can_fire(self, bits: int) -> bool:
        """Whether some rule has every requirement met by a concept in ``bits``."""
        first = bits & self.first_bits
        pairs = self.first_pairs
        meets = bits.__and__
        while first:
            low = first & -first
            if bits & pairs[low]:
                return True
            for rest in self.first_longer[low]:
                if all(map(meets, rest)):
                    return True
            first ^= low
        return False


class Automaton:
    """Aho-Corasick over ``str`` keys, one value per key: every occurrence of every key.

    Built on ``ahocorasick_rs`` (the Rust ``aho-corasick`` crate). pyahocorasick, used first,
    finds a node's child by scanning its children one by one, a pointer chased for each; here
    a transition is a table lookup. The small trigger automaton is a DFA (the plain view's
    trigger pass: 4.6 -> 2.4 us on chat); the words automaton, ~15,000 states, is a contiguous
    NFA, as fast as pyahocorasick there and smaller than a DFA (the lexicon as a whole takes
    ~1 MB less than before). Occurrences come in text order, longer keys first among those
    ending at one character, as ``(index of the last character, value)``: pyahocorasick's
    order and form, which the classifier reads.
    """

    __slots__ = ("_search", "_values")

    def __init__(
        self, values_by_key: Mapping[str, Any], implementation: Implementation = Implementation.DFA
    ) -> None:
        self._values = tuple(values_by_key.values())
        self._search = AhoCorasick(
            list(values_by_key), matchkind=MatchKind.Standard, implementation=implementation
        ).find_matches_as_indexes

    def iter(self, text: str) -> list[tuple[int, Any]]:
        """Every occurrence in ``text``: ``(index of its last character, value)``."""
        return self.pairs(self.find(text))

    def values(self, text: str) -> Iterator[Any]:
        """The value of every occurrence in ``text``, without positions (mapped in C)."""
        return self.values_of(self.find(text))

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """Every occurrence in ``text`` as the search gives it: ``(key number, start, end)``.

        With :meth:`values_of` and :meth:`pairs`, a caller that may need positions only
        sometimes (the classifier, for the few messages that are not quiet) searches once.
        """
        return self._search(text, overlapping=True)

    def values_of(self, found: list[tuple[int, int, int]]) -> Iterator[Any]:
        """The values of occurrences from :meth:`find` (mapped in C)."""
        return map(self._values.__getitem__, map(_first, found))

    def pairs(self, found: list[tuple[int, int, int]]) -> list[tuple[int, Any]]:
        """Occurrences from :meth:`find` as :meth:`iter` gives them."""
        values = self._values
        return [(end - 1, values[key]) for key, _, end in found]


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Compiled, read-only lexicon. Build it with :func:`load_lexicon`; share it freely."""

    version: str
    # padded key -> (start back, end back, Entry, concept bits): a match whose last character
    # is at ``last`` of ``match_text(words)`` is ``words[last - start back : last - end back]``
    automaton: Automaton
    patterns: tuple[Pattern, ...]
    rules: tuple[Rule, ...]
    rules_by_concept: Mapping[str, tuple[Rule, ...]]
    term_count: int
    triggers: Automaton  # over the plain view: trigger literal -> counter increment
    quiet: QuietIndex
    # Every word of every term, and the short words that join them: what a run of letters
    # spaced one by one is cut into (moderation.normalize).
    vocabulary: Vocabulary
    # The concept named by each bit of the concept masks (index = bit number; bit 0, the
    # signal bit, names nothing): for the learned stage's features.
    concept_names: tuple[str, ...]
    # The learned second stage (moderation/learned.py), when the manifest names one.
    model: LearnedModel | None = None

    def patterns_for(self, plain: str) -> list[Pattern]:
        """The patterns whose trigger holds on ``plain``: one C pass instead of one per pattern."""
        return [self.patterns[index] for index in self.triggered(plain)]

    def triggered(self, plain: str) -> list[int]:
        """Indexes, in file order, of the patterns whose trigger holds on ``plain``.

        Summing the literals' counter increments runs in C (``reduce`` over ``map``), where a
        per-occurrence Python loop cost microseconds on digit-rich text.
        """
        index = self.quiet
        if len(plain) >= index.count_limit:
            return self._triggered_slowly(plain)
        total = reduce(add, self.triggers.values(plain), index.trigger_bias)
        held = total & index.all_tops  # one big-integer operation, then only the set fields
        digits = -1
        if held & index.digit_tops:  # some held pattern also needs its digits counted
            digits = count_digits(plain)
            for top, needed in index.digit_needs:
                if digits < needed and held & top:
                    held ^= top
        if held & index.decimal_tops:
            # in ASCII text the decimal digits are the ASCII digits: one count serves both
            if not plain.isascii():
                decimals = count_decimals(plain)
            elif digits < 0:
                decimals = count_digits(plain)
            else:
                decimals = digits
            for top, needed in index.decimal_needs:
                if decimals < needed and held & top:
                    held ^= top
        if held & index.word_tops:
            present = whole_words(plain)
            for top, words in index.word_needs:
                if held & top and words.isdisjoint(present):
                    held ^= top
        found = []
        while held:
            top = held & -held
            held ^= top
            found.append((top.bit_length() - 1) // _FIELD)
        return found

    def _triggered_slowly(self, plain: str) -> list[int]:
        """Exact per-pattern counts, for texts long enough to overflow a counter field."""
        counts: dict[int, int] = {}
        for increment in self.triggers.values(plain):
            for index in range(len(self.patterns)):
                field = increment >> (_FIELD * index) & (_TOP * 2 - 1)
                if field:
                    counts[index] = counts.get(index, 0) + field
        digits, decimals = count_digits(plain), count_decimals(plain)
        present = whole_words(plain)
        return [
            index
            for index, pattern in enumerate(self.patterns)
            if (not pattern.literals or counts.get(index, 0) >= pattern.at_least)
            and digits >= pattern.digits
            and decimals >= pattern.decimals
            and (not pattern.words or not pattern.words.isdisjoint(present))
        ]

    def rules_for(self, concepts: Iterable[str]) -> tuple[Rule, ...]:
        """Rules whose first requirement one of ``concepts`` can meet, in file order.

        File order, not the order ``concepts`` arrive in: callers pass concepts gathered from
        ``frozenset`` iteration, whose order follows ``PYTHONHASHSEED``, and the rules' order
        becomes the order of ``Verdict.reasons``, which must be the same in every process.
        """
        found = {
            rule.name for concept in concepts for rule in self.rules_by_concept.get(concept, ())
        }
        return tuple(rule for rule in self.rules if rule.name in found)


_ASCII_DIGITS = b"0123456789"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def count_digits(text: str) -> int:
    """How many ASCII digits ``text`` holds (two C calls, whatever the text)."""
    encoded = text.encode()
    return len(encoded) - len(encoded.translate(None, _ASCII_DIGITS))


# Every byte but ASCII letters, digits and "_" becomes a space (UTF-8 bytes of other characters
# too: a separator more only splits a word that could not have been the regex's whole word).
_NOT_WORD_BYTES = bytes(
    code if chr(code).isascii() and (chr(code).isalnum() or chr(code) == "_") else ord(" ")
    for code in range(256)
)


def whole_words(text: str) -> list[bytes]:
    """The maximal runs of ASCII letters, digits and underscores of ``text``, as bytes.

    A regex word between ``\\s`` (or ``\\b``) and ``\\b`` is one of them: ``\\b`` needs a
    non-word character or an end beside it, and every such character splits here.
    """
    return text.encode().translate(_NOT_WORD_BYTES).split()


def count_decimals(text: str) -> int:
    """How many characters of ``text`` the regex ``\\d`` matches (decimal digits of any
    script: NFKC leaves Arabic-Indic or Devanagari digits as they are)."""
    found = count_digits(text)
    if not text.isascii():
        found += sum(char.isdecimal() for char in _NON_ASCII.findall(text))
    return found


def default_path() -> Path:
    """The lexicon shipped with the package."""
    return Path(str(resources.files("moderation") / "lexicon"))


def load_lexicon(path: Path | None = None, *, learned: bool = True) -> Lexicon:
    """Read ``path`` (a directory with ``manifest.json``; default: shipped data) and compile it;
    with the learned model the manifest names, unless ``learned`` is false (for training)."""
    directory = default_path() if path is None else path
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    version = manifest.get("version")
    if not isinstance(version, str) or not version:
        raise LexiconError("manifest.json needs a non-empty string 'version'")
    terms = [term for name in manifest["terms"] for term in _read_terms(directory / name)]
    patterns = tuple(_read_patterns(directory / manifest["patterns"]))
    rules = tuple(_read_rules(directory / manifest["rules"]))
    real_words = manifest.get("real_words")
    kept = frozenset() if real_words is None else frozenset(_read_words(directory / real_words))
    lexicon = compile_lexicon(version, terms, patterns, rules, kept)
    model_file = manifest.get("model")
    if model_file is None or not learned:
        return lexicon
    try:
        model = LearnedModel.from_json(
            json.loads((directory / model_file).read_text(encoding="utf-8"))
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LexiconError(f"{model_file}: not a learned model ({exc})") from exc
    if model.lexicon_version != version:
        raise LexiconError(
            f"{model_file} was trained with lexicon {model.lexicon_version}, not {version}:"
            " retrain it (python -m training)"
        )
    return replace(lexicon, model=model)


def compile_lexicon(
    version: str,
    terms: Iterable[Term],
    patterns: tuple[Pattern, ...],
    rules: tuple[Rule, ...],
    real_words: frozenset[str] = frozenset(),
) -> Lexicon:
    """Build the automaton (key -> all terms sharing that normalised form) and rule index;
    ``real_words`` are kept from being read as squeezed terms (see :func:`_singled`)."""
    by_key: dict[str, list[Term]] = defaultdict(list)
    for term in terms:
        for key in _keys(term, real_words):
            if term not in by_key[key]:
                by_key[key].append(term)
    entries = {key: _entry(key, tuple(terms)) for key, terms in by_key.items()}
    bits = _concept_bits(entries.values(), patterns, rules)
    values_by_key: dict[str, tuple[int, int, Entry, int]] = {}
    # sorted, so that of keys padding to the same text the same one wins (the last) every time
    for padded, entry in sorted(
        ((match_key(key), entry) for key, entry in entries.items()), key=_common_first
    ):
        signal = SIGNAL_BIT if entry.signals else 0
        back = (len(padded) - (padded[0] == " "), int(padded[-1] == " "))
        values_by_key[padded] = (*back, entry, _mask(entry.concepts, bits) | signal)
    automaton = Automaton(values_by_key, Implementation.ContiguousNFA)
    index: dict[str, list[Rule]] = defaultdict(list)
    for rule in rules:
        for concept in rule.requires[0].concepts:
            index[concept].append(rule)
    frozen_index = MappingProxyType({key: tuple(value) for key, value in index.items()})
    triggers = _trigger_automaton(patterns)
    quiet = _quiet_index(bits, patterns, rules)
    # Words of the terms as written, not of their variants ("killmyself" is a key, not a word).
    written = {term.text for entries in by_key.values() for term in entries}
    words = {word for text in written for word in normalize_term(text).split()}
    return Lexicon(
        version,
        automaton,
        patterns,
        rules,
        frozen_index,
        len(by_key),
        triggers,
        quiet,
        Vocabulary.of(words | _GLUE_WORDS),
        ("", *sorted(bits, key=bits.__getitem__)),
    )


# Short words that sit between the lexicon's words in a sentence typed letter by letter
# ("i w a n t t o d i e"), English and Spanish.
_GLUE_WORDS = frozenset(
    "i a am im me my mine to the and or so it its is be was were are will just now all this "
    "that of in on at for with you u he she we they them him her not no do dont did want "
    "wanna gonna going go get got have has can cant cannot never ever again still really "
    "yo me mi mis a la el los las de del que y o no ya voy quiero estoy es un una se lo le "
    "por para con sin hoy esta este".split()
)


def _concept_bits(
    entries: Iterable[Entry], patterns: tuple[Pattern, ...], rules: tuple[Rule, ...]
) -> dict[str, int]:
    """One bit per concept (sorted, so the numbering is reproducible); bit 0 is the signal."""
    names = {concept for entry in entries for concept in entry.concepts}
    names |= {concept for pattern in patterns for concept in pattern.entry.concepts}
    names |= {concept for rule in rules for group in rule.requires for concept in group.concepts}
    return {name: 1 << number for number, name in enumerate(sorted(names), start=1)}


def _mask(concepts: Iterable[str], bits: Mapping[str, int]) -> int:
    return reduce(int.__or__, (bits[concept] for concept in concepts), 0)


def _pair_mask(rests: Iterable[tuple[int, ...]]) -> int:
    """The OR of the masks of rests with one mask; -1 (every bit) if a rest is empty."""
    found = 0
    for rest in rests:
        if not rest:
            return -1
        if len(rest) == 1:
            found |= rest[0]
    return found


def _quiet_index(
    bits: dict[str, int], patterns: tuple[Pattern, ...], rules: tuple[Rule, ...]
) -> QuietIndex:
    firsts: dict[int, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
    required = 0
    for number, rule in enumerate(rules):
        masks = tuple(_mask(group.concepts, bits) for group in rule.requires)
        required |= _mask((c for group in rule.requires for c in group.concepts), bits)
        for concept in sorted(rule.requires[0].concepts):
            firsts[bits[concept]].append((number, masks[1:]))
    first = _mask((concept for rule in rules for concept in rule.requires[0].concepts), bits)
    bias = sum(
        (_TOP - (pattern.at_least if pattern.literals else 0)) << (_FIELD * index)
        for index, pattern in enumerate(patterns)
    )
    tops = tuple((_TOP << (_FIELD * index), index) for index in range(len(patterns)))
    widest = max((len(pattern.literals) for pattern in patterns), default=1) or 1
    digit_needs = tuple((tops[i][0], p.digits) for i, p in enumerate(patterns) if p.digits)
    decimal_needs = tuple((tops[i][0], p.decimals) for i, p in enumerate(patterns) if p.decimals)
    word_needs = tuple((tops[i][0], p.words) for i, p in enumerate(patterns) if p.words)
    fits = all(pattern.at_least <= _TOP for pattern in patterns)
    pattern_bits = tuple(_mask(p.entry.concepts, bits) & required for p in patterns)
    index = QuietIndex(
        concept_bits=MappingProxyType(bits),
        firsts=MappingProxyType({bit: tuple(entries) for bit, entries in firsts.items()}),
        first_bits=first,
        first_pairs=MappingProxyType(
            {bit: _pair_mask(rest for _, rest in entries) for bit, entries in firsts.items()}
        ),
        first_longer=MappingProxyType(
            {bit: tuple(r for _, r in entries if len(r) > 1) for bit, entries in firsts.items()}
        ),
        pattern_bits=pattern_bits,
        alone=(),  # filled in below: which patterns fire a rule alone is asked of the index
        pattern_masks=tuple(_mask(p.entry.concepts, bits) for p in patterns),
        context=ContextBits.of(bits),
        rule_masks=tuple(tuple(_mask(g.concepts, bits) for g in rule.requires) for rule in rules),
        trigger_bias=bias,
        trigger_tops=tops,
        count_limit=_TOP // widest if fits else 0,
        all_tops=sum(top for top, _ in tops),
        digit_needs=digit_needs,
        digit_tops=sum(top for top, _ in digit_needs),
        decimal_needs=decimal_needs,
        decimal_tops=sum(top for top, _ in decimal_needs),
        word_needs=word_needs,
        word_tops=sum(top for top, _ in word_needs),
    )
    return replace(index, alone=tuple(index.can_fire(adds) for adds in pattern_bits))


def _trigger_automaton(patterns: tuple[Pattern, ...]) -> Automaton:
    """Trigger literal -> the sum of ``1 << 64 i`` over each pattern ``i`` listing it (a
    literal listed twice by one pattern counts twice, as each listing is one occurrence)."""
    by_literal: dict[str, int] = defaultdict(int)
    for index, pattern in enumerate(patterns):
        for literal in pattern.literals:
            by_literal[literal] += 1 << (_FIELD * index)
    return Automaton(by_literal)


# The order terms are compiled in, by how common their characters are in chat. Matching does
# not depend on it (it once made pyahocorasick faster); it only decides, the same way in every
# process, which of two terms normalising to one key is the one kept.
_COMMON = " \netaoinsrhldcumfpgwybvk,'.xjqz0123456789"
_RANK = {char: rank for rank, char in enumerate(_COMMON)}


def _common_first(item: str | tuple[str, Any]) -> list[int]:
    """Sort key: the text's characters by rank in ``_COMMON`` (others after, by code point)."""
    text = item if isinstance(item, str) else item[0]
    rank = _RANK.get
    return [rank(char, len(_COMMON) + ord(char)) for char in text]


# Word boundaries cost nothing at match time: the matched text has every word between spaces
# (see ``match_text``) and keys are padded with a space on each side that starts or ends with a
# letter or digit, so "kill" never matches inside "skill". Emoji keys stay unpadded.
def match_text(words: str) -> str:
    """The words view as the automaton reads it: one space before, one after, same offsets + 1.

    Newlines, commas and apostrophes become spaces (``str.replace`` stays in C for any text).
    """
    return " " + words.replace("\n", " ").replace(",", " ").replace("'", " ") + " "


def match_key(key: str) -> str:
    """A normalised key as stored in the automaton (see ``match_text``)."""
    spaced = key.replace("\n", " ").replace(",", " ").replace("'", " ")
    return (" " if spaced[0].isalnum() else "") + spaced + (" " if spaced[-1].isalnum() else "")


def _entry(key: str, terms: tuple[Term, ...]) -> Entry:
    concepts = frozenset().union(*(term.concepts for term in terms))
    flags = frozenset().union(*(term.flags for term in terms))
    signals = tuple(
        (term.category, term.severity)
        for term in terms
        if term.category is not None and term.severity is not None
    )
    return Entry(key, terms, concepts, signals, flags)


def _keys(term: Term, real_words: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every normalised form a term should match: its :func:`written_forms`, each of those
    with doubles single, and those of an English term with the g of "-ing" dropped
    (:func:`g_dropped`) -- neither where that makes a one-word key that is one of
    ``real_words`` (see :func:`_singled`). A dropped g is not also squeezed: "copping" as
    "coppin" squeezed is "copin", which is "coping" without its g.
    """
    forms = written_forms(term)
    dropped = {
        form_without_g
        for form in forms
        for form_without_g in g_dropped(form, term)
        if " " in form_without_g or form_without_g not in real_words
    }
    forms |= {single for form in tuple(forms) for single in _singled(form, real_words)}
    yield from (form for form in forms | dropped if form)


def g_dropped(form: str, term: Term) -> Iterator[str]:
    """``form`` of an English ``term`` with its words in "-ing" written "-in", each alone and
    all together: chat drops the g of any verb ("hangin myself", "overdosin", "cuttin"), and a
    list of such forms would only ever hold the ones someone thought of. A one-word form that
    is another common word ("odin" for "oding") is left out by :func:`_keys` (real-words.txt);
    in a phrase the other words keep the meaning. A word with an apostrophe keeps its g: "od'in"
    would be read as "od in" ("my OD in 2020")."""
    if term.lang != "en":
        return
    words = form.split(" ")
    at = [
        i
        for i, word in enumerate(words)
        if len(word) >= _MIN_G_DROPPED and word.endswith("ing") and word.isalpha()
    ]
    for mask in range(1, 2 ** len(at)):
        dropped = {index for bit, index in enumerate(at) if mask >> bit & 1}
        yield " ".join(word[:-1] if i in dropped else word for i, word in enumerate(words))


def written_forms(term: Term) -> set[str]:
    """A term's forms as writers spell it: itself, without apostrophes, with the usual word
    swaps of chat ("want 2 die", "my self"), run together ("killmyself", which is also what
    letters spaced or dotted one by one join into), and masked -- every key but the squeezed
    ones, which :func:`_singled` makes from these (and tests check against real words)."""
    base = normalize_term(term.text)
    forms = {base}
    if "exact" not in term.flags and "'" in base:
        forms.add(normalize_term(term.text.replace("'", "").replace("\u2019", "")))
    forms |= {swapped for form in tuple(forms) for swapped in _swapped(form)}
    forms |= {joined for form in tuple(forms) for joined in _joined(form)}
    if "maskable" in term.flags:
        forms |= {masked for form in tuple(forms) for masked in _masked(form)}
    return forms


# Words chat writes as a digit or a letter ("2" for "to"), and reflexives written apart.
# Each swap applies to every occurrence in a term at once, alone and all together.
_WORD_SWAPS = (
    ("to", "2"),
    ("too", "2"),
    ("for", "4"),
    ("you", "u"),
    ("are", "r"),
    ("before", "b4"),
    ("tonight", "2nite"),
    ("tonight", "tonite"),
    ("myself", "my self"),
    ("myself", "meself"),  # Irish, British, Australian and New Zealand speech
    ("yourself", "your self"),
    ("himself", "him self"),
    ("herself", "her self"),
    ("themselves", "them selves"),
)
# A word in "-ing" shorter than this is not a verb's "-ing" ("king", "sing"). Some longer ones
# are not either ("thing", "ceiling"), but a phrase keeps its meaning around them.
_MIN_G_DROPPED = 5
# Run-together forms shorter than this could be ordinary words ("noone" is fine, "atit" not).
_MIN_JOINED = 7
_MIN_PAIR = 5


def _swapped(form: str) -> Iterator[str]:
    words = form.split(" ")
    all_swaps = list(words)
    for word, swap in _WORD_SWAPS:
        if word in words:
            yield " ".join(swap if w == word else w for w in words)
            all_swaps = [swap if w == word else w for w in all_swaps]
    if all_swaps != words:
        yield " ".join(all_swaps)


def _joined(form: str) -> Iterator[str]:
    """A multi-word term written as one word, or with two neighbouring words run together
    ("want todie"), where the joined word is long enough to mean only that."""
    words = form.split(" ")
    if len(words) < 2 or "\n" in form:
        return
    whole = "".join(words)
    if len(whole) >= _MIN_JOINED and whole.isalnum():
        yield whole
    if len(words) > 2:
        for left in range(len(words) - 1):
            pair = words[left] + words[left + 1]
            if len(pair) >= _MIN_PAIR and pair.isalnum():
                yield " ".join([*words[:left], pair, *words[left + 2 :]])


def _singled(form: str, real_words: frozenset[str] = frozenset()) -> Iterator[str]:
    """``form`` with any subset of its doubled letters written once ("kill" -> "kil").

    Messages have runs of three or more letters squeezed to one ("killlll" -> "kil"), so each
    doubled letter of a term must also be matchable as a single one -- except where that makes
    another real word, which writers type far more often than they stretch the term: a word
    of two letters inside a phrase, the commonest words of all ("off myself" would become "of
    myself", as in "proud of myself"; "too" would become "to"), or a one-word key that is one
    of ``real_words`` (the lexicon's ``real-words.txt``: "noose" would become "nose", "copping"
    "coping"). Inside a longer phrase the other words keep the meaning ("he wil kill me" is
    still "he willll kill me"), so there a listed word is kept.
    """
    doubles = [i for i in range(len(form) - 1) if form[i] == form[i + 1] and form[i].isalpha()]
    words = form.split(" ")
    for mask in range(1, 2 ** len(doubles)):
        dropped = {index for bit, index in enumerate(doubles) if mask >> bit & 1}
        singled = "".join(char for i, char in enumerate(form) if i not in dropped)
        if singled in real_words:
            continue
        if not any(
            len(short) <= 2 < len(word)
            for word, short in zip(words, singled.split(" "), strict=True)
        ):
            yield singled


def _masked(word: str) -> Iterator[str]:
    """``word`` with 1-3 inner letters replaced by one star, as squeezed text shows "f**k"."""
    for start in range(1, len(word) - 1):
        for end in range(start + 1, min(start + _MAX_MASK, len(word) - 1) + 1):
            if word[start:end].isalpha():
                yield word[:start] + "*" + word[end:]


def _read_words(path: Path) -> Iterator[str]:
    """The words of a word list: one a line, ``#`` comments and blank lines skipped. Each must
    be one word written as the words view writes it, or it could never equal a key."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        word = line.split("#", 1)[0].strip()
        if word and (normalize_term(word) != word or " " in word):
            raise LexiconError(f"{path.name}:{number}: {word!r} is not one normalised word")
        if word:
            yield word


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header: tuple[str, ...] | None = None
        for number, row in enumerate(reader, start=1):
            if not row or row[0].startswith("#"):
                continue
            if header is None:
                header = tuple(cell.strip() for cell in row)
                if header != columns:
                    raise LexiconError(f"{path.name}:{number}: header must be {columns}")
                continue
            if len(row) > len(columns):
                raise LexiconError(f"{path.name}:{number}: too many columns")
            padded = [cell.strip() for cell in row] + [""] * (len(columns) - len(row))
            yield number, dict(zip(columns, padded, strict=True))


def _read_terms(path: Path) -> Iterator[Term]:
    for number, row in _rows(path, _TERM_COLUMNS):
        where = f"{path.name}:{number}"
        concepts = _split(row["concepts"], ",")
        flags = _split(row["flags"], ",")
        if not row["term"] or not concepts:
            raise LexiconError(f"{where}: a term needs text and at least one concept")
        if flags - _TERM_FLAGS:
            raise LexiconError(f"{where}: unknown flags {sorted(flags - _TERM_FLAGS)}")
        category, severity = _signal(row["category"], row["severity"], where)
        yield Term(row["term"], concepts, category, severity, row["lang"], row["source"], flags)


def _read_patterns(path: Path) -> Iterator[Pattern]:
    for number, row in _rows(path, _PATTERN_COLUMNS):
        where = f"{path.name}:{number}"
        if row["view"] not in _VIEWS:
            raise LexiconError(f"{where}: view must be one of {sorted(_VIEWS)}")
        try:
            regex = re.compile(row["regex"])
        except re.error as error:
            raise LexiconError(f"{where}: {error}") from None
        concepts = _split(row["concepts"], ",")
        entry = Entry(row["pattern"], (), concepts, (), frozenset())
        found: tuple[str, ...] = ()
        at_least, digits, decimals = 1, 0, 0
        words: frozenset[bytes] = frozenset()
        for group in row["trigger"].split("&"):
            if group.startswith("="):
                if row["view"] != "plain" or words:
                    raise LexiconError(f"{where}: one whole-word group, on the plain view only")
                words = frozenset(word.encode() for word in group[1:].split("|") if word)
                if not words or any(whole_words(word.decode()) != [word] for word in words):
                    raise LexiconError(f"{where}: whole words are ASCII letters and digits")
                continue
            count, _, literals = group.rpartition("~")
            if count and not count.isdigit():
                raise LexiconError(f"{where}: trigger count must be a number")
            listed = tuple(part for part in literals.split("|") if part)
            if listed == ("\\d",):
                decimals = max(decimals, int(count) if count else 1)
            elif sorted(listed) == sorted(_ASCII_DIGITS.decode()):
                digits = max(digits, int(count) if count else 1)
            elif found:
                raise LexiconError(f"{where}: at most one trigger group besides the digits")
            else:
                found, at_least = listed, int(count) if count else 1
        guard = span_guard(regex)
        fast = None if guard is None else class_guard(guard)
        yield Pattern(
            regex, row["view"], entry, found, at_least, fast or guard, digits, decimals, words
        )


# The character classes a ClassGuard knows, each an exact set of ASCII characters with its
# own byte; every other ASCII character (and each byte of any other) becomes "x".
_GUARD_CLASSES = {"[A-Z]": "U", "[a-z'-]": "l", "\\s": "s"}
_CLASS_BYTES = bytes(
    ord(
        "U"
        if re.fullmatch("[A-Z]", chr(code))
        else "l"
        if re.fullmatch("[a-z'-]", chr(code))
        else "s"
        if code < 128 and re.fullmatch(r"\s", chr(code))
        else "x"
    )
    for code in range(256)
)
_GUARD_TOKEN = re.compile(r"(\[A-Z\]|\[a-z'-\]|\\s)([*+?]|\{\d+(?:,\d*)?\})?")


def class_guard(guard: re.Pattern[str]) -> ClassGuard | None:
    """``guard`` as a :class:`ClassGuard`, or None unless it is a plain sequence of the
    classes ``[A-Z]``, ``[a-z'-]`` and ``\\s``, each optionally quantified, with no flags
    but the default: then the byte regex matches the class bytes of ASCII text exactly where
    ``guard`` matches the text, character for character."""
    if guard.flags != re.UNICODE:
        return None
    pieces, position = [], 0
    while position < len(guard.pattern):
        token = _GUARD_TOKEN.match(guard.pattern, position)
        if token is None:
            return None
        pieces.append(_GUARD_CLASSES[token.group(1)] + (token.group(2) or ""))
        position = token.end()
    if not pieces:
        return None
    return ClassGuard(guard, re.compile("".join(pieces).encode()))


# Syntax after which a group's text cannot safely be searched alone: back-references, inline
# flags (scoped or global), atomic groups, possessive quantifiers, conditionals.
_UNSAFE_ALONE = re.compile(r"\\[1-9]|\(\?P=|\(\?[aiLmsux-]|\(\?>|\(\?\(|[*+?}]\+")


def span_guard(regex: re.Pattern[str]) -> re.Pattern[str] | None:
    """The ``span`` group's own regex, compiled alone, or None when that is not safe.

    A match of ``regex`` contains a match of its ``span`` group's sub-expression on the same
    text (lookarounds and ``\b`` see the same characters), so searching for the group alone
    is a necessary condition, and a much cheaper one when ``regex`` opens with an
    alternation the regex engine cannot skip ahead on (``full_name``: ~1.5 us instead of
    ~10 us on a typical message).
    """
    source = regex.pattern
    start = source.find("(?P<span>")
    if start < 0 or _UNSAFE_ALONE.search(source):
        return None
    depth, index, in_class = 1, start + len("(?P<span>"), False
    while index < len(source) and depth:
        char = source[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if source[index + 1 : index + 2] in ("]", "^"):  # "[]...]", "[^...]": skip ahead
                return None
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        index += 1
    if depth:
        return None
    try:
        return re.compile(source[start + len("(?P<span>") : index - 1])
    except re.error:
        return None


def _read_rules(path: Path) -> Iterator[Rule]:
    for number, row in _rows(path, _RULE_COLUMNS):
        where = f"{path.name}:{number}"
        category, severity = _signal(row["category"], row["severity"], where)
        if category is None or severity is None:
            raise LexiconError(f"{where}: a rule needs a category and a severity")
        if row["scope"] not in _SCOPES:
            raise LexiconError(f"{where}: scope must be one of {sorted(_SCOPES)}")
        requires = tuple(_requirement(group, where) for group in row["requires"].split("+"))
        method = "method" in _split(row["flags"], ",")
        yield Rule(row["rule"], category, severity, requires, row["scope"], method)


def _requirement(group: str, where: str) -> Requirement:
    concepts, _, count = group.strip().partition("*")
    names = _split(concepts, "|")
    if not names or (count and not count.isdigit()):
        raise LexiconError(f"{where}: bad requirement {group!r}")
    return Requirement(names, int(count) if count else 1)


def _signal(category: str, severity: str, where: str) -> tuple[Category | None, Severity | None]:
    if not category and not severity:
        return None, None
    try:
        return Category(category), Severity(severity)
    except ValueError as error:
        raise LexiconError(f"{where}: {error}") from None


def _split(cell: str, separator: str) -> frozenset[str]:
    return frozenset(part.strip() for part in cell.split(separator) if part.strip())
