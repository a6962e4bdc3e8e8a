"""Soak: replay the resource attacks of issue #17 against one embedded worker and print its RSS
and a bystander's latency before, during and after.

    python -m bench.soak            # about a minute; prints a table and PASS/FAIL per bound

The worker runs with its default limits (the per-source ones included). Attackers come from
other loopback addresses (Linux routes all of 127.0.0.0/8 to this host), so to the worker they
are other people; the bystander, on 127.0.0.1, pings every 100 ms and measures the round trip.

- finding 1: up to 3,000 throwaway connections from one source, each joining its own check-in
  room and posting 5 long messages, then closing;
- finding 2: 1,500 sockets from one source; 9 connections looping join/leave in a room holding
  50 long messages, for 10 s;
- finding 7: a 100 MB body to /mod/api/link, and 200 connections dripping a header byte a second.

Pass: RSS after is within 10 % of the baseline, and the bystander's p95 during is within 2x its
baseline (with a 5 ms floor, below which loopback timing is noise). Every loop is bounded in
count and time; the worker is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.procs import ProcessGroup, free_port, rss_kb, wait_http_ready
from bench.servers import harbor_command

LONG = "a long message about the week, " * 60  # ~1,900 characters
ROOM = "newcomers"
ATTACK_S = 12.0
P95_FLOOR_MS = 5.0


@dataclass
class Bystander:
    """A member who only pings, recording each round trip (ms) by phase."""

    url: str
    phase: str = "baseline"
    samples: dict[str, list[float]] = field(default_factory=dict)
    running: bool = True

    async def run(self) -> None:
        async with connect(self.url) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            await _until_type(ws, "welcome")
            await ws.send(json.dumps({"type": "join", "room": ROOM}))
            await _until_type(ws, "joined")
            while self.running:
                started = time.perf_counter()
                await ws.send('{"type":"ping"}')
                await _until_type(ws, "pong")
                took = (time.perf_counter() - started) * 1000
                self.samples.setdefault(self.phase, []).append(took)
                await asyncio.sleep(0.1)

    def p95(self, phase: str) -> float:
        values = sorted(self.samples.get(phase, [0.0]))
        return values[min(len(values) - 1, int(len(values) * 0.95))]


async def _until_type(ws: ClientConnection, kind: str, within: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        frame: dict[str, Any] = json.loads(
            await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        )
        if frame.get("type") == kind:
            return frame


async def _throwaway(url: str, source: str) -> str:
    """One throwaway identity: hello, join its check-in room, five long posts, close."""
    try:
        async with connect(url, local_addr=(source, 0), open_timeout=5) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            welcome = await _until_type(ws, "welcome", 5)
            room = welcome["checkin_room"]
            await ws.send(json.dumps({"type": "join", "room": room}))
            await _until_type(ws, "joined", 5)
            for i in range(5):
                frame = {"type": "send", "room": room, "text": LONG, "client_id": f"c{i}"}
                await ws.send(json.dumps(frame))
            return "posted"
    except Exception as exc:  # refused by a limit (1013), timed out, reset: all "not in"
        return type(exc).__name__


async def finding_1(url: str, deadline: float) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for _ in range(300):  # 3,000 throwaways in batches of ten, as the review sent them
        if time.monotonic() > deadline:
            break
        batch = [_throwaway(url, "127.0.0.2") for _ in range(10)]
        for outcome in await asyncio.gather(*batch):
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


async def finding_2_sockets(url: str, deadline: float) -> dict[str, int]:
    held: list[ClientConnection] = []
    refused = 0
    try:
        for _ in range(1500):
            if time.monotonic() > deadline:
                break
            try:
                ws = await connect(url, local_addr=("127.0.0.3", 0), open_timeout=5)
                await ws.send('{"type":"ping"}')
                reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                held.append(ws)
                del reply
            except Exception:
                refused += 1
        return {"open": len(held), "refused": refused}
    finally:
        for ws in held:
            with contextlib.suppress(Exception):
                await ws.close()


async def finding_2_join_loop(url: str, deadline: float) -> dict[str, int]:
    counts = {"joined": 0, "refused": 0}

    async def loop(source: str) -> None:
        async with connect(url, local_addr=(source, 0), max_size=2**24) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            await _until_type(ws, "welcome")
            while time.monotonic() < deadline:
                await ws.send(json.dumps({"type": "join", "room": ROOM}))
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if frame.get("type") == "joined":
                        counts["joined"] += 1
                        await ws.send(json.dumps({"type": "leave", "room": ROOM}))
                        await _until_type(ws, "left")
                        break
                    if frame.get("type") == "error":
                        counts["refused"] += 1
                        await asyncio.sleep(frame.get("retry_after_ms", 100) / 1000)
                        break

    await asyncio.gather(*(loop("127.0.0.4") for _ in range(9)), return_exceptions=True)
    return counts


async def finding_7_body(port: int) -> str:
    """Stream a 100 MB body at /mod/api/link and report how the worker answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.5", 0))
    size = 100 * 1024 * 1024
    head = (
        f"POST /mod/api/link HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    )
    writer.write(head.encode())
    chunk = b" " * (1024 * 1024)
    sent = 0
    try:
        while sent < size:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 5)
            sent += len(chunk)
    except (ConnectionError, TimeoutError):
        pass
    try:
        status = (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
    except (ConnectionError, TimeoutError):
        status = "closed"
    writer.close()
    return f"{status or 'closed'} after {sent // (1024 * 1024)} MB sent"


async def finding_7_drip(port: int, deadline: float) -> dict[str, int]:
    """200 connections sending a request head one byte a second; count those still open."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    socks: list[socket.socket] = []
    for i in range(200):
        sock = socket.socket()
        sock.setblocking(False)
        sock.bind((f"127.0.2.{i % 250 + 1}", 0))
        with contextlib.suppress(BlockingIOError):
            sock.connect(("127.0.0.1", port))
        socks.append(sock)
    position = 0
    while time.monotonic() < deadline and position < len(head):
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.send(head[position : position + 1])
        position += 1
        await asyncio.sleep(1.0)
    still_open = 0
    for sock in socks:
        try:
            data = sock.recv(1, socket.MSG_PEEK)
            still_open += 0 if data == b"" else 1
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        sock.close()
    return {"dripping": len(socks), "still_open_at_end": still_open}


async def seed_room(url: str) -> None:
    """Fill the join-loop room with 50 long messages (from a source of its own)."""
    async with connect(url, local_addr=("127.0.0.6", 0)) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        await _until_type(ws, "welcome")
        await ws.send(json.dumps({"type": "join", "room": ROOM}))
        await _until_type(ws, "joined")
        for i in range(50):
            await ws.send(
                json.dumps({"type": "send", "room": ROOM, "text": LONG, "client_id": f"s{i}"})
            )
            frame = await _until_type(ws, "ack") if i % 5 == 4 else None
            del frame
            await asyncio.sleep(0.45)  # the default send rate: 20 per 10 s


async def soak(port: int, pid: int) -> list[tuple[str, int, float]]:
    url = f"ws://127.0.0.1:{port}/ws"
    bystander = Bystander(url)
    watcher = asyncio.create_task(bystander.run())
    await seed_room(url)
    rows: list[tuple[str, int, float]] = []
    await asyncio.sleep(5)
    rows.append(("baseline", rss_kb(pid), bystander.p95("baseline")))
    bystander.phase = "attack"
    deadline = time.monotonic() + ATTACK_S
    results = await asyncio.gather(
        finding_1(url, deadline),
        finding_2_sockets(url, deadline),
        finding_2_join_loop(url, deadline),
        finding_7_body(port),
        finding_7_drip(port, deadline + 3),
    )
    peak = rss_kb(pid)
    rows.append(("attack", peak, bystander.p95("attack")))
    bystander.phase = "after"
    await asyncio.sleep(8)
    rows.append(("after", rss_kb(pid), bystander.p95("after")))
    bystander.running = False
    await asyncio.wait_for(watcher, 5)
    names = ("1 throwaways", "2 sockets", "2 join/leave", "7 100 MB body", "7 header drip")
    for name, result in zip(names, results, strict=True):
        print(f"  finding {name:<16} {result}")
    return rows


def main() -> int:
    group = ProcessGroup()
    port = free_port()
    env = {
        "HARBOR_SECRET": secrets.token_hex(32),
        "HARBOR_DATA_DIR": str(group.workdir / "data"),
        "HARBOR_ROOM_SWEEP_INTERVAL_S": "5",
    }
    worker = group.spawn("harbor", [*harbor_command(), "--port", str(port)], port, env=env)
    try:
        wait_http_ready(port, "/readyz", worker.proc, deadline_s=30)
        print("soak: one embedded worker, default limits; attackers on other loopback addresses")
        rows = asyncio.run(soak(port, worker.pid))
    finally:
        group.stop()
    print(f"\n  {'phase':<10} {'RSS MB':>8} {'bystander p95 ms':>18}")
    for phase, rss, p95 in rows:
        print(f"  {phase:<10} {rss / 1024:>8.1f} {p95:>18.1f}")
    (_, base_rss, base_p95), (_, _, attack_p95), (_, after_rss, _) = rows
    rss_ok = after_rss <= base_rss * 1.10
    p95_ok = attack_p95 <= 2 * max(base_p95, P95_FLOOR_MS)
    print(f"\n  RSS after within 10 % of baseline: {'PASS' if rss_ok else 'FAIL'}")
    print(
        f"  bystander p95 within 2x baseline ({P95_FLOOR_MS:.0f} ms floor): "
        f"{'PASS' if p95_ok else 'FAIL'}"
    )
    group.remove_workdir()
    return 0 if rss_ok and p95_ok else 1


if __name__ == "__main__":
    sys.exit(main())
