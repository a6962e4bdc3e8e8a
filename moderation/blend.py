"""The rules' signals and the learned model's judgement, made into one list of signals.

Two things the model may do, each bounded so that a crisis is never silenced:

* add: when it finds a message unlikely to be ordinary talk (its risk, the chance that it is
  not, reaches ``flag``) and its likeliest category is not already among the rules' findings,
  that category is added as a signal (``concern``, or ``high`` past the ``high`` threshold;
  ``imminent`` stays the rules' word); a community-harm category only when it is also the
  likelier reading (at least even odds). Its reason is ``LEARNED``; it rests on no hit, so it
  marks no span and never holds a message on its own (see ``moderation.policy``);
* lower: when it is confident the message is ordinary talk (``1 - risk >= quiet``), a rule's
  crisis signal at ``concern`` goes down to ``watch``, which still flags it for a volunteer
  (the rules fire on the same words in idioms, stories and films; the model reads the rest of
  the message); one at ``high`` only past the stricter ``quiet_high``. ``imminent`` signals
  are never lowered.

A message in which the lexicon found no term at all (most chat) is read by :func:`alone`: the
model can only add there, past its own stricter ``flag_alone`` (chosen like ``flag``, on folds
by writer), since nothing the rules saw backs it; below that it says nothing, and the message
keeps the verdict of one with no signal (no risk is remembered across messages for it).

A message of several sentences is also read one sentence at a time (:func:`buried`), each by
its words alone, like such a message: a crisis sentence in the middle of ordinary chat ("the
meeting was good. i gave my dog to my sister today, she'll need him more than me. anyway how
is everyone") adds the words of every ordinary sentence to the whole message's reading, and
they outweigh it. The riskiest sentence counts when it reaches ``flag_sentence`` (chosen in
training after the others, on the same folds, as the lowest that keeps false alarms within
the budget) and its likeliest reading is a crisis: it adds that category and keeps the rules'
signals from being lowered. It never lowers anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from moderation.classifier import LEARNED, Signal, make_signal
from moderation.learned import LearnedModel, tokens, words_of
from moderation.verdict import CRISIS_CATEGORIES, Category, Severity

_CONCERN = Severity.CONCERN
_WATCH = Severity.WATCH
# A community-harm category is added only when at least this likely (a short line with little
# to go on spreads its chances thin): a wrong one flags an ordinary member.
_COMMUNITY_SHARE = 0.5
_LOWERED = frozenset({Severity.CONCERN})
_LOWERED_WHEN_SURE = frozenset({Severity.CONCERN, Severity.HIGH})


def blend(
    model: LearnedModel,
    words: str,
    bits: int,
    concept_names: Sequence[str],
    found: tuple[Signal, ...],
) -> tuple[tuple[Signal, ...], float, Category]:
    """``found`` (the rules' signals) with the model's judgement of the message applied; and
    that judgement: the risk (the chance that it is not ordinary talk) and the likeliest
    category."""
    findings = [(str(signal.category), str(signal.severity)) for signal in found]
    (risk, likeliest, chance), riskiest = model.read(
        words, bits, concept_names, findings, MIN_WORDS_ALONE, _CRISIS
    )
    category = _CATEGORY[likeliest]
    limits = model.thresholds
    sentence = _category(riskiest)
    if sentence is not None:  # a crisis sentence: nothing is lowered, its category is added
        found = _with(found, *sentence, limits.high)
    elif (ordinary := 1 - risk) >= limits.quiet:
        lowered = _LOWERED_WHEN_SURE if ordinary >= limits.quiet_high else _LOWERED
        kept = tuple(
            signal.at(_WATCH, lowered=True)
            if signal.severity in lowered and signal.category in CRISIS_CATEGORIES
            else signal
            for signal in found
        )
        return kept, risk, category
    # community harm is added only when it is the likelier reading
    if risk >= limits.flag and (category.is_crisis or chance >= _COMMUNITY_SHARE):
        found = _with(found, risk, category, limits.high)
    if sentence is not None and sentence[0] > risk:
        return found, *sentence
    return found, risk, category


# Fewer words than this, with no lexicon term, are too little for the model to flag alone: on
# "sorry" or "same here" its score is one word's share of the corpus's crisis stories (their
# confessions say "sorry"), not evidence about this message. The lexicon answers short crisis
# lines ("kms", "od'd", "help me").
MIN_WORDS_ALONE = 3


def alone(model: LearnedModel, words: str) -> tuple[tuple[Signal, ...], float, Category] | None:
    """The model's signal on a message with no lexicon term (``words``, its words view), with
    its risk and likeliest category; None when it adds nothing (the usual answer)."""
    if len(words_of(words)) < MIN_WORDS_ALONE:
        return None
    (risk, likeliest, chance), riskiest = model.read(words, 0, (), (), MIN_WORDS_ALONE, _CRISIS)
    limits = model.thresholds
    category = _CATEGORY[likeliest]
    found: tuple[Signal, ...] = ()
    if risk >= limits.flag_alone and (category.is_crisis or chance >= _COMMUNITY_SHARE):
        found = _with(found, risk, category, limits.high)
    if (sentence := _category(riskiest)) is not None:
        found = _with(found, *sentence, limits.high)
        if sentence[0] > risk:
            risk, category = sentence
    return (found, risk, category) if found else None


def sentences(words: str) -> list[list[str]]:
    """The sentences of a words view (its clause breaks are line breaks) with enough words to
    be read alone, as their words (:func:`~moderation.learned.tokens`); none for a message of
    one such sentence, whose whole reading is that one."""
    found = [
        spelled for line in words.split("\n") if len(spelled := tokens(line)) >= MIN_WORDS_ALONE
    ]
    return found if len(found) > 1 else []


def buried(model: LearnedModel, words: str) -> tuple[float, Category] | None:
    """The riskiest crisis reading of a sentence of the message (``words``, its words view),
    each read by its words alone, when it reaches ``flag_sentence``: its risk and category."""
    return _category(model.read(words, 0, (), (), MIN_WORDS_ALONE, _CRISIS)[1])


# The classes whose sentences count (see the module's docstring): a crisis only.
_CRISIS = frozenset(str(category) for category in CRISIS_CATEGORIES)
# Each class name's category: a dict lookup, where calling the enum costs a microsecond.
_CATEGORY = {str(category): category for category in Category}


def _category(reading: tuple[float, str] | None) -> tuple[float, Category] | None:
    return None if reading is None else (reading[0], _CATEGORY[reading[1]])


def _with(
    found: tuple[Signal, ...], risk: float, category: Category, high: float
) -> tuple[Signal, ...]:
    """``found`` with ``category`` at the severity ``risk`` earns: added, or raised where the
    model already added it lower (the whole message and a sentence may both find it), never
    lowered; a rule's own signal above watch stands as it is."""
    severity = Severity.HIGH if risk >= high and category.is_crisis else _CONCERN
    for at, signal in enumerate(found):
        if signal.category is not category or signal.severity is _WATCH:
            continue
        if signal.reason != LEARNED or signal.severity.rank >= severity.rank:
            return found
        return (*found[:at], make_signal(category, severity, LEARNED), *found[at + 1 :])
    return (*found, make_signal(category, severity, LEARNED))
