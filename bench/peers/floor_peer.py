"""Floor peer: the least work a Python process can do per delivery on this machine.

Protocol (ours): the client's first text frame names a room and the server answers the text
frame ``joined``; every later text frame is published to that room as-is. ``GET /readyz`` -> 200.

Per process: one Redis pub/sub subscription (pattern ``floor:*``); each published message is
framed ONCE (FIN+text opcode, length, payload; server frames are unmasked) and the same bytes are
written straight to every local member's transport. No history, no protocol, no moderation, no
backpressure: it shows what the machine itself allows, so Harbor's figures can be read as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
from http import HTTPStatus

import uvloop
from redis.asyncio import BlockingConnectionPool, Redis
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

CHANNEL_PREFIX = b"floor:"


def frame_text(payload: bytes) -> bytes:
    """RFC 6455 server frame: FIN|TEXT, 7/16/64-bit length, unmasked payload."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Floor:
    """Local room membership plus the single subscription that feeds it."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.rooms: dict[bytes, set[ServerConnection]] = {}

    async def handler(self, ws: ServerConnection) -> None:
        try:
            room = await ws.recv(decode=False)
        except ConnectionClosed:
            return
        members = self.rooms.setdefault(room, set())
        members.add(ws)
        channel = CHANNEL_PREFIX + room
        try:
            await ws.send("joined")
            while True:
                await self.redis.publish(channel, await ws.recv(decode=False))
        except ConnectionClosed:
            pass
        finally:
            members.discard(ws)

    async def fanout(self) -> None:
        """Read the pattern subscription; frame once, write the same bytes to every member."""
        pubsub = self.redis.pubsub()
        await pubsub.psubscribe(CHANNEL_PREFIX + b"*")
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if msg is None or msg["type"] != "pmessage":
                continue
            members = self.rooms.get(msg["channel"][len(CHANNEL_PREFIX) :])
            if not members:
                continue
            frame = frame_text(msg["data"])
            for ws in members:
                transport = ws.transport
                if not transport.is_closing():
                    transport.write(frame)


def readyz(_conn: ServerConnection, request: Request) -> Response | None:
    """Answer the orchestrator's readiness poll; everything else proceeds to the handshake."""
    if request.path == "/readyz":
        headers = Headers([("Content-Length", "3"), ("Content-Type", "text/plain")])
        return Response(HTTPStatus.OK, "OK", headers, b"ok\n")
    return None


async def main(host: str, port: int, redis_url: str) -> None:
    # redis-py 8's default pool raises "Too many connections" past 100 concurrent commands;
    # a blocking pool makes bursts of publishes queue for a connection instead of failing.
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=64, timeout=None)
    redis = Redis(connection_pool=pool)
    floor = Floor(redis)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    fan = asyncio.create_task(floor.fanout())
    async with serve(
        floor.handler,
        host,
        port,
        compression=None,
        process_request=readyz,
        backlog=4096,
        max_queue=None,
    ):
        await stop
    fan.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await fan
    await redis.aclose()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(main(args.host, args.port, args.redis_url))


if __name__ == "__main__":
    cli()
