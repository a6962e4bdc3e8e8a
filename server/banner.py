"""What `harbor serve` tells the person who started it, once the server is listening.

A first run should explain itself: where the page is, where Harbor keeps its data (the embedded
default quietly creates a data directory), and -- only on a terminal, only while no moderator
exists -- the one-time sign-in link. It is printed after uvicorn reports it is running, not in
the middle of its log lines, and never before the address answers.

The worker's lifespan decides the sign-in line (it needs the moderation store); the server
prints it when ready. Both run in the one process of the embedded default, so the line waits
here between the two.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from rooms.cluster import is_cluster_url, parse_cluster_url

from .settings import Settings

_waiting: list[str] = []


def announce_when_ready(line: str) -> None:
    """Queue a line for the start banner (the lifespan runs before the socket listens)."""
    _waiting.append(line)


def take_waiting() -> list[str]:
    lines = list(_waiting)
    _waiting.clear()
    return lines


def site_url(host: str, port: int, path: str = "/") -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}{path}"


def data_line(settings: Settings, cwd: Path) -> str:
    """Where this configuration keeps what outlives a restart (never a password)."""
    if settings.redis_url is not None:
        return (
            f"Data: {_redis_place(settings.redis_url)} (rooms, messages for at most"
            f" {_duration(settings.history_max_age_s)}, moderator accounts, flags and the audit"
            " log)."
        )
    data_dir = settings.data_dir if settings.data_dir.is_absolute() else cwd / settings.data_dir
    return (
        f"Data: {os.path.normpath(data_dir)} (moderator accounts, flags and the audit log in"
        " SQLite, and the key that keeps visitors' names across restarts). Rooms and messages"
        " live in memory only and end with this process."
    )


def _redis_place(url: str) -> str:
    """The Redis a URL names, without its password: one server, or a cluster's seeds."""
    if is_cluster_url(url):
        seeds = parse_cluster_url(url).seeds
        first = f"{seeds[0][0]}:{seeds[0][1]}"
        more = f" and {len(seeds) - 1} more seed nodes" if len(seeds) > 1 else ""
        return f"a Redis Cluster seeded at {first}{more}"
    parts = urlsplit(url)
    return f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


def start_banner(settings: Settings, cwd: Path, waiting: list[str]) -> str:
    lines = [
        f"Harbor is ready: open {site_url(settings.host, settings.port)} in a browser.",
        data_line(settings, cwd),
        *waiting,
    ]
    return "\n".join(lines)


def command_name(argv0: str, cwd: Path) -> str:
    """How to run `harbor` again from where it was started: `.venv/bin/harbor` when that is
    what was run (the venv need not be active), else `harbor`."""
    path = Path(argv0)
    if path.name != "harbor" or len(path.parts) == 1:
        return "harbor"
    try:
        return str(path.resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(path)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{seconds} s"
