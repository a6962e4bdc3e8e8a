"""DirectConnections: one command per call on connections held here, not in redis-py's pool.

Every chat message costs one EVALSHA. Through redis-py 8's `BlockingConnectionPool` about half
of that call's client-side CPU is not the command at all: taking and returning the connection
(an asyncio Condition, two timeout contexts, observability hooks), the retry wrapper and the
script object's bookkeeping. In the rooms-of-10 bench that machinery was ~15 % of a worker's
CPU (py-spy), and every busy worker's tail latency pays for it. The send path needs none of it:
it holds a connection for exactly one request and one reply, so a plain stack of idle
connections and a semaphore (the bound) do the same job.

What is kept from redis-py: the `Connection` itself (URL, TLS, authentication, the hiredis
reply parser) and its error types. A connection whose call failed or was cancelled between
request and reply is closed, never reused, so a late reply can never answer the next call;
an error *reply* (e.g. NOSCRIPT) leaves the connection in step and it is reused.

Timeouts: redis-py applies its socket timeout (5 s by default) to the write, through
`asyncio.wait_for` -- a new Task per command -- and again to the read. Here the connections
have none, and one deadline covers the whole call (request and reply).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import anyio
import hiredis
import redis.asyncio as aioredis
from redis.exceptions import ResponseError


class DirectConnections:
    def __init__(
        self,
        pool: aioredis.ConnectionPool,
        limit: int,
        *,
        wait_s: float = 5.0,
        timeout_s: float = 5.0,
    ) -> None:
        self._pool = pool
        self._connection_kwargs = {**pool.connection_kwargs, "socket_timeout": None}
        self._idle: list[Any] = []  # redis.asyncio.Connection, most recently used last
        # asyncio's, not anyio's: acquiring a free asyncio.Semaphore does not yield to the loop,
        # and this is taken once per chat message.
        self._slots = asyncio.Semaphore(limit)
        self._limit = limit
        self._wait_s = wait_s
        self._timeout_s = timeout_s

    async def call(self, *args: bytes | str | int | float) -> Any:
        """Send one command and return its reply; Redis errors are raised as redis-py's, and
        TimeoutError if every connection stayed busy for `wait_s` (as the pool did), or the
        call itself took longer than `timeout_s` (redis-py's default socket timeout)."""
        if self._slots.locked():
            async with asyncio.timeout(self._wait_s):
                await self._slots.acquire()
        else:
            await self._slots.acquire()  # free: returns without yielding to the loop
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._call_on_a_connection(args)
        finally:
            self._slots.release()

    async def _call_on_a_connection(self, args: tuple[bytes | str | int | float, ...]) -> Any:
        conn = self._idle.pop() if self._idle else self._new()
        try:
            packed = hiredis.pack_command(cast(Any, args))  # the stub says a 1-tuple
            await conn.send_packed_command(packed, check_health=False)
            reply = await conn.read_response()
        except ResponseError:
            self._idle.append(conn)  # an error reply: the connection is still in step
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):  # also when the caller was cancelled
                await conn.disconnect(nowait=True)
            raise
        self._idle.append(conn)
        return reply

    async def renew(self, count: int) -> None:
        """Replace the idle connections with `count` freshly connected ones.

        Called when the broker's listener (re)connects: after a Redis restart every idle
        connection is dead, and each would fail one send before being replaced; and a worker's
        first burst of sends should not queue behind connection setup."""
        await self.aclose()
        while len(self._idle) < min(count, self._limit):
            conn = self._new()
            await conn.connect()
            self._idle.append(conn)

    def _new(self) -> Any:
        """A new, not yet connected redis-py Connection: the pool's settings, no socket
        timeout (see the module's docstring)."""
        return self._pool.connection_class(**self._connection_kwargs)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.disconnect(nowait=True)
