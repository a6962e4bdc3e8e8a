"""Moderation: the pure core, text in and verdict out, with no I/O of any kind.

`normalize` (what the text says under its disguises) -> `lexicon` (the compiled word lists and
rules, loaded once) -> `classifier` (signals found) -> `policy` (a room's rules turn signals into
a `verdict`); `pipeline.moderate` is the one entry the server calls, `scan` the command line's.
What moderators do with a verdict -- flags, accounts, the audit log -- is `casework/`.

Server-facing API::

    lexicon = load_lexicon()          # once, at startup
    verdict = moderate(text, lexicon) # per message; pure, no I/O

Every module in this folder imports no asyncio, redis, starlette, anyio, logging or socket, and
nothing from another Harbor package (tests/test_imports.py checks each one).
"""

from __future__ import annotations

from moderation.lexicon import Lexicon, LexiconError, load_lexicon
from moderation.pipeline import moderate
from moderation.policy import DEFAULT_POLICY, RoomPolicy
from moderation.verdict import Action, Category, Notice, Severity, Span, Verdict

__all__ = [
    "DEFAULT_POLICY",
    "Action",
    "Category",
    "Lexicon",
    "LexiconError",
    "Notice",
    "RoomPolicy",
    "Severity",
    "Span",
    "Verdict",
    "load_lexicon",
    "moderate",
]
