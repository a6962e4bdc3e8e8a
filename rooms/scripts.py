"""Lua scripts that survive a failover: load them on every primary when one is missing.

A script cached by one Redis is gone after a restart, and on a cluster a replica promoted to
primary never had the scripts its former primary was sent. redis-py reloads a missing script
only on the node it picks for SCRIPT LOAD (not necessarily the one that answered NOSCRIPT), and
never inside a cluster pipeline; so after a failover every call of that script failed again and
again (presence reports, the moderation heartbeat, history repairs). Here a NOSCRIPT reply loads
the script on every primary, then the call runs once more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

Reply = TypeVar("Reply")
ScriptText = str | bytes | memoryview


async def load_everywhere(client: aioredis.Redis | RedisCluster, *scripts: ScriptText) -> None:
    """SCRIPT LOAD on every primary of a cluster, or on the one Redis."""
    for script in scripts:
        if isinstance(client, RedisCluster):
            await client.execute_command("SCRIPT LOAD", script, target_nodes=RedisCluster.PRIMARIES)
        else:
            await client.script_load(script)


async def with_scripts(
    client: aioredis.Redis | RedisCluster,
    scripts: Sequence[ScriptText],
    call: Callable[[], Awaitable[Reply]],
) -> Reply:
    """`call()`; if it met NOSCRIPT, load `scripts` everywhere and call once more."""
    try:
        return await call()
    except NoScriptError:
        await load_everywhere(client, *scripts)
        return await call()


def any_noscript(replies: Sequence[Any]) -> bool:
    """Whether a pipeline's replies (`raise_on_error=False`) include a NOSCRIPT error."""
    return any(isinstance(reply, NoScriptError) for reply in replies)
