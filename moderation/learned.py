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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from types import MappingProxyType
from typing import Any

# A word of the words view: letters and digits of any script, an inner apostrophe kept.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
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
    return _spelled_out(WORD.findall(words))


# The lexicon's context concepts (its "context", "shields" and "clause breaks" sections, and the
# grammar of intent): they say how to read a sign -- when, how sure, whose, in what register --
# and are no sign by themselves. They are features only beside a sign (another concept or a
# rule's finding); alone, "tonight" and "going to" would teach the model the style of the
# corpus's crisis messages rather than their danger ("i want to sleep tonight").
CONTEXT_CONCEPTS = frozenset(
    {
        "accident", "clause_break", "compulsion", "education", "general_question", "intent",
        "laughter", "media", "negation", "now", "past", "present", "recurrence", "resolved",
        "rules_quote", "self_assert", "shield",
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
    _packed_bias: int = field(init=False, repr=False, compare=False)
    _shifts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _none: int = field(init=False, repr=False, compare=False)  # the index of "none"
    _others: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        offsets = sum(_HALF << (_FIELD * i) for i in range(len(self.classes)))
        setattr_ = object.__setattr__  # frozen: set once, here
        setattr_(self, "_packed", {name: _pack(row) for name, row in self.weights.items()})
        setattr_(self, "_packed_bias", _pack(self.bias) + offsets)
        setattr_(self, "_shifts", tuple(range(0, _FIELD * len(self.classes), _FIELD)))
        setattr_(self, "_none", self.classes.index(NONE))
        setattr_(self, "_others", tuple(i for i in range(len(self.classes)) if i != self._none))

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
        return self._unpacked(self._rows(found))

    def _rows(self, found: Iterable[str]) -> int:
        """The weight rows of ``found`` added up, packed, without the bias."""
        return sum(map(self._packed.get, found, _NOTHING))

    def _unpacked(self, rows: int) -> list[float]:
        rows += self._packed_bias
        return [(((rows >> shift) & _MASK) - _HALF) / _SCALE for shift in self._shifts]

    def reading(self, found: Sequence[str]) -> tuple[float, str]:
        """The risk (the chance that the message is not ordinary talk) and the likeliest other
        class, as :meth:`probabilities` gives them, without building the whole table: a
        message's every sentence is read this way (moderation.blend.buried)."""
        return self._reading(self._with_meanings(self.logits(found), found))

    def read(
        self, words: str, signs: list[str], min_words: int
    ) -> tuple[dict[str, float], list[tuple[float, str]]]:
        """A message's :meth:`probabilities` (``words``, its words view, and ``signs``, the
        :func:`sign_features` of what the lexicon found) and the :meth:`reading` of each of
        its sentences of at least ``min_words`` words when it has two or more (else none),
        exactly as those give them, in one pass over its words: each line's rows are summed
        once, and the whole message's are theirs plus the pairs across line breaks."""
        lines = [WORD.findall(line) for line in words.split("\n")]
        spoken = [line for line in lines if line]
        if self.meanings or any(not _SHORTHAND.isdisjoint(line) for line in spoken):
            chances = self.probabilities(word_features(tokens(words)) + signs)
            readable = [_spelled_out(line) for line in lines]
            readable = [line for line in readable if len(line) >= min_words]
            if len(readable) < 2:
                return chances, []
            return chances, [self.reading(word_features(line)) for line in readable]
        rows = [self._rows(word_features(line)) for line in spoken]
        across = (f"{one[-1]} {two[0]}" for one, two in zip(spoken, spoken[1:], strict=False))
        whole = self._unpacked(sum(rows) + self._rows(across) + self._rows(signs))
        chances = self._chances(whole)
        sentences = [row for row, line in zip(rows, spoken, strict=True) if len(line) >= min_words]
        if len(sentences) < 2:
            return chances, []
        return chances, [self._reading(self._unpacked(row)) for row in sentences]

    def _reading(self, logits: list[float]) -> tuple[float, str]:
        top = max(logits)
        exps = [math.exp(logit - top) for logit in logits]
        none = self._none
        likeliest = max(self._others, key=logits.__getitem__)
        return 1 - exps[none] / sum(exps), self.classes[likeliest]

    def probabilities(self, found: Sequence[str]) -> dict[str, float]:
        """Each class's probability for a message with features ``found`` (softmax)."""
        return self._chances(self._with_meanings(self.logits(found), found))

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

    def _chances(self, logits: list[float]) -> dict[str, float]:
        top = max(logits)
        exps = [math.exp(logit - top) for logit in logits]
        total = sum(exps)
        return {name: value / total for name, value in zip(self.classes, exps, strict=True)}


# A message's logits are the sum of its features' weight rows, one column per class. Summed
# column by column that was the learned stage's largest cost (about 72,000 instructions on a
# short message). So each row is packed into one Python int: each class's weight in
# thousandths (training writes weights rounded to three decimals, so nothing is lost) in its
# own 48-bit field, and a message's rows add up in one C-level ``sum``, exactly (integers),
# unpacked once. A field holds sums up to 2**47 thousandths; a message's can come nowhere near.
_SCALE = 1000
_FIELD = 48
_HALF = 1 << (_FIELD - 1)  # each field is stored offset by this, so no field borrows
_MASK = (1 << _FIELD) - 1
_NOTHING = repeat(0)  # what an unknown feature adds (the second argument of dict.get)


def _pack(row: Sequence[float]) -> int:
    return sum(round(weight * _SCALE) << (_FIELD * i) for i, weight in enumerate(row))


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
