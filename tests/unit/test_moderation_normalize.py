"""Normalisation: every evasion form folds to plain words, and spans map back to the original."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from moderation.normalize import (
    _LEET_HINTS,
    _RARE_SPACE_RUN,
    _REPEATS,
    _SPACED_LETTERS,
    _WORD_BYTES,
    OffsetMap,
    _first,
    _fold_char,
    _has_rare_space_run,
    _join,
    _leet_hint,
    _repeats,
    _squeeze,
    _stand_in_swaps,
    delete,
    normalize,
    normalize_term,
)

EVASIONS = [
    ("zero-width inside a word", "s\u200bu\u200bi\u200bc\u200bi\u200bd\u200be", "suicide"),
    ("hangul fillers for spaces", "i\u3164want\u3164to\u3164die", "i want to die"),
    ("hangul fillers between letters", "c\u3164u\u3164t\u3164t\u3164i\u3164n\u3164g", "cutting"),
    ("braille blank and word joiner", "kill\u2800my\u2060self", "kill myself"),
    ("variation selector and tag", "pills\ufe0f\U000e0041 now", "pills now"),
    ("cyrillic look-alikes", "\u0441ut my\u0455elf", "cut myself"),
    ("greek look-alikes", "\u03bfverd\u03bfse", "overdose"),
    ("uppercase cyrillic", "\u041a\u0406LL ME", "kill me"),
    ("full-width letters", "\uff48\uff55\uff52\uff54 myself", "hurt myself"),
    ("bold mathematical letters", "\U0001d41d\U0001d422\U0001d41e", "die"),
    ("combining marks", "me corte\u0301 otra vez", "me corte otra vez"),
    (
        "precomposed accents",
        "quiero suicidarme, ya no aguanto más",
        "quiero suicidarme, ya no aguanto mas",
    ),
    ("leet digits", "wanna k1ll mys3lf", "wanna kill myself"),
    ("leet symbols inside words", "h@te myself, k!ll", "hate myself, kill"),
    ("spaced letters", "c u t t i n g again", "cutting again"),
    ("dotted letters", "s.u.i.c.i.d.e", "suicide"),
    ("spaced words with double gap", "k i l l  m y s e l f", "kill myself"),
    ("stretched letters", "i want to diiiiiie", "i want to die"),
    ("stretched double", "killllll", "kil"),
]


@pytest.mark.parametrize(("form", "text", "expected"), EVASIONS, ids=[e[0] for e in EVASIONS])
def test_evasion_folds_to_plain_words(form: str, text: str, expected: str) -> None:
    """each evasion form reads as the plain words it imitates."""
    assert normalize(text).words.strip() == expected


@pytest.mark.parametrize(
    "text",
    ["took 800mg of it", "3 pills left", "at 7am and 10pm", "my 2nd try, 30s and 40 mg"],
)
def test_quantities_keep_their_digits(text: str) -> None:
    """doses, times and counts are not read as leetspeak."""
    digits = re.findall(r"\d+", text)
    assert re.findall(r"\d+", normalize(text).words) == digits


def test_exclamation_after_a_word_is_not_leet() -> None:
    """a trailing '!' is punctuation, not an 'i'."""
    assert normalize("wow!! die!").words.split() == ["wow", "die"]


def test_doubled_letters_stay_and_sentence_ends_become_newlines() -> None:
    """real double letters survive; sentences stay apart for clause logic."""
    assert normalize("Good feeling. Still here!").words == "good feeling\n still here\n"


SPANS = [
    ("I want to k1ll mys3lf tonight", "kill myself", "k1ll mys3lf"),
    ("k i l l  m y s e l f now", "kill myself", "k i l l  m y s e l f"),
    (
        "so tired. s\u200bu\u200bi\u200bc\u200bi\u200bd\u200be",
        "suicide",
        "s\u200bu\u200bi\u200bc\u200bi\u200bd\u200be",
    ),
    ("\uff4b\uff49\uff4c\uff4c me", "kill", "\uff4b\uff49\uff4c\uff4c"),
    ("i just wanna diiiiiie", "die", "diiiiiie"),
    ("suicidé ayer", "suicide", "suicidé"),
    ("Stra\u00dfe und \u0441ut", "cut", "\u0441ut"),
]


@pytest.mark.parametrize(("text", "view_term", "original"), SPANS)
def test_span_maps_back_to_what_the_writer_typed(text: str, view_term: str, original: str) -> None:
    """a match in the words view maps to exactly the original characters."""
    normalized = normalize(text)
    start = normalized.words.index(view_term)
    raw_start, raw_end = normalized.raw_span("words", start, start + len(view_term))
    assert text[raw_start:raw_end] == original


def test_link_view_rejoins_spaced_urls_with_spans() -> None:
    """a spaced-out URL reads as one link and maps back to its spaced original."""
    text = "look h t t p s : / / deals . example . com now"
    normalized = normalize(text)
    start = normalized.links.index("https://")
    end = normalized.links.index(".com") + 4
    raw_start, raw_end = normalized.raw_span("links", start, end)
    assert text[raw_start:raw_end] == "h t t p s : / / deals . example . com"


def test_raw_span_rejects_empty_and_unknown_views() -> None:
    """raw_span refuses spans it cannot map."""
    normalized = normalize("hello")
    with pytest.raises(ValueError, match="at least one"):
        normalized.raw_span("words", 2, 2)
    with pytest.raises(ValueError, match="unknown view"):
        normalized.raw_span("nope", 0, 1)


def test_terms_normalise_like_messages() -> None:
    """a lexicon term and an obfuscated message meet in one form."""
    assert normalize_term("Kill Myself") == normalize("k.i.l.l  m y s e l f").words.strip()


def _brute_force(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[int]]:
    removed = {index for start, end in spans for index in range(start, end)}
    kept = [index for index in range(len(text)) if index not in removed]
    return "".join(text[index] for index in kept), kept


@given(st.text(alphabet="abc ", max_size=30), st.data())
def test_delete_map_matches_brute_force(text: str, data: st.DataObject) -> None:
    """the break-point offset map of a deletion agrees with a per-character map."""
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = list(zip(cuts[::2], cuts[1::2], strict=False))
    result, offsets = delete(text, spans)
    expected, kept = _brute_force(text, spans)
    assert result == expected
    assert [offsets.source(index) for index in range(len(result))] == kept


@given(st.text(max_size=80))
@example("\x1f\x1f0")  # a rare whitespace run the view kept and the map once deleted
def test_every_word_maps_inside_the_original(text: str) -> None:
    """any text normalises without error and every word's span lies inside the original."""
    normalized = normalize(text)
    previous = 0
    for found in re.finditer(r"\S+", normalized.words):
        start, end = normalized.raw_span("words", found.start(), found.end())
        assert 0 <= start < end <= len(text)
        assert start >= previous
        previous = start


def test_identity_map_is_free() -> None:
    """an empty offset map is the identity."""
    assert OffsetMap().source(41) == 41


# Characters that exercise every stage: letters, separators, leet digits and symbols,
# sentence ends, rare ASCII and Unicode whitespace, non-Latin letters, invisibles, combining
# marks, full-width and expanding folds (ß, İ, ligatures), apostrophes, emoji.
_STAGE_CHARS = list(
    "ab iI.-_,!@$|01347\n\t\r\x0b\x1f\u1680\u2028\u0436\u54c8e\u0301\u200b\uff4b"
    "\U0001f64f\u00df\u0130'\u2019\u2026\u00bd\u00b2\u0663\u216b\u01c5\ufb00\u3164"
)
_STAGE_TEXTS = st.one_of(
    st.text(max_size=60), st.lists(st.sampled_from(_STAGE_CHARS), max_size=40).map("".join)
)


@given(_STAGE_TEXTS)
@example("\x1f\x1f0")
@example("i want to d i e!")  # a spaced run bordered by punctuation, not a separator
@example("\u0436 \u0436 \u0436 and kill")  # non-ASCII single letters
@example("\u54c8\u54c8\u54c8  a")  # a non-ASCII stretched letter and a doubled space
@example("x\u1680\u1680y")  # a Unicode whitespace run
@example("a!!1 b c")  # leet makes single letters the plain view did not have
def test_every_view_character_maps_to_the_character_it_came_from(text: str) -> None:
    """per character, not per word: each words-view character maps to the plain character it
    was made from (through the leet and punctuation stages, which keep lengths), each plain
    character to a raw character that folds to it, each links character to itself in plain;
    and mapped positions only grow."""
    normalized = normalize(text)
    translated = normalized.leeted.encode().translate(_WORD_BYTES).decode()
    previous = -1
    for position, char in enumerate(normalized.words):
        source = normalized.words_map.source(position)
        assert previous < source < len(normalized.plain)
        assert translated[source] == char
        previous = source
    previous = -1
    for position, char in enumerate(normalized.plain):
        source = normalized.plain_map.source(position)
        assert previous <= source < len(text)
        raw = text[source]
        assert char in (raw.lower() if raw.isascii() else _fold_char(raw).lower())
        previous = source
    for position, char in enumerate(normalized.links):
        assert normalized.plain[normalized.links_map.source(position)] == char


@given(_STAGE_TEXTS)
@example("\x1f\x1f0")
@example("i want to d i e!")
@example("\u0436 \u0436 \u0436")
@example("\u54c8\u54c8\u54c8")
@example("x\u1680\u1680y")
@example("a!!1 b c")
def test_cheap_tests_never_skip_a_stage_that_would_change_the_text(text: str) -> None:
    """the words view is exactly its regexes' output: the shape tests that skip the spaced-
    letter and squeeze passes hold whenever those passes would change something, whatever
    else is in the message (they once depended on an unrelated doubled space)."""
    normalized = normalize(text)
    joined = _SPACED_LETTERS.sub(lambda run: _join(run, None), normalized.leeted)
    spaced = joined.encode().translate(_WORD_BYTES).decode()
    assert normalized.spaced == spaced
    assert normalized.words == _REPEATS.sub(_first, spaced)


@given(_STAGE_TEXTS)
@example("aaa  bbb\n\n\n\x1f\x1f")
@example("\u54c8\u54c8\u54c8  a\u1680\u1680")
@example("no way!!! sooo tired. ok?  ")
def test_squeeze_in_c_is_the_squeeze_regex(text: str) -> None:
    """the squeeze (pairs by str.replace, letter runs by their own regex, rare whitespace by
    _REPEATS) and the runs the words map deletes are exactly _REPEATS's, for any text."""
    spaced = text.encode().translate(_WORD_BYTES).decode()
    swaps = () if spaced.isascii() else _stand_in_swaps(spaced)
    expected = _REPEATS.sub(_first, spaced)
    assert _squeeze(spaced, swaps) == expected
    reference = [
        found.span(2) if found.group(2) else found.span(4) for found in _REPEATS.finditer(spaced)
    ]
    assert _repeats(spaced, len(spaced) - len(expected)) == reference
    assert delete(spaced, reference)[0] == expected


@given(st.lists(st.sampled_from(["a", "1", "2", "_", "x", "aaaaa"]), max_size=30).map("".join))
@example("a1")
@example("a2a")
@example("1aaaaa")
@example("aaa_aa")
@example("1_" * 9 + "a1")
@example("2_" * 9 + "a2a")
@example("1_" * 4 + "2_" * 5 + "a2a")
def test_leet_hint_is_every_hint_searched(shape: str) -> None:
    """the one-byte searches for each 1 and 2 (every hint holds one), and the substring
    tests past a few of them, never change the leet hint."""
    encoded = shape.encode()
    assert _leet_hint(encoded) == any(hint in encoded for hint in _LEET_HINTS)


@given(st.text(alphabet="ab \n\t\r\x0b\x0c\x1c\x1f\x7f\x00é\u2003\u200b", max_size=24))
def test_rare_space_run_test_is_the_two_pass_definition(probe: str) -> None:
    """the byte deletion asked of ASCII text answers as removing newlines, ``isprintable``
    and the regex would, for text with and without control and non-ASCII characters."""
    expected = (
        not probe.replace("\n", "").isprintable() and _RARE_SPACE_RUN.search(probe) is not None
    )
    assert _has_rare_space_run(probe) == expected
