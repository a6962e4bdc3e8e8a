"""`harbor check`: is this configuration ready to serve people? Asked before a deploy, not after.

A worker that starts with a bad setting refuses to start, which is safe but late: the deploy is
already rolling. Worse, some mistakes never stop a worker at all. A Redis without persistence, or
one that evicts keys when full, runs fine until the day it restarts or fills up and silently loses
open crisis flags, moderator accounts and the audit log. So this command reads the same
environment `harbor serve` reads, loads every data file a worker loads, talks to Redis the way a
worker does, and says in plain words what it found, one line per check:

    ok       redis: reached redis://127.0.0.1:6379/0 (Redis 7.0.15)
    warning  redis persistence: off: a Redis restart loses every open flag, ...
    error    settings: HARBOR_SECRET is required with Redis: ...

It exits 0 when nothing is an error (warnings are things to fix, not reasons to stop a deploy
pipeline) and 1 otherwise. It changes nothing anywhere: no key is written, no file created.
Passwords in REDIS_URL are never printed.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError, ResponseError

from moderation import load_lexicon
from moderation.lexicon import LexiconError
from rooms.catalog import Catalog, CatalogError
from rooms.cluster import SLOTS, Topology, is_cluster_url, parse_cluster_url

from .settings import ConfigError, Settings
from .support import ResourcesError, load_resources

Level = Literal["ok", "warning", "error"]

# Long enough for a Redis across a region, short enough that a wrong address fails a deploy step
# in seconds rather than hanging it.
REDIS_TIMEOUT_S = 3.0
# XTRIM MINID and SET PXAT, used by the broker and the moderation store, arrived in Redis 6.2.
MIN_REDIS_VERSION = (6, 2)
# Sharded pub/sub (SPUBLISH/SSUBSCRIBE), which a cluster's rooms travel on, arrived in 7.0.
MIN_CLUSTER_REDIS_VERSION = (7, 0)
# Shorter HMAC keys can be guessed offline from one captured token, and a guessed key forges any
# anonymous identity (including a banned one's).
MIN_SECRET_CHARS = 32
_SECRET_QUERY_PARAMS = {"password", "ssl_password"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: `level`, what was checked, and what to do about it in plain words."""

    level: Level
    subject: str
    text: str

    def line(self) -> str:
        return f"{self.level:<8} {self.subject}: {self.text}"


def main(environ: Mapping[str, str], out: TextIO) -> int:
    """Print one line per check; 1 if any check is an error, else 0."""
    findings = run_checks(environ)
    for finding in findings:
        out.write(finding.line() + "\n")
    return 1 if any(f.level == "error" for f in findings) else 0


def run_checks(
    environ: Mapping[str, str], *, redis_timeout_s: float = REDIS_TIMEOUT_S
) -> list[Finding]:
    """Every check, in the order a worker meets them at startup. Checks that need valid settings
    are skipped when the settings themselves are wrong: their answer would be a guess."""
    findings: list[Finding] = []
    try:
        settings = Settings.from_env(environ)
    except ConfigError as exc:
        findings.append(Finding("error", "settings", str(exc)))
        findings.append(_check_lexicon())
        return findings
    findings.append(Finding("ok", "settings", _describe_mode(settings)))
    findings.append(_check_secret(settings))
    findings.append(_check_rooms(settings))
    findings.append(_check_resources(settings))
    findings.append(_check_lexicon())
    if settings.redis_url is None:
        findings.append(_check_data_dir(settings.data_dir))
    else:
        findings.extend(check_redis(settings.redis_url, timeout_s=redis_timeout_s))
    return findings


def _describe_mode(settings: Settings) -> str:
    if settings.redis_url is None:
        return (
            "valid; embedded mode: one process, rooms in memory, moderation in SQLite under"
            f" {settings.data_dir} (set REDIS_URL to run several workers)"
        )
    workers = "1 worker" if settings.workers == 1 else f"{settings.workers} workers"
    return f"valid; shared mode: {workers} on this host, rooms and moderation in Redis"


def _check_secret(settings: Settings) -> Finding:
    if settings.secret_generated:
        return Finding(
            "ok",
            "secret",
            "HARBOR_SECRET not set: the embedded default keeps a generated key in"
            f" {settings.data_dir / 'secret'}",
        )
    if len(settings.secret.value) < MIN_SECRET_CHARS:
        return Finding(
            "warning",
            "secret",
            f"HARBOR_SECRET is shorter than {MIN_SECRET_CHARS} characters: a short key can be"
            " guessed from one token and then forges any identity; use `openssl rand -hex 32`",
        )
    return Finding("ok", "secret", "HARBOR_SECRET is set and long enough")


def _check_rooms(settings: Settings) -> Finding:
    where = str(settings.rooms_file) if settings.rooms_file else "the built-in catalog"
    try:
        catalog = Catalog.load(settings.rooms_file)
    except CatalogError as exc:
        return Finding("error", "rooms", f"{exc} (HARBOR_ROOMS)")
    return Finding("ok", "rooms", f"{len(catalog)} rooms from {where}")


def _check_resources(settings: Settings) -> Finding:
    where = str(settings.resources_file) if settings.resources_file else "the built-in list"
    try:
        resources = load_resources(settings.resources_file)
    except ResourcesError as exc:
        return Finding("error", "resources", f"{exc} (HARBOR_RESOURCES)")
    return Finding("ok", "resources", f"{len(resources)} crisis resources from {where}")


def _check_lexicon() -> Finding:
    try:
        lexicon = load_lexicon()
    except (LexiconError, OSError, ValueError, KeyError) as exc:
        return Finding(
            "error",
            "lexicon",
            f"the moderation lexicon does not load ({type(exc).__name__}: {exc}); without it no"
            " crisis message is recognised, so reinstall Harbor",
        )
    return Finding("ok", "lexicon", f"moderation lexicon {lexicon.version} loads")


def _check_data_dir(data_dir: Path) -> Finding:
    """The embedded default writes its SQLite store and generated secret here; find out now,
    without creating anything, whether it could."""
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return Finding(
            "error",
            "data directory",
            f"{data_dir} cannot be written (HARBOR_DATA_DIR): moderation flags and the"
            " generated secret are kept there",
        )
    state = "exists and is writable" if existing == data_dir else "will be created on start"
    return Finding("ok", "data directory", f"{data_dir} {state}")


# Redis


def redact_url(url: str) -> str:
    """REDIS_URL without its password (or any password-like query parameter), safe to print."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:***@{host}"
        query = urlencode(
            [
                (name, "***" if name in _SECRET_QUERY_PARAMS else value)
                for name, value in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="/*",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "REDIS_URL (unparseable, not shown)"


def check_cluster(url: str, *, timeout_s: float = REDIS_TIMEOUT_S) -> list[Finding]:
    """A Redis Cluster: read its slots from the first seed that answers, then reach every
    primary as a worker does: is every slot served, does each primary speak sharded pub/sub
    (Redis 7), and is each run with persistence and without eviction."""
    shown = redact_url(url)
    try:
        address = parse_cluster_url(url)
    except ValueError as exc:
        return [Finding("error", "redis cluster", f"REDIS_URL {shown} is malformed: {exc}")]
    options = {**address.options, "socket_connect_timeout": timeout_s}
    options["socket_timeout"] = timeout_s
    options["decode_responses"] = True
    topology: Topology | None = None
    unreachable = []
    for host, port in address.seeds:
        client: redis.Redis = redis.Redis(host=host, port=port, **options)
        try:
            reply = client.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
            topology = Topology.from_cluster_slots(reply)
            break
        except (RedisError, OSError) as exc:
            unreachable.append(f"{host}:{port} ({type(exc).__name__})")
        finally:
            client.close()
    if topology is None:
        return [
            Finding(
                "error",
                "redis cluster",
                f"no seed node of {shown} answered CLUSTER SLOTS: {', '.join(unreachable)}",
            )
        ]
    findings = []
    if topology.covered < SLOTS:
        findings.append(
            Finding(
                "error",
                "redis cluster",
                f"only {topology.covered} of {SLOTS} slots are served: rooms and flags in the"
                " others cannot be written until every slot has a primary (redis-cli --cluster"
                " check / fix)",
            )
        )
    else:
        findings.append(
            Finding(
                "ok",
                "redis cluster",
                f"all {SLOTS} slots served by {len(topology.nodes)} primaries",
            )
        )
    for name, (host, port) in sorted(topology.nodes.items()):
        findings.extend(_check_cluster_node(name, host, port, options))
    return findings


def _check_cluster_node(name: str, host: str, port: int, options: dict[str, Any]) -> list[Finding]:
    subject = f"redis node {name}"
    client: redis.Redis = redis.Redis(host=host, port=port, **options)
    try:
        try:
            client.ping()
            version = str(client.info("server").get("redis_version", "?"))
        except (RedisError, OSError) as exc:
            return [Finding("error", subject, f"unreachable ({type(exc).__name__}: {exc})")]
        if _version(version) < MIN_CLUSTER_REDIS_VERSION:
            wanted = ".".join(map(str, MIN_CLUSTER_REDIS_VERSION))
            return [
                Finding(
                    "error",
                    subject,
                    f"runs Redis {version}; sharded pub/sub (SPUBLISH, SSUBSCRIBE) needs {wanted}",
                )
            ]
        return [
            Finding("ok", subject, f"reached (Redis {version}, sharded pub/sub available)"),
            _check_persistence(client),
            _check_eviction(client),
        ]
    finally:
        client.close()


def check_redis(url: str, *, timeout_s: float = REDIS_TIMEOUT_S) -> list[Finding]:
    """Reach Redis as a worker does (same URL, same TLS options), then read how it is run."""
    if is_cluster_url(url):
        return check_cluster(url, timeout_s=timeout_s)
    shown = redact_url(url)
    try:
        client: redis.Redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            decode_responses=True,
        )
    except (TypeError, ValueError) as exc:
        return [Finding("error", "redis", f"REDIS_URL {shown} is malformed: {exc}")]
    try:
        try:
            client.ping()
            server = client.info("server")
            cluster = client.info("cluster")
        except (RedisError, OSError, TypeError, ValueError) as exc:
            return [Finding("error", "redis", explain_redis_error(exc, url, timeout_s))]
        version = str(server.get("redis_version", "?"))
        if _version(version) < MIN_REDIS_VERSION:
            wanted = ".".join(map(str, MIN_REDIS_VERSION))
            return [
                Finding(
                    "error",
                    "redis",
                    f"reached {shown}, but it runs Redis {version}; Harbor needs {wanted} or newer",
                )
            ]
        if str(cluster.get("cluster_enabled", "0")) == "1":
            return [
                Finding(
                    "error",
                    "redis",
                    f"{shown} is a Redis Cluster node; name the cluster with"
                    " redis+cluster://host:port,host:port (rediss+cluster:// for TLS) so every"
                    " worker uses it as a cluster (docs/operations.md)",
                )
            ]
        return [
            Finding("ok", "redis", f"reached {shown} (Redis {version})"),
            _check_persistence(client),
            _check_eviction(client),
        ]
    finally:
        client.close()


def explain_redis_error(exc: BaseException, url: str, timeout_s: float) -> str:
    """What went wrong reaching Redis, and what to change, without the password."""
    parts = urlsplit(url)
    tls = parts.scheme == "rediss"
    where = redact_url(url)
    causes = list(_chain(exc))
    detail = str(exc) or type(exc).__name__
    verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        return (
            f"{where}: the server's TLS certificate is not trusted ({verify.verify_message});"
            " give its CA in the URL, e.g. ?ssl_ca_certs=/path/to/ca.pem (never"
            " ssl_cert_reqs=none in production: it lets anyone in the middle read every message)"
        )
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return (
            f"{where}: the TLS handshake failed ({detail}); is this a TLS port? rediss:// needs"
            " one, redis:// a plain one"
        )
    if isinstance(exc, AuthenticationError) or _mentions_auth(detail):
        if parts.password is None:
            return (
                f"{where}: Redis asks for a password and REDIS_URL has none; put it in the URL:"
                " redis://:PASSWORD@host:6379/0, or redis://USER:PASSWORD@host:6379/0 for an"
                " ACL user (use rediss:// when the password crosses a network)"
            )
        return (
            f"{where}: Redis refused the user name or password in REDIS_URL; check both (an ACL"
            " user must also be enabled and allowed Harbor's commands)"
        )
    if isinstance(exc, NoPermissionError):
        return (
            f"{where}: the Redis user may not run a command Harbor needs ({detail}); allow it"
            " PING, INFO, EVALSHA/EVAL, PUBLISH, SUBSCRIBE and the key commands on harbor:*"
        )
    if any(isinstance(c, socket.gaierror) for c in causes):
        return f"{where}: the host name does not resolve ({detail}); check REDIS_URL's host"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return (
            f"{where}: nothing is listening there (connection refused); is Redis running, and"
            " is this its host and port?"
        )
    if any(isinstance(c, ConnectionResetError) for c in causes) and not tls:
        return (
            f"{where}: the server hung up at once; if it only accepts TLS, use rediss://"
            " instead of redis://"
        )
    if any(isinstance(c, TimeoutError) for c in causes) or isinstance(exc, redis.TimeoutError):
        hint = (
            "if that port speaks plain Redis, use redis:// (rediss:// is for TLS ports);"
            " otherwise check the host, the port and any firewall between here and Redis"
            if tls
            else "check the host, the port and any firewall between here and Redis"
        )
        return f"{where}: no answer within {timeout_s:g} s; {hint}"
    if isinstance(exc, TypeError | ValueError):
        return f"REDIS_URL {where} is malformed: {detail}"
    return f"{where}: could not talk to Redis ({type(exc).__name__}: {detail})"


def _mentions_auth(detail: str) -> bool:
    words = ("NOAUTH", "WRONGPASS", "invalid password", "Authentication required")
    return any(word.lower() in detail.lower() for word in words)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from or during (redis-py wraps OS errors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _version(text: str) -> tuple[int, ...]:
    numbers = []
    for part in text.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits) if digits else 0)
    return tuple(numbers)


def _config(client: redis.Redis, name: str) -> str | None:
    """One CONFIG GET value; None when the server does not report it."""
    reply: Mapping[Any, Any] = client.config_get(name)
    value = reply.get(name)
    return None if value is None else str(value)


def _unverifiable(subject: str, exc: RedisError, advice: str) -> Finding:
    return Finding(
        "warning",
        subject,
        f"couldn't verify: CONFIG is disabled or not allowed for this user ({exc}), as on many"
        f" managed Redis services; make sure {advice}",
    )


def _check_persistence(client: redis.Redis) -> Finding:
    """Flags, moderator accounts and the audit log exist only in Redis: without an append-only
    file, a restart or crash forgets people who asked for help and were not yet answered."""
    subject = "redis persistence"
    advice = "append-only persistence is on (appendonly yes, appendfsync everysec)"
    try:
        appendonly = _config(client, "appendonly")
        fsync = _config(client, "appendfsync")
        save = _config(client, "save")
    except (ResponseError, NoPermissionError) as exc:
        return _unverifiable(subject, exc, advice)
    if appendonly is None:
        return Finding("warning", subject, f"couldn't verify: CONFIG hid it; make sure {advice}")
    if appendonly == "yes":
        if fsync == "no":
            return Finding(
                "warning",
                subject,
                "append-only file on, but appendfsync no lets the OS delay writes, so a crash"
                " can lose about 30 s of flags and audit entries; set appendfsync everysec",
            )
        return Finding(
            "ok",
            subject,
            f"append-only file on (appendfsync {fsync}): a crash loses at most about a second"
            " of flags and audit entries",
        )
    if save:
        return Finding(
            "warning",
            subject,
            f'only RDB snapshots (save "{save}"): a crash loses every flag, claim and audit entry'
            " since the last snapshot; set appendonly yes and appendfsync everysec",
        )
    return Finding(
        "warning",
        subject,
        "off: a Redis restart loses every open flag, moderator account and the audit log;"
        " set appendonly yes and appendfsync everysec",
    )


_EVICTS: dict[str, str] = {
    "volatile": "keys that have an expiry: room history, moderator sessions and active"
    " mutes and bans (a ban lifted early)",
    "allkeys": "any key: open crisis flags, moderator accounts and the audit log included",
}


def _check_eviction(client: redis.Redis) -> Finding:
    """Under any policy but noeviction a full Redis deletes keys to make room; Harbor would then
    lose state no one chose to delete. noeviction makes writes fail instead, which workers report
    and clients retry."""
    subject = "redis eviction"
    try:
        policy = _config(client, "maxmemory-policy")
        maxmemory = _config(client, "maxmemory")
    except (ResponseError, NoPermissionError) as exc:
        return _unverifiable(subject, exc, "maxmemory-policy is noeviction")
    if policy is None:
        return Finding(
            "warning",
            subject,
            "couldn't verify: CONFIG hid it; make sure maxmemory-policy is noeviction",
        )
    if policy == "noeviction":
        return Finding(
            "ok", subject, "maxmemory-policy noeviction: a full Redis refuses writes, deletes none"
        )
    victims = _EVICTS.get(policy.partition("-")[0], "keys")
    when = (
        "once a maxmemory limit is set (none is now)"
        if maxmemory in (None, "0")
        else "when it fills up"
    )
    return Finding(
        "warning",
        subject,
        f"maxmemory-policy {policy}: {when} Redis deletes {victims};"
        " set maxmemory-policy noeviction",
    )
