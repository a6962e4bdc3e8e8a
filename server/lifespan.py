"""The composition root: the lifespan builds one worker's parts, wires them, and owns them.

This is the one module that imports the connection (endpoint), the gate, the heartbeat (duty),
the identity-notice listener (direct), the feeds and the registry, and hands each the others it
needs; none of them imports this module. Nothing is created at import time. One anyio task
group runs the broker listener (started with `tg.start`, so the app serves only once it
listens), the hub's repairs, the identity notices, the moderation heartbeat and the presence
heartbeat; shutdown cancels them and closes the store and the broker.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import secrets
import sys
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import anyio
from starlette.applications import Starlette

from casework.flags import ModerationStore, Sanction
from casework.store_redis import RedisModerationStore
from casework.store_sqlite import SqliteModerationStore
from moderation import load_lexicon
from rooms.broker import Broker, BrokerUnavailable, HistoryLimits
from rooms.broker_cluster import ClusterBroker, open_redis
from rooms.broker_redis import RedisBroker
from rooms.broker_url import create_broker
from rooms.catalog import Catalog
from rooms.hub import LocalHub
from rooms.meeting_store import MeetingStore, MemoryMeetingStore, RedisMeetingStore
from rooms.presence import MemoryPresence, Presence, keep_presence
from rooms.presence_redis import RedisPresence

from . import feeds
from .backup_call import BackupCaller
from .banner import announce_when_ready, command_name
from .context import WorkerContext, wall_clock_ms
from .direct import HoldSources, identity_notice_listener
from .duty import keep_moderation, keep_sessions_checked
from .endpoint import ChatEntrance
from .gate import MessageGate
from .identity import IdentityIssuer
from .meeting_book import MeetingBook
from .meeting_sweep import keep_meetings_settled
from .metrics import process_metrics
from .pending_calls import MemoryPendingCalls, RedisPendingCalls
from .protocol import CODECS, room_encoder
from .registry import Registry
from .settings import Settings
from .signin_link import SignInLink, start_notice
from .sources import SourceKeys, SourceRules, source_sanction_key
from .support import load_resources


class State(TypedDict):
    """The lifespan state Starlette copies into every request (`request.state.context` ...)
    and uvicorn hands the chat transport (`app_state["chat"]`)."""

    context: WorkerContext
    registry: Registry
    chat: ChatEntrance


logger = logging.getLogger("harbor.lifespan")


@dataclass(frozen=True, slots=True)
class Worker:
    context: WorkerContext
    registry: Registry
    chat: ChatEntrance

    def state(self) -> State:
        return {"context": self.context, "registry": self.registry, "chat": self.chat}


def open_store(settings: Settings, redis_client: Any = None) -> ModerationStore:
    """Flags, accounts and audit live in Redis when it is configured (run it with append-only
    persistence), else in a SQLite file under the data directory."""
    targets = settings.response_targets
    if settings.redis_url is not None:
        client = redis_client or open_redis(settings.redis_url)
        return RedisModerationStore(
            client, targets=targets, replica_ack_timeout_ms=settings.replica_ack_timeout_ms
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteModerationStore(settings.data_dir / "moderation.sqlite3", targets=targets)


def build_worker(settings: Settings, catalog: Catalog) -> Worker:
    limits = HistoryLimits(
        max_messages=settings.history_len,
        max_age_s=settings.history_max_age_s,
        client_ids=settings.client_ids_remembered,
        max_rooms=settings.max_room_logs,
        max_bytes=settings.max_history_bytes,
        sweep_interval_s=settings.room_sweep_interval_s,
    )
    broker = create_broker(
        settings.redis_url,
        limits,
        max_connections=settings.redis_max_connections,
        replica_ack_timeout_ms=settings.replica_ack_timeout_ms,
    )
    worker_id = secrets.token_hex(6)
    identities = IdentityIssuer(settings.secret.value, idle_s=settings.token_idle_s)
    hub = LocalHub(
        broker,
        room_encoder(identities.author_tag),
        codecs=CODECS,
        join_buffer=settings.join_buffer_messages,
        is_feed=feeds.is_feed,
    )
    presence, store = _presence_and_store(settings, broker, worker_id)
    context = WorkerContext(
        settings=settings,
        catalog=catalog,
        broker=broker,
        hub=hub,
        presence=presence,
        identities=identities,
        worker_id=worker_id,
        lexicon=load_lexicon(),
        store=store,
        resources=load_resources(settings.resources_file),
        source_keys=SourceKeys(settings.secret.value),
        meeting_book=MeetingBook(catalog),
        sign_in_link=None if settings.uses_redis else SignInLink(),
        backup=_backup_caller(settings, broker),
        meetings=_meeting_store(broker),
    )
    hub.observe_latency = context.metrics.fanout_latency.observe
    registry = Registry(
        SourceRules(
            sockets=settings.sockets_per_source,
            new_identities_per_min=settings.new_identities_per_source_per_min,
            new_identities_burst=max(1, round(2 * settings.new_identities_per_source_per_min)),
            joins_per_10s=settings.joins_per_source_per_10s,
            joins_burst=max(1, round(2 * settings.joins_per_source_per_10s)),
            sign_ins_per_min=settings.sign_ins_per_source_per_min,
            sign_ins_burst=max(1, round(5 / 3 * settings.sign_ins_per_source_per_min)),
        )
    )
    gate = MessageGate(context, registry)
    return Worker(context, registry, ChatEntrance(context, registry, gate))


def _backup_caller(settings: Settings, broker: Broker) -> BackupCaller | None:
    """With Redis, calls are kept there, so another worker finishes one whose worker died."""
    if not settings.backup_webhook_url:
        return None
    pending = (
        RedisPendingCalls(broker.client)
        if isinstance(broker, RedisBroker | ClusterBroker)
        else MemoryPendingCalls()
    )
    return BackupCaller(
        settings.backup_webhook_url,
        settings.backup_webhook_secret.value,
        attempts=settings.backup_webhook_attempts,
        timeout_s=settings.backup_webhook_timeout_s,
        queued=settings.backup_calls_queued,
        metrics=process_metrics(),
        clock=wall_clock_ms,
        pending=pending,
    )


def _meeting_store(broker: Broker) -> MeetingStore:
    """Meetings' queues and floors beside the rooms: in Redis when the rooms are, so every
    worker sees one queue and one floor."""
    if isinstance(broker, RedisBroker | ClusterBroker):
        return RedisMeetingStore(broker.client)
    return MemoryMeetingStore(time.monotonic)


def _presence_and_store(
    settings: Settings, broker: Broker, worker_id: str
) -> tuple[Presence, ModerationStore]:
    if isinstance(broker, RedisBroker | ClusterBroker):
        presence = RedisPresence(broker.client, worker_id, settings.presence_ttl_s)
        return presence, open_store(settings, broker.client)
    return MemoryPresence(broker), open_store(settings)


# Collections of the youngest generation run after this many new container objects (Python's
# default is 700); the older generations keep their default ratios (10, 10).
GC_YOUNG_THRESHOLD = 5000


def tune_gc() -> None:
    """Freeze what startup built and let the youngest generation grow larger before a collection.

    Every connection is cyclic garbage once closed (websockets' parser is a generator holding
    its protocol), so the collector cannot be switched off; but with Python's defaults it cost
    17 % of a worker's CPU while 3,000 clients reconnected and resumed, with full collections
    of ~125 ms each, mostly walking the same long-lived objects -- modules, the compiled
    lexicon, live connections. Frozen startup objects are never walked again, and a 5,000
    object young generation runs a seventh as many collections: 10 % of the CPU in the same
    probe, and full collections 6 times rarer. The older generations keep their default
    ratios, so garbage that reached them is still reclaimed as before.
    """
    gc.collect()  # what startup left as garbage is freed, not frozen
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def _source_holder(context: WorkerContext) -> HoldSources:
    """Record a ban's hold on the sources of the sockets it closed, in the background (the
    notice listener must not wait on the store)."""
    pending: set[asyncio.Task[None]] = set()

    async def hold(uid: str, sources: tuple[str, ...], until_ms: int) -> None:
        for source in sources:
            key = source_sanction_key(source)
            sanction = Sanction(key, "ban", until_ms, "", "held by a ban", held_for=uid)
            try:
                await context.store.sanction(sanction)
            except Exception as exc:  # the identity's ban itself is already stored
                logger.warning("could not hold a banned source (%s)", type(exc).__name__)

    def start(uid: str, sources: Iterable[str], until_ms: int) -> None:
        task = asyncio.get_running_loop().create_task(hold(uid, tuple(set(sources)), until_ms))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return start


async def _listen_identity_notices(worker: Worker) -> None:
    """Subscribe to identity notices; with Redis down at start, retry in the background."""
    listener = identity_notice_listener(worker.registry, _source_holder(worker.context))
    while True:
        try:
            await worker.context.hub.listen(feeds.IDENTITY_NOTICES, listener)
            return
        except BrokerUnavailable:
            await anyio.sleep(1.0)


def _on_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


async def _announce_sign_in(context: WorkerContext, link: SignInLink) -> None:
    """The one place a secret may be printed, and only to the terminal of the operator who
    started Harbor before any moderator exists (server/signin_link.py)."""
    settings = context.settings
    has_moderators = bool(await context.store.moderator_names())
    notice = start_notice(
        link,
        settings.host,
        settings.port,
        terminal=_on_terminal(),
        has_moderators=has_moderators,
        command=command_name(sys.argv[0], Path.cwd()),
    )
    announce_when_ready(notice)  # printed by `harbor serve` once the socket listens


def make_lifespan(settings: Settings, catalog: Catalog):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        worker = build_worker(settings, catalog)
        context = worker.context
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(
                    functools.partial(
                        context.broker.run,
                        context.hub.deliver,
                        on_reconnect=context.hub.request_repair,
                    )
                )
                tg.start_soon(
                    functools.partial(context.hub.keep_repaired, limit=settings.history_len)
                )
                tg.start_soon(_listen_identity_notices, worker)
                tg.start_soon(keep_moderation, context, worker.registry)
                tg.start_soon(keep_sessions_checked, context, worker.registry)
                if context.backup is not None:
                    tg.start_soon(context.backup.run)
                tg.start_soon(keep_meetings_settled, context)
                tg.start_soon(
                    lambda: keep_presence(
                        context.hub,
                        context.presence,
                        interval_s=settings.presence_interval_s,
                        ttl_s=settings.presence_ttl_s,
                    )
                )
                if context.sign_in_link is not None:
                    await _announce_sign_in(context, context.sign_in_link)
                tune_gc()
                yield worker.state()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await context.store.aclose()
                await context.broker.aclose()

    return lifespan
