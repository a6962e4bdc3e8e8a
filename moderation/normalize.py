"""Text views for matching, each with a map back to offsets of the original message.

Evasions (zero-width characters, look-alike letters, full-width or "bold" letters, accents,
leetspeak, spaced letters, stretched letters) must not change what a message means to the
matcher, yet moderators need spans of what the writer actually typed. So every transform here
records an :class:`OffsetMap`, and a match in any view maps back to the raw text.

Views, each derived from the previous one:

``raw``    the message as received (emoji and numbers carry signal; kept for spans/redaction).
``plain``  NFKC, invisible characters dropped, Greek/Cyrillic look-alikes folded by *shape*
           (UTS #39 confusables, not transliteration), combining marks dropped, casefolded.
           Digits and punctuation intact: personal-data patterns run here.
``words``  plain with leetspeak folded inside words (doses like "800mg" stay), single letters
           separated by spaces or dots joined, punctuation turned into spaces (sentence ends
           into newlines; commas kept, as they bound negation), runs of three or more of
           a letter squeezed to one ("diiiie") and runs of whitespace to one. Doubled letters
           stay (most English doubles are real); the lexicon also holds each term with its
           doubles single, so "killll" -> "kil" still meets "kill".
``links``  plain with spaced letters joined and spaces around ``. : /`` removed, so
           "h t t p s : / / deals . example . com" reads as a link.

Most messages are ASCII and take fast paths (``str.lower``, C-level regex); per-character work
is done only for non-ASCII characters, and is cached.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib.resources import files

# Fillers that render as nothing but are letters or marks, so a category test misses them:
# dropped, as zero-width characters are.
_FILLERS = frozenset("\u034f\u180e\u17b4\u17b5")
# Fillers that render as a blank the width of a letter (Hangul fillers, the blank Braille
# pattern): a writer puts them where a space would be ("i\u3164want\u3164to\u3164die",
# "c\u3164u\u3164t"), so they are read as spaces.
_BLANK_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc", "Co", "Cs"})
_KEEP_CONTROLS = frozenset("\n\t\r")

# Look-alike letters and digits, folded to the ASCII they imitate: the whole Unicode
# confusables data (UTS #39, as the confusable-homoglyphs package ships it) gives about 1,400,
# from Cherokee and mathematical letters to Roman numerals. It pairs characters by shape alone,
# whatever their case, so a few letters chat uses as look-alikes are set by hand below,
# where the data names another case's twin ("І" -> "l") or none ("к", "ь"). Uppercase forms
# are listed because folding happens before casefolding.
_BY_HAND = dict(
    zip(
        "АВЕЅІЈКМНОРСТХУҮԚԜӀ"
        + "аеіјоросухѕһԁԛԝӏүɡѵьк"
        + "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"
        + "αοικνρυχγεϲϳ"
        + "ıȷɑɩ",
        "ABESIJKMHOPCTXYYQWl"
        + "aeijopocyxshdqwlygvbk"
        + "ABEZHIKMNOPTYX"
        + "aoikvpuxyecj"
        + "ijai",
        strict=True,
    )
)


def _unicode_confusables() -> dict[str, str]:
    """Each single non-ASCII character the data confuses with an ASCII letter or digit, mapped
    to it (letters before digits, so "О" is "O", not "0")."""
    # The package's data file, read directly: its Python API imports urllib (sockets).
    data = files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    confusables_data: dict[str, list[dict[str, str]]] = json.loads(data)
    folds: dict[str, str] = {}

    def order(key: str) -> tuple[bool, bool, str]:
        return (not (key.isascii() and key.isalpha()), not (key.isascii() and key.isdigit()), key)

    for key in sorted(confusables_data, key=order):
        for entry in confusables_data[key]:
            glyph = entry["c"]
            if key.isascii() and key.isalnum() and len(glyph) == 1 and not glyph.isascii():
                folds.setdefault(glyph, key)
            elif len(key) == 1 and not key.isascii() and glyph.isascii() and glyph.isalnum():
                folds.setdefault(key, glyph)
    # One step further: a glyph confused with a letter that is itself a look-alike ("ᴋ", a
    # small capital, with Cyrillic "к").
    known = {**folds, **_BY_HAND}
    for key in sorted(confusables_data):
        if len(key) == 1 and key in known:
            for entry in confusables_data[key]:
                glyph = entry["c"]
                if len(glyph) == 1 and not glyph.isascii() and glyph not in known:
                    folds.setdefault(glyph, known[key])
    return folds


_CONFUSABLES: dict[str, str] = {**_unicode_confusables(), **_BY_HAND}
_APOSTROPHES = frozenset("\u2018\u2019\u02bc\u0060\u00b4\u2032")

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LEET_TOKEN = re.compile(r"(?=[a-z0-9@$!|]*[a-z])(?=[a-z0-9@$!|]*[0-9@$!|])[a-z0-9@$!|]+")
# A number with a unit, an ordinal or a time ("800mg", "2nd", "7am", "3x"), kept as written:
# other digit-letter mixes are leetspeak ("3nd" is "end").
_QUANTITY = re.compile(
    r"\d+(?:mg|mcg|ug|ml|cc|g|gs|kg|lb|lbs|oz|l|am|pm|h|hr|hrs|min|mins|s|sec|secs|k|m|mo|"
    r"x|d|y|yo|yr|yrs|wk|wks|day|days|bar|bars|pk|pack)?"
    r"|\d*(?:1st|2nd|3rd|[04-9]th|1[123]th)"
)
_LEET_DIGITS = str.maketrans("013457", "oieast")
_LEET_SYMBOLS = str.maketrans("@$!|", "asil")
# A symbol between letters or digits, or a "$" starting a word ("$u1c1d3"; "$50" is money).
_LEET_SYMBOL = re.compile(r"(?<=[a-z0-9])[@$!|](?=[a-z0-9])|^\$(?=[a-z])")
# Single letters, each apart from the next by one space, dot, underscore or hyphen.
_SPACED_LETTERS = re.compile(r"(?<![^\W_])[^\W\d_](?:[ ._-][^\W\d_](?![^\W_])){2,}")
_REPEATS = re.compile(r"([^\W\d_])(\1{2,})|(\s)(\3+)")
# The two halves of ``_REPEATS``, each far cheaper to run alone (see ``_squeeze``).
_LETTER_RUNS = re.compile(r"([^\W\d_])\1{2,}")
_SPACE_RUNS = re.compile(r"(\s)\1+")
_ASCII_BYTES = bytes(range(128))
_LINK_GAPS = re.compile(r"(\s*)([.:/])(\s*)")

# A one-pass "shape" of the text (letters a, digits 1, leet symbols 2, separators _, else x)
# tells in C whether the costly leet and spaced-letter passes can find anything at all.
_SENTENCE_ENDS = ".!?;\n\r"
_KEPT_IN_WORDS = "',*"


def _byte_table(mapping: dict[str, str]) -> bytes:
    """A 256-byte translation table; bytes of multi-byte UTF-8 characters map to themselves
    unless listed, so ``text.encode().translate(table).decode()`` keeps every offset."""
    table = bytearray(range(256))
    for char, replacement in mapping.items():
        table[ord(char)] = ord(replacement)
    return bytes(table)


# Punctuation becomes spaces in the words view (sentence ends become newlines, which bound
# clauses). Non-ASCII punctuation was already folded to ASCII or spaces in the plain view.
_WORD_BYTES = _byte_table(
    {
        **{
            chr(code): " "
            for code in range(0x21, 0x7F)
            if not chr(code).isalnum() and chr(code) not in _KEPT_IN_WORDS + _SENTENCE_ENDS
        },
        **dict.fromkeys(_SENTENCE_ENDS, "\n"),
        "\t": " ",
    }
)
# A one-pass "shape" of the text (letters a, digits 1, leet symbols 2, separators _, else x)
# tells in C whether the costly leet and spaced-letter passes can find anything at all.
_SHAPE_BYTES = bytes(
    ord(
        "a"
        if chr(code).isascii() and chr(code).isalpha()
        else "1"
        if chr(code).isdigit() and code < 128
        else "2"
        if chr(code) in "@$!|"
        else "_"
        if chr(code) in " ._-"
        else "x"
    )
    for code in range(256)
)
# Leet hints, tested as substrings of the shape (a regex alternation with no literal prefix
# costs several microseconds per message; three ``in`` tests cost a fraction of one).
# "1aaaaa": a leading digit, but not "7am", "30mg".
# "2a": a symbol before a letter, inside a word ("h@te") or starting one ("$uicide").
_LEET_HINTS = (b"a1", b"1aaaaa", b"2a")
# Searched as a regex, not with ``in``: the needle's two bytes are both common in a shape, so
# ``bytes.find`` can skip ahead by a byte or two only, where the regex engine's literal-prefix
# scan (one pass, no skip table) takes about half the time on chat.
_SPACED_HINT = re.compile(rb"_a_a_a_")
# A doubled whitespace character other than space and newline (``\t`` and ``\r`` are gone by
# the spaced view): rare in chat, so tested last (see ``_has_rare_space_run``).
_RARE_SPACE_RUN = re.compile(r"([\t\r\x0b\x0c\x1c-\x1f])\1")
# The printable ASCII bytes and the newline, deleted to find any other (see _has_rare_space_run).
_PRINTABLE_OR_NEWLINE = bytes(code for code in range(128) if chr(code).isprintable() or code == 10)
# For the padded spaced-letter test: any non-word character may border a run of single letters.
_BOUNDARY_BYTES = bytes.maketrans(b"x2", b"__")
_PUNCTUATION_ENDS = frozenset("\u2026\u3002\u203c\u2047\u2048\u2049")


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Positions of a derived view mapped to positions of its source view.

    Piecewise: from ``view_points[i]`` on, a view position ``p`` maps to
    ``source_points[i] + (p - view_points[i])`` until the next point. Empty means identity.
    Storing only the break points keeps the cost proportional to edits, not to text length.
    """

    view_points: tuple[int, ...] = ()
    source_points: tuple[int, ...] = ()

    def source(self, position: int) -> int:
        """The source position the view character at ``position`` came from."""
        index = bisect_right(self.view_points, position) - 1
        if index < 0:
            return position
        return self.source_points[index] + position - self.view_points[index]


IDENTITY = OffsetMap()


@dataclass(frozen=True, slots=True)
class MapChain:
    """Maps applied in order (source first); mapping back walks them from the last."""

    maps: tuple[OffsetMap, ...] = ()

    def source(self, position: int) -> int:
        """The position in the first source that ``position`` of the last view came from."""
        for offsets in reversed(self.maps):
            position = offsets.source(position)
        return position


def chain(*maps: OffsetMap) -> MapChain:
    """Only the non-identity maps, so an untouched view maps back for free."""
    return MapChain(tuple(offsets for offsets in maps if offsets.view_points))


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The words a run of spaced letters may be cut into ("k i l l m y s e l f" -> "kill
    myself"): the lexicon's own words (:attr:`moderation.lexicon.Lexicon.vocabulary`)."""

    words: frozenset[str]
    longest: int

    @classmethod
    def of(cls, words: Iterable[str]) -> Vocabulary:
        chosen = frozenset(word for word in words if word.isalpha())
        return cls(chosen, max(map(len, chosen), default=0))


# Longer runs of spaced letters are joined whole, unsegmented (the cut search is quadratic).
_MAX_SEGMENTED = 120


def _cuts(letters: str, vocabulary: Vocabulary | None) -> tuple[int, ...]:
    """Where to cut ``letters`` (a joined run) into the fewest vocabulary words, as indexes
    into it; none when it is a word already or cannot be cut into words only."""
    if vocabulary is None or len(letters) > _MAX_SEGMENTED:
        return ()
    words, longest, size = vocabulary.words, vocabulary.longest, len(letters)
    if letters in words:
        return ()
    best: list[tuple[int, int] | None] = [None] * (size + 1)  # (words so far, last cut)
    best[0] = (0, -1)
    for end in range(1, size + 1):
        for start in range(max(0, end - longest), end):
            before = best[start]
            if before is not None and letters[start:end] in words:
                found = best[end]
                if found is None or before[0] + 1 < found[0]:
                    best[end] = (before[0] + 1, start)
    if best[size] is None:
        return ()
    cuts = []
    position = size
    while position > 0:
        step = best[position]
        assert step is not None
        position = step[1]
        if position > 0:
            cuts.append(position)
    return tuple(reversed(cuts))


@dataclass(frozen=True)
class Normalized:
    """One message in all its views; see the module docstring for what each view is for.

    Offset maps and the ``links`` view are computed on first use: most messages never need
    a span mapped back or a link looked for, and per-message microseconds matter here.
    """

    raw: str
    plain: str
    plain_map: OffsetMap
    words: str
    leeted: str  # plain with leetspeak folded (same length): the words view's first stage
    spaced: str  # words before squeezing repeats: the words view's last stage
    vocabulary: Vocabulary | None = None  # what runs of spaced letters were cut by

    @cached_property
    def words_map(self) -> MapChain:
        """Words-view positions back to plain-view positions.

        The map replays exactly the stages :func:`normalize` applied, never decides afresh
        whether they apply: a stage that deleted something shortened its view, and its regex
        run again on the same input finds the same matches ``sub`` replaced. (Deciding again
        with other cheap tests once let the map delete a whitespace run, ``"\\x1f\\x1f"``,
        that the view had kept, and every later span shifted by one.)
        """
        join_map = IDENTITY
        if len(self.spaced) != len(self.leeted):  # the same length through the byte table
            join_map = delete(self.leeted, _separators(self.leeted, self.vocabulary))[1]
        squeeze_map = IDENTITY
        if len(self.words) != len(self.spaced):
            deleted = len(self.spaced) - len(self.words)
            squeeze_map = delete(self.spaced, _repeats(self.spaced, deleted))[1]
        return chain(join_map, squeeze_map)

    @cached_property
    def _links(self) -> tuple[str, MapChain]:
        swaps = () if self.plain.isascii() else _stand_in_swaps(self.plain)
        gaps = _separators(self.plain) if _spaced_hint(_shape(self.plain, swaps)) else ()
        joined, join_map = delete(self.plain, gaps)
        found = _LINK_GAPS.finditer(joined)
        tight, tight_map = delete(joined, (s for gap in found for s in (gap.span(1), gap.span(3))))
        return tight, chain(join_map, tight_map)

    @property
    def links(self) -> str:
        """Plain with spaced letters joined and spaces around ``. : /`` removed."""
        return self._links[0]

    @property
    def links_map(self) -> MapChain:
        """Links-view positions back to plain-view positions."""
        return self._links[1]

    def raw_span(self, view: str, start: int, end: int) -> tuple[int, int]:
        """Map ``view[start:end]`` (view is "raw", "plain", "words" or "links") to raw offsets.

        The end maps through the position *after* the span, so characters the view deleted
        inside a word (squeezed repeats, joined separators, invisibles) stay in the span.
        """
        if end <= start:
            raise ValueError("a span needs at least one character")
        if view == "raw":
            return start, end
        if view == "words":
            if len(self.words) != len(self.leeted):  # else every stage kept every character
                words_map = self.words_map
                start, end = words_map.source(start), words_map.source(end)
        elif view == "links":
            links_map = self.links_map
            start, end = links_map.source(start), links_map.source(end)
        elif view != "plain":
            raise ValueError(f"unknown view {view!r}")
        if self.plain_map.view_points:
            start, end = self.plain_map.source(start), self.plain_map.source(end)
        end = max(end, start + 1)
        raw = self.raw
        if end < len(raw) and not raw[end].isascii():
            end = _past_invisibles(raw, end)
        return start, end


def normalize(text: str, vocabulary: Vocabulary | None = None) -> Normalized:
    """All views of ``text``; pure and deterministic.

    With a ``vocabulary``, a run of spaced letters that spells several of its words is cut
    into them ("k i l l m y s e l f" -> "kill myself"); without one, or when no cut into its
    words exists, the run is joined whole ("k i l l" -> "kill").

    Each costly regex pass (leet, spaced letters, squeezing) is skipped only when a cheap test
    on the text's shape proves it would change nothing, so every view is exactly what its
    regex defines, whatever else the message holds. Plain ASCII text with no sign of
    obfuscation (the common case) costs a handful of C calls: one ``lower``, two byte-table
    translations, a few substring tests and the squeeze test.
    """
    if text.isascii():
        plain, plain_map = text.lower(), IDENTITY
        swaps: tuple[tuple[str, str], ...] = ()
        shape = plain.encode().translate(_SHAPE_BYTES)
    else:
        plain, plain_map = _plain(text)
        swaps = () if plain.isascii() else _stand_in_swaps(plain)
        shape = _shape(plain, swaps)
    leeted = plain
    if _leet_hint(shape):
        leeted = _LEET_TOKEN.sub(_unleet, plain)
        if leeted != plain:  # digits became letters: single letters may have appeared
            shape = _shape(leeted, swaps)
    joined = leeted
    if _spaced_hint(shape):
        joined = _SPACED_LETTERS.sub(lambda run: _join(run, vocabulary), leeted)
    spaced = joined.encode().translate(_WORD_BYTES).decode()
    words = _squeeze(spaced, swaps)
    return _views(text, plain, plain_map, words, leeted, spaced, vocabulary)


_new = object.__new__


def _views(
    raw: str,
    plain: str,
    plain_map: OffsetMap,
    words: str,
    leeted: str,
    spaced: str,
    vocabulary: Vocabulary | None,
) -> Normalized:
    """``Normalized(raw, plain, plain_map, words, leeted, spaced, vocabulary)``, built as the
    frozen dataclass's ``__init__`` would (each field in the instance dict) without its seven
    ``object.__setattr__`` calls: a couple of microseconds on every message."""
    made = _new(Normalized)
    fields = made.__dict__
    fields["raw"] = raw
    fields["plain"] = plain
    fields["plain_map"] = plain_map
    fields["words"] = words
    fields["leeted"] = leeted
    fields["spaced"] = spaced
    fields["vocabulary"] = vocabulary
    return made


def normalize_term(term: str) -> str:
    """A lexicon term in the same ``words`` view as messages, so both meet in one form."""
    return normalize(term).words.strip()


def _plain(text: str) -> tuple[str, OffsetMap]:
    """NFKC-fold, drop invisibles, casefold look-alikes, lowercase (see the module docstring).

    Most non-ASCII chat (accents, "ñ", emoji) folds each character to one ASCII character or
    to itself: lengths stay, the offset map is the identity, and a ``str.replace`` per
    distinct character (in C) gives what ``rewrite`` would, without a Python step per match.
    """
    if text.isascii():
        return text.lower(), IDENTITY
    replacements = _fold_plan(_distinct_non_ascii(text))
    if replacements is None:
        folded, offsets = rewrite(text, _NON_ASCII, lambda match: _fold_char(match.group()))
        return folded.lower(), offsets
    for char, fold in replacements:
        text = text.replace(char, fold)
    return text.lower(), IDENTITY


def _distinct_non_ascii(text: str) -> frozenset[str]:
    """The distinct non-ASCII characters of ``text``: deleting every ASCII byte of its UTF-8
    form leaves whole multi-byte sequences, so this is three C calls and a small set."""
    return frozenset(text.encode().translate(None, _ASCII_BYTES).decode())


@lru_cache(maxsize=4096)
def _fold_plan(chars: frozenset[str]) -> tuple[tuple[str, str], ...] | None:
    """For these non-ASCII characters, the ``str.replace`` steps folding them, or None when
    some character folds to nothing, to several characters or to another non-ASCII one (the
    text then needs :func:`rewrite` and an offset map). Sorted, so equal for every seed."""
    folds = [(char, _fold_char(char)) for char in sorted(chars)]
    if all(len(fold) == 1 and (fold == char or fold.isascii()) for char, fold in folds):
        return tuple((char, fold) for char, fold in folds if fold != char)
    return None


def _stand_in_swaps(text: str) -> tuple[tuple[str, str], ...]:
    """For each distinct non-ASCII character of ``text``, an ASCII stand-in of the same regex
    class (see :func:`_stand_in_char`), so the byte-level tests below also hold for text with
    Cyrillic letters, ideographs or Unicode spaces."""
    return _swaps_for(_distinct_non_ascii(text))


@lru_cache(maxsize=4096)
def _swaps_for(chars: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple((char, _stand_in_char(char)) for char in sorted(chars))


@lru_cache(maxsize=4096)
def _stand_in_char(char: str) -> str:
    """``0`` for a digit (``\\d``), ``a`` for another word character (a letter for
    ``[^\\W\\d_]``), ``\\x1f`` for whitespace, and nothing for anything else (emoji,
    symbols), which can be neither a letter nor part of a whitespace run. Equal stand-ins of
    distinct characters only make a test say "maybe"; the regex then decides."""
    if char.isdecimal():
        return "0"
    if char.isalnum():
        return "a"
    return "\x1f" if char.isspace() else ""


def _shape(text: str, swaps: tuple[tuple[str, str], ...]) -> bytes:
    """The shape bytes of ``text`` with its non-ASCII characters replaced by stand-ins; here a
    character with no stand-in keeps its place as ``'`` (shape ``x``): a non-word character
    may border a run of spaced letters, so removing it could hide one."""
    for char, stand_in in swaps:
        text = text.replace(char, stand_in or "'")
    return text.encode().translate(_SHAPE_BYTES)


def _leet_hint(shape: bytes) -> bool:
    """Whether the leet pass can change anything (``shape`` unpadded: no hint involves ``_``).

    Every hint holds a ``1`` or a ``2``, few in chat, while ``a`` is most of a shape: a
    substring search for "a1" steps through every ``a``. So the ``1`` and ``2`` are found
    with one-byte searches (``memchr``) and the bytes beside each compared; past a few
    of them (digit-heavy text) the substring tests decide instead.
    """
    find = shape.find
    position, left = find(b"1"), _LEET_PROBES
    while position >= 0:
        if position and shape[position - 1] == _A or shape.startswith(b"aaaaa", position + 1):
            return True  # "a1" or "1aaaaa"
        left -= 1
        if not left:
            return b"a1" in shape or b"1aaaaa" in shape or b"2a" in shape  # _LEET_HINTS
        position = find(b"1", position + 1)
    position = find(b"2")
    while position >= 0:
        if shape.startswith(b"a", position + 1):
            return True  # "2a"
        left -= 1
        if not left:
            return b"2a" in shape
        position = find(b"2", position + 1)
    return False


_A = ord("a")
_LEET_PROBES = 8  # ones and twos compared one by one before the substring tests take over


def _spaced_hint(shape: bytes) -> bool:
    """Whether ``_SPACED_LETTERS`` can match: single letters, each next to a separator.

    A match is "letter, separator, letter, separator, letter" (``a_a_a``) with no word
    character just before or after it; any other character (``x``, ``2``) may stand there,
    so those count as ``_`` for the padded test (a superset is fine: the regex decides).
    No pre-test for ``a_a_a`` alone: chat holds it in most messages (any one-letter word
    between two others), and a search for a needle of ``a`` and ``_`` in text that is
    mostly ``a`` compares at nearly every byte, so it cost more than it saved.
    """
    return _SPACED_HINT.search(b"_" + shape.translate(_BOUNDARY_BYTES) + b"_") is not None


def _separators(text: str, vocabulary: Vocabulary | None = None) -> Iterator[tuple[int, int]]:
    """The one-character gaps inside runs of single letters ("k i l l", "s.u.i.c.i.d.e"),
    exactly those ``_join`` deletes (the gaps at the cuts between words stay, as spaces)."""
    for match in _SPACED_LETTERS.finditer(text):
        kept = {match.start() + 2 * cut - 1 for cut in _cuts(match.group()[::2], vocabulary)}
        for gap in range(match.start() + 1, match.end(), 2):
            if gap not in kept:
                yield gap, gap + 1


def _has_triple(probe: str) -> bool:
    """Whether ``probe`` holds three equal bytes in a row: byte ``i`` of ``n ^ (n >> 8)`` is
    zero where byte ``i`` equals byte ``i - 1``, so two zeros in a row from byte 1 on are three
    equal bytes (a few C calls on big integers, whatever the text)."""
    encoded = probe.encode()
    if len(encoded) < 3:
        return False
    number = int.from_bytes(encoded, "big")
    return (number ^ (number >> 8)).to_bytes(len(encoded), "big").find(b"\x00\x00", 1) >= 0


def _has_rare_space_run(probe: str) -> bool:
    """A doubled whitespace character other than space and newline (``\\t`` and ``\\r`` are
    gone by the spaced view; a Unicode space's stand-in is ``\\x1f``): rare in chat, so the
    regex runs only when the text holds a control character at all. For ASCII text (almost
    every probe: stand-ins are ASCII) that is asked by deleting every printable byte and the
    newline, one C call where removing newlines and ``isprintable`` take two passes and a copy.
    """
    if probe.isascii():
        if not probe.encode().translate(None, _PRINTABLE_OR_NEWLINE):
            return False
    elif probe.replace("\n", "").isprintable():
        return False
    return _RARE_SPACE_RUN.search(probe) is not None


def _squeeze(spaced: str, swaps: tuple[tuple[str, str], ...]) -> str:
    """Exactly ``_REPEATS.sub(_first, spaced)``, in C for all but rare text.

    Runs of letters and runs of whitespace are disjoint, so they can be squeezed one after
    the other. Doubled spaces and newlines (common: "?" and "." both end a sentence) are
    squeezed with ``str.replace``; the letter regex runs only when the text, with non-ASCII
    characters replaced by stand-ins, holds three equal bytes in a row; and a run of any other
    whitespace character sends the whole text through ``_REPEATS`` itself.
    """
    words = spaced
    if "  " in words:
        words = _squeeze_pairs(words, " ")
    if "\n\n" in words:
        words = _squeeze_pairs(words, "\n")
    probe = words
    for char, stand_in in swaps:
        probe = probe.replace(char, stand_in)
    if _has_rare_space_run(probe):
        return _REPEATS.sub(_first, spaced)
    if _has_triple(probe):
        words = _LETTER_RUNS.sub(r"\1", words)
    return words


def _squeeze_pairs(text: str, char: str) -> str:
    """``text`` with every run of ``char`` squeezed to one (each pass halves the runs)."""
    pair = char + char
    while pair in text:
        text = text.replace(pair, char)
    return text


def _repeats(text: str, deleted: int) -> list[tuple[int, int]]:
    """What squeezing deletes, exactly what ``_REPEATS.sub(_first, text)`` deletes: letters
    after the first of a run of three or more, and every whitespace after the first of a run
    (doubled letters stay: the lexicon holds both forms). ``deleted`` is how many characters
    the squeeze removed: whitespace runs are found first, and letter runs only when those do
    not account for all of them (two regexes far cheaper than ``_REPEATS``)."""
    spans = [(found.start() + 1, found.end()) for found in _SPACE_RUNS.finditer(text)]
    if sum(end - start for start, end in spans) < deleted:
        spans.extend((found.start() + 1, found.end()) for found in _LETTER_RUNS.finditer(text))
        spans.sort()
    return spans


def _first(match: re.Match[str]) -> str:
    return match.group(1) or match.group(3)


def _join(match: re.Match[str], vocabulary: Vocabulary | None) -> str:
    """A run of spaced letters as one word, or cut into the vocabulary's words (the separator
    at each cut becomes a space in its place, so offsets map as for the deletions alone)."""
    letters = match.group()[::2]
    cuts = _cuts(letters, vocabulary)
    if not cuts:
        return letters
    ends = (*cuts, len(letters))
    pieces = [letters[start:end] for start, end in zip((0, *cuts), ends, strict=True)]
    return " ".join(pieces)


def _unleet(match: re.Match[str]) -> str:
    """Fold digits and symbols inside a word that has letters, but leave quantities ("800mg")."""
    token = match.group()
    if _QUANTITY.fullmatch(token):
        return token
    return _LEET_SYMBOL.sub(_fold_symbol, token).translate(_LEET_DIGITS)


def _fold_symbol(match: re.Match[str]) -> str:
    return match.group().translate(_LEET_SYMBOLS)


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One non-ASCII character folded to what it looks like, or to nothing when invisible."""
    if char in _APOSTROPHES:
        return "'"
    if char in _BLANK_FILLERS:
        return " "
    if _is_invisible(char):
        return ""
    compatible = unicodedata.normalize("NFKC", char)
    if unicodedata.category(char)[0] == "P" and not compatible.isascii():
        return "." if char in _PUNCTUATION_ENDS else " "  # quotes, dashes, inverted marks
    parts = unicodedata.normalize("NFD", compatible)
    return "".join(
        _CONFUSABLES.get(part, _small_capital(part)).casefold()
        for part in parts
        if not _is_invisible(part)
    )


_SMALL_CAPITAL = re.compile(r"LATIN (?:LETTER )?SMALL CAPITAL ([A-Z])")


def _small_capital(char: str) -> str:
    """ "ᴋ" (LATIN LETTER SMALL CAPITAL K) -> "k": small capitals are letters by their names."""
    if char.isascii():
        return char
    found = _SMALL_CAPITAL.fullmatch(unicodedata.name(char, ""))
    return found.group(1) if found else char


def _is_invisible(char: str) -> bool:
    if char in _FILLERS:
        return True
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES and char not in _KEEP_CONTROLS


def _past_invisibles(raw: str, end: int) -> int:
    """Extend a span end over trailing marks/invisibles so "suicidé" is redacted whole."""
    while end < len(raw) and not raw[end].isascii() and _fold_char(raw[end]) == "":
        end += 1
    return end


def rewrite(
    text: str, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> tuple[str, OffsetMap]:
    """Like ``pattern.sub(replace, text)``, also returning where each output character came from.

    A replacement character maps to the matched character at the same index, or to the last
    matched character when the replacement is longer (expansions such as "ß" -> "ss").
    """
    pieces: list[str] = []
    points = _Points()
    written = copied_to = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        if start > copied_to:
            points.add(written, copied_to)
            pieces.append(text[copied_to:start])
            written += start - copied_to
        replacement = replace(match)
        for index in range(len(replacement)):
            points.add(written + index, start + min(index, max(end - start - 1, 0)))
        pieces.append(replacement)
        written += len(replacement)
        copied_to = end
    if not pieces:
        return text, IDENTITY
    points.add(written, copied_to)
    pieces.append(text[copied_to:])
    return "".join(pieces), points.freeze()


def delete(text: str, spans: Iterable[tuple[int, int]]) -> tuple[str, OffsetMap]:
    """``text`` without the given sorted, disjoint spans, and where each kept character was."""
    pieces: list[str] = []
    points = _Points()
    written = copied_to = 0
    for start, end in spans:
        if end <= start:
            continue
        points.add(written, copied_to)
        pieces.append(text[copied_to:start])
        written += start - copied_to
        copied_to = end
    if not pieces:
        return text, IDENTITY
    points.add(written, copied_to)
    pieces.append(text[copied_to:])
    return "".join(pieces), points.freeze()


class _Points:
    """Collects break points, dropping those a linear continuation already implies."""

    def __init__(self) -> None:
        self.pairs: list[tuple[int, int]] = []

    def add(self, view: int, source: int) -> None:
        if self.pairs:
            last_view, last_source = self.pairs[-1]
            if source == last_source + view - last_view:
                return
        elif view == source:
            return
        self.pairs.append((view, source))

    def freeze(self) -> OffsetMap:
        return OffsetMap(tuple(v for v, _ in self.pairs), tuple(s for _, s in self.pairs))
