"""Moderator sign-in throttling that strangers cannot turn against a moderator.

A throttle keyed by account name alone lets anyone lock a volunteer out by failing on purpose
with their name; a global one lets anyone lock out everybody. So attempts are limited per source
(a keyed hash of the address, server/sources.py) and per source-and-name, never per name or
worker-wide: an attacker slows only themselves. Both tables are bounded and forget the least
recently used key first, so flooding them with fresh keys cannot reset anyone's count.

Refusals are audited once per name per window, with how many there were, so a guessing run
leaves one line in the audit log per account per window instead of a line per guess. Pure: the
caller passes `now` (monotonic seconds).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .ratelimit import BucketTable

_REMEMBERED = 100_000
# One person mistyping: a handful of tries, then one every two minutes.
PAIR_BURST = 5
PAIR_PER_S = 1 / 120
AUDIT_WINDOW_S = 600.0


@dataclass(slots=True)
class _Refusals:
    window_start: float
    count: int


class SignInGuard:
    __slots__ = ("_pairs", "_refusals", "_sources")

    def __init__(self, *, per_source_per_min: float, per_source_burst: int) -> None:
        self._sources = BucketTable(
            rate=per_source_per_min / 60, burst=per_source_burst, capacity=_REMEMBERED
        )
        self._pairs = BucketTable(rate=PAIR_PER_S, burst=PAIR_BURST, capacity=_REMEMBERED)
        self._refusals: OrderedDict[str, _Refusals] = OrderedDict()

    def attempt(self, source: str, name: str, now: float) -> float:
        """Spend one attempt: 0.0 if allowed, else seconds until this source may try again."""
        wait = self._sources.take(source, now)
        if wait > 0:
            return wait
        return self._pairs.take(f"{source}\x00{name}", now)

    def refused(self, name: str, now: float) -> int | None:
        """Count a refused attempt for `name`. When it opens a new window for the name, returns
        how many refusals the audit line should report: this one plus those of the previous
        window that came after that window's own line. None while a window is open."""
        entry = self._refusals.get(name)
        if entry is not None and now - entry.window_start < AUDIT_WINDOW_S:
            entry.count += 1
            self._refusals.move_to_end(name)
            return None
        previous = entry.count if entry is not None else 0
        self._refusals[name] = _Refusals(window_start=now, count=1)
        self._refusals.move_to_end(name)
        if len(self._refusals) > _REMEMBERED:
            self._refusals.popitem(last=False)
        return max(previous, 1)
