"""Turn the run's JSON records into the printed table, the SVG plot and docs/performance.md.

The SVG is drawn with plain string formatting so the bench needs no plotting dependency.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Rec = dict[str, Any]
COLORS = {"harbor": "#1f77b4", "floor": "#2ca02c", "socketio": "#d62728"}
TITLE = "Fan-out, 1,000 members in one room: p99 latency vs deliveries/s"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _pick(results: Iterable[Rec], **match: Any) -> list[Rec]:
    return [r for r in results if all(r.get(k) == v for k, v in match.items())]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _dash(v: Any) -> Any:
    return "-" if v is None else v


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = [head, ["---"] * len(head), *[[_fmt(c) for c in r] for r in rows]]
    return "\n".join("| " + " | ".join(r) + " |" for r in cells)


def _passes(r: Rec) -> bool:
    return bool(r["loss_pct"] <= 0.1 and r["p99_ms"] <= 1000)


def close_text(r: Rec) -> str:
    """How the slow member ended: a close frame's code, or a dropped TCP connection, and
    whether the server says it closed it for falling behind."""
    if r["slow_close_code"] is not None:
        seen = f"closed, code {r['slow_close_code']}"
    elif r["slow_disconnected"]:
        seen = "dropped, no close frame (1006)"
    else:
        seen = "not disconnected"
    if r.get("server_closed_slow"):
        return f"server closed it as slow; client saw: {seen}"
    return seen


def summary(results: list[Rec]) -> dict[str, dict[str, Any]]:
    """Key figures per peer: the ones the issue's targets are stated in."""
    out: dict[str, dict[str, Any]] = {}
    for peer in COLORS:
        fan = _pick(results, peer=peer, kind="fanout")
        s: dict[str, Any] = {}
        if fan:
            at50 = [r for r in fan if r["rate"] == 50]
            if at50:
                s["cpu_us_50"] = at50[0]["server_cpu_us_per_delivery"]
                s["p99_50"] = at50[0]["p99_ms"]
                s["loss_50"] = at50[0]["loss_pct"]
            s["peak"] = max(r["deliveries_per_s"] for r in fan)
            s["cpu_us_min"] = min(r["server_cpu_us_per_delivery"] for r in fan)
            ok = [r for r in fan if _passes(r)]
            s["sustained"] = max((r["deliveries_per_s"] for r in ok), default=0)
            enc = [r["encodes_per_fanout"] for r in fan if "encodes_per_fanout" in r]
            if enc:
                s["encodes"] = max(enc)
            s["rate_limited"] = sum(r.get("rate_limited", 0) for r in fan)
        idle = _pick(results, peer=peer, kind="idle")
        if idle:
            top = max(idle, key=lambda r: r["connections"])
            s["idle_kb"] = top["kb_per_conn_avg"]
            s["idle_conns"] = top["connections"]
            s["idle_alive"] = top["alive"]
        rooms = _pick(results, peer=peer, kind="rooms")
        if rooms:
            s["rooms_p50"] = rooms[0]["p50_ms"]
            s["rooms_p99"] = rooms[0]["p99_ms"]
            s["rooms_lost"] = rooms[0]["lost"]
        storms = _pick(results, peer=peer, kind="storm")
        if storms:
            s["storm"] = storms[0]
        phases = {r["phase"]: r for r in _pick(results, peer=peer, kind="slow")}
        if "baseline" in phases and "slow member" in phases:
            base, sl = phases["baseline"], phases["slow member"]
            s["slow_p99"] = (sl.get("baseline_p99_ms", base["p99_ms"]), sl["p99_ms"])
            growth = {w: sl["rss_peak_kb"][w] - sl["rss_before_kb"][w] for w in sl["rss_peak_kb"]}
            s["slow_rss_growth_kb"] = max(growth.values())
            s["slow_loss"] = sl["loss_pct"]
            s["slow_closed"] = close_text(sl)
        if s:
            out[peer] = s
    return out


CPU_HEAD = "CPU % w1/w2/redis/driver/other"


def _cpu(r: Rec) -> str:
    """Per-process CPU % of the step, so each figure says which process limited it."""
    keys = ("w1", "w2", "redis", "driver", "other")
    return "/".join(_fmt(r["cpu_pct"].get(k, 0)) for k in keys)


def _errs(r: Rec) -> str:
    codes = r.get("error_codes") or {}
    return ", ".join(f"{v} {k}" for k, v in codes.items()) if codes else "0"


def _section(title: str, head: list[str], rows: list[list[Any]]) -> list[str]:
    return [f"### {title}", "", _table(head, rows), ""] if rows else []


def render_tables(results: list[Rec], meta: dict[str, Any]) -> str:
    """Markdown tables (printed, and pasted into docs/performance.md by full runs)."""
    parts: list[str] = []
    fan = _pick(results, kind="fanout")
    parts += _section(
        "Fan-out: 1,000 members in one room, ladder of publish rates",
        ["peer", "msg/s", "deliv/s", "loss %", "dup", "p50 ms", "p95 ms", "p99 ms", "max ms"]
        + ["µs CPU/deliv", CPU_HEAD, "enc/msg", "rate-lim", "errors", "disc"],
        [
            [r["peer"], r["rate"], r["deliveries_per_s"], r["loss_pct"], r["dup"], r["p50_ms"]]
            + [r["p95_ms"], r["p99_ms"], r["max_ms"], r["server_cpu_us_per_delivery"], _cpu(r)]
            + [r.get("encodes_per_fanout", "-"), r.get("rate_limited", 0), _errs(r)]
            + [r.get("disconnected", 0)]
            for r in fan
        ],
    )
    parts += _section(
        "Rooms of 10: 1,000 clients, 1 msg/s each (10,000 deliveries/s offered)",
        ["peer", "deliv/s", "lost", "dup", "p50 ms", "p95 ms", "p99 ms", "max ms"]
        + ["µs CPU/deliv", CPU_HEAD, "rate-lim", "errors"],
        [
            [r["peer"], r["deliveries_per_s"], r["lost"], r["dup"], r["p50_ms"], r["p95_ms"]]
            + [r["p99_ms"], r["max_ms"], r["server_cpu_us_per_delivery"], _cpu(r)]
            + [r.get("rate_limited", 0), _errs(r)]
            for r in _pick(results, kind="rooms")
        ],
    )
    parts += _section(
        "Rooms of 10 on a Redis Cluster: Redis CPU per shard (INFO CPU, over the driver's run)",
        ["shards", "WAIT ms", "deliv/s", "lost", "p50 ms", "p99 ms", "CPU % per shard"]
        + ["busiest shard %", "all shards %"],
        [
            [r["shards"], r["replica_ack_timeout_ms"], r["deliveries_per_s"], r["lost"]]
            + [r["p50_ms"], r["p99_ms"], " / ".join(str(p) for p in r["shard_cpu_pct"])]
            + [r["max_shard_cpu_pct"], r["all_shards_cpu_pct"]]
            for r in _pick(results, kind="shards")
        ],
    )
    parts += _section(
        "What waiting for a replica adds to an ack (3 shards, publishes one after another)",
        ["WAIT ms", "publishes", "ack p50 ms", "ack p99 ms", "ack max ms", "Redis µs CPU/msg"],
        [
            [r["replica_ack_timeout_ms"], r["publishes"], r["ack_p50_ms"], r["ack_p99_ms"]]
            + [r["ack_max_ms"], r["redis_cpu_us_per_msg"]]
            for r in _pick(results, kind="acks")
        ],
    )
    parts += _section(
        "Idle connections (each joined a room; held with ping/pong running)",
        ["peer", "idle conns", "alive", "RSS before KB w1/w2", "RSS after KB w1/w2"]
        + ["KB/conn", "connect s", "held s", "idle CPU % w1/w2"],
        [
            [r["peer"], r["connections"], r["alive"], _pair(r["rss_before_kb"])]
            + [_pair(r["rss_after_kb"]), r["kb_per_conn_avg"], r["connect_s"], r.get("hold_s")]
            + [_pair(r["idle_cpu_pct"])]
            for r in _pick(results, kind="idle")
        ],
    )
    slow_rows = []
    windows = []
    for r in _pick(results, kind="slow"):
        if r["phase"] == "skipped":
            slow_rows.append([r["peer"], "skipped: baseline saturated"] + ["-"] * 8)
            continue
        mem = ["-", "-", "-", "-"]
        if r["phase"] == "slow member":
            mem = [_pair(r["rss_before_kb"]), _pair(r["rss_peak_kb"]), _pair(r["rss_after_kb"])]
            mem.append(f"{close_text(r)}; got {r['slow_received']:,}/{r['slow_expected']:,}")
        slow_rows.append(
            [r["peer"], r["phase"], r["deliveries_per_s"], r["loss_pct"], r["p50_ms"]]
            + [r["p99_ms"], *mem]
        )
        pooled = _pick(results, kind="slow", peer=r["peer"], phase="slow member")
        if r["phase"] == "baseline after" and pooled and "baseline_p99_ms" in pooled[0]:
            slow_rows.append(
                [r["peer"], "baseline before + after, pooled", "-", "-", "-"]
                + [pooled[0]["baseline_p99_ms"], "-", "-", "-", "-"]
            )
        if "p99_ms_by_window" in r:
            series = ", ".join(_fmt(v) for v in r["p99_ms_by_window"])
            windows.append(f"- {r['peer']}: {series}")
    parts += _section(
        "Slow member: one member stops reading during the 50 msg/s step (2,000-char messages)",
        ["peer", "phase", "deliv/s", "loss %", "p50 ms", "p99 ms", "RSS before KB w1/w2"]
        + ["RSS peak KB", "RSS after KB", "slow member"],
        slow_rows,
    )
    if windows:
        width = _pick(results, kind="slow", phase="slow member")[0]["window_s"]
        parts += [f"p99 ms of each {_fmt(width)} s of the slow phase, in order:", "", *windows, ""]
    parts += _section(
        "Reconnect storm: every client of worker 1 dropped by its restart",
        ["peer", "clients", "back", "resumed", "close codes", "worker down→ready s"]
        + ["all back s", "outage p50 s", "outage p99 s", "connect attempts"]
        + ["failed attempts by reason"],
        [
            [r["peer"], r["clients"], r["back"], _dash(r.get("resumed")), r["close_codes"]]
            + [r["restart_stop_s"] + r["restart_ready_s"], r["all_back_s"]]
            + [r["outage_p50_s"], r["outage_p99_s"], r["attempts"]]
            + [", ".join(f"{v} {k}" for k, v in r.get("failed_attempts", {}).items()) or "0"]
            for r in _pick(results, kind="storm")
        ],
    )
    summ = summary(results)
    rows = [
        [peer, s.get("cpu_us_50", "-"), s.get("p99_50", "-"), s.get("sustained", "-")]
        + [s.get("peak", "-"), s.get("idle_kb", "-"), s.get("rooms_p99", "-")]
        + [s.get("encodes", "-")]
        for peer, s in summ.items()
    ]
    parts += _section(
        "Summary",
        ["peer", "µs CPU/deliv @50", "p99 ms @50", "max sustained deliv/s", "peak deliv/s"]
        + ["KB/idle conn", "rooms p99 ms", "enc/msg"],
        rows,
    )
    parts += targets(summ)
    parts.append("Run: " + ", ".join(f"{k} {v}" for k, v in meta.items()))
    return "\n".join(parts)


def _pair(d: dict[str, Any]) -> str:
    return "/".join(_fmt(d[k]) for k in ("w1", "w2"))


def targets(summ: dict[str, dict[str, Any]]) -> list[str]:
    """The issue's targets for Harbor, each as a ratio against the peers of the same run."""
    h, f, s = summ.get("harbor"), summ.get("floor"), summ.get("socketio")
    if not h:
        return []
    lines = ["### Harbor targets", ""]

    def check(name: str, ok: bool | None, detail: str) -> None:
        mark = "n/a" if ok is None else ("MEETS" if ok else "MISSES")
        lines.append(f"- {mark}: {name} — {detail}")

    cpu = h.get("cpu_us_50")
    if cpu is not None and f and s and "cpu_us_50" in f and "cpu_us_min" in s:
        # socketio rarely holds the 50 msg/s step; its cheapest measured step is the fair bound
        # (CPU per delivery falls as a server saturates and batches).
        s_cpu = s.get("cpu_us_50", s["cpu_us_min"])
        ok = cpu <= 1.15 * f["cpu_us_50"] and cpu <= s_cpu / 4
        check(
            "CPU/delivery @50 msg/s ≤ 1.15× floor and ≤ ¼ socketio",
            ok,
            f"{cpu} µs = {cpu / f['cpu_us_50']:.2f}× floor, "
            f"{cpu / s_cpu:.2f}× socketio ({s_cpu} µs)",
        )
    if "p99_50" in h:
        ok = h["loss_50"] <= 0.1 and h["p99_50"] <= 50
        check(
            "50 msg/s step: loss ≤ 0.1 %, p99 ≤ 50 ms",
            ok,
            f"loss {h['loss_50']} %, p99 {h['p99_50']} ms",
        )
    if f and s and "peak" in h:
        ok = h["peak"] >= 0.9 * f["peak"] and h["peak"] >= 3 * s["peak"]
        check(
            "peak deliveries/s ≥ 0.9× floor and ≥ 3× socketio",
            ok,
            f"{h['peak']:,} = {h['peak'] / f['peak']:.2f}× floor, "
            f"{h['peak'] / max(1, s['peak']):.2f}× socketio",
        )
    if "encodes" in h and h["encodes"] > 0:
        check("one encode per message", h["encodes"] <= 1.0, f"{h['encodes']} frames/message")
    if "idle_kb" in h:
        ok = h["idle_kb"] <= 15 and h["idle_alive"] >= 10000
        check(
            "idle ≤ 15 KB/conn with 10k held by 2 workers",
            ok,
            f"{h['idle_kb']} KB, {h['idle_alive']:,}/{h['idle_conns']:,} alive",
        )
    if "rooms_p99" in h:
        check("rooms of 10 p99 ≤ 10 ms", h["rooms_p99"] <= 10, f"p99 {h['rooms_p99']} ms")
    if "storm" in h:
        st = h["storm"]
        took = st["all_back_s"]
        ok = took is not None and st["back"] == st["clients"] and st["resumed"] == st["clients"]
        check(
            "reconnect storm: all back and resumed in ≤ 10 s",
            ok and took <= 10,
            f"{st['back']:,}/{st['clients']:,} back, {st['resumed']:,} resumed, all back in "
            f"{took} s (worker down→ready {st['restart_stop_s'] + st['restart_ready_s']:.2f} s)",
        )
    if "slow_p99" in h:
        base, slow = h["slow_p99"]
        ok = (
            slow <= max(base * 1.25, base + 10)
            and h["slow_loss"] <= 0.1
            and h["slow_rss_growth_kb"] < 10_240
        )
        check(
            "slow member has no effect",
            ok,
            f"p99 {base} (baseline before + after) → {slow} ms, "
            f"RSS growth {h['slow_rss_growth_kb']} KB, "
            f"slow member {h['slow_closed']}",
        )
    lines.append("")
    return lines


def write_svg(results: list[Rec], path: Path) -> Path:
    """p99 latency (log) against deliveries/s per peer, plus KB per idle connection bars."""
    w, h = 900, 420
    lx, ly, lw, lh = 70, 40, 520, 320  # line plot area
    bx, bw = 670, 200  # bar plot area
    fan = _pick(results, kind="fanout")
    xmax = max([r["deliveries_per_s"] for r in fan] + [1000])
    xmax = 10 ** math.ceil(math.log10(xmax)) if xmax > 0 else 1
    xmax = next(
        v for v in (xmax / 5, xmax / 2, xmax) if v >= max(r["deliveries_per_s"] for r in fan)
    )
    ymin, ymax = 1.0, 100000.0

    def px(x: float) -> float:
        return lx + lw * x / xmax

    def py(y: float) -> float:
        y = min(max(y, ymin), ymax)
        return ly + lh * (
            1 - (math.log10(y) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin))
        )

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{lx}" y="20" font-size="14">{TITLE}</text>',
    ]
    for yv in (1, 10, 100, 1000, 10000, 100000):
        y = py(yv)
        out.append(f'<line x1="{lx}" y1="{y:.1f}" x2="{lx + lw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{lx - 6}" y="{y + 4:.1f}" text-anchor="end">{yv:g}</text>')
    for i in range(6):
        xv = xmax * i / 5
        x = px(xv)
        out.append(f'<line x1="{x:.1f}" y1="{ly}" x2="{x:.1f}" y2="{ly + lh}" stroke="#eee"/>')
        out.append(
            f'<text x="{x:.1f}" y="{ly + lh + 16}" text-anchor="middle">{xv / 1000:g}k</text>'
        )
    out.append(f'<rect x="{lx}" y="{ly}" width="{lw}" height="{lh}" fill="none" stroke="#333"/>')
    out.append(
        f'<text x="{lx + lw / 2}" y="{h - 12}" text-anchor="middle">deliveries/s achieved</text>'
    )
    out.append(
        f'<text x="16" y="{ly + lh / 2}" transform="rotate(-90 16 {ly + lh / 2})" '
        f'text-anchor="middle">p99 ms (log)</text>'
    )
    y1s = py(1000)
    out.append(
        f'<line x1="{lx}" y1="{y1s:.1f}" x2="{lx + lw}" y2="{y1s:.1f}" stroke="#c66" '
        f'stroke-dasharray="2 3"/><text x="{lx + 4}" y="{y1s - 4:.1f}" '
        f'fill="#a44">1 s: ladder stops</text>'
    )
    y50 = py(50)
    out.append(
        f'<line x1="{lx}" y1="{y50:.1f}" x2="{lx + lw}" y2="{y50:.1f}" stroke="#999" '
        f'stroke-dasharray="4 3"/><text x="{lx + lw - 4}" y="{y50 - 4:.1f}" '
        f'text-anchor="end" fill="#666">50 ms</text>'
    )
    for n, (peer, color) in enumerate(COLORS.items()):
        pts = [(px(r["deliveries_per_s"]), py(r["p99_ms"])) for r in fan if r["peer"] == peer]
        if not pts:
            continue
        poly = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{poly}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in pts]
        ty = ly + lh - 52 + 16 * n
        out.append(
            f'<line x1="{lx + lw - 110}" y1="{ty - 4}" x2="{lx + lw - 90}" y2="{ty - 4}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        out.append(f'<text x="{lx + lw - 84}" y="{ty}" fill="{color}">{peer}</text>')
    idle: dict[str, Rec] = {}
    for r in _pick(results, kind="idle"):
        if r["connections"] >= idle.get(r["peer"], {}).get("connections", 0):
            idle[r["peer"]] = r
    out.append(f'<text x="{bx}" y="20" font-size="14">KB per idle connection</text>')
    vmax = max([r["kb_per_conn_avg"] for r in idle.values()] + [1])
    for i, (peer, color) in enumerate(COLORS.items()):
        if peer not in idle:
            continue
        v = idle[peer]["kb_per_conn_avg"]
        bh = lh * v / vmax
        x = bx + 20 + i * 60
        out.append(
            f'<rect x="{x}" y="{ly + lh - bh:.1f}" width="40" height="{bh:.1f}" fill="{color}"/>'
        )
        out.append(
            f'<text x="{x + 20}" y="{ly + lh - bh - 4:.1f}" text-anchor="middle">{v:.1f}</text>'
        )
        out.append(f'<text x="{x + 20}" y="{ly + lh + 16}" text-anchor="middle">{peer}</text>')
    n_idle = max((r["connections"] for r in idle.values()), default=0)
    out.append(
        f'<text x="{bx + bw / 2 + 20}" y="{h - 12}" text-anchor="middle">'
        f"{n_idle:,} idle connections, 2 workers</text>"
    )
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
    return path


def update_docs(results: list[Rec], meta: dict[str, Any], path: Path) -> None:
    """Replace the generated block of docs/performance.md (between the bench markers)."""
    block = f"{BEGIN}\n{render_tables(results, meta)}\n{END}"
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text += "\n" + block + "\n"
    path.write_text(text)
