"""Small numeric helpers shared by the driver and the report (no numpy on purpose)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from time import monotonic

from bench.procs import cpu_seconds, rss_kb


def percentiles(values: Sequence[int], qs: Sequence[float]) -> list[float]:
    """Nearest-rank percentiles of µs values, returned in ms."""
    if not values:
        return [0.0 for _ in qs]
    ordered = sorted(values)
    n = len(ordered)
    return [ordered[min(n - 1, max(0, int(q / 100 * n + 0.5) - 1))] / 1000 for q in qs]


@dataclass
class CpuSampler:
    """CPU seconds of the processes that share the 2 cores, so each figure names its limit."""

    pids: dict[str, int]

    def __post_init__(self) -> None:
        self.pids = {**self.pids, "driver": os.getpid()}

    def snapshot(self) -> tuple[float, dict[str, float]]:
        return monotonic(), {
            label: cpu_seconds(pid, with_children=label != "driver")
            for label, pid in self.pids.items()
        }

    @staticmethod
    def delta(
        a: tuple[float, dict[str, float]], b: tuple[float, dict[str, float]]
    ) -> tuple[float, dict[str, float]]:
        """(wall seconds, CPU seconds per label) between two snapshots."""
        return b[0] - a[0], {k: b[1][k] - a[1].get(k, 0.0) for k in b[1]}

    def rss(self, labels: Sequence[str]) -> dict[str, int]:
        return {label: rss_kb(self.pids[label]) for label in labels}
