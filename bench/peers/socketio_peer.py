"""Socket.IO peer: what a Python team would pick for the same job.

python-socketio ``AsyncServer`` with ``AsyncRedisManager`` (the documented way to run several
workers), served by uvicorn on uvloop, one process per port. Events: ``join`` (data = room name,
acknowledged with ``"ok"`` so the client knows it is in) and ``send`` (data = ``{"room", "text"}``,
emitted to the room as ``message``). ``GET /readyz`` -> 200 for the orchestrator.
"""

from __future__ import annotations

import argparse
import resource
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import socketio
import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def readyz_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Tiny ASGI fallback: 200 on /readyz, 404 elsewhere."""
    if scope["type"] != "http":
        return
    ok = scope["path"] == "/readyz"
    body = b"ok\n" if ok else b"not found\n"
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200 if ok else 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(redis_url: str) -> socketio.ASGIApp:
    mgr = socketio.AsyncRedisManager(redis_url)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=mgr, cors_allowed_origins="*")

    @sio.on("join")  # type: ignore[untyped-decorator]
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        return "ok"

    @sio.on("send")  # type: ignore[untyped-decorator]
    async def send(sid: str, data: dict[str, str]) -> None:
        await sio.emit("message", {"text": data["text"]}, room=data["room"])

    return socketio.ASGIApp(sio, other_asgi_app=readyz_app)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvicorn.run(
        build_app(args.redis_url),
        host=args.host,
        port=args.port,
        loop="uvloop",
        log_level="warning",
        backlog=4096,
    )


if __name__ == "__main__":
    cli()
