"""Backup webhook calls that outlive the worker retrying them.

A backup call is rung for a crisis flag nobody claimed, or a rota gap nobody will cover: losing
it because the worker that took it died mid-retry (a deploy, an out-of-memory kill) would lose the
one phone call that reaches a coordinator. So every call is kept in Redis (when Redis is used)
from the moment it is taken until it is answered or has used all its attempts, under a lease:

- the caller holding a call renews its lease before each attempt and before each pause, for as
  long as that attempt and pause can take (`lease_ms`), and says which attempt it is on;
- a call whose lease ran out has lost its caller: any worker's `take_stalled` hands it to exactly
  one new caller (one Lua script), which carries on from the attempt recorded;
- every renewal and `done` checks the caller still holds the call, so a caller that was only
  slow (its lease taken over meanwhile) stops instead of calling twice at once.

An attempt already under way when its worker died may have reached the receiver; the call then
arrives twice, which the receiver sees by the same body and can drop (docs/operations.md). Once
at most one caller at a time, never zero: the right trade for a pager.

Layout (hash tag `{mod}`, beside the moderation store):
- `harbor:{mod}:call:<id>`  hash: `body` (the signed document, byte for byte), `attempt` (the
                            attempts started), `owner` (the caller holding it)
- `harbor:{mod}:calls`      zset: call ids by lease end (ms)

Without Redis (the embedded default, one process) calls are kept in memory: a call dies with
the process, as everything else in flight does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from rooms.scripts import with_scripts

PREFIX = "harbor:{mod}:"
_LEASES = PREFIX + "calls"
# Stalled calls one worker takes in one look; the rest wait for the next look or another worker.
TAKE_AT_MOST = 8


@dataclass(frozen=True, slots=True)
class PendingCall:
    id: str
    body: bytes
    attempt: int  # attempts already started (the next is attempt + 1)
    kept: bool = True  # False: Redis could not keep it; this worker calls it alone


class PendingCalls(Protocol):
    async def add(self, body: bytes, owner: str, lease_until_ms: int) -> PendingCall:
        """Keep a new call, held by `owner` until `lease_until_ms`."""
        ...

    async def renew(self, call_id: str, owner: str, attempt: int, lease_until_ms: int) -> bool:
        """Record `attempt` and hold on until `lease_until_ms`; False when `owner` no longer
        holds the call (it was taken over, or is done): stop calling."""
        ...

    async def done(self, call_id: str, owner: str) -> None:
        """Forget a call answered or out of attempts (only if `owner` still holds it)."""
        ...

    async def take_stalled(self, owner: str, now_ms: int, lease_until_ms: int) -> list[PendingCall]:
        """Calls whose lease ended, now held by `owner`: each handed to exactly one caller."""
        ...


class MemoryPendingCalls:
    """One process: nobody else could resume a call, so only the bookkeeping is kept."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    async def add(self, body: bytes, owner: str, lease_until_ms: int) -> PendingCall:
        call = PendingCall(secrets.token_hex(8), body, 0)
        self._owners[call.id] = owner
        return call

    async def renew(self, call_id: str, owner: str, attempt: int, lease_until_ms: int) -> bool:
        return self._owners.get(call_id) == owner

    async def done(self, call_id: str, owner: str) -> None:
        if self._owners.get(call_id) == owner:
            del self._owners[call_id]

    async def take_stalled(self, owner: str, now_ms: int, lease_until_ms: int) -> list[PendingCall]:
        return []


_ADD = """
redis.call('HSET', KEYS[1], 'body', ARGV[1], 'attempt', 0, 'owner', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

_RENEW = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'attempt', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

_DONE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# ARGV: prefix, owner, now_ms, new lease end, how many at most.
_TAKE = """
local taken = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, ARGV[5])) do
  local key = ARGV[1] .. 'call:' .. id
  local body = redis.call('HGET', key, 'body')
  if body then
    redis.call('HSET', key, 'owner', ARGV[2])
    redis.call('ZADD', KEYS[1], ARGV[4], id)
    table.insert(taken, {id, body, redis.call('HGET', key, 'attempt')})
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return taken
"""


def _call_key(call_id: str) -> str:
    return f"{PREFIX}call:{call_id}"


class RedisPendingCalls:
    """Calls in Redis, shared by every worker (every key in the `{mod}` slot on a cluster)."""

    def __init__(self, client: Any) -> None:
        self._redis = client
        register = client.register_script
        self._add = register(_ADD)
        self._renew = register(_RENEW)
        self._done = register(_DONE)
        self._take = register(_TAKE)

    async def _run(self, script: Any, keys: list[str], *args: str | int | bytes) -> Any:
        return await with_scripts(
            self._redis, [script.script], lambda: script(keys=keys, args=list(args))
        )

    async def add(self, body: bytes, owner: str, lease_until_ms: int) -> PendingCall:
        call_id = secrets.token_hex(8)
        await self._run(
            self._add, [_call_key(call_id), _LEASES], body, owner, lease_until_ms, call_id
        )
        return PendingCall(call_id, body, 0)

    async def renew(self, call_id: str, owner: str, attempt: int, lease_until_ms: int) -> bool:
        keys = [_call_key(call_id), _LEASES]
        return bool(await self._run(self._renew, keys, owner, attempt, lease_until_ms, call_id))

    async def done(self, call_id: str, owner: str) -> None:
        await self._run(self._done, [_call_key(call_id), _LEASES], owner, call_id)

    async def take_stalled(self, owner: str, now_ms: int, lease_until_ms: int) -> list[PendingCall]:
        taken = await self._run(
            self._take, [_LEASES], PREFIX, owner, now_ms, lease_until_ms, TAKE_AT_MOST
        )
        return [
            PendingCall(_text(call_id), bytes(body), int(attempt))
            for call_id, body, attempt in taken
        ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
