"""Lexicon data files: versioned, validated, compiled once into an immutable automaton."""

from __future__ import annotations

import json
import re
import shutil
from functools import cache, reduce
from operator import or_
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation import Lexicon, LexiconError, load_lexicon, moderate
from moderation.lexicon import ClassGuard, class_guard, default_path, whole_words

shipped = cache(load_lexicon)


def _copy(tmp_path: Path) -> Path:
    """The shipped data, without its learned model: these tests change the rules files, and
    a model belongs to the rules it was trained on (load_lexicon refuses a mismatch)."""
    target = tmp_path / "lexicon"
    shutil.copytree(default_path(), target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest.pop("model", None)
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_shipped_lexicon_has_a_version_and_both_languages() -> None:
    """the shipped data carries a release-style version and English and Spanish terms."""
    lexicon = load_lexicon()
    assert re.fullmatch(r"\d{4}\.\d{2}-\d+", lexicon.version)
    assert lexicon.term_count > 1000
    langs = {
        line.split("\t")[4]
        for path in default_path().glob("terms-*.tsv")
        for line in path.read_text(encoding="utf-8").splitlines()[2:]
        if line and not line.startswith("#")
    }
    assert {"en", "es"} <= langs


def test_lexicon_from_another_directory_reports_its_version(tmp_path: Path) -> None:
    """load_lexicon(path) reads that directory, and verdicts report its version."""
    directory = _copy(tmp_path)
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["version"] = "2099.01-7"
    (directory / "manifest.json").write_text(json.dumps(manifest))
    lexicon = load_lexicon(directory)
    assert moderate("hi", lexicon).lexicon_version == "2099.01-7"


def test_added_term_matches_without_code_changes(tmp_path: Path) -> None:
    """a new row in a data file is a new signal: words are data, not code."""
    directory = _copy(tmp_path)
    with (directory / "terms-en.tsv").open("a", encoding="utf-8") as handle:
        handle.write("zorblax\tsuicide_intent\tsuicide\thigh\ten\ttest\t\n")
    assert moderate("gonna zorblax", load_lexicon(directory)).categories[0].value == "suicide"


BROKEN = [
    ("terms-en.tsv", "kill\t\tsuicide\thigh\ten\ttest\t\n", "concept"),
    ("terms-en.tsv", "kill\tx\tsuicide\tsevere\ten\ttest\t\n", "severe"),
    ("terms-en.tsv", "kill\tx\t\t\ten\ttest\tshouty\n", "unknown flags"),
    ("rules.tsv", "r\tsuicide\thigh\ta + b\teverywhere\t\n", "scope"),
    ("rules.tsv", "r\tnot_a_category\thigh\ta\tmessage\t\n", "not_a_category"),
    ("patterns.tsv", "p\tx\tnowhere\t\tabc\n", "view"),
    ("patterns.tsv", "p\tx\tplain\t\t(unclosed\n", "patterns.tsv"),
]


@pytest.mark.parametrize(("name", "row", "message"), BROKEN)
def test_malformed_rows_are_refused_with_their_location(
    tmp_path: Path, name: str, row: str, message: str
) -> None:
    """a bad data row fails loading and names the file and problem."""
    directory = _copy(tmp_path)
    with (directory / name).open("a", encoding="utf-8") as handle:
        handle.write(row)
    with pytest.raises(LexiconError, match=message):
        load_lexicon(directory)


def test_manifest_needs_a_version(tmp_path: Path) -> None:
    """a lexicon without a version cannot be loaded: verdicts must say which data decided."""
    directory = _copy(tmp_path)
    manifest = json.loads((directory / "manifest.json").read_text())
    del manifest["version"]
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(LexiconError, match="version"):
        load_lexicon(directory)


def test_lexicon_is_immutable() -> None:
    """the compiled lexicon cannot be changed after loading."""
    lexicon = load_lexicon()
    with pytest.raises(AttributeError):
        lexicon.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        lexicon.rules_by_concept["x"] = ()  # type: ignore[index]


def _occurrences(text: str, literal: str) -> int:
    """Overlapping occurrences, as the trigger automaton reports them."""
    return sum(text.startswith(literal, index) for index in range(len(text)))


def _brute_force_triggered(lexicon: Lexicon, plain: str) -> list[int]:
    decimals = sum(char.isdecimal() for char in plain)
    digits = sum("0" <= char <= "9" for char in plain)
    words = set(re.findall(r"[A-Za-z0-9_]+", plain))
    return [
        index
        for index, pattern in enumerate(lexicon.patterns)
        if (
            not pattern.literals
            or sum(_occurrences(plain, literal) for literal in pattern.literals) >= pattern.at_least
        )
        and digits >= pattern.digits
        and decimals >= pattern.decimals
        and (not pattern.words or any(word.decode() in words for word in pattern.words))
    ]


_TRIGGER_TEXT = st.lists(
    st.sampled_from(
        [*"0123456789\u0663\u0967 street st ave is name i'm @$ dot com www.", "st", "dr", "way"]
        + ["on ", "\n", "\t", "é", "\u2028", "-", "_", "!", "12 ", "main "]
    ),
    max_size=60,
).map("".join)


@given(st.lists(_TRIGGER_TEXT, max_size=4).map(" ".join))
def test_triggers_hold_exactly_when_their_definition_does(plain: str) -> None:
    """the biased counters, the digit counts and the ``&`` groups agree with counting
    every literal, digit and decimal one by one."""
    lexicon = shipped()
    assert lexicon.triggered(plain) == _brute_force_triggered(lexicon, plain)
    assert lexicon._triggered_slowly(plain) == _brute_force_triggered(lexicon, plain)


def test_digit_groups_are_counted_not_matched() -> None:
    """a trigger group of the ten digits or ``\\d`` is a count, not automaton literals; the
    other group of an ``&`` trigger stays in the automaton."""
    patterns = {pattern.entry.key: pattern for pattern in shipped().patterns}
    assert patterns["phone_number"].digits == 7 and patterns["phone_number"].literals == ()
    street = patterns["street_address"]
    assert street.decimals == 1 and "street" in street.literals


def _word_groups_hold(plain: str) -> None:
    present = set(whole_words(plain))
    for pattern in shipped().patterns:
        if pattern.words and pattern.regex.search(plain):
            assert not pattern.words.isdisjoint(present), (pattern.entry.key, plain)


@given(_TRIGGER_TEXT)
def test_whole_word_groups_never_skip_a_pattern_that_matches(plain: str) -> None:
    """a ``=`` trigger group is a necessary condition for its pattern's regex: whenever the
    regex matches the plain view, one of the group's words is a whole word of it (so adding
    the group to a trigger can only skip regexes that would have found nothing)."""
    _word_groups_hold(plain)


@pytest.mark.parametrize(
    "plain",
    [
        "12 main st",
        "12 main st.",
        "12 main\tst\u2028",
        "42 oak ridge way, unit 4",
        "she lives on oak ridge road",
        "upon a hill dr!",
        "12 main sté",
        "12 main stress",
        "still stressed, 3 drinks in",
    ],
)
def test_whole_word_groups_on_addresses(plain: str) -> None:
    """the street patterns' word groups hold on every address their regexes find, and the
    triggers still follow their definition there."""
    _word_groups_hold(plain)
    assert shipped().triggered(plain) == _brute_force_triggered(shipped(), plain)


def test_whole_word_groups_are_checked() -> None:
    """the street patterns carry word groups; such a group needs the plain view and words."""
    patterns = {pattern.entry.key: pattern for pattern in shipped().patterns}
    assert b"st" in patterns["street_address"].words and b"way" in patterns["street_address"].words
    assert whole_words("12 Main-St. still\u2028é_x") == [b"12", b"Main", b"St", b"still", b"_x"]


@pytest.mark.parametrize(
    ("trigger", "view"),
    [("=st", "raw"), ("=st&=dr", "plain"), ("=st|a b", "plain"), ("=", "plain")],
)
def test_malformed_word_groups_are_refused(tmp_path: Path, trigger: str, view: str) -> None:
    directory = _copy(tmp_path)
    with (directory / "patterns.tsv").open("a", encoding="utf-8") as handle:
        handle.write(f"extra\tx\t{view}\t{trigger}\tabc\n")
    with pytest.raises(LexiconError, match="whole"):
        load_lexicon(directory)


@given(st.sets(st.integers(0, 400), max_size=12))
def test_rule_candidates_match_every_rules_masks(numbers: set[int]) -> None:
    """``candidates`` and ``can_fire`` (indexed by first requirement, other masks tested in C)
    agree with testing every rule's requirement masks one by one."""
    index = shipped().quiet
    concept_bits = sorted(index.concept_bits.values())
    bits = 0
    for number in numbers:
        bits |= concept_bits[number % len(concept_bits)]
    expected = [
        number
        for number, masks in enumerate(index.rule_masks)
        if all(mask & bits for mask in masks)
    ]
    assert index.candidates(bits) == expected
    assert index.can_fire(bits) == bool(expected)


@given(st.data())
def test_can_fire_agrees_with_every_rules_masks_near_a_rule(data: st.DataObject) -> None:
    """Random concept sets rarely meet a whole rule, so draw concepts from one rule's
    requirements (some of each, or all but one requirement) plus noise: ``can_fire``'s
    folded one-other-requirement masks must agree with testing every rule one by one."""
    index = shipped().quiet
    masks = data.draw(st.sampled_from(index.rule_masks))
    singles = sorted(index.concept_bits.values())
    bits = 0
    for mask in masks:
        members = [bit for bit in singles if bit & mask]
        bits |= reduce(or_, data.draw(st.lists(st.sampled_from(members), max_size=2)), 0)
    bits |= reduce(or_, data.draw(st.lists(st.sampled_from(singles), max_size=3)), 0)
    expected = any(all(mask & bits for mask in each) for each in index.rule_masks)
    assert index.can_fire(bits) == expected
    assert bool(index.candidates(bits)) == expected


_GUARD_ALPHABET = "AZMaqz'-_ \t\n\x0b\x1c\x1f.,!7éÉ\xa0\u2003\u0394ß"


@given(
    st.text(alphabet=_GUARD_ALPHABET, max_size=40),
    st.sampled_from(
        [
            "[A-Z][a-z'-]+\\s+[A-Z][a-z'-]{2,}",
            "\\s[A-Z]",
            "[a-z'-]{2,3}\\s*[A-Z]?",
            "[A-Z]{1}[a-z'-]*",
        ]
    ),
)
def test_class_guard_finds_exactly_what_its_regex_finds(text: str, source: str) -> None:
    """A ClassGuard (ASCII text searched as class bytes) passes exactly when its regex does,
    for ASCII text and for text with Unicode spaces and letters (which takes the regex)."""
    guard = class_guard(re.compile(source))
    assert guard is not None
    assert (guard.search(text) is None) == (re.search(source, text) is None)
    ascii_only = text.encode("ascii", "ignore").decode()
    assert (guard.search(ascii_only) is None) == (re.search(source, ascii_only) is None)


def test_class_guard_is_used_for_full_name_and_refuses_other_syntax() -> None:
    """The shipped full_name guard becomes a ClassGuard; anything outside the three classes
    and plain quantifiers (lazy quantifiers, flags, alternation, other classes) stays a
    regex."""
    full_name = next(p for p in shipped().patterns if "full_name" in p.entry.concepts)
    assert isinstance(full_name.guard, ClassGuard)
    for source in ("[A-Z]+?\\s", "(?i)[A-Z]\\s", "[A-Z]|\\s", "[A-Za-z]\\s", "\\s\\d", ""):
        assert class_guard(re.compile(source)) is None


# A word at least this common (Zipf: log10 of its count per billion words) is one people type:
# once per million words or more.
_COMMON_ZIPF = 3.0


def _squeezed_words() -> dict[str, set[str]]:
    """Each one-word key a term makes when one of its doubled letters is written once or the g
    of its "-ing" is dropped, with no real-words list, other than the term's own words: each
    such word and the terms it comes from."""
    from moderation.lexicon import _read_terms, _singled, g_dropped, written_forms
    from moderation.normalize import normalize_term

    made: dict[str, set[str]] = {}
    for path in default_path().glob("terms-*.tsv"):
        for term in _read_terms(path):
            own = set(normalize_term(term.text).split())  # "me tocaa" -> "me toca": its own
            for form in written_forms(term):
                for dropped in g_dropped(form, term):
                    if dropped.isalpha() and dropped not in own:
                        made.setdefault(dropped, set()).add(term.text)
                for single in _singled(form):
                    if single.isalpha() and single not in own:  # one word, not masked
                        made.setdefault(single, set()).add(term.text)
    return made


def test_real_words_list_every_common_word_a_squeezed_term_would_make() -> None:
    """real-words.txt names every common word (by the wordfreq package's English or Spanish
    frequencies: a term of either language meets messages of both) that a one-word key of a
    term with a doubled letter written once or a dropped g would be, and only such words: a
    term added with a new collision fails here until the word is listed."""
    from wordfreq import zipf_frequency

    from moderation.lexicon import _read_words

    manifest = json.loads((default_path() / "manifest.json").read_text())
    listed = set(_read_words(default_path() / manifest["real_words"]))
    common = {
        word
        for word in _squeezed_words()
        if max(zipf_frequency(word, "en"), zipf_frequency(word, "es")) >= _COMMON_ZIPF
    }
    assert common - listed == set(), "add these to moderation/lexicon/real-words.txt"
    assert listed - common == set(), "no term makes these any more: drop them from the list"


def test_a_word_list_entry_must_be_one_normalised_word(tmp_path: Path) -> None:
    """An entry that could never equal a key is refused with its line, not ignored."""
    directory = _copy(tmp_path)
    (directory / "real-words.txt").write_text("# comment\nnose\nno se\n")
    with pytest.raises(LexiconError, match=r"real-words.txt:3"):
        load_lexicon(directory)


@pytest.mark.parametrize(
    "text",
    [
        "my nose has been running all week, allergies are brutal",
        "blew my nose and felt better after the meeting",
        "coping skills group tonight was really good",
        "my counselor gave me a coping worksheet",
    ],
)
def test_a_real_word_is_never_read_as_a_squeezed_term(text: str) -> None:
    """A common word is read as itself, never as a one-word term squeezed ("nose" is not
    "noose", "coping" not "copping"): ordinary talk with it is not flagged."""
    verdict = moderate(text, shipped())
    assert not verdict.flag, verdict


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("gonna cuttt myself tonight", "self_harm"),
        ("i want to killlll myself", "suicide"),
        ("he willlll kill me", "abuse"),
        ("i'm gonna shooot myself", "suicide"),
    ],
)
def test_a_stretched_term_is_still_read_as_the_term(text: str, category: str) -> None:
    """Squeezed letters still meet the term, in a phrase even where one of its words becomes a
    listed real word ("he wil kill me", "shot myself"): the other words keep the meaning."""
    assert category in moderate(text, shipped()).categories
