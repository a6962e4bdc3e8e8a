"""Real parts for tests: a private redis-server, `harbor serve` processes, WebSocket clients.

Every wait polls a condition with a deadline scaled by HARBOR_TEST_TIME_SCALE (slow CI machines
set it above 1); nothing sleeps a fixed time to "let things settle". Processes are stopped by the
PID we started, never by name.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

_SERVER_VARIABLES = {"REDIS_URL", "PORT", "WEB_CONCURRENCY"} | {
    name for name in os.environ if name.startswith("HARBOR_") and name != "HARBOR_TEST_TIME_SCALE"
}
SCALE = float(os.environ.get("HARBOR_TEST_TIME_SCALE", "1"))
ONE_SOURCE_IS_MANY = {
    "HARBOR_SOCKETS_PER_SOURCE": "1000000",
    "HARBOR_NEW_IDENTITIES_PER_SOURCE_PER_MIN": "1000000",
    "HARBOR_JOINS_PER_SOURCE_PER_10S": "1000000",
    "HARBOR_JOINS_PER_CONNECTION_PER_10S": "1000",
    "HARBOR_SIGN_INS_PER_SOURCE_PER_MIN": "1000",
}
REPO = Path(__file__).resolve().parent.parent


def seconds(value: float) -> float:
    """A test wait, scaled for slow machines."""
    return value * SCALE


# Ports for the servers the tests start. Asking the kernel for port 0 and releasing it races:
# under pytest-xdist another worker's servers and every outgoing connection (whose source
# ports come from the same ephemeral range, 32768-60999 on Linux) can take the port before
# our server binds it, and a Redis Cluster node that cannot bind takes a whole shared
# cluster down with it. So each xdist worker (gw0, gw1, ...) walks its own block below the
# ephemeral range, skipping ports in use; blocks repeat past MAX_WORKERS workers. Each
# process starts at its own place in its block (by its pid), so that another test run beside
# this one, or a worker sharing the block, is not handed the same ports in the same order.
FIRST_PORT = 20000
PORTS_PER_WORKER = 2000
MAX_WORKERS = 6
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_BLOCK = FIRST_PORT + (_WORKER % MAX_WORKERS) * PORTS_PER_WORKER
_START = _BLOCK + os.getpid() % PORTS_PER_WORKER
_ports: itertools.cycle[int] = itertools.cycle(
    [*range(_START, _BLOCK + PORTS_PER_WORKER), *range(_BLOCK, _START)]
)


def free_port() -> int:
    """A port of this worker's block that nothing is bound to now."""
    for _ in range(PORTS_PER_WORKER):
        port = next(_ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use, or still closing
                continue
            return port
    raise RuntimeError(f"no free port in {_BLOCK}-{_BLOCK + PORTS_PER_WORKER - 1}")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + seconds(timeout)
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """``wait_until`` for async tests: polls without blocking the event loop, so tasks that
    bring the condition about keep running. (Polling, not an event: the condition is the
    state of another process, such as Redis's client list.)"""
    deadline = time.monotonic() + seconds(within)
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class RedisProcess:
    """A private redis-server on a free port, in its own directory."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        appendonly: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (the test command installs it)")
        self.port = port or free_port()
        self.workdir = workdir
        self.appendonly = appendonly
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--dir", str(self.workdir),
             *self.extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.ping, 10, "redis-server to answer PING")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL by the PID we started: a crash, no goodbye to the cluster."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(seconds(5))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class RedisClusterProcesses:
    """A real Redis Cluster on loopback: `primaries` primaries, each with `replicas` replicas, one
    redis-server per node in its own directory, joined with `redis-cli --cluster create`.

    A short node timeout (`node_timeout_ms`) lets a replica take over within a few seconds of its
    primary being killed, so failover tests stay short; nodes are stopped by the PIDs started."""

    def __init__(
        self,
        workdir: Path,
        *,
        primaries: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = 1000,
        appendonly: bool = False,
    ) -> None:
        if shutil.which("redis-cli") is None:
            raise RuntimeError("redis-cli is not installed (it comes with redis-server)")
        self.workdir = workdir
        self.primaries = primaries
        self.replicas = replicas
        self.nodes = [
            RedisProcess(
                workdir / f"node{n}",
                appendonly=appendonly,
                extra_args=self._node_args(node_timeout_ms),
            )
            for n in range(primaries * (1 + replicas))
        ]

    @staticmethod
    def _node_args(node_timeout_ms: int) -> tuple[str, ...]:
        return (
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(node_timeout_ms),
            # the bus port defaults to port + 10000: past 65535 for a high free port
            "--cluster-port", str(free_port()),
            # a replica takes over however long it was cut off (the tests kill primaries)
            "--cluster-replica-validity-factor", "0",
        )  # fmt: skip

    @property
    def url(self) -> str:
        """The REDIS_URL of a cluster, seeded with every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> RedisClusterProcesses:
        try:
            for node in self.nodes:
                node.start()
            created = subprocess.run(
                ["redis-cli", "--cluster", "create",
                 *(f"127.0.0.1:{n.port}" for n in self.nodes),
                 "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                capture_output=True, timeout=seconds(60), check=False,
            )  # fmt: skip
            if created.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout!r}")
            wait_until(self.healthy, 30, "the cluster to report cluster_state:ok on every node")
        except BaseException:
            self.stop()
            raise
        return self

    def cli(self, node: RedisProcess, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(node.port), *args],
            capture_output=True, timeout=seconds(10), check=False,
        )  # fmt: skip
        return done.stdout.decode()

    def healthy(self) -> bool:
        """Every running node says the cluster is ok and sees every slot served, and every
        primary has its replicas in sync (a replica still loading could not take over)."""
        for node in self.nodes:
            if not node.running:
                continue
            info = self.cli(node, "cluster", "info")
            if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                return False
            replication = self.cli(node, "info", "replication")
            if "role:master" in replication:
                replicas = [line for line in replication.splitlines() if line.startswith("slave")]
                live = sum(1 for n in self.nodes if n.running) // self.primaries - 1
                if len(replicas) < min(self.replicas, live) or any(
                    "state=online" not in line for line in replicas
                ):
                    return False
        return True

    def primary_nodes(self) -> list[RedisProcess]:
        """The running nodes that are primaries now (after a failover, a former replica)."""
        return [
            node
            for node in self.nodes
            if node.running and "role:master" in self.cli(node, "info", "replication")
        ]

    def owner_of(self, key: str) -> RedisProcess:
        """The running primary that serves `key`'s slot now."""
        slot = int(self.cli(self.primary_nodes()[0], "cluster", "keyslot", key).strip())
        for node in self.primary_nodes():
            for line in self.cli(node, "cluster", "nodes").splitlines():
                fields = line.split()
                if "myself" in fields[2]:
                    for span in fields[8:]:
                        first, _, last = span.partition("-")
                        if first.isdigit() and int(first) <= slot <= int(last or first):
                            return node
        raise LookupError(f"no running primary serves {key!r}")

    def node_id(self, node: RedisProcess) -> str:
        return self.cli(node, "cluster", "myid").strip()

    def slot_of(self, key: str) -> int:
        return int(self.cli(self.primary_nodes()[0], "cluster", "keyslot", key).strip())

    def move_slot(self, key: str, target: RedisProcess) -> None:
        """Move `key`'s slot, with its keys, to the primary `target`, as resharding does:
        IMPORTING on the target, MIGRATING on the source, MIGRATE the keys in batches, then
        the slot assigned to the target on every primary."""
        source, slot = self.owner_of(key), str(self.slot_of(key))
        source_id, target_id = self.node_id(source), self.node_id(target)
        self.cli(target, "cluster", "setslot", slot, "importing", source_id)
        self.cli(source, "cluster", "setslot", slot, "migrating", target_id)
        for _ in range(1000):
            keys = self.cli(source, "cluster", "getkeysinslot", slot, "100").split()
            if not keys:
                break
            self.cli(source, "migrate", "127.0.0.1", str(target.port), "", "0", "5000",
                     "keys", *keys)  # fmt: skip
        for node in [target, source, *self.primary_nodes()]:
            self.cli(node, "cluster", "setslot", slot, "node", target_id)

    def flush(self) -> None:
        """Empty every primary (replicas follow), so a shared cluster starts each test clean."""
        for node in self.primary_nodes():
            self.cli(node, "flushall")
            self.cli(node, "script", "flush")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class HarborProcess:
    """One `harbor serve` worker on a free port; ready when /readyz answers 200.

    Its output goes to a log file. With `terminal=True` it runs on a pseudo-terminal instead
    (as when an operator starts it by hand: that is when it shows the one-time sign-in link),
    and a thread copies what it writes there into the same log file.
    """

    def __init__(
        self, workdir: Path, env: dict[str, str] | None = None, *, terminal: bool = False
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.env = env or {}
        self.terminal = terminal
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"harbor-{self.port}.log"
        self._copier: threading.Thread | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, *, wait_ready: bool = True) -> HarborProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if k not in _SERVER_VARIABLES}
        env = {
            **inherited,
            "HARBOR_DATA_DIR": str(self.workdir / "data"),
            "HARBOR_PRESENCE_INTERVAL_S": "0.2",
            "HARBOR_PRESENCE_TTL_S": "3",
            # Every test client comes from 127.0.0.1, which per-source limits would read as one
            # person; the abuse tests set them back to measure them.
            **ONE_SOURCE_IS_MANY,
            **self.env,
        }
        argv = [sys.executable, "-m", "server", "serve", "--port", str(self.port)]
        if self.terminal:
            controller, terminal = pty.openpty()
            try:
                self.proc = subprocess.Popen(
                    argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=terminal,
                    stderr=terminal,
                )  # fmt: skip
            finally:
                os.close(terminal)
            self._copier = threading.Thread(
                target=self._copy_terminal, args=(controller,), daemon=True
            )
            self._copier.start()
        else:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
                )
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"harbor exited with {self.proc.returncode}:\n{self.log()}")
            return self.status("/readyz") == 200

        wait_until(ready, timeout, f"harbor on port {self.port} to be ready")

    def status(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(self.http + path, timeout=2) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            error.close()
            return error.code
        except OSError:
            return None

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.http + path, timeout=5) as response:
            return json.loads(response.read())

    def get_text(self, path: str) -> str:
        with urllib.request.urlopen(self.http + path, timeout=5) as response:
            text: str = response.read().decode()
            return text

    def _copy_terminal(self, controller: int) -> None:
        """Copy the terminal's output to the log until the process closes it (then reading
        the controller side fails with EIO)."""
        try:
            with open(self.log_path, "ab") as log:
                while True:
                    try:
                        data = os.read(controller, 65536)
                    except OSError:
                        return
                    if not data:
                        return
                    log.write(data)
                    log.flush()
        finally:
            os.close(controller)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_output(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        """The first match of `pattern` in what the worker has written, once it appears."""
        found: list[re.Match[str]] = []

        def appeared() -> bool:
            match = re.search(pattern, self.log())
            if match is not None:
                found.append(match)
            return match is not None

        wait_until(appeared, timeout, f"{pattern!r} in harbor's output")
        return found[0]

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(seconds(15))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        if self._copier is not None:
            self._copier.join(seconds(5))
            self._copier = None
        return code


class Client:
    """A real WebSocket client speaking Harbor's protocol, with typed waits for frames.

    Every client is remembered in `Client.opened` so a fixture can close them after each test.
    """

    opened: list[Client] = []

    def __init__(self, ws: ClientConnection, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.token: str | None = None
        self.name: str | None = None
        self.backlog: list[dict[str, Any]] = []
        self.last_joined: dict[str, Any] = {}
        self.joined: dict[str, dict[str, Any]] = {}

    @classmethod
    async def connect(cls, url: str, *, msgpack_codec: bool = False, **kwargs: Any) -> Client:
        subprotocols = ["harbor.msgpack"] if msgpack_codec else None
        ws = await connect(url, subprotocols=subprotocols, **kwargs)  # type: ignore[arg-type]
        client = cls(ws, msgpack_codec)
        cls.opened.append(client)
        return client

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(msgpack.packb(frame) if self.binary else json.dumps(frame))

    async def recv(self, within: float = 5) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        raw = await asyncio.wait_for(self.ws.recv(), seconds(within))
        if isinstance(raw, bytes):
            frame: dict[str, Any] = msgpack.unpackb(raw) if self.binary else json.loads(raw)
        else:
            frame = json.loads(raw)
        return frame

    async def expect_any(
        self, kinds: tuple[str, ...], within: float = 5, **fields: Any
    ) -> dict[str, Any]:
        """The next frame whose type is one of `kinds` and that matches `fields`."""
        deadline = time.monotonic() + seconds(within)
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {kinds} frame matching {fields}; saw {skipped[-5:]}")
                frame = await self.recv(remaining / SCALE)
                if frame.get("type") in kinds and all(frame.get(k) == v for k, v in fields.items()):
                    return frame
                skipped.append(frame)
        finally:
            self.backlog[:0] = skipped

    async def expect(self, kind: str, within: float = 5, **fields: Any) -> dict[str, Any]:
        """The next frame of `kind` matching `fields`; other frames are kept for later."""
        return await self.expect_any((kind,), within, **fields)

    async def hello(self, token: str | None = None) -> dict[str, Any]:
        await self.send({"type": "hello", **({"token": token} if token else {})})
        welcome = await self.expect("welcome")
        self.token, self.name = welcome["token"], welcome["name"]
        return welcome

    async def join(self, room: str, **extra: Any) -> dict[str, Any]:
        await self.send({"type": "join", "room": room, **extra})
        joined = await self.expect("joined", room=room)
        self.last_joined = self.joined[room] = joined
        return joined

    async def join_info(self, room: str) -> dict[str, Any]:
        """The joined frame this client got for `room`."""
        return self.joined[room]

    async def say(self, room: str, text: str, client_id: str) -> dict[str, Any]:
        await self.send({"type": "send", "room": room, "text": text, "client_id": client_id})
        return await self.expect("ack", client_id=client_id)

    def drop_messages(self) -> list[dict[str, Any]]:
        kept = [f for f in self.backlog if f.get("type") == "message"]
        self.backlog = [f for f in self.backlog if f.get("type") != "message"]
        return kept

    async def close(self) -> None:
        await self.ws.close()


class StalledReader:
    """A WebSocket client that joins a room and then stops reading: the slow member.

    A blocking socket with a tiny receive buffer (set before connecting, so the advertised window
    stays small) driven by websockets' sans-I/O ClientProtocol.
    """

    def __init__(self, url: str) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        uri = parse_uri(url)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        self.sock.settimeout(seconds(5))
        self.sock.connect((uri.host, uri.port))
        self.protocol = ClientProtocol(uri, max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.handshake_exc is None and not self._handshake_done():
            self.protocol.receive_data(self.sock.recv(4096))
        self.events: list[Any] = []
        self.drained_bytes = 0

    def _handshake_done(self) -> bool:
        from websockets.protocol import State

        return self.protocol.state is State.OPEN

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def send(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        self._flush()

    def read_frames(self, until: Callable[[dict[str, Any]], bool]) -> None:
        """Read (blocking) until a text frame satisfies `until`."""
        deadline = time.monotonic() + seconds(5)
        while time.monotonic() < deadline:
            self.protocol.receive_data(self.sock.recv(4096))
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    if until(json.loads(bytes(event.data))):
                        return
        raise TimeoutError("expected frame did not arrive")

    def close_code_after_draining(self) -> int | None:
        """Read everything that is left; the close code the server sent, if any. Counts the
        bytes of the frames that were still on their way (`drained_bytes`)."""
        from websockets.frames import Frame

        deadline = time.monotonic() + seconds(10)
        self.drained_bytes = 0
        while time.monotonic() < deadline and self.protocol.close_rcvd is None:
            try:
                data = self.sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Frame):
                    self.drained_bytes += len(event.data)
        return self.protocol.close_rcvd.code if self.protocol.close_rcvd else None

    def close(self) -> None:
        self.sock.close()


def add_moderator_account(name: str, password: str, **env: str) -> None:
    """`harbor moderators add NAME --password-stdin`, as an operator would run it, against the
    store `env` names (REDIS_URL and HARBOR_SECRET, or an embedded worker's HARBOR_DATA_DIR)."""
    subprocess.run(
        [sys.executable, "-m", "server", "moderators", "add", name, "--password-stdin"],
        input=password + "\n",
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        timeout=30,
    )
