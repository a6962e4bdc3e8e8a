"""The wiring of one worker: what every handler needs, built once at start and never changed.

`WorkerContext` holds the long-lived parts (settings, the room catalog, the broker, the local
hub, presence, the identity issuer, the per-source keys, the lexicon, the moderation store, the
crisis resources, metrics, the one-time sign-in link, the backup caller, the meeting store) and
the clock every
wall-time read goes through, so tests can set the time. It holds no mutable state but the backup
caller's bounded queue: what changes while the worker runs -- its live connections, who is on
duty, draining -- is the `Registry` (server/registry.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from casework.flags import ModerationStore
from moderation import Lexicon
from rooms.broker import Broker
from rooms.catalog import Catalog
from rooms.hub import LocalHub
from rooms.meeting_store import MeetingStore
from rooms.presence import Presence

from .backup_call import BackupCaller
from .identity import IdentityIssuer
from .meeting_book import MeetingBook
from .metrics import Metrics, process_metrics
from .settings import Settings
from .signin_link import SignInLink
from .sources import SourceKeys
from .support import Resource

# Milliseconds since the epoch: message timestamps, flags, sessions, sanctions.
Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class WorkerContext:
    settings: Settings
    catalog: Catalog
    broker: Broker
    hub: LocalHub
    presence: Presence
    identities: IdentityIssuer
    worker_id: str
    lexicon: Lexicon
    store: ModerationStore
    resources: tuple[Resource, ...]
    source_keys: SourceKeys
    # Every meeting this worker knows: the rooms file's and those added while running.
    meeting_book: MeetingBook
    metrics: Metrics = field(default_factory=process_metrics)
    sign_in_link: SignInLink | None = None
    clock: Clock = wall_clock_ms
    # Rings the backup list when a crisis flag waits unclaimed (None: no webhook configured).
    backup: BackupCaller | None = None
    # Where meetings' queues and floors live, and the meetings added while running
    # (rooms/meeting_store.py); None only in tests that need no meetings.
    meetings: MeetingStore | None = None
