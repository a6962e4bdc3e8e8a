"""Redis blips under traffic: the listener reconnects and members miss nothing."""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis
from websockets.exceptions import ConnectionClosed

from tests.conftest import HarborFactory
from tests.harness import Client, RedisProcess, seconds, wait_until

FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}


async def test_a_killed_pubsub_connection_is_repaired_from_history_in_order(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    publisher_worker, listener_worker = harbor(redis_server, **FAST), harbor(redis_server, **FAST)
    talker = await Client.connect(publisher_worker.ws)
    await talker.hello()
    await talker.join("newcomers")
    reader = await Client.connect(listener_worker.ws)
    await reader.hello()
    await reader.join("newcomers")
    acked: list[int] = []
    with redis.Redis.from_url(redis_server.url) as admin:
        for n in range(60):
            acked.append((await talker.say("newcomers", f"m{n}", f"c{n}"))["id"])
            talker.drop_messages()
            if n == 20:
                killed = admin.client_kill_filter(_type="pubsub")
                assert killed >= 2
    received = [(await reader.expect("message", within=15))["id"] for _ in acked]
    assert received == acked, "every message exactly once, in order"
    wait_until(
        lambda: "harbor_redis_reconnects_total 1.0" in listener_worker.get_text("/metrics"),
        10,
        "the reconnect to show in /metrics",
    )


async def test_readyz_goes_red_while_redis_is_down_and_green_when_it_is_back(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    worker = harbor(redis_server, **FAST)
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join("alcohol")
    port = redis_server.port
    redis_server.stop()
    wait_until(lambda: worker.status("/readyz") == 503, 15, "readyz to report not ready")
    await client.send({"type": "send", "room": "alcohol", "text": "anyone?", "client_id": "d1"})
    refused = await client.expect_any(("ack", "error"), within=10, client_id="d1")
    assert refused["type"] == "error" and refused["retryable"] is True
    restarted = RedisProcess(redis_server.workdir, port=port).start()
    try:
        wait_until(lambda: worker.status("/readyz") == 200, 20, "readyz to recover")
        # This Redis kept no data, so the room's history is gone: the member is told to
        # reconnect (4008) and, like any client, resumes -- learning recovered: false.
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await client.recv(within=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        back = await Client.connect(worker.ws)
        await back.hello(client.token)
        joined = await back.join("alcohol", since=0, epoch=client.joined["alcohol"]["epoch"])
        assert joined["recovered"] is False
        ack = await back.say("alcohol", "anyone?", "d1")
        assert (await back.expect("message", id=ack["id"], within=10))["text"] == "anyone?"
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        restarted.stop()


async def test_sigterm_closes_clients_with_1012_in_batches_and_readyz_goes_red(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    worker = harbor(redis_server, HARBOR_DRAIN_BATCH="3", HARBOR_DRAIN_INTERVAL_S="0.3", **FAST)
    clients = [await Client.connect(worker.ws) for _ in range(9)]
    for client in clients:
        await client.hello()
    assert worker.proc is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    worker.proc.send_signal(signal.SIGTERM)

    async def closed_at(client: Client) -> tuple[int | None, float]:
        try:
            await asyncio.wait_for(client.ws.wait_closed(), seconds(15))
        finally:
            pass
        received = client.ws.protocol.close_rcvd
        code = received.code if received else None
        return code, loop.time() - started

    results = await asyncio.gather(*(closed_at(c) for c in clients))
    assert {code for code, _ in results} == {1012}
    times = sorted(t for _, t in results)
    # Three batches of three, 0.3 s apart: the last batch closes >= 0.5 s after the first.
    assert times[-1] - times[0] >= 0.5, f"closes were not spread out: {times}"
    # uvicorn exits cleanly, re-raising the SIGTERM it handled so supervisors see it.
    assert worker.proc.wait(seconds(15)) in (0, -signal.SIGTERM)
