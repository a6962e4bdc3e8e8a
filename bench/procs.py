"""Process plumbing for the orchestrator: ports, spawning, readiness, /proc figures, cleanup.

Everything the bench starts is tracked here by PID so that cleanup never has to guess by name
(other engineers run their own servers and tests on the same machine).
"""

from __future__ import annotations

import http.client
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def raise_nofile_limit() -> int:
    """Lift the soft fd limit to the hard one: 10k client sockets need 10k+ descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (race-free enough for a private bench)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """Plain GET on 127.0.0.1 (http.client ignores *_proxy variables, unlike urllib)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_http_ready(port: int, path: str, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
    """Poll `path` until it answers 200; fail fast if the process died meanwhile."""
    end = time.monotonic() + deadline_s
    delay = 0.02
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before ready")
        try:
            status, _ = http_get(port, path, timeout=1.0)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    raise TimeoutError(f"port {port}{path} not ready after {deadline_s:.0f}s")


def wait_tcp_ready(port: int, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
    """Poll a TCP connect (for redis-server, which speaks no HTTP)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before ready")
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"tcp port {port} not ready after {deadline_s:.0f}s")


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid` (a console script may fork workers we did not start)."""
    kids = _children_map()
    out: list[int] = []
    stack = [pid]
    while stack:
        for child in kids.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """utime+stime of `pid` plus (optionally) its live descendants and reaped children."""
    total = 0.0
    pids = [pid, *descendants(pid)] if with_children else [pid]
    for p in pids:
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[11..14] = utime stime cutime cstime (stat fields 14..17)
        ticks = int(fields[11]) + int(fields[12])
        if with_children and p == pid:
            ticks += int(fields[13]) + int(fields[14])
        total += ticks / CLK_TCK
    return total


def rss_kb(pid: int, with_children: bool = True) -> int:
    """VmRSS of `pid` (plus descendants) in KiB, from /proc/PID/status."""
    total = 0
    for p in [pid, *descendants(pid)] if with_children else [pid]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


@dataclass
class Managed:
    """One process the bench started, with a label for tables."""

    label: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class ProcessGroup:
    """Starts processes and guarantees they are stopped (by PID) however the run ends."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="harbor-bench-")))
    procs: list[Managed] = field(default_factory=list)

    def spawn(
        self,
        label: str,
        argv: Sequence[str],
        port: int,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        pipe_stdout: bool = False,
        append_log: bool = False,
    ) -> Managed:
        """Start `argv` in its own session (Ctrl-C reaches only the orchestrator, which stops it).

        Output goes to a log file in the run's temp dir, except for the driver (`pipe_stdout`):
        its stdout carries JSON lines to us and its stderr (progress) goes to the terminal.
        """
        log_path = self.workdir / f"{label}.log"
        log = log_path.open("ab" if append_log else "wb")
        full_env = {**os.environ, **(env or {})}
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if pipe_stdout else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe_stdout else log,
            stderr=None if pipe_stdout else subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
        log.close()
        managed = Managed(label, proc, port, log_path, list(argv), dict(env or {}), cwd)
        self.procs.append(managed)
        return managed

    def stop(self, items: Iterable[Managed] | None = None, grace_s: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL: each PID we started and any descendants it forked."""
        targets = list(self.procs if items is None else items)
        victims: list[int] = []
        for m in targets:
            if m.proc.poll() is None:
                victims.extend(descendants(m.pid))
                victims.append(m.pid)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        end = time.monotonic() + grace_s
        for m in targets:
            try:
                m.proc.wait(timeout=max(0.05, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for pid in victims:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for m in targets:
            try:
                m.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                print(f"warning: {m.label} pid {m.pid} did not exit", file=sys.stderr)
        self.procs = [m for m in self.procs if m not in targets]

    def respawn(self, m: Managed) -> Managed:
        """Stop `m` and start the same command again (same port, same env): a restart."""
        self.stop([m])
        return self.spawn(m.label, m.argv, m.port, env=m.env, cwd=m.cwd, append_log=True)

    def remove_workdir(self) -> None:
        """Delete the run's temp dir (Redis dir, logs, room catalog) once nothing failed."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def tail(self, m: Managed, lines: int = 20) -> str:
        try:
            return "\n".join(m.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def start_redis(group: ProcessGroup) -> Managed:
    """A private redis-server: no persistence, its own directory, a free port."""
    port = free_port()
    rdir = group.workdir / "redis"
    rdir.mkdir(exist_ok=True)
    argv = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(rdir), "--maxclients", "10000"]
    m = group.spawn("redis", argv, port)
    wait_tcp_ready(port, m.proc, 10)
    return m


def redis_command(port: int, *args: str) -> bytes:
    """One RESP command on a fresh socket (FLUSHALL between scenarios); returns the raw reply."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(b"".join(parts))
        return sock.recv(4096)
