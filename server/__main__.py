"""The `harbor` command: `harbor serve` runs a worker (or N) with every limit from Settings."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from .settings import ConfigError, Settings

WS_PROTOCOL = "server.transport:HarborWebSocketProtocol"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harbor", description="Harbor peer-support chat")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", help="interface to bind (HARBOR_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (PORT, default 8000)")
    serve.add_argument("--redis-url", help="share rooms through Redis (REDIS_URL)")
    serve.add_argument("--workers", type=int, help="worker processes (WEB_CONCURRENCY)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return 2


def _serve(args: argparse.Namespace) -> int:
    for flag, name in (
        (args.host, "HARBOR_HOST"),
        (args.port, "PORT"),
        (args.redis_url, "REDIS_URL"),
        (args.workers, "WEB_CONCURRENCY"),
    ):
        if flag is not None:
            os.environ[name] = str(flag)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(f"harbor: {exc}", file=sys.stderr)
        return 2
    if not settings.uses_redis:
        print(
            f"Harbor on http://{settings.host}:{settings.port} (embedded: one process, in-memory"
            " rooms; set REDIS_URL to scale out)",
            file=sys.stderr,
        )
    uvicorn.run(
        "server.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        ws=WS_PROTOCOL,
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=settings.ping_interval_s,
        ws_ping_timeout=settings.ping_timeout_s,
        ws_per_message_deflate=False,
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)),
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
