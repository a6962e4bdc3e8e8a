"""Added latency of moderation on a live server: p99 of the moderation core per message.

Starts an embedded `harbor serve` on a free port, sends every message of the dev set (or
--messages FILE of JSON lines with "text") from many connections (each within the default rate
limit), then reads the `harbor_moderation_seconds` histogram from /metrics and prints the count,
mean and the bucket bound that holds the 50th/99th percentile.

    python bench/moderation_live.py [--dev-set ../shared/moderation/dev-set.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DEV_SET = REPO.parent / "shared" / "moderation" / "dev-set.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


async def send_all(port: int, messages: list[str], per_connection: int) -> None:
    async def one(batch: list[str], index: int) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send(json.dumps({"type": "hello"}))
            await ws.send(json.dumps({"type": "join", "room": "newcomers"}))
            for n, text in enumerate(batch):
                frame = {"type": "send", "room": "newcomers", "text": text, "client_id": str(n)}
                await ws.send(json.dumps(frame))
            acked = 0
            while acked < len(batch):
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if reply.get("type") == "ack" or (
                    reply.get("type") == "error" and "client_id" in reply
                ):
                    acked += 1

    batches = [messages[i : i + per_connection] for i in range(0, len(messages), per_connection)]
    await asyncio.gather(*(one(batch, i) for i, batch in enumerate(batches)))


def histogram(metrics: str, name: str) -> tuple[list[tuple[float, float]], float, float]:
    buckets, total, count = [], 0.0, 0.0
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append(
                (float("inf") if bound == "+Inf" else float(bound), float(line.split()[-1]))
            )
        elif line.startswith(f"{name}_sum "):
            total = float(line.split()[-1])
        elif line.startswith(f"{name}_count "):
            count = float(line.split()[-1])
    return buckets, total, count


def quantile_bound(buckets: list[tuple[float, float]], count: float, q: float) -> float:
    for bound, cumulative in buckets:
        if cumulative >= q * count:
            return bound
    return float("inf")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--dev-set", type=Path, default=Path(os.environ.get("HARBOR_DEV_SET", DEFAULT_DEV_SET))
    )
    args = parser.parse_args()
    messages = texts(args.dev_set)
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "HARBOR_DATA_DIR": data, "PORT": str(port)}
        env.pop("REDIS_URL", None)
        server = subprocess.Popen([sys.executable, "-m", "server", "serve"], cwd=REPO, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            asyncio.run(send_all(port, messages, per_connection=5))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                metrics = r.read().decode()
        finally:
            server.terminate()
            server.wait(10)
    buckets, total, count = histogram(metrics, "harbor_moderation_seconds")
    print(f"messages moderated on the live server: {int(count)}")
    print("buckets (le, cumulative):", [(b, int(c)) for b, c in buckets])
    print(f"mean: {total / count * 1e6:.0f} us")
    print(f"p50 <= {quantile_bound(buckets, count, 0.50) * 1e6:.0f} us (histogram bucket bound)")
    p99 = quantile_bound(buckets, count, 0.99)
    print(f"p99 <= {p99 * 1e6:.0f} us (histogram bucket bound); target p99 < 1000 us: "
          f"{'ok' if p99 <= 0.001 else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
