"""The `harbor` command as an operator runs it: refusals in plain words, N workers on one port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import HarborFactory
from tests.harness import REPO, Client, RedisProcess, wait_until


def run_harbor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARBOR_")}
    clean.pop("REDIS_URL", None)
    clean.pop("WEB_CONCURRENCY", None)
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_redis_without_a_secret_is_refused_with_the_reason() -> None:
    result = run_harbor("serve", "--redis-url", "redis://127.0.0.1:1/0")
    assert result.returncode == 2
    assert "HARBOR_SECRET is required" in result.stderr


def test_several_workers_without_redis_are_refused() -> None:
    result = run_harbor("serve", WEB_CONCURRENCY="2")
    assert result.returncode == 2
    assert "WEB_CONCURRENCY > 1 needs REDIS_URL" in result.stderr


def test_a_malformed_limit_is_refused_by_name() -> None:
    result = run_harbor("serve", HARBOR_MAX_TEXT_CHARS="lots")
    assert result.returncode == 2
    assert "HARBOR_MAX_TEXT_CHARS must be a whole number" in result.stderr


def worker_processes(pid: int) -> list[int]:
    """uvicorn's worker children (it also starts multiprocessing's resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in path.read_text().split()] if path.exists() else []
    return [kid for kid in kids if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes()]


async def test_web_concurrency_workers_share_one_port_and_one_room(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    worker = harbor(redis_server, WEB_CONCURRENCY="2", HARBOR_SEND_RATE_PER_10S="100")
    assert worker.proc is not None
    pid = worker.proc.pid
    wait_until(lambda: len(worker_processes(pid)) == 2, 10, "two worker processes")
    clients = [await Client.connect(worker.ws) for _ in range(8)]
    for client in clients:
        await client.hello()
        await client.join("family-friends")
    ids = [
        (await c.say("family-friends", f"from {n}", f"k{n}"))["id"] for n, c in enumerate(clients)
    ]
    for client in clients:
        heard = {(await client.expect("message"))["id"] for _ in ids}
        assert heard == set(ids)
    # /metrics on the shared port sums both workers' figures.
    wait_until(
        lambda: "harbor_connections 8.0" in worker.get_text("/metrics"),
        10,
        "connections summed across workers in /metrics",
    )
    assert "harbor_messages_in_total 8.0" in worker.get_text("/metrics")
