"""The moderation heartbeat of a worker: who is on duty, claim leases, overdue re-alerts.

Runs in the lifespan task group. Every tick it renews the claims of moderators connected to this
worker (so a claim lapses within HARBOR_CLAIM_LEASE_S of its moderator going away, even if the
worker dies), returns lapsed claims to the queue, re-alerts every moderator about overdue open
flags (each one handed to exactly one worker by the store), and tells members here when duty
status changes.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import anyio

from moderation.flags import SEVERITY_ORDER, FlagState

from .gate import MODERATOR_FEED, announce_flag

if TYPE_CHECKING:
    from .lifespan import Services

logger = logging.getLogger("harbor.duty")

TICK_S = 1.0
RETENTION_MS = 30 * 24 * 3600 * 1000  # resolved flags and audit entries: 30 days
_PRUNE_EVERY_S = 3600.0


async def keep_moderation(services: Services) -> None:
    pruned_at = 0.0
    while True:
        await anyio.sleep(TICK_S)
        try:
            await _tick(services)
            if time.monotonic() - pruned_at > _PRUNE_EVERY_S:
                pruned_at = time.monotonic()
                await services.store.prune(_now_ms(), RETENTION_MS)
        except Exception as exc:  # a Redis blip must not end the heartbeat
            logger.warning("moderation heartbeat failed (%s); retrying", type(exc).__name__)


async def _tick(services: Services) -> None:
    now = _now_ms()
    store = services.store
    lease_ms = int(services.settings.claim_lease_s * 1000)
    for name in list(services.moderators_here):
        await store.renew_leases(name, now, lease_ms)
    for flag in await store.lapse_expired(now):
        await announce_flag(services, "lapsed", flag)
    for flag in await store.take_overdue(now):
        await announce_flag(services, "overdue", flag)
    await _refresh_duty(services)
    await _gauges(services, now)


async def _gauges(services: Services, now_ms: int) -> None:
    metrics = services.metrics
    metrics.sync_hub(services.hub.stats, getattr(services.broker, "reconnects", 0))
    metrics.connections.set(services.connections)
    metrics.rooms.set(sum(1 for room in services.hub.local_counts() if not room.startswith("@")))
    metrics.broker_ready.set(1 if services.broker.ready else 0)
    flags = await services.store.list_flags()
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
    totals = await services.presence.totals([MODERATOR_FEED])
    metrics.moderators_on_duty.set(totals.get(MODERATOR_FEED, 0))


async def _refresh_duty(services: Services) -> None:
    local = services.hub.room(MODERATOR_FEED)
    on_duty = local is not None and local.local_count > 0
    if not on_duty:
        totals = await services.presence.totals([MODERATOR_FEED])
        on_duty = totals.get(MODERATOR_FEED, 0) > 0
    if on_duty != services.on_duty:
        services.on_duty = on_duty
        frame = {"type": "duty", "on_duty": on_duty}
        for connections in list(services.by_uid.values()):
            for conn in list(connections):
                conn.send(frame)


def _now_ms() -> int:
    return int(time.time() * 1000)
