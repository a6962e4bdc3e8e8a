"""Fixtures that start real processes: a private redis-server and `harbor serve` workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import Client, HarborProcess, RedisProcess

TEST_SECRET = "test-secret-not-for-production"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


HarborFactory = Callable[..., HarborProcess]


@pytest.fixture
def harbor(tmp_path: Path) -> Iterator[HarborFactory]:
    """Start workers with `harbor(redis=..., **env)`; all are stopped at teardown.
    `terminal=True` runs one on a pseudo-terminal, where the embedded default shows its
    one-time sign-in link (`worker.wait_for_output(...)` reads it)."""
    started: list[HarborProcess] = []

    def start(
        redis: RedisProcess | None = None, *, terminal: bool = False, **env: str
    ) -> HarborProcess:
        full_env = dict(env)
        if redis is not None:
            full_env.setdefault("REDIS_URL", redis.url)
            full_env.setdefault("HARBOR_SECRET", TEST_SECRET)
        process = HarborProcess(tmp_path / f"w{len(started)}", full_env, terminal=terminal)
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    """Close every test client, so no socket outlives its test."""
    yield
    while Client.opened:
        client = Client.opened.pop()
        await client.ws.close()
