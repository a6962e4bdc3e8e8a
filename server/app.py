"""Composition only: settings + catalog -> a Starlette app with its routes and lifespan."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import asdict, replace
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from rooms.catalog import Catalog

from .accounts_api import ROUTES as ACCOUNT_ROUTES
from .appeal_api import ROUTES as APPEAL_ROUTES
from .casebook_api import ROUTES as CASEBOOK_ROUTES
from .context import WorkerContext
from .http_edge import ForwardedClient, RequestLimits
from .lifespan import make_lifespan
from .logs import configure_logging
from .meeting_admin_api import ROUTES as MEETING_ADMIN_ROUTES
from .meetings import occurrence_now
from .metrics_access import MetricsAccess, metrics_access
from .moderator_api import ROUTES as MODERATOR_ROUTES
from .proxies import networks
from .registry import Registry
from .rota_api import ROUTES as ROTA_ROUTES
from .schedule import ROUTES as SCHEDULE_ROUTES
from .security import SecurityHeadersMiddleware
from .settings import Secret, Settings

logger = logging.getLogger("harbor.app")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CHAT_PAGE = WEB_DIR / "index.html"
# StaticFiles serves this for every path it does not know; room addresses use it too.
NOT_FOUND_PAGE = WEB_DIR / "404.html"
# The address of "my private check-in" (/r/checkin): the room's own id is an identity's, and
# would stay in the browser's history, which quick exit cannot clear.
CHECKIN_ADDRESS = "checkin"


def create_app(settings: Settings) -> Starlette:
    catalog = Catalog.load(settings.rooms_file)
    routes = [
        WebSocketRoute("/ws", chat_needs_harbor_protocol),
        Route("/api/rooms", list_rooms),
        Route("/api/resources", list_resources),
        *SCHEDULE_ROUTES,
        Route("/r/{room}", room_page),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *MODERATOR_ROUTES,
        *CASEBOOK_ROUTES,
        *ACCOUNT_ROUTES,
        *APPEAL_ROUTES,
        *ROTA_ROUTES,
        *MEETING_ADMIN_ROUTES,
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
    rooms = []
    for room in context.catalog:
        entry: dict[str, object] = {
            "id": room.id,
            "title": room.title,
            "description": room.description,
            "guidelines": room.guidelines,
            "count": counts.get(room.id, 0),
        }
        occurrence = occurrence_now(context, room.id)
        if occurrence is not None:  # a meeting about to start, or under way
            entry["meeting"] = {
                "title": occurrence.meeting.title,
                "start_ms": occurrence.start_ms,
                "end_ms": occurrence.end_ms,
            }
        rooms.append(entry)
    return JSONResponse({"rooms": rooms})


async def list_resources(request: Request) -> Response:
    """The crisis lines the pages show, by region: the operator's HARBOR_RESOURCES or the
    defaults (server/support.py), so the panel, the help page and support frames agree."""
    resources = [asdict(r) for r in _context(request).resources]
    return JSONResponse({"resources": resources})


async def room_page(request: Request) -> Response:
    """A room's address (/r/<room>) is the chat page, which opens that room; a room that does
    not exist gets the calm 404 page, with help and quick exit, like any unknown path."""
    room = request.path_params["room"]
    if room == CHECKIN_ADDRESS or room in _context(request).catalog:
        return FileResponse(CHAT_PAGE, media_type="text/html")
    return FileResponse(NOT_FOUND_PAGE, status_code=404, media_type="text/html")


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
