"""Composition only: settings + catalog -> a Starlette app with its routes and lifespan."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import replace
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from rooms.catalog import Catalog

from .context import WorkerContext
from .http_edge import ForwardedClient, RequestLimits
from .lifespan import make_lifespan
from .logs import configure_logging
from .metrics_access import MetricsAccess, metrics_access
from .moderator_api import ROUTES as MODERATOR_ROUTES
from .proxies import networks
from .registry import Registry
from .security import SecurityHeadersMiddleware
from .settings import Secret, Settings

logger = logging.getLogger("harbor.app")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def create_app(settings: Settings) -> Starlette:
    catalog = Catalog.load(settings.rooms_file)
    routes = [
        WebSocketRoute("/ws", chat_needs_harbor_protocol),
        Route("/api/rooms", list_rooms),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *MODERATOR_ROUTES,
        Mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(ForwardedClient, trusted_proxies=settings.trusted_proxies),
            Middleware(SecurityHeadersMiddleware),
            Middleware(RequestLimits, settings=settings),
        ],
        lifespan=make_lifespan(settings, catalog),
    )


def create_app_from_env() -> Starlette:
    """uvicorn's factory: every worker process builds its app from the same environment."""
    settings = embedded_secret(Settings.from_env(os.environ))
    configure_logging(settings)
    return create_app(settings)


def embedded_secret(settings: Settings) -> Settings:
    """Without HARBOR_SECRET the one-process default keeps a generated key in its data directory,
    so returning visitors keep their pseudonym across restarts."""
    if not settings.secret_generated:
        return settings
    path = settings.data_dir / "secret"
    try:
        secret = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret)
    return replace(settings, secret=Secret(secret), secret_generated=False)


async def chat_needs_harbor_protocol(websocket: WebSocket) -> None:
    """Reached only when Harbor runs under another server: /ws is served by
    server.transport.HarborWebSocketProtocol, which `harbor serve` installs."""
    logger.error("/ws needs Harbor's WebSocket protocol: start the server with `harbor serve`")
    await websocket.close(1011)


def _context(request: Request) -> WorkerContext:
    context: WorkerContext = request.state.context
    return context


async def list_rooms(request: Request) -> Response:
    context = _context(request)
    ids = [room.id for room in context.catalog]
    try:
        counts = await context.presence.totals(ids)
    except Exception:  # presence is a nicety: the list must load during a Redis blip
        counts = {}
    rooms = [
        {
            "id": room.id,
            "title": room.title,
            "description": room.description,
            "guidelines": room.guidelines,
            "count": counts.get(room.id, 0),
        }
        for room in context.catalog
    ]
    return JSONResponse({"rooms": rooms})


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    registry: Registry = request.state.registry
    if registry.draining:
        return PlainTextResponse("not ready: draining for shutdown", status_code=503)
    if not _context(request).broker.ready:
        return PlainTextResponse("not ready: broker unreachable", status_code=503)
    return PlainTextResponse("ready")


async def metrics(request: Request) -> Response:
    """Only for allowed sources or the bearer token (server/metrics_access.py)."""
    context = _context(request)
    settings = context.settings
    access = metrics_access(
        request.client.host if request.client is not None else None,
        request.headers.get("authorization"),
        networks(settings.metrics_allowed_sources),
        settings.metrics_token.value,
    )
    if access is MetricsAccess.WRONG_TOKEN:
        return PlainTextResponse(
            "wrong token\n", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    if access is not MetricsAccess.ALLOWED:
        return PlainTextResponse("metrics are not public\n", status_code=403)
    return Response(context.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
