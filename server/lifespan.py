"""The lifespan owns every resource of a worker: broker, hub, presence and their tasks.

Nothing is created at import time. One anyio task group runs the broker listener (started with
`tg.start`, so the app serves only once it listens) and the presence heartbeat; shutdown cancels
them and closes the broker.
"""

from __future__ import annotations

import functools
import gc
import secrets
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import anyio
from starlette.applications import Starlette

from moderation import Lexicon, load_lexicon
from moderation.flags import ModerationStore
from rooms.broker import Broker, HistoryLimits, create_broker
from rooms.catalog import Catalog
from rooms.hub import LocalHub
from rooms.presence import MemoryPresence, Presence, keep_presence

from .duty import keep_moderation
from .identity import IdentityIssuer
from .metrics import Metrics, process_metrics
from .protocol import CODECS, encode_room_event
from .settings import Settings
from .signin_link import SignInLink
from .support import Resource, load_resources

if TYPE_CHECKING:
    from .endpoint import ChatConnection
    from .gate import MessageGate


@dataclass(slots=True)
class Services:
    """What request handlers need, built once per worker by the lifespan."""

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
    metrics: Metrics = field(default_factory=process_metrics)
    connections: int = 0
    on_duty: bool = False  # a moderator is signed in somewhere (refreshed every interval)
    draining: bool = False  # SIGTERM received: not ready, clients being closed in batches
    drain_scheduled: int = 0
    by_uid: dict[str, set[ChatConnection]] = field(default_factory=dict)
    # Signed-in moderator connections on this worker, by name (their claims are renewed here).
    moderators_here: Counter[str] = field(default_factory=Counter)
    gate: MessageGate | None = None
    sign_in_link: SignInLink | None = None


class State(TypedDict):
    services: Services


def open_store(settings: Settings, redis_client: Any = None) -> ModerationStore:
    """Flags, accounts and audit live in Redis when it is configured (run it with append-only
    persistence), else in a SQLite file under the data directory."""
    if settings.uses_redis:
        import redis.asyncio as aioredis

        from moderation.store_redis import RedisModerationStore

        return RedisModerationStore(redis_client or aioredis.from_url(str(settings.redis_url)))
    from moderation.store_sqlite import SqliteModerationStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteModerationStore(settings.data_dir / "moderation.sqlite3")


def build_services(settings: Settings, catalog: Catalog) -> Services:
    limits = HistoryLimits(
        max_messages=settings.history_len,
        max_age_s=settings.history_max_age_s,
        client_ids=settings.client_ids_remembered,
    )
    broker = create_broker(
        settings.redis_url, limits, max_connections=settings.redis_max_connections
    )
    worker_id = secrets.token_hex(6)
    hub = LocalHub(
        broker, encode_room_event, codecs=CODECS, join_buffer=settings.join_buffer_messages
    )
    presence: Presence
    if settings.uses_redis:
        from rooms.broker_redis import RedisBroker
        from rooms.presence_redis import RedisPresence

        assert isinstance(broker, RedisBroker)
        presence = RedisPresence(broker.client, worker_id, settings.presence_ttl_s)
        store = open_store(settings, broker.client)
    else:
        presence = MemoryPresence(broker)
        store = open_store(settings)
    services = Services(
        settings=settings,
        catalog=catalog,
        broker=broker,
        hub=hub,
        presence=presence,
        identities=IdentityIssuer(settings.secret.value),
        worker_id=worker_id,
        lexicon=load_lexicon(),
        store=store,
        resources=load_resources(settings.resources_file),
    )
    from .gate import MessageGate

    services.gate = MessageGate(services)
    hub.observe_latency = services.metrics.fanout_latency.observe
    if not settings.uses_redis:
        services.sign_in_link = SignInLink()
    return services


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


async def _listen_direct(services: Services) -> None:
    """Subscribe to direct notices; with Redis down at start, retry in the background."""
    from rooms.broker import BrokerUnavailable

    from .direct import DIRECT_CHANNEL, direct_listener

    while True:
        try:
            await services.hub.listen(DIRECT_CHANNEL, direct_listener(services))
            return
        except BrokerUnavailable:
            await anyio.sleep(1.0)


def make_lifespan(settings: Settings, catalog: Catalog):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        services = build_services(settings, catalog)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(
                    functools.partial(
                        services.broker.run,
                        services.hub.deliver,
                        on_reconnect=services.hub.request_repair,
                    )
                )
                tg.start_soon(
                    functools.partial(services.hub.keep_repaired, limit=settings.history_len)
                )
                tg.start_soon(_listen_direct, services)
                tg.start_soon(keep_moderation, services)
                tg.start_soon(
                    lambda: keep_presence(
                        services.hub,
                        services.presence,
                        interval_s=settings.presence_interval_s,
                        ttl_s=settings.presence_ttl_s,
                    )
                )
                if services.sign_in_link is not None:
                    url = services.sign_in_link.url(settings.host, settings.port)
                    # The one place a secret is printed: an operator asked for exactly this.
                    sys.stderr.write(f"Moderator sign-in link (one use, 1 hour): {url}\n")
                tune_gc()
                yield {"services": services}
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await services.store.aclose()
                await services.broker.aclose()

    return lifespan
