"""Counters a worker keeps for /metrics (Prometheus text format).

Each worker process serves its own figures; the hub's hot-loop counters are plain integers read
at scrape time, so the fan-out pays nothing for being measured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Metrics:
    messages_in: int = 0
    rate_limited: int = 0
    recoveries: Counter[str] = field(default_factory=Counter)
    flags_raised: Counter[tuple[str, str]] = field(default_factory=Counter)
    sign_ins: Counter[str] = field(default_factory=Counter)

    def flag_raised(self, categories: Iterable[str], severity: str) -> None:
        for category in categories or ("none",):
            self.flags_raised[(category, severity)] += 1

    def lines(self) -> list[str]:
        out = [
            f"harbor_messages_in_total {self.messages_in}",
            f"harbor_rate_limited_total {self.rate_limited}",
        ]
        out += [
            f'harbor_recovery_requests_total{{recovered="{k}"}} {v}'
            for k, v in sorted(self.recoveries.items())
        ]
        out += [
            f'harbor_flags_raised_total{{category="{c}",severity="{s}"}} {v}'
            for (c, s), v in sorted(self.flags_raised.items())
        ]
        out += [
            f'harbor_sign_ins_total{{result="{k}"}} {v}' for k, v in sorted(self.sign_ins.items())
        ]
        return out
