"""Evasions: each form a writer uses to get a crisis past a word filter, applied to several
crisis phrases (not to one sentence), must still be read as that crisis -- and the same form
applied to ordinary words must not invent one.

The forms: letters spaced one by one (single spaces, dots, underscores), words run together,
fillers read as nothing, digits and symbols standing for letters or whole words ("2 die",
"$u1c1d3", "0d"), reflexives written apart ("my self"), and look-alike letters from the whole
Unicode confusables data (Cyrillic, Greek, Cherokee, small capitals, mathematical letters).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from moderation import Category, Lexicon, load_lexicon, moderate

# (phrase, the category it must keep under every evasion)
CRISIS = (
    ("i want to kill myself", Category.SUICIDE),
    ("i am going to end my life tonight", Category.SUICIDE),
    ("i want to die", Category.SUICIDE),
    ("i keep cutting myself", Category.SELF_HARM),
)
# The words a writer runs together to hide each phrase's meaning ("killmyself").
CORE = {
    "i want to kill myself": "kill myself",
    "i am going to end my life tonight": "end my life",
    "i want to die": "want to die",
    "i keep cutting myself": "cutting myself",
}
ORDINARY = (
    "i want to sleep tonight",
    "my sponsor is coming over",
    "thinking about my first meeting",
)


@cache
def lexicon() -> Lexicon:
    return load_lexicon()


def spaced(separator: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        return " ".join(separator.join(word) for word in text.split())

    return apply


def single_spaced(text: str) -> str:
    """Every letter apart, words apart by one space too: "k i l l m y s e l f"."""
    return " ".join(text.replace(" ", ""))


def run_together(text: str) -> str:
    core = CORE.get(text, "")
    return text.replace(core, core.replace(" ", "")) if core else text


def filler_for_spaces(text: str) -> str:
    return text.replace(" ", "\u3164")


def reflexive_apart(text: str) -> str:
    return text.replace("myself", "my self")


def digits_for_words(text: str) -> str:
    return text.replace(" to ", " 2 ")


def leet(text: str) -> str:
    return text.translate(str.maketrans("ieosa", "130$4"))


def confusables(table: dict[str, str]) -> Callable[[str], str]:
    return lambda text: "".join(table.get(char, char) for char in text)


CYRILLIC = confusables({"a": "\u0430", "e": "\u0435", "o": "\u043e", "i": "\u0456", "y": "\u0443"})
CHEROKEE_AND_ROMAN = confusables({"i": "\u2170", "d": "\u217e", "l": "\u217c", "m": "\u217f"})
SMALL_CAPITALS = confusables(
    {
        c: chr(code)
        for c, code in zip("iklmnt", (0x026A, 0x1D0B, 0x029F, 0x1D0D, 0x0274, 0x1D1B), strict=True)
    }
)
MATH_SCRIPT = confusables({c: chr(0x1D4B6 + ord(c) - ord("a")) for c in "abcdfhijklmnpqrstuvwxyz"})

EVASIONS: dict[str, Callable[[str], str]] = {
    "letters spaced by single spaces": single_spaced,
    "letters dotted": spaced("."),
    "letters underscored": spaced("_"),
    "the crisis words run together": run_together,
    "hangul fillers for spaces": filler_for_spaces,
    "reflexive written apart": reflexive_apart,
    "2 for to": digits_for_words,
    "leetspeak with $ and digits": leet,
    "cyrillic look-alikes": CYRILLIC,
    "roman numeral look-alikes": CHEROKEE_AND_ROMAN,
    "small capitals": SMALL_CAPITALS,
    "mathematical script letters": MATH_SCRIPT,
}


# Every (evasion, phrase) pair the evasion changes ("2 for to" needs a "to", ...).
CASES = [
    pytest.param(EVASIONS[name](phrase), category, id=f"{name}: {phrase}")
    for name in sorted(EVASIONS)
    for phrase, category in CRISIS
    if EVASIONS[name](phrase) != phrase
]


def test_every_evasion_is_tried_on_some_crisis_phrase() -> None:
    tried = {str(case.id).split(":")[0] for case in CASES}
    assert tried == set(EVASIONS)


@pytest.mark.parametrize(("text", "category"), CASES)
def test_an_evaded_crisis_keeps_its_category(text: str, category: Category) -> None:
    verdict = moderate(text, lexicon())
    assert category in verdict.categories, f"{text!r} gave {verdict.categories}"


@pytest.mark.parametrize("evasion", sorted(EVASIONS))
@pytest.mark.parametrize("phrase", ORDINARY)
def test_an_evasion_of_ordinary_words_invents_no_crisis(evasion: str, phrase: str) -> None:
    verdict = moderate(EVASIONS[evasion](phrase), lexicon())
    assert not verdict.is_crisis


@pytest.mark.parametrize(
    "text",
    ["i'm gonna od tonight", "im gonna 0d tonight", "going to overdose on my pills"],
)
def test_od_as_a_plan_is_a_crisis(text: str) -> None:
    assert moderate(text, lexicon()).is_crisis


@pytest.mark.parametrize("text", ["it cost $50 to get there", "meeting at 7am, 2 blocks away"])
def test_money_times_and_counts_stay_as_they_are(text: str) -> None:
    assert not moderate(text, lexicon()).is_crisis
