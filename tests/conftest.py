"""Fixtures that start real processes: a private redis-server and `harbor serve` workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.harness import Client, HarborProcess, RedisClusterProcesses, RedisProcess, wait_until

# Speed is judged by the benches, never by a timed test: Hypothesis's per-example deadline
# (200 ms by default) failed property tests whenever the shared cores were busy.
settings.register_profile("harbor", deadline=None)
settings.load_profile("harbor")

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


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    """One real Redis Cluster (3 primaries, 3 replicas) for every test that only reads and
    writes through it; `cluster` empties it before each such test. Tests that kill or restart
    nodes start their own (`RedisClusterProcesses(...).start()`)."""
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(shared_cluster: RedisClusterProcesses) -> RedisClusterProcesses:
    """The shared cluster, emptied (and healthy) for this test."""
    wait_until(shared_cluster.healthy, 30, "the shared cluster to be healthy")
    shared_cluster.flush()
    return shared_cluster
