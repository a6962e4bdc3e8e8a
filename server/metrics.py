"""Prometheus metrics for a worker, aggregated across workers when there are several.

`harbor serve` with WEB_CONCURRENCY > 1 points PROMETHEUS_MULTIPROC_DIR at a fresh directory
before the workers start, so /metrics on any worker reports the sum (or max, for global state
such as open flags) over all of them. The fan-out hot loop never touches these objects: the hub
keeps plain integer counters, and `sync_hub` copies their growth here once per tick. Histograms
are observed once per message, never once per member.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from rooms.hub import HubStats

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_MODERATION_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01)
_CLAIM_BUCKETS = (5, 15, 30, 60, 120, 300, 900, 1800, 3600)
# How a round of the meeting sweep ended: harbor_meeting_sweeps_total's ``result`` label.
SWEEP_RESULTS = ("ok", "store_unavailable", "failed")
# How a call of the backup list ended: harbor_backup_calls_total's ``result`` label.
BACKUP_CALL_RESULTS = ("delivered", "failed", "deferred")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Gauge(
            "harbor_connections", "Open chat sockets", registry=r, multiprocess_mode="livesum"
        )
        self.rooms = Gauge(
            "harbor_rooms", "Rooms with local members", registry=r, multiprocess_mode="livesum"
        )
        self.broker_ready = Gauge(
            "harbor_broker_ready", "1 when live delivery works", registry=r, multiprocess_mode="min"
        )
        self.messages_in = Counter("harbor_messages_in", "Messages received", registry=r)
        self.fanout_messages = Counter("harbor_fanout_messages", "Events fanned out", registry=r)
        self.frames_encoded = Counter("harbor_frames_encoded", "Frames encoded", registry=r)
        self.deliveries = Counter("harbor_deliveries", "Frames written to members", registry=r)
        self.slow_dropped = Counter(
            "harbor_slow_members_dropped", "Members closed for falling behind", registry=r
        )
        self.repaired = Counter(
            "harbor_repaired_messages", "Messages re-read from history after a gap", registry=r
        )
        self.rate_limited = Counter("harbor_rate_limited", "Sends refused by rate", registry=r)
        # one per round of a worker's meeting sweep (HARBOR_MEETING_SWEEP_S), by how it ended:
        # a rate that falls (summed over a host's workers) is a sweep loop that stopped, and
        # rounds that are not "ok" are a loop that runs but acts on nothing
        self.meeting_sweeps = Counter(
            "harbor_meeting_sweeps", "Rounds of the meeting sweep", ["result"], registry=r
        )
        for result in SWEEP_RESULTS:  # each exported from the start, at 0
            self.meeting_sweeps.labels(result)
        self.recoveries = Counter(
            "harbor_recovery_requests", "Joins with since", ["recovered"], registry=r
        )
        self.flags_raised = Counter(
            "harbor_flags_raised", "Flags raised", ["category", "severity"], registry=r
        )
        self.sign_ins = Counter("harbor_sign_ins", "Moderator sign-ins", ["result"], registry=r)
        self.http_refused = Counter(
            "harbor_http_refused",
            "HTTP requests or connections refused at the edge",
            ["reason"],
            registry=r,
        )
        self.redis_reconnects = Counter(
            "harbor_redis_reconnects", "Listener reconnects", registry=r
        )
        self.fanout_latency = Histogram(
            "harbor_fanout_latency_seconds",
            "Publish to local fan-out done",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.moderation_time = Histogram(
            "harbor_moderation_seconds",
            "Moderation core time per message",
            buckets=_MODERATION_BUCKETS,
            registry=r,
        )
        self.time_to_claim = Histogram(
            "harbor_time_to_claim_seconds",
            "Flag raised (or reopened) to its first claim",
            ["severity"],
            buckets=_CLAIM_BUCKETS,
            registry=r,
        )
        self.time_to_first_words = Histogram(
            "harbor_time_to_first_words_seconds",
            "Flag raised (or reopened) to a volunteer's first words to its writer",
            ["severity"],
            buckets=_CLAIM_BUCKETS,
            registry=r,
        )
        self.backup_calls = Counter(
            "harbor_backup_calls", "Calls of the backup-list webhook", ["result"], registry=r
        )
        for result in BACKUP_CALL_RESULTS:  # from the start, at 0: a first failure alerts
            self.backup_calls.labels(result)
        self.flags_open = Gauge(
            "harbor_flags_open", "Open or claimed flags", ["severity"], registry=r,
            multiprocess_mode="max",
        )  # fmt: skip
        self.oldest_open_flag = Gauge(
            "harbor_oldest_open_flag_seconds", "Age of the oldest open flag", ["severity"],
            registry=r, multiprocess_mode="max",
        )  # fmt: skip
        self.moderators_on_duty = Gauge(
            "harbor_moderators_on_duty", "Moderator connections (all workers)", registry=r,
            multiprocess_mode="max",
        )  # fmt: skip
        self._hub_seen = HubStats()
        self._reconnects_seen = 0

    def flag_raised(self, categories: Iterable[str], severity: str) -> None:
        for category in categories or ("none",):
            self.flags_raised.labels(category, severity).inc()

    def sync_hub(self, stats: HubStats, reconnects: int) -> None:
        """Copy the hub's plain counters' growth since the last call."""
        seen = self._hub_seen
        for counter, now, before in (
            (self.fanout_messages, stats.events_fanned_out, seen.events_fanned_out),
            (self.frames_encoded, stats.frames_encoded, seen.frames_encoded),
            (self.deliveries, stats.deliveries, seen.deliveries),
            (self.slow_dropped, stats.slow_members_dropped, seen.slow_members_dropped),
            (self.repaired, stats.repaired_messages, seen.repaired_messages),
        ):
            if now > before:
                counter.inc(now - before)
        self._hub_seen = HubStats(**{k: getattr(stats, k) for k in stats.__dataclass_fields__})
        if reconnects > self._reconnects_seen:
            self.redis_reconnects.inc(reconnects - self._reconnects_seen)
            self._reconnects_seen = reconnects

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)


@lru_cache(maxsize=1)
def process_metrics() -> Metrics:
    """One set per process: prometheus_client refuses two metrics of the same name."""
    return Metrics()
