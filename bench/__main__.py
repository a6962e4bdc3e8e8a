"""``python -m bench``: Harbor vs. python-socketio vs. the floor peer, in one run.

Starts a private redis-server, then for every peer and scenario: 2 fresh workers on 2 ports,
one driver process, JSON lines back. Everything started is stopped by PID in a ``finally``,
including on Ctrl-C. Prints a table and JSON lines (also bench/results/latest.jsonl) and, on
full runs, redraws docs/performance-fanout.svg and the table in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench.cluster_shards import measure_acks, run_shards
from bench.procs import ProcessGroup, raise_nofile_limit, redis_command, start_redis
from bench.report import render_tables, update_docs, write_svg
from bench.servers import (
    BASELINE_ENV,
    FANOUT_ROOM,
    REPO,
    Workers,
    restart_worker,
    start_workers,
)
from bench.stats import machine_busy_seconds

PEERS = ("harbor", "floor", "socketio")
SCENARIOS = ("fanout", "rooms", "idle", "slow", "storm", "shards")
# Run for Harbor alone, on clusters of its own (bench/cluster_shards.py).
CLUSTER_SCENARIOS = ("shards",)
RESULTS = REPO / "bench" / "results"


def scenario_config(args: argparse.Namespace) -> dict[str, Any]:
    """Scenario parameters shared by all peers (quick mode only shortens durations/counts)."""
    quick = args.quick
    return {
        "members": args.members,
        "rates": args.rates or [10, 20, 50, 100, 200, 400],
        "step_s": 2.0 if quick else 10.0,
        "publisher_rate": 1.5,  # per connection, below Harbor's default 20 per 10 s
        "fanout_room": FANOUT_ROOM,
        "text_len": 80,
        "rooms_clients": 1000,
        "room_size": 10,
        "rooms_msg_per_s": 1.0,
        "rooms_s": 3.0 if quick else 10.0,
        "idle_counts": [1000, 2000] if quick else [5000, 10000],
        "idle_hold_s": 1.0 if quick else 25.0,  # one server ping interval (20-25 s)
        "slow_rate": 50,
        # Baseline as long as the slow phase (half before, half after): a p99 is compared over
        # windows of equal length.
        "slow_base_s": 5.0 if quick else 60.0,
        "slow_window_s": 1.0 if quick else 5.0,
        "slow_hold_s": 5.0 if quick else 60.0,  # 6 MB to the slow member: past kernel buffers
        "slow_text_len": args.slow_text_len,
        "storm_clients": 1000 if quick else 5000,
        "timeout_s": 900,
    }


def run_driver(
    group: ProcessGroup,
    workers: Workers,
    scenario: str,
    cfg: dict[str, Any],
    redis_pid: int,
) -> list[dict[str, Any]]:
    """One driver process for one scenario; its stdout JSON lines are the results.

    A line of kind ``control`` is a request (restart a worker, for the reconnect storm); the
    answer goes back as one JSON line on the driver's stdin.
    """
    pids = {"w1": workers.pids[0], "w2": workers.pids[1], "redis": redis_pid}
    full = {**cfg, "peer": workers.peer, "scenario": scenario, "ports": workers.ports}
    full["pids"] = pids
    argv = [sys.executable, "-m", "bench.driver", json.dumps(full)]
    label = f"driver-{workers.peer}-{scenario}"
    driver = group.spawn(label, argv, 0, cwd=str(REPO), pipe_stdout=True)
    records: list[dict[str, Any]] = []
    assert driver.proc.stdout is not None and driver.proc.stdin is not None
    deadline = time.monotonic() + cfg["timeout_s"] + 60
    try:
        for line in driver.proc.stdout:
            rec = json.loads(line)
            if rec.get("kind") == "control":
                answer = restart_worker(group, workers, int(rec["worker"]))
                driver.proc.stdin.write((json.dumps(answer) + "\n").encode())
                driver.proc.stdin.flush()
                continue
            records.append(rec)
            if time.monotonic() > deadline:
                break
        rc = driver.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        group.stop([driver])
    if rc != 0:
        print(f"!! driver for {workers.peer}/{scenario} exited with {rc}", file=sys.stderr)
    return records


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    cfg = scenario_config(args)
    group = ProcessGroup()
    results: list[dict[str, Any]] = []
    run_id = time.strftime("%Y%m%dT%H%M%S")
    failures = 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = (RESULTS / "latest.jsonl").open("w")
    try:
        redis = start_redis(group)
        for scenario in args.scenarios:
            if scenario in CLUSTER_SCENARIOS:
                print(f"== harbor / {scenario} (Redis Cluster)", file=sys.stderr, flush=True)
                records = run_shards(group, cfg, run_driver) + measure_acks(group)
                failures += not records
                for rec in records:
                    rec.update(run=run_id, peer="harbor", scenario=scenario, quick=args.quick)
                    out.write(json.dumps(rec) + "\n")
                results += records
                continue
            for peer in args.peers:
                redis_command(redis.port, "FLUSHALL")
                print(f"== {peer} / {scenario}", file=sys.stderr, flush=True)
                try:
                    workers = start_workers(group, peer, redis.port)
                except RuntimeError as exc:
                    print(f"!! {exc}", file=sys.stderr)
                    failures += 1
                    continue
                try:
                    records = run_driver(group, workers, scenario, cfg, redis.pid)
                    failures += not records
                finally:
                    group.stop(workers.procs)
                for rec in records:
                    rec.update(run=run_id, peer=peer, scenario=scenario, quick=args.quick)
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                results += records
    except BaseException:
        failures += 1
        raise
    finally:
        out.close()
        group.stop()
        if failures:
            print(f"logs kept in {group.workdir}", file=sys.stderr)
        else:
            group.remove_workdir()
    return results


def _own_cpu() -> float:
    """CPU seconds of this process and every child it reaped (workers, drivers, redis)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--peers", default=",".join(PEERS), help="comma list of " + "|".join(PEERS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="|".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="short steps: a smoke run")
    parser.add_argument("--members", type=int, default=1000, help="fan-out room size")
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=None)
    parser.add_argument(
        "--slow-text-len", type=int, default=2000, help="≤ Harbor's max text (2000 chars)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another commit, run as peer 'baseline' (e.g. --peers"
        " harbor,baseline,harbor,baseline) to compare two versions of Harbor in one run",
    )
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help="don't rewrite docs/ figures (only a full run of every peer and scenario does)",
    )
    args = parser.parse_args()
    args.peers = [p for p in args.peers.split(",") if p]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    if args.baseline is not None:
        os.environ[BASELINE_ENV] = str(args.baseline.resolve())
    for name in args.peers:
        if name not in PEERS and not (name == "baseline" and args.baseline is not None):
            parser.error(f"unknown peer {name}")
    for name in args.scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name}")
    raise_nofile_limit()
    core_before = core_speed_us()
    started = time.monotonic()
    busy0, own0 = machine_busy_seconds(), _own_cpu()
    results = run(args)
    elapsed = time.monotonic() - started
    other = (machine_busy_seconds() - busy0) - (_own_cpu() - own0)
    load = os.getloadavg()
    meta = {
        "other_load_cores_avg": round(max(0.0, other) / elapsed, 2),
        "elapsed_s": round(elapsed),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_end": [round(x, 2) for x in load],
        # A virtual machine's core speed drifts (its host shares it): the same pure-Python loop
        # before and after the run, so absolute figures can be read against it.
        "core_loop_us_before_after": [core_before, core_speed_us()],
        "quick": args.quick,
    }
    print(render_tables(results, meta))
    for rec in results:
        print(json.dumps(rec))
    complete = set(args.peers) == set(PEERS) and set(args.scenarios) == set(SCENARIOS)
    if complete and not args.quick and not args.no_docs:
        svg = write_svg(results, REPO / "docs" / "performance-fanout.svg")
        update_docs(results, meta, REPO / "docs" / "performance.md")
        print(f"wrote {svg.relative_to(REPO)} and docs/performance.md", file=sys.stderr)


def core_speed_us() -> float:
    """CPU microseconds per ``sum(range(1000))``, averaged over 0.1 s of this thread's time
    (bench/moderation_speed.py prints the same loop; ~10 us on a recent desktop core)."""
    loops = 0
    begin = time.thread_time()
    while time.thread_time() - begin < 0.1:
        for _ in range(100):
            sum(range(1000))
        loops += 100
    return round((time.thread_time() - begin) / loops * 1e6, 1)


if __name__ == "__main__":
    main()
