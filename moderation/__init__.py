"""Moderation: a pure core (text in, verdict out) and, later, the durable flag queue around it.

Server-facing API::

    lexicon = load_lexicon()          # once, at startup
    verdict = moderate(text, lexicon) # per message; pure, no I/O

Importing this package imports no asyncio, redis, starlette or anyio (tests/test_imports.py).
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
