"""The private internals of uvicorn and redis-py that Harbor builds on, each named and pinned.

Harbor leans on parts of two libraries that are not their public API, for measured reasons
(server/transport.py, rooms/broker_redis.py, rooms/redis_direct.py, server/logs.py, and on a
Redis Cluster rooms/broker_cluster.py and rooms/scripts.py). A release
may change any of them without notice; the lock file (requirements/) keeps a fresh install on
the versions these tests passed on, and `bash .ci/test --latest` tries the newest on purpose.
When a release does change one, the test for it fails here with the name of the internal and
the module that relies on it, not with an obscure error deep in a socket write.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import hiredis
import pytest
import redis.asyncio as aioredis
import uvicorn.protocols.http.httptools_impl as httptools_impl
import uvicorn.protocols.websockets.websockets_sansio_impl as sansio
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection, ConnectionPool
from redis.exceptions import NoScriptError
from uvicorn.config import Config
from uvicorn.server import ServerState

from rooms.scripts import load_everywhere
from server.http_protocol import HarborHttpProtocol
from server.logs import UVICORN_HANDSHAKE_LINE
from server.transport import HarborWebSocketProtocol
from tests.harness import RedisClusterProcesses, RedisProcess


def _changed(library: str, internal: str, user: str, detail: str) -> str:
    return (
        f"{library} {version(library)} changed {internal}, which {user} relies on: {detail}. "
        "Adapt that module (or keep the lock on the last release this passed on)."
    )


def _parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(function).parameters)


# --- uvicorn: server/transport.py subclasses WebSocketsSansIOProtocol --------------------------

# State the subclass reads or replaces on each chat connection.
_SANSIO_STATE = (
    "conn",  # websockets' ServerProtocol: accept/reject/send_response/send_close/data_to_send
    "app_state",  # where the lifespan puts the chat server ("chat")
    "queue",  # replaced by a discard object: chat sockets have no ASGI app
    "writable",
    "handshake_initiated",
    "handshake_complete",
    "close_sent",
    "disconnected",
    "close_timer",
    "frames",  # the fragments of the message being received
    "curr_msg_data_type",
    "loop",
    "tasks",  # the server's tasks, waited for on graceful shutdown
    "transport",
    "client",  # cleared so the peer's address is never kept
    "scheme",  # "wss" over TLS: the Origin must then be https
)
# Methods the subclass overrides (and calls through super()) or calls.
_SANSIO_METHODS = (
    "connection_made",
    "connection_lost",
    "handle_connect",
    "send_receive_event_to_app",
    "shutdown",
    "pause_writing",
    "resume_writing",
    "start_keepalive",
    "stop_keepalive",
)


def _sansio_protocol() -> sansio.WebSocketsSansIOProtocol:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    loop = asyncio.new_event_loop()
    try:
        return sansio.WebSocketsSansIOProtocol(Config(app=app), ServerState(), {}, _loop=loop)
    finally:
        loop.close()


@pytest.mark.parametrize("attribute", _SANSIO_STATE)
def test_uvicorn_sansio_protocol_keeps_its_connection_state(attribute: str) -> None:
    """uvicorn's WebSocketsSansIOProtocol still sets each attribute the chat transport uses."""
    protocol = _sansio_protocol()
    assert hasattr(protocol, attribute), _changed(
        "uvicorn",
        f"WebSocketsSansIOProtocol.{attribute}",
        "server/transport.py",
        "the attribute is gone",
    )


@pytest.mark.parametrize("method", _SANSIO_METHODS)
def test_uvicorn_sansio_protocol_keeps_its_methods(method: str) -> None:
    """Each method the chat transport overrides or calls still exists with its arguments."""
    base = getattr(sansio.WebSocketsSansIOProtocol, method, None)
    assert callable(base), _changed(
        "uvicorn", f"WebSocketsSansIOProtocol.{method}", "server/transport.py", "it is gone"
    )
    ours = getattr(HarborWebSocketProtocol, method)
    if ours is not base:
        expected = list(_parameters(ours))
        assert list(_parameters(base)) == expected, _changed(
            "uvicorn",
            f"WebSocketsSansIOProtocol.{method}",
            "server/transport.py",
            f"its parameters are now {list(_parameters(base))}, not {expected}",
        )


# --- uvicorn: server/http_protocol.py subclasses HttpToolsProtocol ----------------------------

# State the subclass reads or sets.
_HTTPTOOLS_STATE = (
    "app_state",  # where the lifespan puts the chat server, whose settings it reads
    "timeout_keep_alive",  # set to HARBOR_KEEP_ALIVE_TIMEOUT_S
    "loop",
    "transport",
)
# Parser callbacks and protocol methods the subclass overrides (calling super()).
_HTTPTOOLS_METHODS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_headers_complete",
    "on_message_complete",
)


def _httptools_protocol() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    loop = asyncio.new_event_loop()
    try:
        return httptools_impl.HttpToolsProtocol(Config(app=app), ServerState(), {}, _loop=loop)
    finally:
        loop.close()


@pytest.mark.parametrize("attribute", _HTTPTOOLS_STATE)
def test_uvicorn_httptools_protocol_keeps_its_connection_state(attribute: str) -> None:
    """uvicorn's HttpToolsProtocol still sets each attribute the header deadline uses."""
    assert hasattr(_httptools_protocol(), attribute), _changed(
        "uvicorn",
        f"HttpToolsProtocol.{attribute}",
        "server/http_protocol.py",
        "the attribute is gone",
    )


@pytest.mark.parametrize("method", _HTTPTOOLS_METHODS)
def test_uvicorn_httptools_protocol_keeps_its_methods(method: str) -> None:
    """Each method the header deadline overrides still exists with its arguments."""
    base = getattr(httptools_impl.HttpToolsProtocol, method, None)
    assert callable(base), _changed(
        "uvicorn", f"HttpToolsProtocol.{method}", "server/http_protocol.py", "it is gone"
    )
    expected = list(_parameters(getattr(HarborHttpProtocol, method)))
    assert list(_parameters(base)) == expected, _changed(
        "uvicorn",
        f"HttpToolsProtocol.{method}",
        "server/http_protocol.py",
        f"its parameters are now {list(_parameters(base))}, not {expected}",
    )


def test_uvicorn_handshake_log_lines_keep_their_format() -> None:
    """uvicorn's handshake log lines start with the client address; server/logs.py drops them by
    their '"WebSocket %s"' format, so a new wording would put addresses in Harbor's logs."""
    source = inspect.getsource(sansio)
    assert UVICORN_HANDSHAKE_LINE in source, _changed(
        "uvicorn",
        "the handshake log line format",
        "server/logs.py (_DropHandshakeLines)",
        f"no log call contains {UVICORN_HANDSHAKE_LINE!r} any more",
    )


# --- redis-py: rooms/redis_direct.py (DirectConnections) and the broker's listener -----------


def test_redis_pool_exposes_its_connection_class_and_arguments() -> None:
    """DirectConnections builds its own connections from the pool's class and arguments."""
    pool = ConnectionPool.from_url("redis://127.0.0.1:6379/0")
    assert isinstance(getattr(pool, "connection_kwargs", None), dict), _changed(
        "redis", "ConnectionPool.connection_kwargs", "rooms/redis_direct.py", "it is gone"
    )
    assert getattr(pool, "connection_class", None) is Connection, _changed(
        "redis", "ConnectionPool.connection_class", "rooms/redis_direct.py", "it is gone"
    )


@pytest.mark.parametrize(
    ("method", "arguments"),
    [
        ("send_packed_command", ("command", "check_health")),
        ("read_response", ("timeout", "disconnect_on_error", "push_request")),
        ("disconnect", ("nowait",)),
        ("connect", ()),
    ],
)
def test_redis_connection_keeps_the_calls_harbor_makes(
    method: str, arguments: tuple[str, ...]
) -> None:
    """The redis-py Connection methods DirectConnections and the listener call directly."""
    function = getattr(Connection, method, None)
    assert function is not None and inspect.iscoroutinefunction(function), _changed(
        "redis",
        f"Connection.{method}",
        "rooms/redis_direct.py and rooms/broker_redis.py",
        "it is gone or no longer a coroutine",
    )
    missing = [name for name in arguments if name not in _parameters(function)]
    assert not missing, _changed(
        "redis",
        f"Connection.{method}",
        "rooms/redis_direct.py and rooms/broker_redis.py",
        f"it no longer takes {missing}",
    )


def test_redis_pubsub_keeps_handle_message_and_its_connection() -> None:
    """The broker's listener reads `PubSub.connection` itself and hands (un)subscribe replies
    to the coroutine `PubSub.handle_message`, which keeps redis-py's bookkeeping."""
    assert inspect.iscoroutinefunction(getattr(PubSub, "handle_message", None)), _changed(
        "redis",
        "PubSub.handle_message",
        "rooms/broker_redis.py (_listen)",
        "it is gone or no longer a coroutine",
    )
    assert "connection" in inspect.getsource(PubSub.__init__), _changed(
        "redis", "PubSub.connection", "rooms/broker_redis.py (_listen)", "it is gone"
    )


def test_hiredis_packs_a_command_as_redis_expects() -> None:
    """DirectConnections packs each EVALSHA with hiredis, once, instead of redis-py's packer."""
    command: Any = ("GET", "k")  # the stub says a 1-tuple, as in rooms/redis_direct.py
    assert hiredis.pack_command(command) == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", _changed(
        "hiredis", "pack_command", "rooms/redis_direct.py", "its output differs"
    )


async def test_redis_listener_read_times_out_with_none(redis_server: RedisProcess) -> None:
    """On a real subscription, the listener's short read returns None when nothing came (its
    probe loop relies on that) and a published message as the raw [b"message", channel, body]
    reply; a read with nothing to read must not raise or drop the connection."""
    client = aioredis.from_url(redis_server.url)
    pubsub: Any = client.pubsub()  # as in the broker: handle_message is untyped
    try:
        await pubsub.subscribe("internals")
        read = pubsub.connection.read_response
        confirmation = await read(timeout=1.0, disconnect_on_error=False, push_request=True)
        await pubsub.handle_message(confirmation)
        idle = await read(timeout=0.05, disconnect_on_error=False, push_request=True)
        assert idle is None, _changed(
            "redis",
            "Connection.read_response(timeout=...)",
            "rooms/broker_redis.py (_listen)",
            f"an idle read returned {idle!r} instead of None",
        )
        await client.publish("internals", b"body")
        message = await read(timeout=1.0, disconnect_on_error=False, push_request=True)
        assert message == [b"message", b"internals", b"body"], _changed(
            "redis",
            "the raw pub/sub reply",
            "rooms/broker_redis.py (_listen)",
            f"a message reads as {message!r}",
        )
    finally:
        await pubsub.aclose()
        await client.aclose()


# --- redis-py's cluster client: rooms/broker_cluster.py and rooms/scripts.py ------------------


def _cluster_client(cluster: RedisClusterProcesses) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in cluster.nodes])


async def test_a_cluster_pipeline_sends_a_command_to_the_node_it_names(
    cluster: RedisClusterProcesses,
) -> None:
    """The publish pipeline sends WAIT with `target_nodes` to the node that owns the room (a
    keyless command routes nowhere by itself), after the script, on one connection; with
    `raise_on_error=False` a NOSCRIPT comes back as a NoScriptError in its place."""
    client = _cluster_client(cluster)
    key = "harbor:{room:internals}:meta"
    try:
        await client.initialize()
        node = client.get_node_from_key(key)
        owner = cluster.owner_of(key)
        assert node is not None and (node.host, node.port) == ("127.0.0.1", owner.port), _changed(
            "redis", "RedisCluster.get_node_from_key", "rooms/broker_cluster.py", "wrong node"
        )
        async with client.pipeline(transaction=False) as pipe:
            pipe.evalsha("0" * 40, 1, key)
            pipe.execute_command("WAIT", 1, 100, target_nodes=node)
            pipe.execute_command("CLUSTER MYID", target_nodes=node)
            missing, replicas, answered_by = await pipe.execute(raise_on_error=False)
        assert isinstance(missing, NoScriptError), _changed(
            "redis",
            "ClusterPipeline.execute(raise_on_error=False)",
            "rooms/broker_cluster.py (publish, history)",
            f"NOSCRIPT came back as {missing!r}",
        )
        assert isinstance(replicas, int), _changed(
            "redis", "ClusterPipeline target_nodes", "rooms/broker_cluster.py", f"{replicas!r}"
        )
        assert _text(answered_by) == cluster.node_id(owner), _changed(
            "redis",
            "ClusterPipeline target_nodes",
            "rooms/broker_cluster.py (_replicated_publish)",
            "a command named for one node was answered by another",
        )
    finally:
        await client.aclose()


async def test_a_script_loaded_for_primaries_is_cached_on_every_primary(
    cluster: RedisClusterProcesses,
) -> None:
    """rooms/scripts.py loads a script on every primary after a failover's NOSCRIPT with
    `execute_command("SCRIPT LOAD", ..., target_nodes=RedisCluster.PRIMARIES)`."""
    client = _cluster_client(cluster)
    script = "return 'harbor internals'"
    try:
        await load_everywhere(client, script)
        sha = hashlib.sha1(script.encode()).hexdigest()
        for primary in cluster.primary_nodes():
            assert cluster.cli(primary, "script", "exists", sha).strip() == "1", _changed(
                "redis",
                "execute_command(target_nodes=RedisCluster.PRIMARIES)",
                "rooms/scripts.py (load_everywhere)",
                f"the script is not cached on the primary at port {primary.port}",
            )
    finally:
        await client.aclose()


async def test_a_shard_subscription_reads_as_raw_replies(cluster: RedisClusterProcesses) -> None:
    """The cluster listener SSUBSCRIBEs through `PubSub.execute_command` on one node's client
    and reads `[b"ssubscribe", channel, n]` and `[b"smessage", channel, body]` itself."""
    channel = "harbor:{room:internals}:ch"
    owner = cluster.owner_of(channel)
    node = aioredis.Redis(host="127.0.0.1", port=owner.port)
    pubsub: Any = node.pubsub()
    client = _cluster_client(cluster)
    try:
        await pubsub.execute_command("SSUBSCRIBE", channel)
        read = pubsub.connection.read_response
        confirmed = await read(timeout=1.0, disconnect_on_error=False, push_request=True)
        assert confirmed[:2] == [b"ssubscribe", channel.encode()], _changed(
            "redis", "the raw SSUBSCRIBE reply", "rooms/broker_cluster.py", f"{confirmed!r}"
        )
        await client.spublish(channel, b"body")
        message = await read(timeout=1.0, disconnect_on_error=False, push_request=True)
        assert message == [b"smessage", channel.encode(), b"body"], _changed(
            "redis", "the raw sharded message", "rooms/broker_cluster.py", f"{message!r}"
        )
    finally:
        await pubsub.aclose()
        await node.aclose()
        await client.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
