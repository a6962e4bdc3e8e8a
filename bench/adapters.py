"""One small client-side interface per server under test, so every scenario is written once.

An adapter knows how to (1) join a room on a fresh connection, (2) publish a text to that room and
(3) deal with frames that carry no bench payload (acks, errors, Engine.IO pings). Recognising a
bench delivery is common to all of them: the published text starts with ``bench|`` and carries
``step|publisher|seq|send_ns``, which survives any JSON envelope unescaped, so the receive path
finds it with ``bytes.find`` instead of parsing JSON for ~100k frames/s.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from bench.procs import http_get

if TYPE_CHECKING:
    from bench.client import Member


class Adapter(Protocol):
    """What a scenario needs from a peer's protocol."""

    name: str
    path: str
    metrics_lag_s: float

    async def join(self, member: Member, room: str) -> None: ...

    def publish(self, member: Member, room: str, text: str) -> None: ...

    def on_other(self, member: Member, data: bytes) -> None: ...

    def metrics(self, port: int) -> dict[str, float]: ...


class FloorAdapter:
    """Our own minimal protocol: first frame = room, answer ``joined``; later frames = publish."""

    name = "floor"
    path = "/"
    metrics_lag_s = 0.0

    async def join(self, member: Member, room: str) -> None:
        member.send_text(room.encode())
        await member.expect(lambda d: d == b"joined")

    def publish(self, member: Member, room: str, text: str) -> None:
        member.send_text(text.encode())

    def on_other(self, member: Member, data: bytes) -> None:
        return None

    def metrics(self, port: int) -> dict[str, float]:
        return {}


class SocketIOAdapter:
    """Engine.IO v4 / Socket.IO v5 spoken over a raw WebSocket (no polling upgrade)."""

    name = "socketio"
    path = "/socket.io/?EIO=4&transport=websocket"
    metrics_lag_s = 0.0

    async def join(self, member: Member, room: str) -> None:
        await member.expect(lambda d: d[:1] == b"0")  # Engine.IO open packet
        member.send_text(b"40")  # connect the default namespace
        await member.expect(lambda d: d[:2] == b"40")
        member.send_text(b'421["join",' + json.dumps(room).encode() + b"]")
        await member.expect(lambda d: d[:3] == b"431")  # ack of packet id 1

    def publish(self, member: Member, room: str, text: str) -> None:
        body = json.dumps({"room": room, "text": text}, separators=(",", ":"))
        member.send_text(b'42["send",' + body.encode() + b"]")

    def on_other(self, member: Member, data: bytes) -> None:
        if data == b"2":  # Engine.IO ping from the server; the client must answer
            member.send_text(b"3")

    def metrics(self, port: int) -> dict[str, float]:
        return {}


class HarborAdapter:
    """Harbor's JSON protocol (docs/protocol.md): hello -> welcome, join -> joined, send -> ack."""

    name = "harbor"
    path = "/ws"
    metrics_lag_s = 1.2  # Harbor copies its hub counters into /metrics once per 1 s tick

    async def join(self, member: Member, room: str) -> None:
        """As the web page does: a returning client presents its token and resumes the room
        from the last message it saw (`since` + `epoch`), so a reconnect storm costs what it
        costs in production (token check, sanctions lookup, history read)."""
        session = member.session
        hello: dict[str, Any] = {"type": "hello"}
        if "token" in session:
            hello["token"] = session["token"]
        member.send_text(json.dumps(hello).encode())
        welcome = json.loads(await member.expect(lambda d: b'"type":"welcome"' in d))
        session["token"] = welcome["token"]
        join: dict[str, Any] = {"type": "join", "room": room}
        if "epoch" in session:
            join.update(since=session["since"], epoch=session["epoch"])
        member.send_text(json.dumps(join).encode())
        joined = json.loads(await member.expect(lambda d: b'"type":"joined"' in d))
        seen = [message["id"] for message in joined["history"]]
        session.update(
            epoch=joined["epoch"],
            since=max([session.get("since", 0), *seen]),
            recovered=joined["recovered"],
        )

    def publish(self, member: Member, room: str, text: str) -> None:
        member.client_seq += 1
        frame = {"type": "send", "room": room, "text": text, "client_id": f"c{member.client_seq}"}
        member.send_text(json.dumps(frame, separators=(",", ":")).encode())

    def on_other(self, member: Member, data: bytes) -> None:
        if b'"type":"ack"' in data:
            member.acks += 1
        elif b'"type":"error"' in data:
            if b"rate_limited" in data:
                member.rate_limited += 1
            else:
                member.errors += 1
                i = data.find(b'"code":"')
                code = data[i + 8 : data.find(b'"', i + 8)].decode() if i >= 0 else "?"
                member.error_codes[code] = member.error_codes.get(code, 0) + 1

    def metrics(self, port: int) -> dict[str, float]:
        """Sum the per-process counters the targets are judged on (encodes per message; how
        many members the worker itself closed for falling behind)."""
        wanted = (
            "harbor_frames_encoded_total",
            "harbor_fanout_messages_total",
            "harbor_slow_members_dropped_total",
        )
        out = dict.fromkeys(wanted, 0.0)
        try:
            status, body = http_get(port, "/metrics")
        except OSError:
            return {}
        if status != 200:
            return {}
        for line in body.decode(errors="replace").splitlines():
            for name in wanted:
                if line.startswith(name) and (len(line) > len(name) and line[len(name)] in " {"):
                    out[name] += float(line.rsplit(" ", 1)[1])
        return out


ADAPTERS: dict[str, Adapter] = {
    "harbor": HarborAdapter(),
    "baseline": HarborAdapter(),  # Harbor from another checkout (python -m bench --baseline)
    "socketio": SocketIOAdapter(),
    "floor": FloorAdapter(),
}
