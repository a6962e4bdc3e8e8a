"""A client that behaves like the browser page under failure, and counts what it saw.

It reconnects to any live worker with jittered backoff, says hello with its token, re-joins with
`since` and `epoch`, and resends every unacked message with the same client_id. It records every
id it was acked and every id it received (live or in a `joined` history), so a test can check
that each client ends with every acked message exactly once.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOM = "newcomers"


@dataclass
class Tally:
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> id
    received: list[int] = field(default_factory=list)
    reconnects: int = 0
    not_recovered: int = 0
    retryable_refusals: int = 0
    close_codes: list[int] = field(default_factory=list)
    longest_gap_s: float = 0.0


class ResilientClient:
    def __init__(self, urls: list[str], name: str) -> None:
        self.urls = urls
        self.name = name
        self.tally = Tally()
        self.token: str | None = None
        self.last_id: int | None = None
        self.epoch: str | None = None
        self.unacked: dict[str, str] = {}  # client_id -> text, in send order
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Stay connected (reconnecting as needed) until stop()."""
        delay = 0.05
        while not self._stopping.is_set():
            url = random.choice(self.urls)
            lost_at = time.monotonic()
            try:
                async with connect(url, open_timeout=2, close_timeout=1) as ws:
                    await self._session(ws)
                delay = 0.05
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
                    self.tally.close_codes.append(exc.rcvd.code)
            finally:
                self._ws = None
                self._connected.clear()
            if self._stopping.is_set():
                return
            self.tally.reconnects += 1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
            self.tally.longest_gap_s = max(self.tally.longest_gap_s, time.monotonic() - lost_at)

    async def _session(self, ws: ClientConnection) -> None:
        hello: dict[str, Any] = {"type": "hello"}
        if self.token:
            hello["token"] = self.token
        await ws.send(json.dumps(hello))
        join: dict[str, Any] = {"type": "join", "room": ROOM}
        if self.last_id is not None:
            join.update(since=self.last_id, epoch=self.epoch)
        joined = False
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "welcome":
                self.token = frame["token"]
                await ws.send(json.dumps(join))
            elif kind == "joined":
                self._on_joined(frame)
                joined = True
                self._ws = ws
                self._connected.set()
                for client_id, text in list(self.unacked.items()):
                    await self._send(ws, client_id, text)
            elif kind == "message" and joined:
                self._on_message(frame["id"])
            elif kind == "ack":
                if self.unacked.pop(frame["client_id"], None) is not None:
                    self.tally.acked[frame["client_id"]] = frame["id"]
            elif kind == "error" and frame.get("code") == "unavailable":
                self.tally.retryable_refusals += 1
                if frame.get("client_id") in self.unacked:
                    await asyncio.sleep(0.2)
                    await self._send(ws, frame["client_id"], self.unacked[frame["client_id"]])
                elif not joined:
                    await asyncio.sleep(0.2)
                    await ws.send(json.dumps(join))

    def _on_joined(self, frame: dict[str, Any]) -> None:
        if self.last_id is not None and not frame["recovered"]:
            self.tally.not_recovered += 1
        self.epoch = frame["epoch"]
        for item in frame["history"]:
            if self.last_id is None or item["id"] > self.last_id or not frame["recovered"]:
                self._on_message(item["id"])

    def _on_message(self, message_id: int) -> None:
        self.tally.received.append(message_id)
        self.last_id = message_id if self.last_id is None else max(self.last_id, message_id)

    async def _send(self, ws: ClientConnection, client_id: str, text: str) -> None:
        frame = {"type": "send", "room": ROOM, "text": text, "client_id": client_id}
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed:
            pass  # resent after the reconnect

    async def say(self, client_id: str, text: str) -> None:
        self.unacked[client_id] = text
        ws = self._ws
        if ws is not None:
            await self._send(ws, client_id, text)

    async def wait_connected(self, within: float) -> None:
        await asyncio.wait_for(self._connected.wait(), within)

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()
