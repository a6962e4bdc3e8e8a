"""Operations under steady traffic: rolling restarts, kill -9, a Redis outage.

Several workers share one private Redis; resilient clients (tests/resilience.py) keep talking,
reconnect to any live worker, resume with `since` and resend unacked messages with the same
client_id. Every scenario ends with: every client received every acked message exactly once,
nothing acked was lost, and the figures are printed in the test output.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import TEST_SECRET
from tests.harness import HarborProcess, RedisProcess, seconds, until, wait_until
from tests.resilience import ResilientClient

WORKER_ENV = {
    "HARBOR_SEND_RATE_PER_10S": "100",
    "HARBOR_SEND_BURST": "20",
    "HARBOR_DRAIN_BATCH": "2",
    "HARBOR_DRAIN_INTERVAL_S": "0.1",
    "HARBOR_SHUTDOWN_GRACE_S": "5",
}
TRAFFIC_S = 4.0
SEND_EVERY_S = 0.25


class Cluster:
    def __init__(self, root: Path, redis_server: RedisProcess, workers: int) -> None:
        env = {**WORKER_ENV, "REDIS_URL": redis_server.url, "HARBOR_SECRET": TEST_SECRET}
        self.redis = redis_server
        self.workers = [HarborProcess(root / f"w{n}", env).start() for n in range(workers)]

    @property
    def urls(self) -> list[str]:
        return [w.ws for w in self.workers]

    def restart(self, index: int, sig: int = signal.SIGTERM) -> None:
        worker = self.workers[index]
        worker.stop(sig)
        worker.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """Run as the operations guide says: append-only persistence, so a restart keeps history."""
    server = RedisProcess(tmp_path / "redis", appendonly=True).start()
    yield server
    server.stop()


async def run_scenario(
    name: str, cluster: Cluster, disrupt: Callable[[], Awaitable[None]], clients: int = 9
) -> dict[str, object]:
    people = [ResilientClient(cluster.urls, f"c{n}") for n in range(clients)]
    runners = [asyncio.create_task(p.run()) for p in people]
    try:
        for person in people:
            await person.wait_connected(seconds(15))
        sender = asyncio.create_task(_talk(people))
        # the disruption lands mid-traffic: every client has had messages acked and heard some
        await until(
            lambda: all(p.tally.acked and p.tally.received for p in people), 15, "traffic flowing"
        )
        disrupted_at = time.monotonic()
        await disrupt()
        await sender
        await until(lambda: all(not p.unacked for p in people), 30, "every message acked")
        acked = {i for p in people for i in p.tally.acked.values()}
        await until(lambda: all(acked <= set(p.tally.received) for p in people), 30, "delivery")
        recovered_after = time.monotonic() - disrupted_at
    finally:
        for person in people:
            await person.stop()
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
    figures: dict[str, object] = {
        "scenario": name,
        "clients": clients,
        "acked": len(acked),
        "lost": sum(len(acked - set(p.tally.received)) for p in people),
        "duplicated": sum(len(p.tally.received) - len(set(p.tally.received)) for p in people),
        "reconnects": sum(p.tally.reconnects for p in people),
        "retryable_refusals": sum(p.tally.retryable_refusals for p in people),
        "not_recovered": sum(p.tally.not_recovered for p in people),
        "close_codes": sorted({c for p in people for c in p.tally.close_codes}),
        "seconds_until_all_delivered": round(recovered_after, 2),
    }
    return figures


async def _talk(people: list[ResilientClient]) -> None:
    deadline = time.monotonic() + TRAFFIC_S
    n = 0
    while time.monotonic() < deadline:
        for person in people:
            await person.say(f"{person.name}-{n}", f"{person.name} says {n}")
        n += 1
        await asyncio.sleep(SEND_EVERY_S)


def report(capsys: pytest.CaptureFixture[str], figures: dict[str, object]) -> None:
    with capsys.disabled():
        print(f"\nresilience {json.dumps(figures)}")  # noqa: T201


def assert_exactly_once(figures: dict[str, object]) -> None:
    assert figures["acked"], "no traffic was acked"
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["not_recovered"] == 0


async def test_restarting_each_worker_in_turn_loses_and_doubles_nothing(
    tmp_path: Path, redis_server: RedisProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = Cluster(tmp_path, redis_server, workers=3)
    try:

        async def rolling_restart() -> None:
            for index in range(3):
                await asyncio.to_thread(cluster.restart, index)

        figures = await run_scenario("rolling SIGTERM restart", cluster, rolling_restart)
    finally:
        cluster.stop()
    report(capsys, figures)
    assert_exactly_once(figures)
    assert 1012 in figures["close_codes"]  # type: ignore[operator]


async def test_a_worker_killed_with_sigkill_loses_no_message_and_no_flag(
    tmp_path: Path, redis_server: RedisProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = Cluster(tmp_path, redis_server, workers=2)
    try:
        victim = cluster.workers[0]

        async def kill_one() -> None:
            from tests.harness import Client

            crisis = await Client.connect(victim.ws)
            await crisis.hello()
            await crisis.join("alcohol")
            await crisis.say("alcohol", "i want to end my life tonight", "flag-me")
            await crisis.ws.close()
            await asyncio.to_thread(victim.stop, signal.SIGKILL)
            await asyncio.to_thread(victim.start)

        figures = await run_scenario("kill -9 one worker", cluster, kill_one)
    finally:
        cluster.stop()
    report(capsys, figures)
    assert_exactly_once(figures)
    with redis.Redis.from_url(redis_server.url) as client:
        stored = [k for k in client.scan_iter("harbor:{mod}:flag:*") if b"key" not in k]
    assert stored, "the flag raised just before the kill is still in Redis"


async def test_a_redis_outage_refuses_sends_as_retryable_and_loses_nothing_acked(
    tmp_path: Path, persistent_redis: RedisProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = Cluster(tmp_path, persistent_redis, workers=2)
    try:
        watched = cluster.workers[0]

        async def outage() -> None:
            port = persistent_redis.port
            await asyncio.to_thread(persistent_redis.stop)
            await asyncio.to_thread(
                wait_until, lambda: watched.status("/readyz") == 503, 15, "readyz red"
            )
            await asyncio.sleep(1.5)
            persistent_redis.port = port
            await asyncio.to_thread(persistent_redis.start)
            await asyncio.to_thread(
                wait_until, lambda: watched.status("/readyz") == 200, 20, "readyz green"
            )

        figures = await run_scenario("redis stopped for ~2 s", cluster, outage)
        assert all(w.proc is not None and w.proc.poll() is None for w in cluster.workers)
        assert "harbor_redis_reconnects_total" in watched.get_text("/metrics")
    finally:
        cluster.stop()
    report(capsys, figures)
    assert_exactly_once(figures)
    assert figures["retryable_refusals"], "sends during the outage were refused as retryable"
