"""The `harbor` command.

- `harbor serve`: run a worker (or N) with every limit from Settings.
- `harbor moderators add NAME [--role ROLE] [--password-stdin]`: create a moderator (or change
  a password, which signs out every session of the old one). A new account without `--role` is a
  volunteer; an existing one keeps its role unless `--role` is given.
- `harbor moderators role NAME ROLE`: change a moderator's role (volunteer, coordinator, admin).
- `harbor moderators list`: names and roles.
- `harbor moderators remove NAME`: delete a moderator; their open dashboards close within a second.
- `harbor moderation scan`: moderate stdin lines into JSON verdicts (see moderation.scan).
- `harbor check`: validate the configuration and the Redis behind it before a deploy.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from casework.passwords import hash_password
from casework.roles import DEFAULT_ROLE, Role
from moderation.__main__ import main as moderation_main

from .banner import start_banner, take_waiting
from .check import main as check_main
from .lifespan import open_store
from .settings import ConfigError, Settings

APP = "server.app:create_app_from_env"
WS_PROTOCOL = "server.transport:HarborWebSocketProtocol"
HTTP_PROTOCOL = "server.http_protocol:HarborHttpProtocol"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harbor", description="Harbor peer-support chat")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", help="interface to bind (HARBOR_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (PORT, default 8000)")
    serve.add_argument("--redis-url", help="share rooms through Redis (REDIS_URL)")
    serve.add_argument("--workers", type=int, help="worker processes (WEB_CONCURRENCY)")
    moderators = commands.add_parser("moderators", help="manage moderator accounts")
    moderator_commands = moderators.add_subparsers(dest="action", required=True)
    add = moderator_commands.add_parser("add", help="create a moderator or set a new password")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument(
        "--role",
        choices=list(Role),
        help=f"volunteer, coordinator or admin (a new account: {DEFAULT_ROLE}; else unchanged)",
    )
    role = moderator_commands.add_parser("role", help="change a moderator's role")
    role.add_argument("name")
    role.add_argument("role", choices=list(Role))
    moderator_commands.add_parser("list", help="list moderator names and roles")
    remove = moderator_commands.add_parser(
        "remove", help="delete a moderator and end their sessions"
    )
    remove.add_argument("name")
    moderation = commands.add_parser("moderation", help="moderation tools")
    moderation.add_argument("rest", nargs=argparse.REMAINDER, help="e.g. scan [--format jsonl]")
    commands.add_parser("check", help="validate the configuration and Redis before a deploy")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "moderators":
        return _moderators(args)
    if args.command == "moderation":
        return moderation_main(args.rest)
    if args.command == "check":
        return check_main(os.environ, sys.stdout)
    return 2


def _settings() -> Settings | None:
    try:
        return Settings.from_env(os.environ)
    except ConfigError as exc:
        print(f"harbor: {exc}", file=sys.stderr)
        return None


def _moderators(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings is None:
        return 2
    if args.action == "list":
        accounts = anyio.run(_moderator_roles, settings)
        lines = [f"{name}  {role}" for name, role in accounts]
        print("\n".join(lines) if lines else "(no moderators yet)")
        return 0
    if args.action == "role":
        name, role = args.name.strip(), Role(args.role)
        if not anyio.run(_set_role, settings, name, role):
            print(f"harbor: no moderator named {name}", file=sys.stderr)
            return 1
        print(f"moderator {name} is now {role.words}")
        return 0
    if args.action == "remove":
        if not anyio.run(_remove_moderator, settings, args.name.strip()):
            print(f"harbor: no moderator named {args.name.strip()}", file=sys.stderr)
            return 1
        print(f"moderator {args.name.strip()} removed; their sessions have ended")
        return 0
    name = args.name.strip()
    if not 0 < len(name) <= 64 or any(c.isspace() for c in name):
        print("harbor: a moderator name is 1-64 characters without spaces", file=sys.stderr)
        return 2
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != password:
            print("harbor: the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 10:
        print("harbor: use a password of at least 10 characters", file=sys.stderr)
        return 2
    wanted = None if args.role is None else Role(args.role)
    now = anyio.run(_add_moderator, settings, name, hash_password(password), wanted)
    print(f"moderator {name} ({now}) can now sign in at /mod")
    return 0


async def _add_moderator(
    settings: Settings, name: str, password_hash: str, role: Role | None
) -> Role:
    store = open_store(settings)
    try:
        await store.add_moderator(name, password_hash)
        if role is not None:
            await store.set_role(name, role)
        return await store.role_of(name) or DEFAULT_ROLE
    finally:
        await store.aclose()


async def _set_role(settings: Settings, name: str, role: Role) -> bool:
    store = open_store(settings)
    try:
        return await store.set_role(name, role)
    finally:
        await store.aclose()


async def _moderator_roles(settings: Settings) -> list[tuple[str, Role]]:
    store = open_store(settings)
    try:
        names = await store.moderator_names()
        return [(name, await store.role_of(name) or DEFAULT_ROLE) for name in names]
    finally:
        await store.aclose()


async def _remove_moderator(settings: Settings, name: str) -> bool:
    store = open_store(settings)
    try:
        return await store.remove_moderator(name)
    finally:
        await store.aclose()


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
    metrics_dir = None
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker writes its metrics here; /metrics on any worker sums them up.
        metrics_dir = tempfile.mkdtemp(prefix="harbor-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "loop": "uvloop",
        "http": HTTP_PROTOCOL,
        "ws": WS_PROTOCOL,
        "ws_max_size": settings.max_frame_bytes,
        "ws_ping_interval": settings.ping_interval_s,
        "ws_ping_timeout": settings.ping_timeout_s,
        "ws_per_message_deflate": False,
        "lifespan": "on",
        # Forwarded headers are read by server/proxies.py, from HARBOR_TRUSTED_PROXIES only;
        # uvicorn's own handling would believe any client on 127.0.0.1 (FORWARDED_ALLOW_IPS).
        "proxy_headers": False,
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_grace_s)),
        "server_header": False,
    }
    if settings.workers == 1:
        ReadyBanner(uvicorn.Config(APP, **options), settings).run()
    else:
        # Several processes (Redis, so no sign-in link): said before they start.
        print(start_banner(settings, Path.cwd(), []), file=sys.stderr)
        uvicorn.run(APP, **options)
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


class ReadyBanner(uvicorn.Server):
    """uvicorn's server, printing Harbor's start banner once it listens (server/banner.py)."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self._settings = settings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:  # the port was taken, or the lifespan failed: nothing is ready
            return
        print(start_banner(self._settings, Path.cwd(), take_waiting()), file=sys.stderr)
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
