"""Verdicts pinned to a golden file, so speed work on the core cannot change what it decides.

``tests/unit/golden/moderation_verdicts.jsonl`` holds the JSON verdict (``Verdict.to_json``)
of ~200 generated messages (edge cases and seeded mixes of the fragments below), under the
default policy and a relaxed one (so the policy branches are pinned too). Each line stores its
text, so the test needs nothing outside the repository. Any difference, however small, fails.

``tests/unit/golden/corpus_verdicts.jsonl`` pins the verdict of every message in the team
corpus's build part (corpus/build/, read from the repository) under both policies, compactly:
action, severity and categories in the clear, and a digest of the whole verdict JSON.

To rewrite the golden file (only when a verdict change is intended and reviewed)::

    HARBOR_WRITE_GOLDEN=1 python -m pytest tests/unit/test_moderation_golden.py
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from moderation import Lexicon, RoomPolicy, Severity, load_lexicon, moderate

GOLDEN = Path(__file__).resolve().parent / "golden" / "moderation_verdicts.jsonl"
CORPUS_GOLDEN = GOLDEN.with_name("corpus_verdicts.jsonl")
CORPUS_BUILD = Path(__file__).resolve().parents[2] / "corpus" / "build"
POLICIES = {
    "default": RoomPolicy(),
    "relaxed": RoomPolicy(
        hold_method_detail=False,
        held_categories=frozenset(),
        redact_pii=False,
        support_from=Severity.HIGH,
    ),
}


@cache
def lexicon() -> Lexicon:
    return load_lexicon()


# Fragments for generated messages: ordinary talk, idioms and history that must stay quiet,
# crisis and community-harm lines, context words, personal data and links.
_ORDINARY = (
    "had a rough morning but made it to the 7am meeting",
    "day 43 today, the cravings come in waves",
    "my sponsor bought me coffee after the meeting",
    "anyone have tips for sleeping in the first month?",
    "grateful for this room and for all of you",
    "made pancakes with my son this morning",
    "new job starts Monday, nervous but excited",
    "hit 90 days yesterday, thank you all",
    "my relapse prevention plan is on the fridge",
    "the cutting board slipped and I nicked the counter",
    "climbing Kilimanjaro is on my list for next year",
    "my therapist says skills take practice",
    "my pillow is the best part of my day",
    "Gracias a todos por el apoyo, hoy cumplo dos meses sin tomar",
    "me siento mejor hoy, fui a la reunión de la mañana",
    "watched the sunrise from the beach with my sister",
    "took 800mg of ibuprofen for my back like the doctor said",
    "the meeting is at 7:30 in room 204",
)
_SOFTENED = (
    "this headache is killing me lol",
    "I'd kill for a coffee right now haha",
    "five years ago I overdosed, today I'm an ER nurse",
    "I'm not suicidal, just sad today",
    "in the movie the guy overdoses at the end",
    "how do you help a friend who talks about suicide?",
    "back in 2015 I used to cut, I'm safe now",
    "the room rules say no talk of methods of self harm",
    "I never want to drink again",
    "nothing but love for this group",
)
_FLAGGED = (
    "I can't do this anymore, I have the pills lined up",
    "he hit me again tonight and I'm hiding in the bathroom",
    "about to use, the bag is in my hand",
    "my friend won't wake up and his lips are blue",
    "selling my leftover percs cheap, dm me",
    "i want to die tonight, nobody would notice",
    "self harm again tonight, the blade is right there",
    "i'm going to kill myself this weekend",
    "wrote goodbye letters to my kids. this is it",
    "took 4 bars with wine and I can barely breathe",
    "my dealer just texted, he's pulling up in 5",
    "quiero suicidarme esta noche",
    "mi esposo me golpea cuando bebe",
    "shut up you pathetic junkie",
    "what a st*pid m0r0n you are",
    "kys nobody wants you here",
    "burning my skin with a cigarette on purpose",
    "I sliced my arm again, there is blood everywhere",
    "parked on the bridge looking down at the water right now",
    "giving away my things, I won't need them",
)
_DATA = (
    "call me at (614) 555-0133 after the meeting",
    "my number's 312 555 0123 call me",
    "text me 555-0199",
    "five five five zero one two three four five six",
    "email me at someone@example.com",
    "write to me at jane dot doe at example dot com",
    "someone [at] example [dot] org",
    "I live at 42 Maple Street, unit 4B",
    "she lives on Oak Ridge Road near the school",
    "apt #12 is mine",
    "My name is Maria Lopez and I work at the clinic",
    "follow me @sober_sam_22",
    "cheap meds at www.deals.example.com no prescription",
    "h t t p s : / / deals . example . com",
    "visit https://example.org/promo now",
    "only $50 for the whole bag, 20 dollars for one",
    "in the 90s I drank every day",
    "hace 3 años que no bebo",
)
_EXTRAS = ("🙏", "💊", "🔪", "🩸", "⚰️", "💀", "🍺", "😂", "❤️", "🔥")
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
_LOOKALIKES = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "i": "і", "y": "у", "x": "х"}
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7"}
_EDGE_CASES = (
    "",
    " ",
    "\n\n\t",
    "...",
    "🙏🙏🙏",
    "ok",
    "a",
    "kill",
    "skill",
    "k i l l  m y s e l f",
    "s.u.i.c.i.d.e",
    "diiiiiie",
    "killllll myselfffff",
    "ｓｅｌｆ ｈａｒｍ",
    "𝐤𝐢𝐥𝐥 𝐦𝐲𝐬𝐞𝐥𝐟",
    "suicidé",
    "Straße",
    "I can\u2019t stop cutting",
    "it\u2019s fine\u2026 really\u2026",
    "won't wake up\r\nnot breathing",
    "but but but",
    "no, no, no\n\nI will not use",
    "1234567",
    "call 911",
    "@@@@",
    "$$$",
    "ab0ut t0 us3 ag4in",
    "\u3164\u3164\u2800",
    "e\u0301\u0301\u0301",
    "x" * 400,
    ("i want to die " * 40).strip(),
    ". ".join(_ORDINARY) + " i want to die",
)


def _obfuscate(text: str, chooser: random.Random) -> str:
    """One evasion the normaliser must see through (or, for some, deliberately not)."""
    kind = chooser.randrange(10)
    if kind == 0:
        return "".join(_LEET.get(c, c) if chooser.random() < 0.5 else c for c in text)
    if kind == 1:
        return " ".join(text)
    if kind == 2:
        return "".join(c + chooser.choice(_ZERO_WIDTH) if c.isalpha() else c for c in text)
    if kind == 3:
        return "".join(_LOOKALIKES.get(c, c) if chooser.random() < 0.5 else c for c in text)
    if kind == 4:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    if kind == 5:
        return "".join(c * chooser.randint(1, 5) if c.isalpha() else c for c in text)
    if kind == 6:
        return "".join(c + "\u0301" if c in "aeiou" and chooser.random() < 0.5 else c for c in text)
    if kind == 7:
        return text.upper()
    if kind == 8:
        return ".".join(text)
    return text.replace(" ", chooser.choice(("  ", "\t", " \n ", "...", " - ")))


def generated(count: int = 200, seed: int = 2026) -> list[str]:
    """Edge cases, then ``count`` minus their number of seeded mixes of the fragments above."""
    chooser = random.Random(seed)
    built = list(_EDGE_CASES)
    pools = (_ORDINARY, _SOFTENED, _FLAGGED, _DATA)
    while len(built) < count:
        parts = [chooser.choice(_ORDINARY)]
        for _ in range(chooser.randint(0, 3)):
            part = chooser.choice(chooser.choice(pools))
            if chooser.random() < 0.25:
                part = _obfuscate(part, chooser)
            parts.insert(chooser.randrange(len(parts) + 1), part)
        if chooser.random() < 0.2:
            parts.append(chooser.choice(_EXTRAS))
        separator = chooser.choice((". ", ", ", " ", "\n", " but ", "! ", "... "))
        built.append(separator.join(parts))
    return built


def current_lines() -> list[dict[str, Any]]:
    """What the core decides now, in golden-file form."""
    lines: list[dict[str, Any]] = []
    for number, text in enumerate(generated()):
        line: dict[str, Any] = {"source": "generated", "id": f"g{number:03d}", "text": text}
        for name, policy in POLICIES.items():
            line[name] = pinned(moderate(text, lexicon(), policy).to_json())
        lines.append(line)
    return lines


def corpus_build() -> list[tuple[str, str]]:
    """(id, text) of every message in corpus/build/, in file order."""
    rows = [
        json.loads(line)
        for path in sorted(CORPUS_BUILD.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [(str(row["id"]), str(row["text"])) for row in rows]


def compact(verdict: dict[str, Any]) -> str:
    """action/severity/categories/digest of the whole verdict: readable in a diff, exact."""
    digest = hashlib.sha256(json.dumps(verdict, sort_keys=True).encode()).hexdigest()[:16]
    categories = ",".join(verdict["categories"]) or "-"
    return f"{verdict['action']}/{verdict['severity']}/{categories}/{digest}"


def current_corpus_lines() -> list[dict[str, str]]:
    return [
        {"id": ident}
        | {
            name: compact(pinned(moderate(text, lexicon(), policy).to_json()))
            for name, policy in POLICIES.items()
        }
        for ident, text in corpus_build()
    ]


def _write_golden() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    with GOLDEN.open("w", encoding="utf-8") as handle:
        for line in current_lines():
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    with CORPUS_GOLDEN.open("w", encoding="utf-8") as handle:
        for corpus_line in current_corpus_lines():
            handle.write(json.dumps(corpus_line, sort_keys=True) + "\n")


def _golden() -> list[dict[str, Any]]:
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def pinned(verdict: dict[str, Any]) -> dict[str, Any]:
    """``verdict`` as the golden file holds it: through a JSON round trip (enums become their
    names). Every field is compared exactly, ``reasons`` order included.

    ``reasons`` used to be compared sorted: its order followed ``frozenset`` iteration, which
    ``PYTHONHASHSEED`` changes per process (dev-set d083 showed it). Now term reasons come in
    text order and rule reasons in rules-file order in every process
    (tests/unit/test_moderation_determinism.py), so the order is pinned too; the golden file
    was rewritten for that order only, with no other field changed.
    """
    loaded: dict[str, Any] = json.loads(json.dumps(verdict, ensure_ascii=False))
    return loaded


def test_golden_file_covers_the_generated_messages() -> None:
    if os.environ.get("HARBOR_WRITE_GOLDEN") == "1":
        _write_golden()
    assert sum(line["source"] == "generated" for line in _golden()) >= 200


def test_corpus_build_verdicts_match_golden() -> None:
    """every build-corpus message still gets the verdict it was pinned with, under both
    policies (the golden file covers exactly the corpus's build part)."""
    lines = CORPUS_GOLDEN.read_text(encoding="utf-8").splitlines()
    golden = {row["id"]: row for row in map(json.loads, lines)}
    current = current_corpus_lines()
    assert len(current) >= 2000 and set(golden) == {row["id"] for row in current}
    changed = [row["id"] for row in current if row != golden[row["id"]]]
    assert changed == [], f"{len(changed)} corpus verdicts changed, e.g. {changed[:5]}"


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_generated_verdicts_match_golden(policy_name: str) -> None:
    policy = POLICIES[policy_name]
    for line in _golden():
        if line["source"] != "generated":
            continue
        verdict = pinned(moderate(line["text"], lexicon(), policy).to_json())
        assert verdict == line[policy_name], f"{line['id']}: {line['text']!r}"


def test_generated_messages_are_reproducible() -> None:
    """The generator still makes the pinned texts, so the golden file can be rewritten."""
    stored = [line["text"] for line in _golden() if line["source"] == "generated"]
    assert stored == generated()
