"""How to start each server under test as 2 worker processes on 2 ports, on the shared Redis."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Managed, ProcessGroup, free_port, wait_http_ready

# The bench's clients stand for many people, but all connect from 127.0.0.1: per-source limits
# (docs/security.md) lifted, as they would be for distinct addresses.
ONE_SOURCE_IS_MANY = {
    "HARBOR_SOCKETS_PER_SOURCE": "1000000",
    "HARBOR_NEW_IDENTITIES_PER_SOURCE_PER_MIN": "1000000",
    "HARBOR_JOINS_PER_SOURCE_PER_10S": "1000000",
    "HARBOR_JOINS_PER_CONNECTION_PER_10S": "1000",
}

REPO = Path(__file__).resolve().parent.parent
FANOUT_ROOM = "fanout"
ROOM_COUNT = 100


def room_catalog(path: Path) -> Path:
    """Harbor reads its rooms from HARBOR_ROOMS: the fan-out room plus r000..r099 (rooms of 10)."""
    ids = [(FANOUT_ROOM, "Fan-out")] + [(f"r{i:03d}", f"Room {i}") for i in range(ROOM_COUNT)]
    rooms = [
        {"id": rid, "title": title, "description": "bench", "guidelines": "be kind"}
        for rid, title in ids
    ]
    path.write_text(json.dumps(rooms, indent=1))
    return path


# The checkout `--baseline` names, for the "baseline" peer.
BASELINE_ENV = "HARBOR_BENCH_BASELINE"


def harbor_command() -> list[str]:
    """The console script once installed; `python -m server` from the repo is equivalent."""
    exe = shutil.which("harbor")
    return [exe, "serve"] if exe else [sys.executable, "-m", "server", "serve"]


@dataclass
class Workers:
    """The two processes of one server under test."""

    peer: str
    procs: list[Managed]

    @property
    def ports(self) -> list[int]:
        return [m.port for m in self.procs]

    @property
    def pids(self) -> list[int]:
        return [m.pid for m in self.procs]


def start_workers(
    group: ProcessGroup,
    peer: str,
    redis_port: int,
    *,
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Workers:
    """Start 2 workers of `peer` and wait until each answers GET /readyz with 200 (on the Redis
    at `redis_port`, or at `redis_url`, e.g. a cluster's)."""
    redis_url = redis_url or f"redis://127.0.0.1:{redis_port}/0"
    env: dict[str, str] = dict(extra_env or {})
    cwd = REPO
    if peer == "baseline":  # Harbor from another checkout (--baseline): same bench, older code
        cwd = Path(os.environ[BASELINE_ENV])
        env["PYTHONPATH"] = str(cwd)
    if peer in ("harbor", "baseline"):
        base = harbor_command() if peer == "harbor" else [sys.executable, "-m", "server", "serve"]
        env["HARBOR_SECRET"] = secrets.token_hex(32)
        env["HARBOR_ROOMS"] = str(room_catalog(group.workdir / "rooms.json"))
        env["HARBOR_DATA_DIR"] = str(group.workdir / "harbor-data")
        env.update(ONE_SOURCE_IS_MANY)
    else:
        base = [sys.executable, "-m", f"bench.peers.{peer}_peer"]
    procs = []
    for i in (1, 2):
        port = free_port()
        argv = [*base, "--host", "127.0.0.1", "--port", str(port), "--redis-url", redis_url]
        procs.append(group.spawn(f"{peer}-w{i}", argv, port, env=env, cwd=str(cwd)))
    try:
        for m in procs:
            wait_http_ready(m.port, "/readyz", m.proc, deadline_s=60)
    except (RuntimeError, TimeoutError) as exc:
        logs = "\n".join(f"--- {m.label}\n{group.tail(m)}" for m in procs)
        group.stop(procs)
        raise RuntimeError(f"{peer} workers failed to start: {exc}\n{logs}") from exc
    return Workers(peer, procs)


def restart_worker(group: ProcessGroup, workers: Workers, index: int) -> dict[str, float]:
    """Restart one worker in place (SIGTERM, same command, same port) and wait until ready."""
    old = workers.procs[index]
    t0 = time.monotonic()
    new = group.respawn(old)
    t_stopped = time.monotonic()
    wait_http_ready(new.port, "/readyz", new.proc, deadline_s=60)
    workers.procs[index] = new
    return {
        "pid": new.pid,
        "stop_s": round(t_stopped - t0, 3),
        "ready_s": round(time.monotonic() - t_stopped, 3),
    }
