"""The learned second stage: a logistic regression over a message's words and the lexicon's
own findings, for the crisis wording nobody wrote a rule for.

Rules catch what their authors foresaw; most crisis messages nobody foresaw are plain words
("bought a rope today", "they'll be better off") whose danger is in the combination. So the
rules stay the first stage, and this model -- trained in this repository from its own corpus
(``python -m training``), its weights versioned beside the lexicon in ``model.json`` -- reads
the same message: its words and word pairs (the ``words`` view, so evasions are already
undone), the lexicon concepts that matched (method, means, farewell, now, ...), and what the
rules concluded. It says how likely each category is; :mod:`moderation.blend` turns that into
signals (the pairing of a keyword filter with a logistic regression, as in the CMD-1 system).

Pure and small: features are strings, weights a dict from feature to one weight per class,
scores a sum in C (``zip`` and ``sum``). No numpy at run time; training uses scikit-learn.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise, repeat
from operator import itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple

# A word of the words view: letters and digits of any script, an inner apostrophe kept.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# The same on ASCII text, where those letters and digits are exactly [A-Za-z0-9]: matched
# without a Unicode category lookup per character, over twice as fast (most chat is ASCII).
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)?", re.ASCII)
_ASCII_WORD_BYTES = re.compile(rb"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)?")
_SPACES = bytes(code if chr(code).isalnum() and code < 128 else 32 for code in range(256))
_SPACES_KEEP_LINES = _SPACES[:10] + b"\n" + _SPACES[11:]  # the same, a line break kept
# Feature names: a word is itself, a pair is "a b", a concept "@c:name", a rule's finding
# "@r:category:severity" (neither "@" nor a space can occur in a word).
CONCEPT = "@c:"
RULE = "@r:"
NONE = "none"


def features(
    words: str, bits: int, concept_names: Sequence[str], findings: Sequence[tuple[str, str]]
) -> list[str]:
    """The features of one message: ``words`` (its words view), ``bits`` (the OR of the
    concept bits of every lexicon term in it, bit ``i`` naming ``concept_names[i]``) and
    ``findings`` (each rule or term signal's category and severity)."""
    found = word_features(tokens(words))
    found.extend(sign_features(bits, concept_names, findings))
    return found


def sign_features(
    bits: int, concept_names: Sequence[str], findings: Sequence[tuple[str, str]]
) -> list[str]:
    """The features of what the lexicon found (see :func:`features`)."""
    found: list[str] = []
    bits &= ~1  # bit 0 is the signal bit, which names no concept
    concepts = []
    while bits:  # one step per concept present, not per bit
        lowest = bits & -bits
        concepts.append(concept_names[lowest.bit_length() - 1])
        bits ^= lowest
    if not findings and CONTEXT_CONCEPTS.issuperset(concepts):
        concepts = []  # context with no sign to qualify says nothing
    found.extend(CONCEPT + name for name in concepts)
    found.extend(f"{RULE}{category}:{severity}" for category, severity in findings)
    return found


def word_features(spelled: list[str]) -> list[str]:
    """The features of words alone (``spelled``, from :func:`tokens`): each word but the time
    words, and each pair of neighbours."""
    found = [token for token in spelled if token not in TIME_WORDS]
    found.extend(map(" ".join, zip(spelled, spelled[1:], strict=False)))
    return found


def tokens(words: str) -> list[str]:
    """The words of a words view, in order, chat shorthand spelled out."""
    return _spelled_out(words_of(words))


def words_of(text: str) -> list[str]:
    """``WORD.findall(text)``, faster on ASCII text."""
    return (_ASCII_WORD if text.isascii() else WORD).findall(text)


def encoded_lines(words: str) -> list[list[bytes]]:
    """The words of each line of a words view, UTF-8 encoded: ``words_of`` of each line,
    each word encoded, as the learned stage looks them up (see ``LearnedModel._by_words``).

    On ASCII text (most chat) the words come from ``bytes.translate`` and ``split`` (a C
    table and a C split, where a regular expression costs about twice as much): every byte
    but a letter or digit becomes a space, and a line with an apostrophe, which ``WORD``
    keeps only inside a word, is matched by the ASCII pattern instead. A message with no
    apostrophe at all is translated in one call, line breaks kept, then split into lines.
    """
    data = words.encode()
    if words.isascii():
        if b"'" not in data:
            return [line.split() for line in data.translate(_SPACES_KEEP_LINES).split(b"\n")]
        return [
            _ASCII_WORD_BYTES.findall(line) if b"'" in line else line.translate(_SPACES).split()
            for line in data.split(b"\n")
        ]
    lines = data.split(b"\n")
    # Other text is mostly ASCII lines too (an accent or an emoji in one sentence): those are
    # read as above, and only the others by the Unicode pattern.
    return [
        (_ASCII_WORD_BYTES.findall(line) if b"'" in line else line.translate(_SPACES).split())
        if line.isascii()
        else list(map(str.encode, WORD.findall(line.decode())))
        for line in lines
    ]


# The lexicon's context concepts (its "context", "shields" and "clause breaks" sections, and the
# grammar of intent): they say how to read a sign -- when, how sure, whose, in what register --
# and are no sign by themselves. They are features only beside a sign (another concept or a
# rule's finding); alone, "tonight" and "going to" would teach the model the style of the
# corpus's crisis messages rather than their danger ("i want to sleep tonight").
CONTEXT_CONCEPTS = frozenset(
    {
        "accident", "clause_break", "compulsion", "education", "general_question", "intent",
        "laughter", "media", "negation", "now", "past", "past_then", "present", "recurrence",
        "resolved", "rules_quote", "self_assert", "shield",
    }
)  # fmt: skip
# The one-word terms of the lexicon's `now` concept (a unit test keeps the two the same): the
# moment is read through that concept and through the word pairs ("it tonight"), never as a
# word on its own, for the same reason.
TIME_WORDS = frozenset({"2nite", "ahora", "hoy", "now", "rn", "today", "tonight", "tonite"})


# Chat shorthand read as the word it stands for, as the lexicon's own word swaps do
# (moderation/lexicon.py): "i want 2 sleep" is "i want to sleep". Letters always; the digits
# only between two words, where they cannot be a quantity ("want 2 go", not "took 2 pills"...
# which, between words too, is read "took to pills": the quantity is the lexicon's concern).
_LETTER_SHORTHAND = {"u": "you", "r": "are", "ur": "your", "b4": "before", "2nite": "tonight",
                     "tonite": "tonight", "2day": "today", "2morrow": "tomorrow"}  # fmt: skip
_DIGIT_SHORTHAND = {"2": "to", "4": "for"}


_SHORTHAND = frozenset(_LETTER_SHORTHAND) | frozenset(_DIGIT_SHORTHAND)
_SHORTHAND_ENCODED = frozenset(word.encode() for word in _SHORTHAND)


def _spelled_out(tokens: list[str]) -> list[str]:
    if _SHORTHAND.isdisjoint(tokens):  # most messages: nothing to spell out
        return tokens
    spelled = [_LETTER_SHORTHAND.get(token, token) for token in tokens]
    for i in range(1, len(tokens) - 1):
        word = _DIGIT_SHORTHAND.get(tokens[i])
        if word is not None and tokens[i - 1].isalpha() and tokens[i + 1].isalpha():
            spelled[i] = word
    return spelled


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where a probability becomes a decision (chosen by training, see ``training/``).

    ``flag``: the chance that the message is not ordinary talk above which its likeliest
    category is added as a signal; ``high``: above which that signal is high rather than
    concern; ``quiet``: the chance of ordinary talk above which a rule's concern-level crisis
    signal is lowered to ``watch`` (still flagged, never silenced); ``quiet_high``: the same
    for a rule's high-level one (set higher: a rule's high signal is rarely wrong);
    ``flag_alone``: ``flag`` for a message in which the lexicon found no term at all, where
    the model decides alone on plain words (never lower than ``flag``; a model file without
    it never flags such a message, as the stage did when it read only messages with a sign);
    ``flag_sentence``: the same for the riskiest sentence of a message of several, read by its
    words alone (never lower than ``flag_alone``; a model file without it reads no sentence
    alone).
    """

    flag: float
    high: float
    quiet: float
    quiet_high: float
    flag_alone: float = math.inf
    flag_sentence: float = math.inf


class Judgement(NamedTuple):
    """What the model makes of a whole message, as :meth:`LearnedModel.probabilities` gives
    it: the chance that it is not ordinary talk, the likeliest other class and its chance."""

    risk: float
    likeliest: str
    chance: float


class _SignTable(NamedTuple):
    """The packed rows of one lexicon's concept features (see ``LearnedModel._sign_rows``)."""

    names: Sequence[str]  # the concept names it was made for (held: tables are kept by id)
    rows: tuple[int, ...]  # each concept's packed row by bit number; 0 for bit 0 and unknowns
    context: int  # bit 0 and the bits of the context concepts (CONTEXT_CONCEPTS)


# How many lexicons' sign tables a model keeps (one per lexicon it reads for; a server has one,
# tests a few). Past this all are dropped and made again as asked (a table costs ~0.1 ms).
SIGN_TABLES_KEPT = 8


@dataclass(frozen=True, slots=True)
class LearnedModel:
    """A multinomial logistic regression: one weight per class for each feature kept."""

    version: str
    lexicon_version: str  # the rules whose findings it was trained on
    classes: tuple[str, ...]  # "none" and the category values
    bias: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]
    thresholds: Thresholds
    # Word meaning: each word's score per class, the model's weights for the message's mean
    # word vector folded into one row per word (``s_w = W . v_w``, see ``training/``), so a
    # word the corpus never had still scores by what it means. Empty for a model without it.
    meanings: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    # The weights packed for summing (see _pack): the bias row carries the fields' offsets.
    _packed: dict[str, int] = field(init=False, repr=False, compare=False)
    # The same rows keyed as one line's words meet them: a word (never a time word, which is
    # no feature), and a pair as the tuple of its two words, so a line's pairs are looked up
    # straight from ``zip`` with no string joined (see _words_rows). A chat shorthand word
    # ("u", "2nite") is keyed to a mark no sum of rows reaches (see _keyed_by_words): a
    # message's sum of more than ``_field_bits`` bits holds one, and is read on the plain path.
    _by_words: dict[bytes | tuple[bytes, bytes], int] = field(init=False, repr=False, compare=False)
    _field_bits: int = field(init=False, repr=False, compare=False)
    # How many features' rows a packed sum may hold: past it a field could leave its 32 bits
    # (see _FIELD), and the sum is made column by column instead (_wide).
    _capacity: int = field(init=False, repr=False, compare=False)
    _packed_bias: int = field(init=False, repr=False, compare=False)
    _tops: int = field(init=False, repr=False, compare=False)  # each field's top bit (_HALF)
    _width: int = field(init=False, repr=False, compare=False)  # bytes of a packed row
    _unpack: Callable[[bytes], tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _gap: float = field(init=False, repr=False, compare=False)  # see _sentence_gap
    # For the packed gap test (see _could_flag): 1 in each field; ``(_HALF - _gap)`` in each
    # field plus the bias, or None where there is no gap to test; each other class's top bit.
    _ones: int = field(init=False, repr=False, compare=False)
    _gap_shift: int | None = field(init=False, repr=False, compare=False)
    _other_tops: int = field(init=False, repr=False, compare=False)
    # A packed row's fields are "none" first, then the other classes in their order, so the
    # others are one slice of the unpacked tuple: ``_order[k]`` is the class of field ``k``,
    # ``_field_of[i]`` the field of class ``i``.
    _order: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _field_of: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _field_classes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # The packed rows of the concept features under each lexicon's concept names (see
    # _sign_rows), kept by the identity of the names' sequence: at most SIGN_TABLES_KEPT.
    _sign_tables: dict[int, _SignTable] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        count = len(self.classes)
        none = self.classes.index(NONE)
        order = (none, *(i for i in range(count) if i != none))
        offsets = sum(_HALF << (_FIELD * k) for k in range(count))
        setattr_ = object.__setattr__  # frozen: set once, here
        setattr_(self, "_order", order)
        setattr_(self, "_field_of", tuple(order.index(i) for i in range(count)))
        setattr_(self, "_field_classes", tuple(self.classes[i] for i in order))
        packed = {name: _pack(row, order) for name, row in self.weights.items()}
        setattr_(self, "_packed", packed)
        setattr_(self, "_by_words", _keyed_by_words(packed, _FIELD * count))
        setattr_(self, "_field_bits", _FIELD * count)
        # in thousandths as packed (_pack rounds), so the bound holds for any model file
        biggest = max(
            (abs(round(value * _SCALE)) for row in self.weights.values() for value in row),
            default=0,
        )
        bias = max((abs(round(value * _SCALE)) for value in self.bias), default=0)
        setattr_(self, "_capacity", (_BOUND - bias) // max(biggest, 1))  # below 0: always wide
        setattr_(self, "_packed_bias", _pack(self.bias, order) + offsets)
        setattr_(self, "_tops", offsets)
        setattr_(self, "_width", _FIELD // 8 * count)
        setattr_(self, "_unpack", struct.Struct(f"<{count}{_FIELD_FORMAT}").unpack)
        gap = _sentence_gap(self.thresholds.flag_sentence, count - 1)
        setattr_(self, "_gap", gap)
        ones = sum(1 << (_FIELD * k) for k in range(count))
        setattr_(self, "_ones", ones)
        shift = None if math.isinf(gap) else (_HALF - int(gap)) * ones + self._packed_bias
        setattr_(self, "_gap_shift", shift)
        setattr_(self, "_other_tops", offsets - _HALF)
        setattr_(self, "_sign_tables", {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LearnedModel:
        classes = tuple(str(name) for name in data["classes"])
        if NONE not in classes:
            raise ValueError("the classes must include 'none'")
        bias = tuple(float(value) for value in data["bias"])
        weights = {
            str(feature): tuple(float(value) for value in row)
            for feature, row in data["weights"].items()
        }
        if len(bias) != len(classes) or any(len(row) != len(classes) for row in weights.values()):
            raise ValueError("every weight row needs one weight per class")
        limits = data["thresholds"]
        thresholds = Thresholds(
            float(limits["flag"]),
            float(limits["high"]),
            float(limits["quiet"]),
            float(limits["quiet_high"]),
            float(limits.get("flag_alone", math.inf)),
            float(limits.get("flag_sentence", math.inf)),
        )
        if thresholds.flag_alone < thresholds.flag:
            raise ValueError("flag_alone must not be below flag: the model alone needs more")
        if thresholds.flag_sentence < thresholds.flag_alone:
            raise ValueError("flag_sentence must not be below flag_alone: a sentence is less")
        meanings = _meanings(data.get("meanings"), len(classes))
        return cls(
            version=str(data["version"]),
            lexicon_version=str(data["lexicon_version"]),
            classes=classes,
            bias=bias,
            weights=weights,
            thresholds=thresholds,
            meanings=meanings,
        )

    def logits(self, found: Sequence[str]) -> list[float]:
        """Each class's score for a message with features ``found``: the bias plus the weights
        of every feature known to the model, once per occurrence."""
        fields = self._summed(found)
        return [fields[k] / _SCALE for k in self._field_of]

    def _summed(self, found: Sequence[str]) -> Sequence[int]:
        """:meth:`_fields` of the rows of ``found``: packed, or column by column for more
        features than a packed sum holds (a text of tens of thousands of words)."""
        if len(found) >= self._capacity:
            return self._wide(found)
        return self._fields(self._rows(found))

    def _wide(self, found: Iterable[str]) -> tuple[int, ...]:
        """:meth:`_fields` of ``found`` summed column by column in Python integers: any
        length, exactly the packed sum's values (each weight rounded as :func:`_pack` does)."""
        totals = [round(value * _SCALE) for value in self.bias]
        for row in filter(None, map(self.weights.get, found)):
            for at, value in enumerate(row):
                totals[at] += round(value * _SCALE)
        return tuple(totals[i] for i in self._order)

    def _rows(self, found: Iterable[str]) -> int:
        """The weight rows of ``found`` added up, packed, without the bias."""
        return sum(map(self._packed.get, found, _NOTHING))

    def _words_rows(self, spelled: list[bytes]) -> int:
        """:meth:`_rows` of :func:`word_features` of ``spelled`` (encoded words), without
        building that list; plus a shorthand mark for each shorthand word (see ``_by_words``).

        Unknown words and pairs (about a quarter) are dropped before the sum rather than
        added as 0: past a machine word, adding even 0 copies the whole big integer."""
        keys: Iterable[bytes | tuple[bytes, bytes]] = chain(spelled, pairwise(spelled))
        return sum(filter(None, map(self._by_words.get, keys)))

    def _fields(self, rows: int) -> tuple[int, ...]:
        """Each class's score in thousandths (``rows`` with the bias), "none" first.

        The bias holds each field at ``_HALF`` plus its score, so no field borrows from the
        next; flipping every field's top bit (one XOR) leaves each as its score in two's
        complement, read by ``struct`` as a signed field. Scores come out as small ints, where
        unsigned fields near ``2**31`` would be ints that every later subtraction, comparison
        and division pays for."""
        fields = ((rows + self._packed_bias) ^ self._tops).to_bytes(self._width, "little")
        return self._unpack(fields)

    def reading(self, found: Sequence[str]) -> tuple[float, str]:
        """The risk (the chance that the message is not ordinary talk) and the likeliest other
        class, as :meth:`probabilities` gives them, without building the whole table."""
        return self._reading(self._fields_of(found))

    def _fields_of(self, found: Sequence[str]) -> Sequence[float]:
        """:meth:`_fields` of features ``found``, word meanings added (as thousandths)."""
        if self.meanings:
            return self._scaled(self._with_meanings(self.logits(found), found))
        return self._summed(found)

    def read(
        self,
        words: str,
        bits: int,
        concept_names: Sequence[str],
        findings: Sequence[tuple[str, str]],
        min_words: int,
        counted: frozenset[str],
    ) -> tuple[Judgement, tuple[float, str] | None]:
        """A message's :class:`Judgement` (``words``, its words view; ``bits``,
        ``concept_names`` and ``findings``, what the lexicon found, as :func:`features` takes
        them) and, when it has two or more sentences of at least ``min_words`` words, the
        riskiest :meth:`reading` of one whose likeliest class is in ``counted`` and whose risk
        reaches ``flag_sentence`` (else None), exactly as those give them, in one pass over its
        words: each line's rows are summed once, and the whole message's are theirs plus the
        pairs across line breaks and the rows of the signs (:meth:`_sign_rows`)."""
        if len(words) + len(concept_names) + len(findings) >= self._capacity:
            # more features than a packed sum holds (a message has fewer words and pairs
            # than characters): read from the features themselves, summed wide
            signs = sign_features(bits, concept_names, findings)
            return self._read_plainly(words, signs, min_words, counted)
        spoken = list(filter(None, encoded_lines(words)))
        rows = list(map(self._words_rows, spoken))
        # the pairs across line breaks: each line's last word and the next line's first
        across = zip(map(_LAST, spoken), map(_FIRST, spoken[1:]), strict=False)
        whole = sum(rows) + sum(map(self._by_words.get, across, _NOTHING))
        if self.meanings or whole.bit_length() > self._field_bits:  # or a shorthand word
            signs = sign_features(bits, concept_names, findings)
            return self._read_plainly(words, signs, min_words, counted)
        if bits & ~1 or findings:
            whole += self._sign_rows(bits, concept_names, findings)
        judged = self._judged(self._fields(whole))
        if self.thresholds.flag_sentence == math.inf:
            return judged, None
        sentences = [row for row, line in zip(rows, spoken, strict=True) if len(line) >= min_words]
        if len(sentences) < 2:
            return judged, None
        kept = self._could_flag(sentences, counted)
        if not kept:  # most chat: no sentence comes near
            return judged, None
        readings = [self._reading(fields) for fields in kept]
        return judged, self._riskiest(readings, counted)

    def _sign_rows(
        self, bits: int, concept_names: Sequence[str], findings: Sequence[tuple[str, str]]
    ) -> int:
        """:meth:`_rows` of :func:`sign_features`, without making a feature name: a concept's
        row is looked up by its bit number in a table made once per lexicon's names.

        Nearly every message has a concept or two, and joining each one's name to ``@c:`` and
        looking the new string up in ``_packed`` cost about a twentieth of the core. Tables
        of tuples (a lexicon keeps one for its life) are kept by the tuple's identity, at most
        ``SIGN_TABLES_KEPT`` of them; a table holds its tuple, so no other can take its id."""
        table = self._sign_tables.get(id(concept_names))
        if table is None or table.names is not concept_names:
            table = self._sign_table(concept_names)
        if not findings and not bits & ~table.context:
            return 0  # context with no sign to qualify says nothing (as in sign_features)
        rows = 0
        by_bit = table.rows
        bits &= ~1  # the signal bit names no concept
        while bits:  # one step per concept present, not per bit
            lowest = bits & -bits
            rows += by_bit[lowest.bit_length() - 1]
            bits ^= lowest
        packed = self._packed
        for category, severity in findings:
            rows += packed.get(f"{RULE}{category}:{severity}", 0)
        return rows

    def _sign_table(self, concept_names: Sequence[str]) -> _SignTable:
        """The table :meth:`_sign_rows` reads for ``concept_names``, made and kept."""
        packed = self._packed
        table = _SignTable(
            concept_names,
            tuple(
                packed.get(CONCEPT + name, 0) if at else 0 for at, name in enumerate(concept_names)
            ),
            sum(
                1 << at
                for at, name in enumerate(concept_names)
                if at == 0 or name in CONTEXT_CONCEPTS
            ),
        )
        if isinstance(concept_names, tuple):  # a list could change under its table: not kept
            if len(self._sign_tables) >= SIGN_TABLES_KEPT:
                self._sign_tables.clear()
            self._sign_tables[id(concept_names)] = table
        return table

    def _read_plainly(
        self, words: str, signs: list[str], min_words: int, counted: frozenset[str]
    ) -> tuple[Judgement, tuple[float, str] | None]:
        """:meth:`read` from the features themselves: for a model with word meanings, and for
        chat shorthand, which is spelled out before it is looked up."""
        judged = self._judged(self._fields_of(word_features(tokens(words)) + signs))
        readable = [_spelled_out(words_of(line)) for line in words.split("\n")]
        readable = [line for line in readable if len(line) >= min_words]
        if len(readable) < 2:
            return judged, None
        readings = [self.reading(word_features(line)) for line in readable]
        return judged, self._riskiest(readings, counted)

    def _could_flag(self, sentences: list[int], counted: frozenset[str]) -> list[tuple[int, ...]]:
        """The fields of those of ``sentences`` (their packed rows) that may reach
        ``flag_sentence`` with their likeliest class in ``counted``: most sentences of
        ordinary chat are ruled out by two integer comparisons, without a softmax (see
        ``_gap``).

        Those comparisons are first made on the packed row itself, without unpacking it (a
        few big-integer steps instead of a struct, a tuple and a dozen comparisons; most
        sentences stop there): with the bias, each field holds
        ``_HALF`` plus its class's score; less "none"'s score (the low field) and the gap in
        every field, a field's top bit is set exactly where its class is at least the gap
        above "none" (no field leaves its bits: scores stay below ``_BOUND``)."""
        kept = []
        classes, gap = self._field_classes, self._gap
        shift, bias, ones, tops = self._gap_shift, self._packed_bias, self._ones, self._other_tops
        for row in sentences:
            if shift is not None and not (row + shift - ((row + bias) & _LOW) * ones) & tops:
                continue  # no class clears the gap
            fields = self._fields(row)
            top = max(fields[1:])
            if top - fields[0] >= gap and classes[fields.index(top, 1)] in counted:
                kept.append(fields)
        return kept

    def _riskiest(
        self, readings: list[tuple[float, str]], counted: frozenset[str]
    ) -> tuple[float, str] | None:
        kept = [reading for reading in readings if reading[1] in counted]
        riskiest = max(kept, default=None, key=lambda reading: reading[0])
        limit = self.thresholds.flag_sentence
        return riskiest if riskiest is not None and riskiest[0] >= limit else None

    def _reading(self, fields: Sequence[float]) -> tuple[float, str]:
        risk, likeliest, _ = self._judged(fields)
        return risk, likeliest

    def _judged(self, fields: Sequence[float]) -> Judgement:
        top = max(fields)
        exps = [math.exp((field - top) / _SCALE) for field in fields]
        total = sum(exps)
        likeliest = fields.index(max(fields[1:]), 1)
        judged = (1 - exps[0] / total, self._field_classes[likeliest], exps[likeliest] / total)
        return _judgement(Judgement, judged)

    def probabilities(self, found: Sequence[str]) -> dict[str, float]:
        """Each class's probability for a message with features ``found`` (softmax)."""
        return self._chances(self._fields_of(found))

    def _with_meanings(self, logits: list[float], found: Sequence[str]) -> list[float]:
        """``logits`` plus the mean of the meaning scores of the words in ``found`` that have
        one (unchanged for a model without meanings)."""
        if not self.meanings:
            return logits
        scored = [row for row in map(self.meanings.get, found) if row is not None]
        if not scored:
            return logits
        share = 1 / len(scored)
        means = (sum(column) * share for column in zip(*scored, strict=True))
        return [logit + mean for logit, mean in zip(logits, means, strict=True)]

    def _chances(self, fields: Sequence[float]) -> dict[str, float]:
        top = max(fields)
        exps = [math.exp((field - top) / _SCALE) for field in fields]
        total = sum(exps)
        return {name: exps[k] / total for name, k in zip(self.classes, self._field_of, strict=True)}

    def _scaled(self, logits: list[float]) -> list[float]:
        """``logits`` (in class order) as fields: in field order, in thousandths."""
        return [logits[i] * _SCALE for i in self._order]


# A message's logits are the sum of its features' weight rows, one column per class. Summed
# column by column that was the learned stage's largest cost (about 72,000 instructions on a
# short message). So each row is packed into one Python int: each class's weight in
# thousandths (training writes weights rounded to three decimals, so nothing is lost) in its
# own 32-bit field, and a message's rows add up in one C-level ``sum``, exactly (integers),
# unpacked once by ``struct``. 32 bits, not 64: a packed row is half the size, and every
# addition of rows copies it (the whole core runs 2.7 % fewer instructions). A field holds
# sums up to 2**31 thousandths; a message's stays below _BOUND while it has fewer features
# than the model's ``_capacity`` (about 77,000 with weights up to 3.5), and longer texts are
# summed wide.
_SCALE = 1000
_FIELD = 32  # bits: a row unpacks as little-endian signed 32-bit integers (struct "i")
_FIELD_FORMAT = "i"
# The largest score (in thousandths) a packed sum may reach: far inside a field, so the packed
# gap test of _could_flag, which subtracts one field from another, never borrows either.
_BOUND = 1 << (_FIELD - 4)
_HALF = 1 << (_FIELD - 1)  # each field is stored offset by this, so no field borrows
_LOW = (1 << _FIELD) - 1  # the lowest field: "none"
_NOTHING = repeat(0)  # what an unknown feature adds (the second argument of dict.get)
_FIRST = itemgetter(0)
_LAST = itemgetter(-1)
# Builds a Judgement from a tuple without NamedTuple's Python-level __new__ (once a message).
_judgement = tuple.__new__


def _sentence_gap(flag_sentence: float, others: int) -> float:
    """How far (in thousandths) the likeliest other class's score must be above ordinary
    talk's for a sentence's risk to reach ``flag_sentence``, with a thousandth to spare.

    The risk is ``sum(e_j) / (e_none + sum(e_j))`` over the ``others`` classes ``j``, so it
    reaches ``f`` only when ``sum(exp(l_j - l_none)) >= f / (1 - f)``; that sum is at most
    ``others * exp(l_top - l_none)``. Below the gap no sentence can reach ``f``; at or above
    it, the exact reading decides. No gap (minus infinity) where the bound says nothing."""
    if not 0 < flag_sentence < 1:
        return -math.inf
    return math.floor(_SCALE * math.log(flag_sentence / (1 - flag_sentence) / others)) - 1


def _keyed_by_words(
    packed: Mapping[str, int], field_bits: int
) -> dict[bytes | tuple[bytes, bytes], int]:
    """``packed`` keyed as :func:`encoded_lines` gives words: each word UTF-8 encoded, a pair
    "a b" as ``(b"a", b"b")``, and no time word (which is no feature); a feature with ``@``
    is no word. Each shorthand word is keyed to the mark ``2 ** (field_bits + 1)``: a sum of
    rows, each field below ``_BOUND`` in size, stays below ``2 ** (field_bits - 1)`` in
    size, and with one mark or more it is past ``2 ** field_bits`` (rows that are spelled
    out on the plain path, so a shorthand word's own row is never wanted here)."""
    keyed: dict[bytes | tuple[bytes, bytes], int] = {}
    for name, row in packed.items():
        first, space, second = name.partition(" ")
        if space:
            keyed[first.encode(), second.encode()] = row
        elif not name.startswith("@") and name not in TIME_WORDS:
            keyed[name.encode()] = row
    keyed.update(dict.fromkeys(_SHORTHAND_ENCODED, 1 << (field_bits + 1)))
    return keyed


def _pack(row: Sequence[float], order: Sequence[int]) -> int:
    return sum(round(row[i] * _SCALE) << (_FIELD * k) for k, i in enumerate(order))


def _meanings(data: Any, width: int) -> Mapping[str, tuple[float, ...]]:
    """The word-meaning table from its stored form: ``words`` (one string, the words in order,
    space-separated), ``scale`` and ``scores`` (per word, ``width`` integers; a score is the
    integer times ``scale``): about a third the size of a dict of float lists."""
    if data is None:
        return MappingProxyType({})
    words = str(data["words"]).split(" ")
    scale = float(data["scale"])
    scores = data["scores"]
    if len(scores) != len(words) * width:
        raise ValueError("the word meanings need one score per class for each word")
    return MappingProxyType(
        {
            word: tuple(scale * int(value) for value in scores[at : at + width])
            for word, at in zip(words, range(0, len(scores), width), strict=True)
        }
    )
