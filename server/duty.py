"""The moderation heartbeat of a worker: who is on duty, claim leases, overdue re-alerts.

Runs in the lifespan task group. Every tick it renews the claims of moderators connected to this
worker (so a claim lapses within HARBOR_CLAIM_LEASE_S of its moderator going away, even if the
worker dies), returns lapsed claims to the queue, re-alerts every moderator about overdue open
flags (each one handed to exactly one worker by the store), calls the backup list for crisis flags
still unclaimed past their target (server/time_to_human.py), counts which cases' writers are
here (server/writer_presence.py), tells members here when duty status changes, and once a
minute sends new rota gaps to the backup webhook (server/rota_warning.py).
"""

from __future__ import annotations

import logging
import time

import anyio

from casework.flags import SEVERITY_ORDER, Flag, FlagState
from casework.rota import next_expected_ms

from . import feeds
from .closecodes import CloseCode
from .context import WorkerContext
from .registry import Registry
from .rota_warning import GAP_CHECK_S, warn_of_gaps
from .time_to_human import call_backups
from .writer_presence import WriterPresence, follow_up_window_ms, writer_counts

logger = logging.getLogger("harbor.duty")

TICK_S = 1.0
_PRUNE_EVERY_S = 3600.0
_DAY_MS = 24 * 3600 * 1000
# Cases read each tick: every live one first (the gauges, the writers' presence), then the most
# recently resolved, whose writers may come back for a follow-up.
WATCHED_CASES = 500


async def keep_moderation(context: WorkerContext, registry: Registry) -> None:
    pruned_at = gaps_at = 0.0
    retention_ms = context.settings.retention_days * _DAY_MS
    writers = WriterPresence(context.presence, context.settings.presence_ttl_s)
    while True:
        await anyio.sleep(TICK_S)
        try:
            await _tick(context, registry, writers)
            if time.monotonic() - gaps_at > GAP_CHECK_S:
                gaps_at = time.monotonic()
                await warn_of_gaps(context)
            if time.monotonic() - pruned_at > _PRUNE_EVERY_S:
                pruned_at = time.monotonic()
                await context.store.prune(context.clock(), retention_ms)
        except Exception as exc:  # a Redis blip must not end the heartbeat
            logger.warning("moderation heartbeat failed (%s); retrying", type(exc).__name__)


async def keep_sessions_checked(context: WorkerContext, registry: Registry) -> None:
    """Close every moderator socket whose session has ended, whoever ended it and wherever.

    Sign-out on another worker, an expired session, a new password or `harbor moderators
    remove` (another process, maybe another host) all end the session in the shared store;
    asking the store about each open moderator socket every interval catches every one of them
    with one mechanism, and costs one read per volunteer online per second.
    """
    interval = context.settings.session_check_interval_s
    while True:
        await anyio.sleep(interval)
        try:
            now = context.clock()
            for connection, session_hash in registry.moderator_sessions():
                if await context.store.session_owner(session_hash, now) is None:
                    connection.close(CloseCode.POLICY_VIOLATION, "moderator session ended")
        except Exception as exc:  # a Redis blip: the next round asks again
            logger.warning("session check failed (%s); retrying", type(exc).__name__)


async def _tick(context: WorkerContext, registry: Registry, writers: WriterPresence) -> None:
    now = context.clock()
    store = context.store
    lease_ms = int(context.settings.claim_lease_s * 1000)
    for name in registry.moderators_here():
        await store.renew_leases(name, now, lease_ms)
    for flag in await store.lapse_expired(now):
        await feeds.announce_flag(context.broker, "lapsed", flag)
    for flag in await store.take_overdue(now):
        await feeds.announce_flag(context.broker, "overdue", flag)
    await _refresh_duty(context, registry)
    cases = await store.list_flags(include_resolved=True, limit=WATCHED_CASES)
    window_ms = follow_up_window_ms(context.settings.follow_up_hours)
    counts = writer_counts(cases, registry.arrivals, now, window_ms)
    await writers.report(counts, time.monotonic())
    live = [flag for flag in cases if flag.state is not FlagState.RESOLVED]
    on_duty = await _gauges(context, registry, now, live)
    await call_backups(context, on_duty)


async def _gauges(
    context: WorkerContext, registry: Registry, now_ms: int, flags: list[Flag]
) -> int:
    """Refresh the gauges (`flags`: the live ones); returns how many moderator connections are
    on duty."""
    metrics = context.metrics
    hub = context.hub
    metrics.sync_hub(hub.stats, getattr(context.broker, "reconnects", 0))
    metrics.connections.set(registry.open_count)
    metrics.rooms.set(sum(1 for room in hub.local_counts() if not feeds.is_feed(room)))
    metrics.broker_ready.set(1 if context.broker.ready else 0)
    for severity in SEVERITY_ORDER:
        waiting = [f for f in flags if f.draft.severity == severity]
        metrics.flags_open.labels(severity).set(len(waiting))
        # Waiting since it was raised, or since a report reopened it after a resolution.
        open_ages = [
            now_ms - max(f.draft.created_ms, f.reopened_ms)
            for f in waiting
            if f.state == FlagState.OPEN
        ]
        metrics.oldest_open_flag.labels(severity).set(max(open_ages, default=0) / 1000)
    totals = await context.presence.totals([feeds.MODERATORS])
    on_duty = totals.get(feeds.MODERATORS, 0)
    metrics.moderators_on_duty.set(on_duty)
    return on_duty


async def _refresh_duty(context: WorkerContext, registry: Registry) -> None:
    local = context.hub.room(feeds.MODERATORS)
    on_duty = local is not None and local.local_count > 0
    if not on_duty:
        totals = await context.presence.totals([feeds.MODERATORS])
        on_duty = totals.get(feeds.MODERATORS, 0) > 0
    expected = 0
    if not on_duty:
        horizon_ms = int(context.settings.next_volunteer_hours * 3600 * 1000)
        now = context.clock()
        expected = next_expected_ms(await context.store.shifts(), now, horizon_ms) or 0
    if registry.set_on_duty(on_duty, expected):
        frame = {"type": "duty", **registry.duty_fields()}
        for connection in registry.identified_connections():
            connection.send(frame)
