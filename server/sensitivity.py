"""Which sensitive subject a message touches, for readers who fold such messages behind a tap.

Computed once per message, when it is published, from the categories the moderation core found
(those it counts and those it lowered to `watch`: "I used to cut" is still a subject a reader
may not want to meet unasked), and carried on the message as one word. Nothing else of the
verdict -- severity, matched words, rules -- ever reaches a client.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from moderation import Category, Verdict

# The subjects, most serious first: a message about several is folded under the first.
_KIND_OF: tuple[tuple[Category, str], ...] = (
    (Category.SUICIDE, "suicide"),
    (Category.SELF_HARM, "self_harm"),
    (Category.OVERDOSE, "using"),
    (Category.RELAPSE, "using"),
)


def sensitive_kind(categories: Iterable[str]) -> str:
    """The subject: "suicide", "self_harm" or "using" (the envelope's SENSITIVE_KINDS), or ""."""
    found = set(categories)
    for category, kind in _KIND_OF:
        if category in found:
            return kind
    return ""


def verdict_kind(verdict: Verdict) -> str:
    """The sensitive subject of a verdict, counting its watch-level categories too."""
    return sensitive_kind((*verdict.categories, *verdict.watch))
