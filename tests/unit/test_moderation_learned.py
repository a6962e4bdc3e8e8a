"""The learned second stage: its features, its model file, and how blend applies it."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from moderation import Action, Category, Severity, load_lexicon, moderate
from moderation.blend import alone, blend, buried, sentences
from moderation.classifier import LEARNED, make_signal
from moderation.learned import (
    _SHORTHAND_ENCODED,
    CONCEPT,
    CONTEXT_CONCEPTS,
    NONE,
    RULE,
    TIME_WORDS,
    WORD,
    LearnedModel,
    encoded_lines,
    features,
    sign_features,
    word_features,
    words_of,
)
from moderation.normalize import normalize
from moderation.policy import DEFAULT_POLICY, decide
from moderation.verdict import CRISIS_CATEGORIES

NAMES = ("", "means", "now", "farewell")
LEXICON = Path(__file__).resolve().parents[2] / "moderation" / "lexicon"
BUILD = Path(__file__).resolve().parents[2] / "corpus" / "build" / "writer-a.jsonl"


def toy(
    weights: dict[str, list[float]],
    *,
    flag: float = 0.5,
    high: float = 0.9,
    quiet: float = 0.8,
    quiet_high: float = 0.95,
    flag_alone: float = 0.8,
    flag_sentence: float | None = None,
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> LearnedModel:
    """A model over none / spam / suicide with the given weights (and no bias unless given)."""
    return LearnedModel.from_json(
        {
            "version": "toy",
            "lexicon_version": "toy",
            "classes": [NONE, "spam", "suicide"],
            "bias": list(bias),
            "weights": weights,
            "thresholds": {
                "flag": flag,
                "high": high,
                "quiet": quiet,
                "quiet_high": quiet_high,
                "flag_alone": flag_alone,
                "flag_sentence": max(flag_alone, 0.85) if flag_sentence is None else flag_sentence,
            },
        }
    )


def test_features_are_words_pairs_concepts_and_findings() -> None:
    found = features("bought a rope\n today", 0b1011, NAMES, [("suicide", "high")])
    assert found[:3] == ["bought", "a", "rope"]
    assert "a rope" in found and "rope today" in found
    assert [f for f in found if f.startswith(CONCEPT)] == [CONCEPT + "means", CONCEPT + "farewell"]
    assert found[-1] == RULE + "suicide:high"


def test_a_time_word_is_read_in_its_pairs_and_concept_never_alone() -> None:
    found = features("do it tonight", 0b0110, NAMES, [])
    assert "tonight" not in found
    assert "it tonight" in found and CONCEPT + "now" in found and CONCEPT + "means" in found


def test_context_concepts_without_a_sign_are_no_features() -> None:
    """Time, negation, intent alone qualify nothing: "i want to sleep tonight" has no sign."""
    assert [f for f in features("sleep tonight", 0b0100, NAMES, []) if f.startswith("@")] == []
    with_finding = features("sleep tonight", 0b0100, NAMES, [("suicide", "watch")])
    assert CONCEPT + "now" in with_finding


def test_time_words_are_the_one_word_terms_of_the_now_concept() -> None:
    lexicon = load_lexicon()
    one_word = {
        term
        for path in LEXICON.glob("terms-*.tsv")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
        for term, concepts in [line.split("\t")[:2]]
        if " " not in term and "now" in concepts.split(",")
    }
    assert one_word == TIME_WORDS
    assert CONTEXT_CONCEPTS <= set(lexicon.concept_names)


def test_the_signal_bit_names_no_concept() -> None:
    assert features("hi", 0b1, NAMES, []) == ["hi"]


def test_probabilities_are_a_softmax_over_the_classes() -> None:
    chances = toy({"rope": [0.0, 0.0, 2.0]}).probabilities(["rope", "unknown"])
    assert sum(chances.values()) == pytest.approx(1.0)
    assert chances["suicide"] > chances[NONE] == pytest.approx(chances["spam"])


def _column_sums(model: LearnedModel, found: list[str]) -> list[float]:
    rows = [row for row in map(model.weights.get, found) if row is not None]
    return [sum(column) for column in zip(model.bias, *rows, strict=True)]


def test_packed_rows_add_up_to_the_column_sums() -> None:
    """Rows are summed packed in one int each; negative weights, repeats and long messages
    must come out as the plain column sums do."""
    model = toy({"a": [-3.217, 0.004, 2.5], "b": [0.001, -0.999, -7.0], "c": [9.999, 0.0, -9.999]})
    for found in (["a"], ["b", "b", "x"], ["a", "b", "c"] * 400, []):
        assert model.logits(found) == pytest.approx(_column_sums(model, found), abs=1e-9)
    shipped = load_lexicon().model
    assert shipped is not None
    for text in ("i bought a rope today", "made pancakes with my son this morning"):
        found = features(normalize(text).words, 0, (), ())
        assert shipped.logits(found) == pytest.approx(_column_sums(shipped, found), abs=1e-9)
        logits = _column_sums(shipped, found)
        exps = [math.exp(logit - max(logits)) for logit in logits]
        expected = [value / sum(exps) for value in exps]
        assert list(shipped.probabilities(found).values()) == pytest.approx(expected, abs=1e-12)


def test_sums_past_what_a_packed_field_holds_are_made_column_by_column() -> None:
    """A packed field has 32 bits: a text with more features than the model's capacity (here
    two thousand heavy words, past 2**31 thousandths) is summed wide, to the same values,
    on every path: the logits, the whole message's reading and each sentence's."""
    model = toy({"rope": [-250.0, 0.0, 250.0], "cake": [250.0, 0.0, -250.0]}, flag_sentence=0.9)
    assert model._capacity < 2_000
    found = ["rope"] * 9_500 + ["cake"] * 100
    assert model.logits(found) == pytest.approx(_column_sums(model, found), abs=1e-6)
    words = "rope " * 9_000 + "cake\n" + "i have a rope now"
    judged, riskiest = model.read(words, 0, (), (), 3, CRISIS)
    assert judged.likeliest == "suicide" and judged.risk == pytest.approx(1.0)
    assert riskiest is not None and riskiest[1] == "suicide"
    # a model file whose bias alone is past what a field holds is always summed wide
    heavy = toy({"rope": [0.0, 0.0, 5e7]}, bias=(0.0, 3e6, 0.0))
    assert heavy.logits([]) == [0.0, 3e6, 0.0]
    assert heavy.logits(["rope"] * 3) == [0.0, 3e6, 1.5e8]


def test_word_meanings_add_the_mean_score_of_the_words_that_have_one() -> None:
    """A word the weights never had ("noose") still scores through its meaning; the mean is
    over the words with a meaning only, so the rest of the message does not dilute it."""
    model = LearnedModel.from_json(
        {
            "version": "toy",
            "lexicon_version": "toy",
            "classes": [NONE, "spam", "suicide"],
            "bias": [0.0, 0.0, 0.0],
            "weights": {"bought": [0.0, 1.0, 0.0]},
            "thresholds": {"flag": 0.5, "high": 0.9, "quiet": 0.8, "quiet_high": 0.95},
            "meanings": {"words": "noose cake", "scale": 0.01, "scores": [0, 0, 300, 100, 0, 0]},
        }
    )
    assert model.meanings["noose"] == pytest.approx((0.0, 0.0, 3.0))
    chances = model.probabilities(["bought", "a", "noose", "unknown"])
    assert chances["suicide"] / chances[NONE] == pytest.approx(math.exp(3.0))
    assert chances["spam"] / chances[NONE] == pytest.approx(math.exp(1.0))
    mixed = model.probabilities(["noose", "cake"])  # the mean of (0, 0, 3) and (1, 0, 0)
    assert mixed["suicide"] / mixed[NONE] == pytest.approx(math.exp(1.5 - 0.5))
    assert toy({}).meanings == {}  # a model without them scores by its weights alone


@pytest.mark.parametrize(
    "broken",
    [
        {"classes": ["spam", "suicide"]},  # no "none"
        {"bias": [0.0]},
        {"weights": {"rope": [1.0]}},
        {
            "thresholds": {
                "flag": 0.5,
                "high": 0.9,
                "quiet": 0.8,
                "quiet_high": 0.95,
                "flag_alone": 0.4,
            }
        },  # the model alone held to less than with a sign
        {
            "thresholds": {
                "flag": 0.5,
                "high": 0.9,
                "quiet": 0.8,
                "quiet_high": 0.95,
                "flag_alone": 0.6,
                "flag_sentence": 0.55,
            }
        },  # a sentence alone held to less than a whole message alone
        {"meanings": {"words": "rope noose", "scale": 0.01, "scores": [0, 0, 1]}},
    ],
)
def test_a_malformed_model_is_refused(broken: dict[str, Any]) -> None:
    data = {
        "version": "v",
        "lexicon_version": "v",
        "classes": [NONE, "spam", "suicide"],
        "bias": [0.0, 0.0, 0.0],
        "weights": {},
        "thresholds": {"flag": 0.5, "high": 0.9, "quiet": 0.8, "quiet_high": 0.95},
    } | broken
    with pytest.raises(ValueError):
        LearnedModel.from_json(data)


def test_blend_adds_the_likeliest_category_the_rules_missed() -> None:
    added, risk, likeliest = blend(toy({"rope": [0.0, 0.0, 3.0]}), "bought a rope", 0, NAMES, ())
    assert risk > 0.9 and likeliest is Category.SUICIDE
    assert [(s.category, s.severity, s.reason) for s in added] == [
        (Category.SUICIDE, Severity.HIGH, LEARNED)
    ]


def test_blend_adds_at_concern_below_the_high_threshold() -> None:
    added, _, _ = blend(toy({"rope": [0.0, 0.0, 1.0]}, flag=0.4), "rope", 0, NAMES, ())
    assert [(s.category, s.severity) for s in added] == [(Category.SUICIDE, Severity.CONCERN)]


def test_blend_adds_nothing_below_the_flag_threshold_or_twice() -> None:
    weak = toy({"rope": [1.0, 0.0, 0.2]})  # P(none) 0.55: risk below 0.5
    assert blend(weak, "rope", 0, NAMES, ())[0] == ()
    rule = make_signal(Category.SUICIDE, Severity.CONCERN, "some_rule")
    strong = toy({"rope": [0.0, 0.0, 3.0]})
    assert blend(strong, "rope", 0, NAMES, (rule,))[0] == (rule,)


def test_alone_adds_a_signal_only_past_its_own_stricter_threshold() -> None:
    weights = {"rope": [0.0, 0.0, 1.5]}  # risk 0.87: past flag 0.5 and flag_alone 0.8
    assert alone(toy(weights, flag_alone=0.9), "bought a rope") is None
    added = alone(toy(weights), "bought a rope")
    assert added is not None
    signals, risk, likeliest = added
    assert risk > 0.8 and likeliest is Category.SUICIDE
    assert [(s.category, s.severity, s.reason) for s in signals] == [
        (Category.SUICIDE, Severity.CONCERN, LEARNED)
    ]


def test_alone_reads_words_and_pairs_only() -> None:
    """No concept or finding can reach it: the time words stay out as everywhere."""
    model = toy({"tonight": [0.0, 0.0, 9.0], "sleep tonight": [0.0, 0.0, 0.5]})
    assert alone(model, "sleep tonight") is None


def test_alone_adds_community_harm_only_when_it_is_the_likelier_reading() -> None:
    thin = toy({"cheap": [0.0, 1.098, 0.981]})  # none 0.15, spam 0.45, suicide 0.40
    assert alone(thin, "cheap pills here") is None
    spam = alone(toy({"cheap": [-9.0, 3.0, 0.0]}), "cheap pills here")
    assert spam is not None and spam[0][0].category is Category.SPAM


def test_alone_needs_a_few_words_before_it_flags_on_its_own() -> None:
    """One or two plain words ("sorry", "same here") are too little evidence to flag alone;
    the same word inside a longer message is read."""
    loud = toy({"sorry": [-9.0, 0.0, 3.0]})
    assert alone(loud, "sorry") is None
    assert alone(loud, "so sorry") is None
    found = alone(loud, "sorry everyone, really")
    assert found is not None and found[0][0].category is Category.SUICIDE


def first_kind_of_file(weights: dict[str, list[float]]) -> LearnedModel:
    """A model file as written before `flag_alone` and `flag_sentence` existed."""
    data: dict[str, Any] = {
        "version": "v",
        "lexicon_version": "v",
        "classes": [NONE, "spam", "suicide"],
        "bias": [0.0, 0.0, 0.0],
        "weights": weights,
        "thresholds": {"flag": 0.5, "high": 0.9, "quiet": 0.8, "quiet_high": 0.95},
    }
    return LearnedModel.from_json(data)


def test_a_model_file_without_flag_alone_never_flags_alone() -> None:
    assert alone(first_kind_of_file({"rope": [0.0, 0.0, 40.0]}), "bought a rope") is None


def test_blend_lowers_crisis_signals_below_imminent_when_sure_it_is_ordinary() -> None:
    ordinary = toy({"coffee": [5.0, 0.0, 0.0]})
    concern = make_signal(Category.OVERDOSE, Severity.CONCERN, "rule_a")
    high = make_signal(Category.SUICIDE, Severity.HIGH, "rule_b")
    imminent = make_signal(Category.ABUSE, Severity.IMMINENT, "rule_c")
    spam = make_signal(Category.SPAM, Severity.CONCERN, "rule_d")
    blended, _, _ = blend(ordinary, "coffee", 0, NAMES, (concern, high, imminent, spam))
    assert [(s.category, s.severity, s.lowered) for s in blended] == [
        (Category.OVERDOSE, Severity.WATCH, True),  # still flagged, as watch
        (Category.SUICIDE, Severity.WATCH, True),
        (Category.ABUSE, Severity.IMMINENT, False),  # imminent is never lowered
        (Category.SPAM, Severity.CONCERN, False),  # not a crisis category
    ]


def test_blend_lowers_a_high_signal_only_past_the_stricter_threshold() -> None:
    fairly_sure = toy({"coffee": [2.5, 0.0, 0.0]})  # P(none) 0.86: past quiet, not quiet_high
    concern = make_signal(Category.OVERDOSE, Severity.CONCERN, "rule_a")
    high = make_signal(Category.SUICIDE, Severity.HIGH, "rule_b")
    blended, _, _ = blend(fairly_sure, "coffee", 0, NAMES, (concern, high))
    assert [s.severity for s in blended] == [Severity.WATCH, Severity.HIGH]


def test_blend_lowers_nothing_when_not_sure_enough() -> None:
    unsure = toy({"coffee": [1.0, 0.0, 0.0]})
    high = make_signal(Category.SUICIDE, Severity.HIGH, "rule_b")
    assert blend(unsure, "coffee", 0, NAMES, (high,))[0] == (high,)


def test_a_learned_signal_never_holds_a_message_on_its_own() -> None:
    text = normalize("buy my stuff")
    learned = make_signal(Category.SPAM, Severity.CONCERN, LEARNED)
    verdict = decide(text, (learned,), "v", DEFAULT_POLICY)
    assert verdict.categories == (Category.SPAM,) and verdict.flag
    assert verdict.action is Action.DELIVER and verdict.spans == ()


def test_the_shipped_model_matches_its_lexicon_and_speaks_every_category() -> None:
    lexicon = load_lexicon()
    assert lexicon.model is not None
    assert lexicon.model.lexicon_version == lexicon.version
    assert set(lexicon.model.classes) == {NONE, *(str(category) for category in Category)}


def test_without_the_model_the_rules_alone_decide() -> None:
    """training loads the lexicon without its model, so the model's own findings never
    feed back into what it is trained on."""
    assert load_lexicon(learned=False).model is None
    assert moderate("hello everyone", load_lexicon(learned=False)).categories == ()


# A buried crisis sentence: "rope" speaks for suicide, every ordinary word for none.
BURIED = {"rope": [0.0, 0.0, 3.0], "meeting": [2.0, 0.0, 0.0], "good": [2.0, 0.0, 0.0]}
BURIED_TEXT = "the meeting was good good\ni bought a rope\nthe meeting was good good"


def test_sentences_are_the_clause_breaks_of_the_words_view_with_enough_words() -> None:
    assert sentences("the meeting was good\nok\ni bought a rope") == [
        ["the", "meeting", "was", "good"],
        ["i", "bought", "a", "rope"],
    ]
    assert sentences("i bought a rope\nok") == []  # one sentence: the whole reading is its


def test_a_buried_crisis_sentence_is_read_alone_and_adds_its_category() -> None:
    """The whole message reads as ordinary (its ordinary words outweigh one sentence); read
    alone, the sentence is a crisis, so its category is added and nothing is lowered."""
    model = toy(BURIED)
    assert model.probabilities(features(BURIED_TEXT, 0, (), ()))[NONE] > 0.9
    sentence = buried(model, BURIED_TEXT)
    assert sentence is not None and sentence[1] is Category.SUICIDE and sentence[0] > 0.85
    added = alone(model, BURIED_TEXT)
    assert added is not None
    assert [(s.category, s.severity, s.reason) for s in added[0]] == [
        (Category.SUICIDE, Severity.HIGH, LEARNED)
    ]
    rule = make_signal(Category.OVERDOSE, Severity.CONCERN, "rule_a")
    blended, risk, likeliest = blend(model, BURIED_TEXT, 0, NAMES, (rule,))
    assert [(s.category, s.severity) for s in blended] == [
        (Category.OVERDOSE, Severity.CONCERN),  # not lowered, though the whole reads ordinary
        (Category.SUICIDE, Severity.HIGH),
    ]
    assert likeliest is Category.SUICIDE and risk == sentence[0]


def test_a_sentence_below_flag_sentence_or_of_a_one_sentence_message_adds_nothing() -> None:
    assert buried(toy(BURIED, flag_sentence=0.99), BURIED_TEXT) is None
    assert alone(toy(BURIED, flag_sentence=0.99), BURIED_TEXT) is None
    assert buried(toy(BURIED), "i bought a rope") is None
    community = toy({"cheap": [0.0, 9.0, 0.0], "meeting": [2.0, 0.0, 0.0]})
    assert buried(community, "cheap cheap pills here\nthe meeting was on") is None  # crisis only


def test_a_model_file_without_flag_sentence_reads_no_sentence_alone() -> None:
    assert buried(first_kind_of_file(BURIED), BURIED_TEXT) is None


@pytest.mark.parametrize(
    "text",
    [
        "the meeting was good. i gave my dog away today. how is everyone",
        "bought a rope today",  # one sentence: no sentence readings
        "u ok? i want 2 go home\n\n...\nsee u 2nite at the meeting, ok",  # shorthand: plain path
        "tonight. tonight tonight! going to bed now; night all",
        "",
    ],
)
def test_one_pass_reading_is_exactly_the_plain_reading(text: str) -> None:
    """`read` sums each line's rows once and adds the pairs across line breaks; it must give
    what the whole message's features and each sentence's own features give."""
    lexicon = load_lexicon()
    model = lexicon.model
    assert model is not None
    words = normalize(text, lexicon.vocabulary).words
    low = replace(model, thresholds=replace(model.thresholds, flag_sentence=0.05))
    for each in (model, low):  # the shipped limit, and one that some sentences reach
        judged, riskiest = each.read(words, 0b0110, NAMES, [("suicide", "concern")], 3, CRISIS)
        plain = each.probabilities(features(words, 0b0110, NAMES, [("suicide", "concern")]))
        likeliest = max((name for name in plain if name != NONE), key=plain.__getitem__)
        # the same integer sums: equal, not close
        assert judged == (1 - plain[NONE], likeliest, plain[likeliest])
        assert riskiest == _plain_riskiest(each, words)


CRISIS = frozenset(str(category) for category in CRISIS_CATEGORIES)


def _plain_riskiest(model: LearnedModel, words: str) -> tuple[float, str] | None:
    """The riskiest crisis sentence reaching flag_sentence, every sentence read in full."""
    readings = [model.reading(word_features(spelled)) for spelled in sentences(words)]
    crisis = [reading for reading in readings if reading[1] in CRISIS]
    riskiest = max(crisis, default=None, key=lambda reading: reading[0])
    limit = model.thresholds.flag_sentence
    return riskiest if riskiest is not None and riskiest[0] >= limit else None


@pytest.mark.parametrize("flag_sentence", [0.3, 0.6, 0.84, 0.95, 0.99])
def test_sentences_ruled_out_without_a_softmax_could_never_have_flagged(
    flag_sentence: float,
) -> None:
    """`read` skips the softmax of a sentence whose likeliest class is too far below ordinary
    talk to reach flag_sentence (a bound, not an estimate): over the build corpus's messages
    joined in threes, it finds exactly the riskiest sentence that reading every one finds."""
    lexicon = load_lexicon()
    shipped = lexicon.model
    assert shipped is not None
    model = replace(shipped, thresholds=replace(shipped.thresholds, flag_sentence=flag_sentence))
    texts = [json.loads(line)["text"] for line in BUILD.read_text("utf-8").splitlines()[:1500]]
    found = 0
    for at in range(0, len(texts) - 2, 3):
        words = normalize(". ".join(texts[at : at + 3]), lexicon.vocabulary).words
        riskiest = model.read(words, 0, (), (), 3, CRISIS)[1]
        assert riskiest == _plain_riskiest(model, words)
        found += riskiest is not None
    assert found > 0  # the comparison covered sentences that do flag


def test_the_whole_message_and_a_sentence_finding_one_category_keep_the_higher_severity() -> None:
    """Whichever of the two readings is surer sets the severity: a sentence at concern never
    holds the whole message's high down, nor the whole message's concern a sentence's high."""
    model = toy({"x": [0.0, 0.0, 0.8], "z": [0.0, 0.0, 0.3], "y": [0.25, 0.0, 0.0]})
    # the sentence "x x hi" reads 0.86 (concern), the whole message 0.91 (high)
    blended, _, _ = blend(model, "x x hi\nz z hi", 0, NAMES, ())
    assert [(s.category, s.severity) for s in blended] == [(Category.SUICIDE, Severity.HIGH)]
    # the whole message reads 0.88 (concern, past flag_alone), the sentence "x x x" 0.92 (high)
    added = alone(model, "x x x\ny y hi")
    assert added is not None
    assert [(s.category, s.severity) for s in added[0]] == [(Category.SUICIDE, Severity.HIGH)]


@pytest.mark.parametrize(
    "text",
    [
        "i can't do this anymore, rock'n'roll 'quoted' don''t it's_ok __init__ 800mg",
        "x'y' ' ' 'a'b'c' a__b 1'2 \n end'",
        "ça va, mañana 'sí' no_sé ӏ𝗼𝗹 😢 'q'",
        "ça va\nplain words, 42 here\ni can't 'quite' 😢\n\nrock'n'roll\nmañana x",  # mixed lines
        "tabs\tand|pipes~ carets^ [brackets] {x} 1,000.50 $5 a@b.c #tag\n\n\n",
        "",
    ],
)
def test_the_fast_word_readers_read_exactly_the_words_the_unicode_pattern_reads(text: str) -> None:
    assert words_of(text) == WORD.findall(text)
    for line in text.split("\n"):
        assert words_of(line) == WORD.findall(line)
    expected = [[word.encode() for word in WORD.findall(line)] for line in text.split("\n")]
    assert encoded_lines(text) == expected


def test_sign_rows_are_the_rows_of_the_sign_features() -> None:
    """`read` adds the rows of what the lexicon found from a table by concept bit, without
    naming a feature: over the concept bits and findings of build-corpus messages (and bits
    of context concepts alone, with and without a finding), exactly `sign_features`' rows."""
    from moderation.classifier import signals_and_bits
    from moderation.learned import SIGN_TABLES_KEPT

    lexicon = load_lexicon()
    model = lexicon.model
    assert model is not None
    names = lexicon.concept_names
    context = sum(1 << at for at, name in enumerate(names) if name in CONTEXT_CONCEPTS)
    asked = [(context, []), (context | 1, []), (context, [("suicide", "watch")]), (1, [])]
    texts = [json.loads(line)["text"] for line in BUILD.read_text("utf-8").splitlines()[:800]]
    for text in texts:
        found, bits = signals_and_bits(normalize(text, lexicon.vocabulary), lexicon)
        asked.append((bits, [(str(signal.category), str(signal.severity)) for signal in found]))
    assert sum(1 for _, findings in asked if findings) > 20  # findings were covered too
    for bits, findings in asked:
        expected = model._rows(sign_features(bits, names, findings))
        assert model._sign_rows(bits, names, findings) == expected
        assert model._sign_rows(bits, list(names), findings) == expected  # another table
    toy_model = toy({CONCEPT + "means": [0.0, 0.0, 1.5], RULE + "suicide:high": [0.0, 0.25, 2.0]})
    for bits in range(16):
        for findings in ([], [("suicide", "high")], [("spam", "concern"), ("suicide", "high")]):
            expected = toy_model._rows(sign_features(bits, NAMES, findings))
            assert toy_model._sign_rows(bits, NAMES, findings) == expected
    for _ in range(SIGN_TABLES_KEPT * 2):  # a fresh sequence each time: the kept tables stay few
        toy_model._sign_rows(0b10, ("", *NAMES[1:]), [])
    assert len(toy_model._sign_tables) <= SIGN_TABLES_KEPT


@pytest.mark.parametrize("flag_sentence", [0.001, 0.3, 0.5, 0.84, 0.99, 1.0])
def test_the_packed_gap_test_keeps_exactly_the_sentences_the_unpacked_one_keeps(
    flag_sentence: float,
) -> None:
    """`_could_flag` rules sentences out on their packed rows before unpacking any; it must
    keep exactly those whose likeliest other class is at least the gap above "none" (a gap
    below zero, and no gap at all, included)."""
    lexicon = load_lexicon()
    shipped = lexicon.model
    assert shipped is not None
    model = replace(shipped, thresholds=replace(shipped.thresholds, flag_sentence=flag_sentence))
    texts = [json.loads(line)["text"] for line in BUILD.read_text("utf-8").splitlines()[:600]]
    lines = [line for text in texts for line in encoded_lines(normalize(text).words) if line]
    rows = [model._words_rows(line) for line in lines if _SHORTHAND_ENCODED.isdisjoint(line)]
    classes, gap = model._field_classes, model._gap
    expected = []
    for row in rows:
        fields = model._fields(row)
        top = max(fields[1:])
        if top - fields[0] >= gap and classes[fields.index(top, 1)] in CRISIS:
            expected.append(fields)
    assert model._could_flag(rows, CRISIS) == expected
    assert 0 < len(expected) or flag_sentence > 0.9  # low limits keep some, so both ways count
