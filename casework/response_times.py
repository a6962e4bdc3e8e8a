"""How long people waited for a human, from the flags themselves: the dashboard's live figures.

Prometheus has the long view (harbor_time_to_claim_seconds, harbor_time_to_first_words_seconds);
a volunteer starting a shift wants the last day at a glance, from the same store every worker
shares, without a metrics server. Pure: flags and a time in, figures out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from casework.flags import CRISIS_SEVERITIES, Flag, FlagState, ResponseTargets

DAY_MS = 24 * 3600 * 1000


def _quantile(values: list[int], q: float) -> int | None:
    """The nearest-rank quantile (a value that occurred), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return ordered[int(rank) - 1]


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


def summary(
    flags: Iterable[Flag], targets: ResponseTargets, now_ms: int, window_ms: int = DAY_MS
) -> dict[str, Any]:
    """Per crisis severity, over flags whose wait began within `window_ms`: how many, the
    median and 90th percentile time to claim and to first words, how many were claimed past
    the target, and who is waiting unclaimed now (and how many of those are past it)."""
    since = now_ms - window_ms
    by_severity = []
    chosen = [f for f in flags if f.draft.severity in CRISIS_SEVERITIES]
    for severity in CRISIS_SEVERITIES:
        target = targets.target_ms(severity)
        mine = [f for f in chosen if f.draft.severity == severity and f.waiting_since_ms >= since]
        claims = [f.claimed_ms - f.waiting_since_ms for f in mine if f.claimed_ms]
        words = [f.first_words_ms - f.waiting_since_ms for f in mine if f.first_words_ms]
        waiting = [
            now_ms - f.waiting_since_ms
            for f in chosen
            if f.draft.severity == severity and f.state is FlagState.OPEN and not f.claimed_ms
        ]
        by_severity.append(
            {
                "severity": severity,
                "target_s": target / 1000,
                "flags": len(mine),
                "claimed": len(claims),
                "claim_median_s": _seconds(_quantile(claims, 0.5)),
                "claim_p90_s": _seconds(_quantile(claims, 0.9)),
                "claimed_late": sum(1 for c in claims if c > target),
                "answered": len(words),
                "words_median_s": _seconds(_quantile(words, 0.5)),
                "words_p90_s": _seconds(_quantile(words, 0.9)),
                "waiting": len(waiting),
                "waiting_late": sum(1 for w in waiting if w > target),
                "longest_wait_s": _seconds(max(waiting, default=None)),
                "backup_called": sum(1 for f in mine if f.backup_ms),
            }
        )
    return {"window_s": window_ms // 1000, "severities": by_severity}
