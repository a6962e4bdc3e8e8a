"""The load driver's connection: a picows listener with a cheap receive path.

Every delivery is counted (loss, duplicates, order per publisher) but never JSON-parsed: the
bench payload ``bench|step|pub|seq|send_ns|...`` is located with ``bytes.find`` and split. Send
timestamps are ``time.monotonic_ns()`` (CLOCK_MONOTONIC is system-wide on Linux, so it is also
valid across driver processes on this machine).
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic, monotonic_ns
from typing import TYPE_CHECKING, Any

from picows import WSCloseCode, WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

if TYPE_CHECKING:
    from bench.adapters import Adapter

MARKER = b"bench|"
MARKER_LEN = len(MARKER)
SETUP_TIMEOUT_S = 30.0


@dataclass
class StepStats:
    """Deliveries attributed to one scenario step (the step id travels inside the message)."""

    received: int = 0
    dups: int = 0
    gaps: int = 0
    first_ns: int = 0
    last_ns: int = 0
    lat_us: array[int] = field(default_factory=lambda: array("q"))
    sent_ns: array[int] = field(default_factory=lambda: array("q"))  # beside lat_us, if kept
    keep_sent: bool = False


class Recorder:
    """Shared by all members of a driver process; steps are indexed by the id in the payload."""

    def __init__(self) -> None:
        self.steps: dict[int, StepStats] = {}

    def step(self, step_id: int) -> StepStats:
        return self.steps.setdefault(step_id, StepStats())


class Member(WSListener):
    """One client connection: handshake frames go to a queue, deliveries to the recorder."""

    def __init__(
        self, adapter: Adapter, recorder: Recorder, session: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.adapter = adapter
        self.recorder = recorder
        # What a real client keeps across reconnects (Harbor: token, epoch, last id), shared by
        # the connections that replace this one.
        self.session: dict[str, Any] = {} if session is None else session
        self.transport: WSTransport | None = None
        self.ready = False
        self.counting = True
        self.setup_frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.last_seq: dict[int, int] = {}
        self.private = 0  # deliveries while not counting (the slow member)
        self.acks = 0
        self.rate_limited = 0
        self.errors = 0
        self.error_codes: dict[str, int] = {}
        self.client_seq = 0
        self.close_code: int | None = None
        self.disconnected = False
        self.disconnected_at = 0.0
        self.gone = asyncio.Event()

    # picows callbacks -------------------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.disconnected = True
        self.disconnected_at = monotonic()
        self.gone.set()
        self.setup_frames.put_nowait(b"")

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        data = frame.get_payload_as_bytes()
        i = data.find(MARKER)
        if i < 0 or not self.ready:
            self._other(frame, data)
            return
        now = monotonic_ns()
        if not self.counting:
            self.private += 1
            return
        step_s, pub_s, seq_s, ns_s, _ = data[i + MARKER_LEN :].split(b"|", 4)
        st = self.recorder.steps.get(int(step_s))
        if st is None:
            st = self.recorder.step(int(step_s))
        pub = int(pub_s)
        seq = int(seq_s)
        last = self.last_seq.get(pub, 0)
        if seq > last:
            if seq != last + 1:
                st.gaps += 1
            self.last_seq[pub] = seq
            st.received += 1
        else:
            st.dups += 1
        sent_ns = int(ns_s)
        st.lat_us.append((now - sent_ns) // 1000)
        if st.keep_sent:
            st.sent_ns.append(sent_ns)
        if not st.first_ns:
            st.first_ns = now
        st.last_ns = now

    def _other(self, frame: WSFrame, data: bytes) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.CLOSE:
            # Parsed by hand: application codes such as 4008 are not in picows' WSCloseCode.
            self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            if self.transport is not None:
                self.transport.send_close(WSCloseCode.OK)
                self.transport.disconnect()
            return
        if kind is not WSMsgType.TEXT and kind is not WSMsgType.BINARY:
            return
        if not self.ready:
            self.setup_frames.put_nowait(data)
        self.adapter.on_other(self, data)

    # helpers used by adapters and scenarios ---------------------------------------------------
    def send_text(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, data)

    async def expect(self, match: Callable[[bytes], bool]) -> bytes:
        """Wait for a setup frame satisfying `match` (other frames are skipped)."""
        async with asyncio.timeout(SETUP_TIMEOUT_S):
            while True:
                data = await self.setup_frames.get()
                if not data and self.disconnected:
                    raise ConnectionError(f"disconnected during setup (close {self.close_code})")
                if match(data):
                    return data
                if b'"type":"error"' in data:
                    raise ConnectionError(data[:200].decode(errors="replace"))

    def pause_reading(self) -> None:
        """Become a slow member: stop reading the socket altogether (the kernel still buffers)."""
        assert self.transport is not None
        self.transport.underlying_transport.pause_reading()

    def resume_reading(self) -> None:
        assert self.transport is not None
        self.transport.underlying_transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.disconnected:
            self.transport.disconnect(graceful=False)


async def connect_member(
    adapter: Adapter,
    recorder: Recorder,
    port: int,
    room: str,
    attempts: int = 3,
    session: dict[str, Any] | None = None,
) -> Member:
    """Open a WebSocket to 127.0.0.1:port, join `room`; a few bounded retries on refusal.
    `session`: a dropped member's, so the new connection resumes as a real client would."""
    url = f"ws://127.0.0.1:{port}{adapter.path}"
    for attempt in range(attempts):
        member = Member(adapter, recorder, session)
        try:
            await ws_connect(
                lambda: member,  # noqa: B023 - awaited within this iteration
                url,
                websocket_handshake_timeout=30,
                read_buffer_init_size=4096,
                enable_auto_pong=True,
            )
            await adapter.join(member, room)
            member.ready = True
            return member
        except (OSError, TimeoutError, ConnectionError, WSError) as exc:
            member.close()
            if attempt == attempts - 1:
                raise ConnectionError(f"{url} room {room}: {exc!r}") from exc
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def connect_many(
    adapter: Adapter,
    recorder: Recorder,
    targets: list[tuple[int, str]],
    concurrency: int = 100,
) -> list[Member]:
    """Connect and join every (port, room) with bounded concurrency, preserving order."""
    sem = asyncio.Semaphore(concurrency)

    async def one(port: int, room: str) -> Member:
        async with sem:
            return await connect_member(adapter, recorder, port, room)

    return list(await asyncio.gather(*(one(p, r) for p, r in targets)))
