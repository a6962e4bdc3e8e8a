"""Rota gaps reach coordinators who are not at a dashboard: through the backup webhook.

The dashboard's Rota warns a signed-in coordinator of every gap within HARBOR_ROTA_WARNING_HOURS
each time it loads, so a coordinator who signs in later still sees every gap that is still
ahead. One who does not sign in at all would never hear of it, and a gap is exactly the hour
nobody is watching, so each gap is also sent once through the operator's backup webhook
(HARBOR_BACKUP_WEBHOOK_URL, signed and retried as server/backup_call.py does): the same pager
that rings for an unanswered crisis flag, a day ahead instead of at 3 am. Once per gap across
workers: the store hands each gap's key to one caller (`first_to_mark`) until the gap ends.
The document names no volunteer: only when the gap starts and ends.
"""

from __future__ import annotations

import logging
from typing import Any

from casework.rota import HOUR_MS, gaps_to_warn_of

from .context import WorkerContext

logger = logging.getLogger("harbor.rota")

# How often a worker looks for new gaps (the rota changes by hand, a few times a week).
GAP_CHECK_S = 60.0


def gap_document(from_ms: int, to_ms: int, now_ms: int) -> dict[str, Any]:
    return {
        "event": "rota_gap",
        "from_ms": from_ms,
        "to_ms": to_ms,
        "starts_in_s": max(0, from_ms - now_ms) // 1000,
        "dashboard": "/mod/",
        "sent_ms": now_ms,
    }


async def warn_of_gaps(context: WorkerContext) -> int:
    """Send every gap within the warning window not yet sent by any worker; how many were."""
    caller = context.backup
    if caller is None:
        return 0
    now = context.clock()
    warn_ms = int(context.settings.rota_warning_hours * HOUR_MS)
    sent = 0
    for key, from_ms, to_ms in gaps_to_warn_of(await context.store.shifts(), now, warn_ms):
        # Kept until the gap is over, however far out the window clipped it.
        if await context.store.first_to_mark(f"rota-gap:{key}", now, max(to_ms, now + warn_ms)):
            await caller.offer(gap_document(from_ms, to_ms, now))
            logger.warning("a rota gap within %d h: calling the backup list", warn_ms // HOUR_MS)
            sent += 1
    return sent
