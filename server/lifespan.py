"""The lifespan owns every resource of a worker: broker, hub, presence and their tasks.

Nothing is created at import time. One anyio task group runs the broker listener (started with
`tg.start`, so the app serves only once it listens) and the presence heartbeat; shutdown cancels
them and closes the broker.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

import anyio
from starlette.applications import Starlette

from rooms.broker import Broker, HistoryLimits, create_broker
from rooms.catalog import Catalog
from rooms.hub import LocalHub
from rooms.presence import MemoryPresence, Presence, keep_presence

from .identity import IdentityIssuer
from .protocol import CODECS, encode_room_event
from .settings import Settings


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
    connections: int = 0


class State(TypedDict):
    services: Services


def build_services(settings: Settings, catalog: Catalog) -> Services:
    limits = HistoryLimits(
        max_messages=settings.history_len,
        max_age_s=settings.history_max_age_s,
        client_ids=settings.client_ids_remembered,
    )
    broker = create_broker(settings.redis_url, limits)
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
    else:
        presence = MemoryPresence(broker)
    return Services(
        settings=settings,
        catalog=catalog,
        broker=broker,
        hub=hub,
        presence=presence,
        identities=IdentityIssuer(settings.secret.value),
        worker_id=worker_id,
    )


def make_lifespan(settings: Settings, catalog: Catalog):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        services = build_services(settings, catalog)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(services.broker.run, services.hub.deliver)
                tg.start_soon(
                    lambda: keep_presence(
                        services.hub,
                        services.presence,
                        interval_s=settings.presence_interval_s,
                        ttl_s=settings.presence_ttl_s,
                    )
                )
                yield {"services": services}
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await services.broker.aclose()

    return lifespan
