"""Load driver process: ``python -m bench.driver '<json config>'`` runs one scenario.

It is a separate process (uvloop + picows) so its CPU is measured like the servers' and the
orchestrator's bookkeeping never competes with the receive path. Results go to stdout as JSON
lines (one per step); progress and errors go to stderr. Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import random
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from time import monotonic, monotonic_ns
from typing import Any

import uvloop

from bench.adapters import ADAPTERS, Adapter
from bench.client import Member, Recorder, connect_many, connect_member
from bench.procs import raise_nofile_limit
from bench.stats import CpuSampler, percentiles

WORKERS = ("w1", "w2")
FILLER = "the quick brown fox jumps over the lazy dog " * 60


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    print(f"[driver {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Ctx:
    """What every scenario gets: the adapter, the two worker ports and the CPU sampler."""

    cfg: dict[str, Any]
    adapter: Adapter
    ports: list[int]
    sampler: CpuSampler
    recorder: Recorder

    def text(self, step: int, pub: int, seq: int, length: int) -> str:
        head = f"bench|{step}|{pub}|{seq}|{monotonic_ns()}|"
        return head + FILLER[: max(0, length - len(head))]

    def metrics(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for port in self.ports:
            for k, v in self.adapter.metrics(port).items():
                total[k] = total.get(k, 0.0) + v
        return total

    async def settle(self, max_s: float = 20.0) -> float:
        """Wait (bounded) until both workers are quiet: joins and presence storms are over."""
        start = monotonic()
        prev = self.sampler.snapshot()
        while monotonic() - start < max_s:
            await asyncio.sleep(0.5)
            cur = self.sampler.snapshot()
            wall, cpu = CpuSampler.delta(prev, cur)
            prev = cur
            if max(cpu[w] for w in WORKERS) / wall < 0.05:
                break
        gc.collect()
        gc.freeze()  # connections are long-lived: keep them out of every later GC pass
        return monotonic() - start


async def publish_paced(
    ctx: Ctx,
    publishers: Sequence[Member],
    pub_ids: Sequence[int],
    rooms: Sequence[str],
    seqs: list[int],
    rate: float,
    duration: float,
    step: int,
    text_len: int,
) -> int:
    """Send `rate`×`duration` messages on an absolute schedule, round-robin over publishers."""
    total = int(rate * duration)
    start = monotonic()
    n_pub = len(publishers)
    sent = 0
    for i in range(total):
        delay = start + i / rate - monotonic()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        k = i % n_pub
        member = publishers[k]
        if member.disconnected:
            continue
        pub = pub_ids[k]
        seqs[pub] += 1
        ctx.adapter.publish(member, rooms[k], ctx.text(step, pub, seqs[pub], text_len))
        sent += 1
        if i % 64 == 63:
            await asyncio.sleep(0)  # let receives interleave with a catch-up burst
    return sent


async def drain(
    ctx: Ctx, step: int, expected: int, quiet_s: float = 5.0, max_s: float = 20.0
) -> None:
    """Wait until every expected delivery arrived, or nothing new for `quiet_s` (bounded)."""
    st = ctx.recorder.step(step)
    start = last_change = monotonic()
    seen = -1
    while monotonic() - start < max_s:
        if st.received >= expected:
            return
        if st.received != seen:
            seen = st.received
            last_change = monotonic()
        elif monotonic() - last_change > quiet_s:
            return
        await asyncio.sleep(0.01)


async def fanout_step(
    ctx: Ctx,
    step: int,
    rate: float,
    duration: float,
    publishers: Sequence[Member],
    receivers: int,
    seqs: list[int],
    room: str,
    text_len: int,
    members: Sequence[Member] = (),
    keep_latencies: array[int] | None = None,
    window_s: float = 0.0,
) -> dict[str, Any]:
    """One ladder step: pace, drain, then the figures the issue asks for.

    ``keep_latencies`` collects the step's latencies before they are freed, so phases can be
    pooled; ``window_s`` adds the p99 of each window of that many seconds of send time, which
    shows *when* in a long step the tail happened (a slow member's stall, a drift of the VM).
    """
    ctx.recorder.step(step).keep_sent = window_s > 0
    acks0 = sum(m.acks for m in publishers)
    rl0 = sum(m.rate_limited for m in publishers)
    err0 = sum(m.errors for m in publishers)
    codes0 = error_codes(publishers)
    m0 = ctx.metrics()
    snap0 = ctx.sampler.snapshot()
    t0 = monotonic_ns()
    pub_ids = list(range(len(publishers)))
    sent = await publish_paced(
        ctx, publishers, pub_ids, [room] * len(publishers), seqs, rate, duration, step, text_len
    )
    send_s = (monotonic_ns() - t0) / 1e9
    expected = sent * receivers
    await drain(ctx, step, expected)
    snap1 = ctx.sampler.snapshot()
    if m0 and ctx.adapter.metrics_lag_s:
        await asyncio.sleep(ctx.adapter.metrics_lag_s)
    m1 = ctx.metrics()
    st = ctx.recorder.step(step)
    wall, cpu = CpuSampler.delta(snap0, snap1)
    p50, p95, p99, pmax = percentiles(st.lat_us, (50, 95, 99, 100))
    span = max(1e-9, (st.last_ns - t0) / 1e9) if st.received else wall
    server_cpu = cpu["w1"] + cpu["w2"]
    rec: dict[str, Any] = {
        "rate": rate,
        "sent": sent,
        "send_rate": round(sent / send_s, 1),
        "expected": expected,
        "received": st.received,
        "lost": max(0, expected - st.received),
        "loss_pct": round(100 * max(0, expected - st.received) / max(1, expected), 4),
        "dup": st.dups,
        "order_gaps": st.gaps,
        "deliveries_per_s": round(st.received / span),
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": pmax,
        "server_cpu_us_per_delivery": round(1e6 * server_cpu / max(1, st.received), 2),
        "cpu_pct": CpuSampler.percent(wall, cpu),
        "acks": sum(m.acks for m in publishers) - acks0,
        "rate_limited": sum(m.rate_limited for m in publishers) - rl0,
        "errors": sum(m.errors for m in publishers) - err0,
        "error_codes": {
            k: v - codes0.get(k, 0)
            for k, v in error_codes(publishers).items()
            if v > codes0.get(k, 0)
        },
        "disconnected": sum(m.disconnected for m in members),
        "close_codes": sorted({m.close_code for m in members if m.close_code is not None}),
    }
    if window_s > 0:
        rec["p99_ms_by_window"] = windowed_p99(st.lat_us, st.sent_ns, t0, window_s)
        rec["window_s"] = window_s
    if m1 and m0:
        fan_key, enc_key = "harbor_fanout_messages_total", "harbor_frames_encoded_total"
        fanned = m1.get(fan_key, 0) - m0.get(fan_key, 0)
        encoded = m1.get(enc_key, 0) - m0.get(enc_key, 0)
        rec["frames_encoded"] = encoded
        rec["fanout_messages"] = fanned
        if fanned > 0:  # 0 means /metrics did not move: report nothing rather than 0
            rec["encodes_per_published"] = round(encoded / max(1, sent), 3)
            rec["encodes_per_fanout"] = round(encoded / fanned, 3)
    if keep_latencies is not None:
        keep_latencies.extend(st.lat_us)
    del st.lat_us[:]  # free the step's latencies before the next, heavier step
    del st.sent_ns[:]
    return rec


def windowed_p99(
    lat_us: Sequence[int], sent_ns: Sequence[int], t0_ns: int, window_s: float
) -> list[float]:
    """p99 (ms) of the deliveries sent in each ``window_s`` window after ``t0_ns``."""
    windows: dict[int, list[int]] = {}
    width = int(window_s * 1e9)
    for lat, sent in zip(lat_us, sent_ns, strict=True):
        windows.setdefault(max(0, sent - t0_ns) // width, []).append(lat)
    return [percentiles(windows.get(i, []), (99,))[0] for i in range(max(windows, default=-1) + 1)]


def error_codes(members: Sequence[Member]) -> dict[str, int]:
    """Error frames by code (Harbor: e.g. ``unavailable`` when Redis publish fails)."""
    out: dict[str, int] = {}
    for m in members:
        for k, v in m.error_codes.items():
            out[k] = out.get(k, 0) + v
    return out


def fanout_members(ctx: Ctx, n: int) -> list[tuple[int, str]]:
    """Member i goes to worker i % 2, so the room is split evenly over both workers."""
    return [(ctx.ports[i % 2], ctx.cfg["fanout_room"]) for i in range(n)]


def fanout_publishers(ctx: Ctx, members: list[Member]) -> list[Member]:
    """Enough publishers on worker 1 that none exceeds `publisher_rate` at the top step."""
    n_pub = math.ceil(max(ctx.cfg["rates"]) / ctx.cfg["publisher_rate"])
    on_w1 = members[0::2]
    if n_pub > len(on_w1):
        raise ValueError(f"{n_pub} publishers needed but only {len(on_w1)} members on worker 1")
    return on_w1[:n_pub]


async def scenario_fanout(ctx: Ctx) -> None:
    cfg = ctx.cfg
    n = cfg["members"]
    members = await connect_many(ctx.adapter, ctx.recorder, fanout_members(ctx, n))
    publishers = fanout_publishers(ctx, members)
    log(f"{n} members joined, {len(publishers)} publishers; settled in {await ctx.settle():.1f}s")
    seqs = [0] * len(publishers)
    for step, rate in enumerate(cfg["rates"]):
        rec = await fanout_step(
            ctx,
            step,
            rate,
            cfg["step_s"],
            publishers,
            n,
            seqs,
            cfg["fanout_room"],
            cfg["text_len"],
            members,
        )
        rec.update(kind="fanout", step=step, members=n, publishers=len(publishers))
        emit(rec)
        log(f"rate {rate}: {rec['deliveries_per_s']}/s p99 {rec['p99_ms']}ms lost {rec['lost']}")
        if rec["loss_pct"] > 0.1 or rec["p99_ms"] > 1000:
            break
        await ctx.settle(10)
    for m in members:
        m.close()


async def scenario_rooms(ctx: Ctx) -> None:
    cfg = ctx.cfg
    n, size = cfg["rooms_clients"], cfg["room_size"]
    rooms = [f"r{i // size:03d}" for i in range(n)]
    members = await connect_many(
        ctx.adapter, ctx.recorder, [(ctx.ports[i % 2], rooms[i]) for i in range(n)]
    )
    log(f"{n} clients in rooms of {size}; settled in {await ctx.settle():.1f}s")
    seqs = [0] * n
    snap0 = ctx.sampler.snapshot()
    t0 = monotonic_ns()
    rate = n * cfg["rooms_msg_per_s"]
    sent = await publish_paced(
        ctx, members, list(range(n)), rooms, seqs, rate, cfg["rooms_s"], 0, cfg["text_len"]
    )
    await drain(ctx, 0, sent * size)
    wall, cpu = CpuSampler.delta(snap0, ctx.sampler.snapshot())
    st = ctx.recorder.step(0)
    p50, p95, p99, pmax = percentiles(st.lat_us, (50, 95, 99, 100))
    span = max(1e-9, (st.last_ns - t0) / 1e9)
    server_cpu = cpu["w1"] + cpu["w2"]
    emit(
        {
            "kind": "rooms",
            "clients": n,
            "room_size": size,
            "sent": sent,
            "expected": sent * size,
            "received": st.received,
            "lost": max(0, sent * size - st.received),
            "dup": st.dups,
            "order_gaps": st.gaps,
            "deliveries_per_s": round(st.received / span),
            "p50_ms": p50,
            "p95_ms": p95,
            "p99_ms": p99,
            "max_ms": pmax,
            "server_cpu_us_per_delivery": round(1e6 * server_cpu / max(1, st.received), 2),
            "cpu_pct": CpuSampler.percent(wall, cpu),
            "rate_limited": sum(m.rate_limited for m in members),
            "errors": sum(m.errors for m in members),
            "error_codes": error_codes(members),
            "disconnected": sum(m.disconnected for m in members),
            "close_codes": sorted({m.close_code for m in members if m.close_code is not None}),
        }
    )
    for m in members:
        m.close()


async def scenario_idle(ctx: Ctx) -> None:
    cfg = ctx.cfg
    await ctx.settle()
    base = ctx.sampler.rss(WORKERS)
    members: list[Member] = []
    for total in cfg["idle_counts"]:
        start = len(members)
        targets = [(ctx.ports[i % 2], f"r{i % 100:03d}") for i in range(start, total)]
        t0 = monotonic()
        members += await connect_many(ctx.adapter, ctx.recorder, targets, concurrency=200)
        connect_s = monotonic() - t0
        await ctx.settle()
        snap0 = ctx.sampler.snapshot()
        await asyncio.sleep(cfg["idle_hold_s"])  # hold: pings/pongs run, nothing else should
        wall, cpu = CpuSampler.delta(snap0, ctx.sampler.snapshot())
        rss = ctx.sampler.rss(WORKERS)
        per_worker = total / 2
        emit(
            {
                "kind": "idle",
                "connections": total,
                "alive": sum(not m.disconnected for m in members),
                "connect_s": round(connect_s, 1),
                "hold_s": cfg["idle_hold_s"],
                "rss_before_kb": base,
                "rss_after_kb": rss,
                "kb_per_conn": {w: round((rss[w] - base[w]) / per_worker, 2) for w in WORKERS},
                "kb_per_conn_avg": round(sum(rss[w] - base[w] for w in WORKERS) / total, 2),
                "idle_cpu_pct": CpuSampler.percent(wall, cpu),
            }
        )
        log(f"{total} idle: {rss} KB (base {base})")
    for m in members:
        m.close()


SLOW_CLOSED = "harbor_slow_members_dropped_total"


async def scenario_slow(ctx: Ctx) -> None:
    """The same fan-out step before, during and after one member stops reading.

    The baseline is split around the slow phase (half before, half after, pooled into one
    p99 as long as the slow phase): this VM's core speed drifts within minutes, and a baseline
    taken only before would charge such a drift to the slow member.
    """
    cfg = ctx.cfg
    n = cfg["members"]
    members = await connect_many(ctx.adapter, ctx.recorder, fanout_members(ctx, n))
    publishers = fanout_publishers(ctx, members)
    await ctx.settle()
    seqs = [0] * len(publishers)
    rate, hold, tlen = cfg["slow_rate"], cfg["slow_hold_s"], cfg["slow_text_len"]
    window = cfg["slow_window_s"]
    room = cfg["fanout_room"]
    pooled: array[int] = array("q")
    half = cfg["slow_base_s"] / 2
    base = await fanout_step(
        ctx, 0, rate, half, publishers, n, seqs, room, tlen, keep_latencies=pooled
    )
    base.update(kind="slow", phase="baseline", step=0, members=n, text_len=tlen)
    emit(base)
    if base["loss_pct"] > 1 or base["p99_ms"] > 5000:  # saturated: no comparison possible
        log("baseline step not held: a slow member's effect could not be told apart; skipped")
        emit({"kind": "slow", "phase": "skipped", "members": n, "rate": rate})
        return
    await ctx.settle(10)
    slow = members[-1]  # on worker 2, not a publisher: only fan-out reaches it
    assert slow not in publishers
    slow.counting = False
    closed_before = ctx.metrics().get(SLOW_CLOSED)
    rss_before = ctx.sampler.rss(WORKERS)
    slow.pause_reading()
    peak = dict(rss_before)
    stop = asyncio.Event()

    async def watch_rss() -> None:
        while not stop.is_set():
            for w, v in ctx.sampler.rss(WORKERS).items():
                peak[w] = max(peak[w], v)
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch_rss())
    # Long: the kernel alone buffers ~4 MB for a non-reading peer (tcp_wmem autotuning)
    # before a server that leaves it to autotuning exercises its own outbox policy at all.
    rec = await fanout_step(
        ctx, 1, rate, hold, publishers, n - 1, seqs, room, tlen, window_s=window
    )
    rss_during_end = ctx.sampler.rss(WORKERS)
    slow.resume_reading()
    start = monotonic()
    seen = -1
    while monotonic() - start < 10 and not slow.disconnected:  # bounded drain of the slow member
        if slow.private == seen:
            break
        seen = slow.private
        await asyncio.sleep(1.0)
    await ctx.settle(10)
    stop.set()
    await watcher
    closed_after = ctx.metrics().get(SLOW_CLOSED)
    slow_received = slow.private  # before the phase after, which it may go on receiving
    after = await fanout_step(
        ctx, 2, rate, half, publishers, n - 1, seqs, room, tlen, keep_latencies=pooled
    )
    after.update(kind="slow", phase="baseline after", step=2, members=n, text_len=tlen)
    (pooled_p99,) = percentiles(pooled, (99,))
    rec.update(
        kind="slow",
        phase="slow member",
        step=1,
        members=n,
        text_len=tlen,
        rss_before_kb=rss_before,
        rss_peak_kb=peak,
        rss_end_of_step_kb=rss_during_end,
        rss_after_kb=ctx.sampler.rss(WORKERS),
        slow_received=slow_received,
        slow_expected=rec["sent"],
        slow_mb_offered=round(rec["sent"] * tlen / 1e6, 2),
        slow_disconnected=slow.disconnected,
        slow_close_code=slow.close_code,
        # The server's own count (Harbor): a member closed as slow whose close frame sat behind
        # its backlog never sees it; its connection is cut once the flush timeout passes.
        server_closed_slow=None
        if closed_before is None or closed_after is None
        else int(closed_after - closed_before),
        baseline_p99_ms=pooled_p99,
        p99_vs_baseline=round(rec["p99_ms"] / max(0.001, pooled_p99), 2),
    )
    emit(rec)
    emit(after)
    for m in members:
        m.close()


def _reason(exc: BaseException) -> str:
    """A short, groupable failure reason ('refused', a server error code, ...)."""
    text = repr(exc.__cause__ or exc)
    for key in ("ConnectionRefused", "unavailable", "Timeout", "internal", "reset", "1011"):
        if key.lower() in text.lower():
            return key
    return type(exc.__cause__ or exc).__name__


async def comeback(
    ctx: Ctx, member: Member, room: str, deadline: float, failures: dict[str, int]
) -> tuple[float, int, Member | None]:
    """Wait for the drop, then reconnect and rejoin with capped, jittered exponential backoff
    (what docs/protocol.md asks of clients). Returns (outage seconds, attempts, new member)."""
    await member.gone.wait()
    attempt = 0
    while monotonic() < deadline:
        attempt += 1
        try:
            new = await connect_member(
                ctx.adapter, ctx.recorder, ctx.ports[0], room, attempts=1, session=member.session
            )
            return monotonic() - member.disconnected_at, attempt, new
        except Exception as exc:  # counted by kind, retried until the deadline
            reason = _reason(exc)
            failures[reason] = failures.get(reason, 0) + 1
            await asyncio.sleep(random.uniform(0, min(2.0, 0.1 * 2**attempt)))
    return monotonic() - member.disconnected_at, attempt, None


async def scenario_storm(ctx: Ctx) -> None:
    """Reconnect storm: N clients on worker 1, worker 1 restarted, time until all are back."""
    n = ctx.cfg["storm_clients"]
    rooms = [f"r{i % 100:03d}" for i in range(n)]
    members = await connect_many(ctx.adapter, ctx.recorder, [(ctx.ports[0], r) for r in rooms])
    await ctx.settle()
    t0 = monotonic()
    deadline = t0 + 120
    failures: dict[str, int] = {}
    back = [
        asyncio.create_task(comeback(ctx, m, r, deadline, failures))
        for m, r in zip(members, rooms, strict=True)
    ]
    emit({"kind": "control", "action": "restart", "worker": 0})
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    restart = json.loads(line)
    results = await asyncio.gather(*back)
    outages = [int(o * 1e6) for o, _, new in results if new is not None]
    first_drop = min(m.disconnected_at for m in members)
    last_back = max(
        (m.disconnected_at + o for m, (o, _, new) in zip(members, results, strict=True) if new),
        default=0.0,
    )
    p50, p99, pmax = percentiles(outages, (50, 99, 100))
    emit(
        {
            "kind": "storm",
            "clients": n,
            "back": len(outages),
            # Harbor: comebacks whose `joined` said recovered (resumed from `since`, nothing
            # missed); peers without resume report None.
            "resumed": sum(1 for _, _, new in results if new and new.session.get("recovered"))
            if ctx.adapter.name == "harbor"
            else None,
            "not_back": n - len(outages),
            "close_codes": sorted({m.close_code for m in members if m.close_code is not None}),
            "dropped_after_s": round(first_drop - t0, 3),
            "all_back_s": round(last_back - first_drop, 3) if last_back else None,
            "outage_p50_s": round(p50 / 1000, 3),
            "outage_p99_s": round(p99 / 1000, 3),
            "outage_max_s": round(pmax / 1000, 3),
            "attempts": sum(a for _, a, _ in results),
            "failed_attempts": failures,
            "restart_stop_s": restart["stop_s"],
            "restart_ready_s": restart["ready_s"],
        }
    )
    for _, _, new in results:
        if new is not None:
            new.close()


SCENARIOS = {
    "fanout": scenario_fanout,
    "rooms": scenario_rooms,
    "idle": scenario_idle,
    "slow": scenario_slow,
    "storm": scenario_storm,
}


async def main(cfg: dict[str, Any]) -> None:
    ctx = Ctx(
        cfg=cfg,
        adapter=ADAPTERS[cfg["peer"]],
        ports=cfg["ports"],
        sampler=CpuSampler(dict(cfg["pids"])),
        recorder=Recorder(),
    )
    async with asyncio.timeout(cfg.get("timeout_s", 900)):
        await SCENARIOS[cfg["scenario"]](ctx)
    await asyncio.sleep(0.2)  # let close frames leave before the loop stops


if __name__ == "__main__":
    raise_nofile_limit()
    uvloop.run(main(json.loads(sys.argv[1])))
