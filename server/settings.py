"""Every tunable of a Harbor worker, read from the environment in one place.

Each limit carries its unit in its name and a reason in its comment, so an operator can change it
knowingly. `Settings.from_env` is the only reader of `os.environ` for Harbor's own settings; the CLI
turns its flags into the same variables so the Procfile never repeats a number.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from casework.flags import DUE_AFTER_MS, ResponseTargets

from .proxies import parse_network


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that must never be printed: `repr` hides it (like starlette's `Secret`)."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # None: the embedded in-memory broker (one process only).
    redis_url: str | None = None
    # Redis connections per worker for commands (publish, history, flags); a burst waits for one
    # rather than failing. Pub/sub uses one more, separate connection.
    redis_max_connections: int = 64
    # On a Redis Cluster, how long a message's ack waits for a replica to confirm it (WAIT), so
    # a primary that dies right after cannot take an acked message with it; 0: never wait.
    replica_ack_timeout_ms: int = 250
    # HMAC key for anonymous tokens; generated per process when absent (embedded default only).
    secret: Secret = field(default_factory=lambda: Secret(""))
    secret_generated: bool = False
    workers: int = 1
    rooms_file: Path | None = None
    resources_file: Path | None = None
    data_dir: Path = Path("var")

    # Inbound limits. A chat message is a few hundred bytes; 16 KiB leaves room for JSON overhead
    # while a 1 MiB frame can't pin a worker's CPU or memory.
    max_frame_bytes: int = 16 * 1024
    max_text_chars: int = 2000
    # A person types a few messages a minute; 20 per 10 s with a burst of 5 stops floods only.
    send_rate_per_10s: int = 20
    send_burst: int = 5
    # A message judged spam is held, and its writer's next send waits this long: a spammer is
    # slowed to one attempt per cooldown, a person misjudged once loses a few seconds.
    spam_cooldown_s: float = 10.0
    # "I'm struggling" requests from one connection are at least this far apart: a second tap
    # soon after the first adds nothing the room has not seen, and a flood of them would drown
    # the room's own requests.
    struggling_cooldown_s: float = 120.0
    # Meetings (rooms/meetings.py): a room shows its meeting this long before the start; one
    # meeting's share queue holds at most this many raised hands, and this many people may say
    # they are just listening (counted); the schedule page lists this many days ahead.
    meeting_open_early_s: float = 600.0
    meeting_queue_max: int = 50
    meeting_listening_max: int = 500
    meeting_schedule_days: int = 14
    # A share with a time limit: its person is told this long before the end; someone a meeting
    # names (chair, sharing, hand up, listening) gone this long is let go (the resume window); and
    # each worker settles its meetings (turns up, people gone) this often.
    meeting_turn_warning_s: float = 30.0
    meeting_resume_s: float = 60.0
    meeting_sweep_s: float = 1.0
    # Meetings a coordinator may add while Harbor runs (beside the rooms file's): every worker
    # reads them all each sweep, and every schedule page lists them.
    meetings_added_max: int = 100
    # Risk across messages (moderation/context.py): each person's recent risky messages are
    # remembered this long, in memory only, for at most this many people (oldest forgotten).
    context_window_s: float = 900.0
    context_people: int = 10_000
    max_rooms_per_connection: int = 10
    hello_timeout_s: float = 10.0

    # Outbound: bytes queued in the kernel-side transport buffer before a member counts as slow
    # and is closed (4008, resumes with `since`). 256 KiB holds over a thousand chat messages.
    outbox_bytes: int = 256 * 1024
    # Live messages buffered for one member while its join reads history.
    join_buffer_messages: int = 1000

    # History is also a privacy promise: at most this many messages and this old, per room.
    history_len: int = 200
    history_max_age_s: int = 24 * 3600
    join_history_messages: int = 50
    # Recent client_ids remembered per identity and room, so a resend is never published twice.
    client_ids_remembered: int = 64

    # A moderator's claim is a lease their live connection renews; it lapses back to the queue
    # this long after they go away (closed laptop, crashed worker).
    claim_lease_s: float = 30.0
    # No mute or ban lasts longer than this: every ban expires (a person is paused, never shut
    # out for good), and the notice tells them when.
    sanction_max_days: int = 30
    # While nobody is on duty, the page names the time the next volunteer is expected only when
    # the rota has a shift starting within this many hours (never a guess past it).
    next_volunteer_hours: float = 12.0
    # Coordinators are warned of rota gaps starting within this many hours ("a day ahead").
    rota_warning_hours: float = 24.0
    # Time to a human (casework.flags.ResponseTargets). An unclaimed flag past its severity's
    # target re-alerts every moderator on duty, once per target: a person at imminent risk
    # should reach a human within a minute (Crisis Text Line answers its highest-risk texters in
    # a median of 39 s).
    target_imminent_s: float = 60.0
    target_high_s: float = 300.0
    # An imminent or high flag nobody has claimed this long past its target calls the backup
    # list (below): those on duty had the re-alert first.
    backup_after_s: float = 60.0
    # The operator's webhook that rings the backup list (a coordinator's phone, a pager
    # service); empty: none. Each call is signed with the secret (HMAC-SHA256), tried this many
    # times with growing pauses, each attempt abandoned after the timeout; at most this many
    # calls wait per worker (past it a call is dropped, counted and logged).
    backup_webhook_url: str = ""
    backup_webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    backup_webhook_attempts: int = 5
    backup_webhook_timeout_s: float = 5.0
    backup_calls_queued: int = 32
    presence_interval_s: float = 1.0
    presence_ttl_s: float = 15.0

    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    # Empty: same-origin only (Origin's host must equal the Host header).
    allowed_origins: tuple[str, ...] = ()
    shutdown_grace_s: float = 10.0
    # On SIGTERM, clients are closed with 1012 this many at a time, one batch per interval, so
    # they reconnect to other workers spread out instead of all in the same instant.
    drain_batch: int = 500
    drain_interval_s: float = 0.2
    log_format: str = "text"
    log_level: str = "info"

    # Per source: a keyed hash of the client's address, never the address (server/sources.py).
    # A household, a shelter or a phone carrier's NAT can put many people behind one address, so
    # these stop floods, not families: 60 sockets is a dozen people with several tabs each.
    sockets_per_source: int = 60
    # New identities (a hello without a valid token): a person needs one; a raid needs hundreds.
    new_identities_per_source_per_min: float = 10.0
    # Joins read history, the costliest thing a client can ask for: per connection and per
    # source, so a join/leave loop cannot pull a room's history over and over.
    joins_per_connection_per_10s: float = 10.0
    joins_per_source_per_10s: float = 30.0
    # Moderator sign-in attempts per source (and five per minute per source and name).
    sign_ins_per_source_per_min: float = 6.0
    # Embedded broker only: room logs and message text held in memory, and how often expired
    # ones are swept. Beyond a cap the least recently used room nobody is in is dropped whole.
    max_room_logs: int = 10_000
    max_history_bytes: int = 64 * 1024 * 1024
    room_sweep_interval_s: float = 60.0
    # Open moderator sockets re-check their session this often, so sign-out, expiry, a new
    # password or a removed account ends them on every worker within this time.
    session_check_interval_s: float = 1.0
    # Resolved flags and audit entries are deleted after this many days.
    retention_days: int = 30
    # A person whose crisis case was resolved and who comes back within this many hours
    # prompts the volunteers on duty to follow up (server/writer_presence.py).
    follow_up_hours: int = 72
    # An anonymous token unused this long no longer opens its identity (every welcome hands out
    # a fresh one, so only someone who stayed away this long is affected): the next person at a
    # shared device cannot walk back into a private check-in. A ban's revocation is kept as long.
    token_idle_days: float = 30.0

    # HTTP (every request but the chat socket). No route takes more than a few KB -- a sign-in,
    # a moderator's note of at most 1,000 characters -- so a larger body is refused (413) from
    # its Content-Length, or as soon as a chunked one passes the cap, before it is buffered.
    max_body_bytes: int = 16 * 1024
    # A request's headers must arrive whole this long after its first byte (or after the
    # connection opens), in total: a client dripping a byte at a time holds a socket no longer.
    header_timeout_s: float = 10.0
    # ...and its body this long after the headers.
    body_timeout_s: float = 10.0
    # An idle keep-alive connection is closed after this.
    keep_alive_timeout_s: float = 5.0
    # HTTP requests in flight per worker; past it 503 with Retry-After (health probes excepted).
    # Chat sockets are not requests and do not count.
    max_http_requests: int = 200
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (server/proxies.py).
    # Empty: none; the socket's peer is the client.
    trusted_proxies: tuple[str, ...] = ()
    # /metrics shows how many moderators are on duty and how long a crisis has waited: only
    # these client addresses may read it, or a scraper with the bearer token below.
    metrics_allowed_sources: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token: Secret = field(default_factory=lambda: Secret(""))

    @property
    def uses_redis(self) -> bool:
        return self.redis_url is not None

    @property
    def token_idle_s(self) -> float:
        return self.token_idle_days * 86400

    @property
    def response_targets(self) -> ResponseTargets:
        due = {
            **DUE_AFTER_MS,
            "imminent": round(self.target_imminent_s * 1000),
            "high": round(self.target_high_s * 1000),
        }
        return ResponseTargets(due_after_ms=due, backup_after_ms=round(self.backup_after_s * 1000))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables (`HARBOR_*`, plus PORT, REDIS_URL,
        WEB_CONCURRENCY as platforms set them). Raises ConfigError with a plain-words reason."""
        env = _Env(environ)
        redis_url = env.text("HARBOR_REDIS_URL") or env.text("REDIS_URL") or None
        secret = env.text("HARBOR_SECRET")
        workers = env.integer("WEB_CONCURRENCY", 1, minimum=1)
        if redis_url and not secret:
            raise ConfigError(
                "HARBOR_SECRET is required with Redis: every worker must sign and verify the same"
                " anonymous tokens. Set it to a long random string (e.g. `openssl rand -hex 32`)."
            )
        if workers > 1 and not redis_url:
            raise ConfigError(
                "WEB_CONCURRENCY > 1 needs REDIS_URL: workers share rooms through Redis; the"
                " in-memory broker lives inside one process."
            )
        rooms = env.text("HARBOR_ROOMS")
        resources = env.text("HARBOR_RESOURCES")
        settings = cls(
            host=env.text("HARBOR_HOST") or cls.host,
            port=env.integer(
                "PORT", env.integer("HARBOR_PORT", cls.port, 0, 65535), minimum=0, maximum=65535
            ),
            redis_url=redis_url,
            redis_max_connections=env.integer(
                "HARBOR_REDIS_MAX_CONNECTIONS", cls.redis_max_connections, 2
            ),
            replica_ack_timeout_ms=env.integer(
                "HARBOR_REPLICA_ACK_TIMEOUT_MS", cls.replica_ack_timeout_ms, 0, 10_000
            ),
            secret=Secret(secret or secrets.token_hex(32)),
            secret_generated=not secret,
            workers=workers,
            rooms_file=Path(rooms) if rooms else None,
            resources_file=Path(resources) if resources else None,
            data_dir=Path(env.text("HARBOR_DATA_DIR") or cls.data_dir),
            max_frame_bytes=env.integer("HARBOR_MAX_FRAME_BYTES", cls.max_frame_bytes, 256),
            max_text_chars=env.integer("HARBOR_MAX_TEXT_CHARS", cls.max_text_chars, 1),
            send_rate_per_10s=env.integer("HARBOR_SEND_RATE_PER_10S", cls.send_rate_per_10s, 1),
            send_burst=env.integer("HARBOR_SEND_BURST", cls.send_burst, 1),
            spam_cooldown_s=env.number("HARBOR_SPAM_COOLDOWN_S", cls.spam_cooldown_s),
            struggling_cooldown_s=env.number(
                "HARBOR_STRUGGLING_COOLDOWN_S", cls.struggling_cooldown_s
            ),
            meeting_open_early_s=env.number(
                "HARBOR_MEETING_OPEN_EARLY_S", cls.meeting_open_early_s
            ),
            meeting_queue_max=env.integer(
                "HARBOR_MEETING_QUEUE_MAX", cls.meeting_queue_max, 1, 1000
            ),
            meeting_listening_max=env.integer(
                "HARBOR_MEETING_LISTENING_MAX", cls.meeting_listening_max, 0, 100_000
            ),
            meeting_schedule_days=env.integer(
                "HARBOR_MEETING_SCHEDULE_DAYS", cls.meeting_schedule_days, 1, 366
            ),
            meeting_turn_warning_s=env.number(
                "HARBOR_MEETING_TURN_WARNING_S", cls.meeting_turn_warning_s
            ),
            meeting_resume_s=env.number("HARBOR_MEETING_RESUME_S", cls.meeting_resume_s),
            meeting_sweep_s=env.number("HARBOR_MEETING_SWEEP_S", cls.meeting_sweep_s),
            meetings_added_max=env.integer(
                "HARBOR_MEETINGS_ADDED_MAX", cls.meetings_added_max, 0, 1000
            ),
            context_window_s=env.number("HARBOR_CONTEXT_WINDOW_S", cls.context_window_s),
            context_people=env.integer("HARBOR_CONTEXT_PEOPLE", cls.context_people, 1),
            max_rooms_per_connection=env.integer(
                "HARBOR_MAX_ROOMS_PER_CONNECTION", cls.max_rooms_per_connection, 1
            ),
            hello_timeout_s=env.number("HARBOR_HELLO_TIMEOUT_S", cls.hello_timeout_s),
            outbox_bytes=env.integer("HARBOR_OUTBOX_BYTES", cls.outbox_bytes, 4096),
            join_buffer_messages=env.integer(
                "HARBOR_JOIN_BUFFER_MESSAGES", cls.join_buffer_messages, 1
            ),
            history_len=env.integer("HARBOR_HISTORY_LEN", cls.history_len, 1),
            history_max_age_s=env.integer("HARBOR_HISTORY_MAX_AGE_S", cls.history_max_age_s, 1),
            join_history_messages=env.integer(
                "HARBOR_JOIN_HISTORY_MESSAGES", cls.join_history_messages, 0
            ),
            client_ids_remembered=env.integer(
                "HARBOR_CLIENT_IDS_REMEMBERED", cls.client_ids_remembered, 1
            ),
            claim_lease_s=env.number("HARBOR_CLAIM_LEASE_S", cls.claim_lease_s),
            next_volunteer_hours=env.number(
                "HARBOR_NEXT_VOLUNTEER_HOURS", cls.next_volunteer_hours
            ),
            rota_warning_hours=env.number("HARBOR_ROTA_WARNING_HOURS", cls.rota_warning_hours),
            sanction_max_days=env.integer(
                "HARBOR_SANCTION_MAX_DAYS", cls.sanction_max_days, 1, 365
            ),
            target_imminent_s=env.number("HARBOR_TARGET_IMMINENT_S", cls.target_imminent_s),
            target_high_s=env.number("HARBOR_TARGET_HIGH_S", cls.target_high_s),
            backup_after_s=env.number("HARBOR_BACKUP_AFTER_S", cls.backup_after_s),
            backup_webhook_url=_webhook_url(env.text("HARBOR_BACKUP_WEBHOOK_URL")),
            backup_webhook_secret=Secret(env.text("HARBOR_BACKUP_WEBHOOK_SECRET")),
            backup_webhook_attempts=env.integer(
                "HARBOR_BACKUP_WEBHOOK_ATTEMPTS", cls.backup_webhook_attempts, 1, 20
            ),
            backup_webhook_timeout_s=env.number(
                "HARBOR_BACKUP_WEBHOOK_TIMEOUT_S", cls.backup_webhook_timeout_s
            ),
            backup_calls_queued=env.integer(
                "HARBOR_BACKUP_CALLS_QUEUED", cls.backup_calls_queued, 1
            ),
            presence_interval_s=env.number("HARBOR_PRESENCE_INTERVAL_S", cls.presence_interval_s),
            presence_ttl_s=env.number("HARBOR_PRESENCE_TTL_S", cls.presence_ttl_s),
            ping_interval_s=env.number("HARBOR_PING_INTERVAL_S", cls.ping_interval_s),
            ping_timeout_s=env.number("HARBOR_PING_TIMEOUT_S", cls.ping_timeout_s),
            allowed_origins=env.words("HARBOR_ALLOWED_ORIGINS"),
            shutdown_grace_s=env.number("HARBOR_SHUTDOWN_GRACE_S", cls.shutdown_grace_s),
            drain_batch=env.integer("HARBOR_DRAIN_BATCH", cls.drain_batch, 1),
            drain_interval_s=env.number("HARBOR_DRAIN_INTERVAL_S", cls.drain_interval_s),
            log_format=env.choice("HARBOR_LOG_FORMAT", cls.log_format, ("text", "json")),
            log_level=env.choice(
                "HARBOR_LOG_LEVEL", cls.log_level, ("debug", "info", "warning", "error")
            ),
            sockets_per_source=env.integer("HARBOR_SOCKETS_PER_SOURCE", cls.sockets_per_source, 1),
            new_identities_per_source_per_min=env.number(
                "HARBOR_NEW_IDENTITIES_PER_SOURCE_PER_MIN", cls.new_identities_per_source_per_min
            ),
            joins_per_connection_per_10s=env.number(
                "HARBOR_JOINS_PER_CONNECTION_PER_10S", cls.joins_per_connection_per_10s
            ),
            joins_per_source_per_10s=env.number(
                "HARBOR_JOINS_PER_SOURCE_PER_10S", cls.joins_per_source_per_10s
            ),
            sign_ins_per_source_per_min=env.number(
                "HARBOR_SIGN_INS_PER_SOURCE_PER_MIN", cls.sign_ins_per_source_per_min
            ),
            max_room_logs=env.integer("HARBOR_MAX_ROOM_LOGS", cls.max_room_logs, 1),
            max_history_bytes=env.integer(
                "HARBOR_MAX_HISTORY_BYTES", cls.max_history_bytes, 64 * 1024
            ),
            room_sweep_interval_s=env.number(
                "HARBOR_ROOM_SWEEP_INTERVAL_S", cls.room_sweep_interval_s
            ),
            session_check_interval_s=env.number(
                "HARBOR_SESSION_CHECK_INTERVAL_S", cls.session_check_interval_s
            ),
            retention_days=env.integer("HARBOR_RETENTION_DAYS", cls.retention_days, 1),
            follow_up_hours=env.integer("HARBOR_FOLLOW_UP_HOURS", cls.follow_up_hours, 0, 24 * 30),
            max_body_bytes=env.integer("HARBOR_MAX_BODY_BYTES", cls.max_body_bytes, 1024),
            header_timeout_s=env.number("HARBOR_HEADER_TIMEOUT_S", cls.header_timeout_s),
            body_timeout_s=env.number("HARBOR_BODY_TIMEOUT_S", cls.body_timeout_s),
            keep_alive_timeout_s=env.number(
                "HARBOR_KEEP_ALIVE_TIMEOUT_S", cls.keep_alive_timeout_s
            ),
            max_http_requests=env.integer("HARBOR_MAX_HTTP_REQUESTS", cls.max_http_requests, 1),
            trusted_proxies=env.networks("HARBOR_TRUSTED_PROXIES", ()),
            metrics_allowed_sources=env.networks(
                "HARBOR_METRICS_ALLOWED_SOURCES", cls.metrics_allowed_sources
            ),
            metrics_token=Secret(env.text("HARBOR_METRICS_TOKEN")),
            token_idle_days=env.number("HARBOR_TOKEN_IDLE_DAYS", cls.token_idle_days),
        )
        if settings.backup_webhook_url and not settings.backup_webhook_secret:
            raise ConfigError(
                "HARBOR_BACKUP_WEBHOOK_URL needs HARBOR_BACKUP_WEBHOOK_SECRET: the receiver must"
                " be able to tell Harbor's calls from anyone else's (`openssl rand -hex 32`)."
            )
        if settings.target_high_s < settings.target_imminent_s:
            raise ConfigError(
                "HARBOR_TARGET_HIGH_S must be at least HARBOR_TARGET_IMMINENT_S: the most urgent"
                " flags must not get the longer wait."
            )
        if settings.presence_ttl_s <= 2 * settings.presence_interval_s:
            raise ConfigError(
                "HARBOR_PRESENCE_TTL_S must exceed twice HARBOR_PRESENCE_INTERVAL_S, or live"
                " workers' members would expire between heartbeats."
            )
        if settings.meeting_resume_s <= 2 * settings.meeting_sweep_s:
            raise ConfigError(
                "HARBOR_MEETING_RESUME_S must exceed twice HARBOR_MEETING_SWEEP_S, or people in a"
                " meeting who are still here would be let go between sweeps."
            )
        return settings


def _webhook_url(url: str) -> str:
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError(f"HARBOR_BACKUP_WEBHOOK_URL must be an http(s) URL, got {url[:40]!r}")
    return url


class _Env:
    """Typed, validated reads of one environment mapping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str:
        return self._environ.get(name, "").strip()

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be at most {maximum}, got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name} must be a positive, finite number, got {raw!r}")
        return value

    def words(self, name: str) -> tuple[str, ...]:
        return tuple(w for w in self.text(name).replace(",", " ").split() if w)

    def networks(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Addresses or CIDR ranges, space or comma separated, normalized (`10.0.0.7` is
        `10.0.0.7/32`); `none` for an empty list."""
        words = self.words(name)
        if not words:
            return default
        if [w.lower() for w in words] == ["none"]:
            return ()
        try:
            return tuple(str(parse_network(word)) for word in words)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.text(name).lower() or default
        if raw not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return raw
