"""Milestone badges: what a person may show beside their pseudonym, self-declared.

A person keeps their start date on their own device; the page works out which milestone they
have reached and, if they choose, declares it in a `profile` frame. The server never sees the
date, never checks the claim and never comments on it: it only keeps the badge to one of the
known words below, so a badge can't carry a message of its own, and carries it on that
connection's messages.

Pure: no I/O.
"""

from __future__ import annotations

# 24 hours, a week, 30/60/90 days, six months, then a year and each year after it.
FIRST_BADGES = ("24h", "1w", "30d", "60d", "90d", "6m")
MAX_YEARS = 60  # a bound on what the parser accepts: sixty years sober is the longest badge
BADGES = frozenset((*FIRST_BADGES, *(f"{n}y" for n in range(1, MAX_YEARS + 1))))


def is_badge(value: object) -> bool:
    """Whether `value` is one of the milestone badges a profile may declare."""
    return isinstance(value, str) and value in BADGES
