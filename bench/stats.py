"""Small numeric helpers shared by the driver and the report (no numpy on purpose)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from time import monotonic

from bench.procs import CLK_TCK, cpu_seconds, rss_kb

MACHINE = "machine"


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores) from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


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
        cpu = {
            label: cpu_seconds(pid, with_children=label != "driver")
            for label, pid in self.pids.items()
        }
        cpu[MACHINE] = machine_busy_seconds()
        return monotonic(), cpu

    @staticmethod
    def delta(
        a: tuple[float, dict[str, float]], b: tuple[float, dict[str, float]]
    ) -> tuple[float, dict[str, float]]:
        """(wall seconds, CPU seconds per label) between two snapshots."""
        return b[0] - a[0], {k: b[1][k] - a[1].get(k, 0.0) for k in b[1]}

    @staticmethod
    def percent(wall: float, cpu: dict[str, float]) -> dict[str, float]:
        """CPU % per process, plus ``other``: the rest of the machine (other engineers' tests,
        the orchestrator, softirq not charged to a process) — the noise indicator of a step."""
        pct = {k: round(100 * v / wall, 1) for k, v in cpu.items() if k != MACHINE}
        if MACHINE in cpu:
            ours = sum(v for k, v in cpu.items() if k != MACHINE)
            pct["other"] = round(max(0.0, 100 * (cpu[MACHINE] - ours) / wall), 1)
        return pct

    def rss(self, labels: Sequence[str]) -> dict[str, int]:
        return {label: rss_kb(self.pids[label]) for label in labels}
