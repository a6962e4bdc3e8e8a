"""The chat socket at /ws: one `ChatConnection` per client, driven by events, not by a task.

`server/transport.py` hands every complete client message to `on_frame`. Commands are answered
strictly in arrival order by a short-lived task that exists only while the connection has
commands waiting, so an idle member costs no task at all (the idle-memory target), while a busy
one is still served one command at a time. The inbox is bounded: past `_INBOX_LIMIT` waiting
commands the socket stops being read (TCP pushes back on the client), so nobody can queue
unbounded work in a worker.

A `ChatConnection` is also the hub's `Member`: its `outlet` is the transport's own write, which
the fan-out calls directly. Its outbox is the transport's write buffer, bounded by
`HARBOR_OUTBOX_BYTES` (the transport's high-water mark): a member that falls further behind is
told by flow control (`fell_behind`) and closed with SLOW_CONSUMER (it resumes with `since`), so
its backlog never grows the worker's memory and never delays anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from contextlib import suppress
from typing import Any

from casework.passwords import session_token_hash
from rooms.broker import BrokerUnavailable
from rooms.hub import JoinAborted, Outlet
from rooms.meeting_rules import Action, Actor, Person
from rooms.meeting_rules import Refused as MeetingRefused

from . import feeds, meetings
from .closecodes import CloseCode
from .context import WorkerContext
from .gate import GateUnavailable, MessageGate, Outcome, Refused
from .identity import Identity, TokenState, is_checkin_room, is_revoked, volunteer_name
from .protocol import (
    Close,
    Command,
    Delete,
    Hello,
    Join,
    Leave,
    MeetingCommand,
    Ping,
    Profile,
    Refusal,
    Report,
    Send,
    Struggling,
    encode,
    error_event,
    history_item,
    parse,
)
from .ratelimit import TokenBucket
from .registry import Registry
from .settings import Settings
from .sources import source_sanction_key
from .struggling import ask_for_support
from .transport import FrameSink

logger = logging.getLogger("harbor.endpoint")

_INBOX_LIMIT = 32
# Sends refused by the rate limit (or a spam hold) that are still read for a crisis: one every
# few seconds, a few in a row. A crisis among them goes through at once (see
# `_reaches_out_past_limit`); the bound keeps a flood from buying a classifier pass per frame.
_CRISIS_CHECK_RATE = 0.2
_CRISIS_CHECK_BURST = 3
_SLOW = "too far behind; reconnect and resume with since"


class ChatConnection:
    __slots__ = (
        "badge",
        "closed",
        "codec",
        "id",
        "identity",
        "moderator",
        "muted_until_ms",
        "region",
        "rooms",
        "sources",
        "_counted",
        "_crisis_checks",
        "_join_bucket",
        "_ended",
        "_session_token",
        "_hello_timer",
        "_inbox",
        "_paused",
        "_context",
        "_gate",
        "_registry",
        "_send_bucket",
        "_sink",
        "_struggled_at",
        "_task",
    )

    def __init__(
        self,
        context: WorkerContext,
        registry: Registry,
        gate: MessageGate,
        sink: FrameSink,
        codec: int,
        session_token: str | None = None,
        sources: tuple[str, str] = ("-", "-"),
    ) -> None:
        settings = context.settings
        self._context = context
        self._registry = registry
        self._gate = gate
        self._sink = sink
        self.codec = codec
        self.id = uuid.uuid4().hex[:12]  # for logs; never tied to an address
        self.identity: Identity | None = None
        self.moderator: str | None = None
        self.muted_until_ms = 0
        self.region: str | None = None
        self.badge = ""  # a milestone badge the person chose to show (server/milestones.py)
        self._session_token = session_token  # the moderator cookie of the handshake, if any
        self.rooms: set[str] = set()
        self.closed = False
        self._ended = False
        self._inbox: deque[Command | Refusal] = deque()
        self._paused = False
        self._task: asyncio.Task[None] | None = None
        now = time.monotonic()
        self._send_bucket = TokenBucket(
            rate=settings.send_rate_per_10s / 10, burst=settings.send_burst, now=now
        )
        rate = settings.joins_per_connection_per_10s / 10
        self._join_bucket = TokenBucket(rate=rate, burst=max(1.0, rate * 10), now=now)
        # Today's and yesterday's keyed hash of the client's address (server/sources.py).
        self.sources = sources
        self._crisis_checks: TokenBucket | None = None  # made at the first refused send
        self._struggled_at = -math.inf  # when this connection last asked for support
        loop = asyncio.get_running_loop()
        self._hello_timer: asyncio.TimerHandle | None = loop.call_later(
            settings.hello_timeout_s, self._hello_expired
        )
        registry.opened()
        self._counted = registry.limits.open_socket(sources[0])
        if not self._counted:
            context.metrics.rate_limited.inc()
            self.close(CloseCode.TRY_AGAIN_LATER, "too many connections from this network")

    # Events from the transport

    def on_frame(self, data: str | bytes) -> None:
        if self.closed:
            return
        outcome = parse(data, self.codec, max_text_chars=self._context.settings.max_text_chars)
        if isinstance(outcome, Close):
            self.close(outcome.code, outcome.reason)
            return
        self._inbox.append(outcome)
        if len(self._inbox) >= _INBOX_LIMIT and not self._paused:
            self._paused = True
            self._sink.pause_reading()
        if self._task is None:
            self._task = self._sink.spawn(self._drain())

    def on_closed(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.closed = True
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        self._sink.spawn(self._cleanup(self._task))

    def fell_behind(self) -> None:
        """The socket's buffer passed the outbox bound (transport flow control)."""
        self.close(CloseCode.SLOW_CONSUMER, _SLOW, slow=True)

    # Member (for the hub)

    @property
    def outlet(self) -> Outlet:
        return self._sink.outlet

    def write(self, frame: bytes) -> bool:
        """Write one frame to this member alone (replies, history); False once closing."""
        if self.closed:
            return False
        return self._sink.write_frame(frame)

    def evicted(self) -> None:
        self.close(CloseCode.SLOW_CONSUMER, _SLOW)

    def send(self, frame: dict[str, Any]) -> bool:
        return self.write(encode(frame, self.codec))

    def close(self, code: int, reason: str, *, slow: bool = False) -> None:
        """Send a close frame now. Nothing may follow it, so the hub stops writing here first."""
        if not self.closed:
            self.closed = True
            self._context.hub.detach(self, slow=slow)
            self._sink.close_now(int(code), reason)

    # Command processing, in order

    async def _drain(self) -> None:
        try:
            while self._inbox and not self.closed:
                item = self._inbox.popleft()
                if self._paused and len(self._inbox) <= _INBOX_LIMIT // 2:
                    self._paused = False
                    self._sink.resume_reading()
                await self._handle(item)
        except Exception:
            logger.exception("connection %s failed; closing it", self.id)
            self.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._task = None

    async def _cleanup(self, running: asyncio.Task[None] | None) -> None:
        if running is not None:
            running.cancel()
            with suppress(asyncio.CancelledError):
                await running
        hub = self._context.hub
        uid = self.identity.uid if self.identity is not None and self.moderator is None else None
        self._registry.closed(self, uid, self.moderator)
        if self._counted:
            self._registry.limits.close_socket(self.sources[0])
        if self.moderator is not None:
            await hub.leave(feeds.MODERATORS, self)
            await hub.leave(feeds.moderator(self.moderator), self)
        for room in tuple(self.rooms):
            await hub.leave(room, self)
        self.rooms.clear()

    async def _handle(self, item: Command | Refusal) -> None:
        if isinstance(item, Refusal):
            self.send(error_event(item.code, item.message, client_id=item.client_id))
        elif self.identity is None:
            if isinstance(item, Hello):
                await self._welcome(item)
            else:
                self.send(error_event("hello_first", "send a hello frame first"))
        elif isinstance(item, Send):
            await self._send_message(item)
        elif isinstance(item, Join):
            await self._join(item)
        elif isinstance(item, Leave):
            await self._leave(item)
        elif isinstance(item, Ping):
            self.send({"type": "pong"})
        elif isinstance(item, Hello):
            self.send(error_event("already_welcomed", "hello was already answered"))
        elif isinstance(item, Report):
            await self._report(item)
        elif isinstance(item, Delete):
            await self._delete(item)
        elif isinstance(item, Struggling):
            await self._struggling(item)
        elif isinstance(item, Profile):
            self.badge = item.badge if self.moderator is None else ""
            self.send({"type": "profile", "badge": self.badge or None})
        elif isinstance(item, MeetingCommand):
            await self._meeting(item)

    def _hello_expired(self) -> None:
        self._hello_timer = None
        if self.identity is None:
            self.close(CloseCode.POLICY_VIOLATION, "send hello first")

    async def _welcome(self, hello: Hello) -> None:
        context = self._context
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        if hello.moderator:
            await self._welcome_moderator()
            return
        identities = context.identities
        now_ms = context.clock()
        returning: Identity | None = None
        stale_uid = ""
        replaced: str | None = None
        if hello.token:
            returning, stale_uid, replaced = await self._returning(hello.token, now_ms)
        if returning is None:
            wait = self._registry.limits.new_identity(self.sources[0], time.monotonic())
            if wait > 0:
                context.metrics.rate_limited.inc()
                self.send(
                    error_event(
                        "identity_limit",
                        "too many new visitors from this network; try again in a minute",
                        retry_after_ms=int(wait * 1000) + 1,
                    )
                )
                self.close(CloseCode.TRY_AGAIN_LATER, "too many new identities; try again")
                return
        identity = returning or identities.issue(now_ms // 1000)
        # A ban holds the identity and, for its length, the source it was banned from -- the
        # source against new identities only: a household or a shelter shares a source, and the
        # people already here with names of their own were not banned. A ban of the identity an
        # expired or revoked token was for still holds its bearer (honestly told, rather than
        # handed a fresh name mid-ban); its mute does not follow them.
        if returning is not None:
            keys = [identity.uid]
        else:
            keys = [source_sanction_key(s) for s in self.sources]
            if stale_uid:
                keys.append(stale_uid)
        for key in keys:
            for sanction in await context.store.active_sanctions(key, now_ms):
                if sanction.kind == "ban":
                    self.close(CloseCode.BANNED, "a moderator paused this identity for a while")
                    return
                if key != stale_uid:
                    self.muted_until_ms = max(self.muted_until_ms, sanction.until_ms)
        self.identity = identity
        self.region = hello.region
        self._registry.identified(identity.uid, self, now_ms)
        welcome: dict[str, Any] = {
            "type": "welcome",
            "token": identity.token,
            "name": identity.name,
            "author": identities.author_tag(identity.uid),
            **self._registry.duty_fields(),
            "checkin_room": identities.checkin_room(identity.uid),
            # This connection's send limit, so the page paces itself instead of piling up
            # messages the server would refuse (web/chat/pace.js).
            "pace": {
                "burst": context.settings.send_burst,
                "per_10s": context.settings.send_rate_per_10s,
            },
        }
        if replaced is not None:
            welcome["replaced"] = replaced
        self.send(welcome)

    async def _returning(self, token: str, now_ms: int) -> tuple[Identity | None, str, str | None]:
        """Who a hello's token brings back: (the identity with a fresh token, or None; the uid
        of our token that no longer opens it; why it was replaced: "expired", "revoked" or
        "invalid"). Only a token that passes the pure check costs a store lookup."""
        identities = self._context.identities
        check = identities.check(token, now_ms // 1000)
        if check.state is TokenState.INVALID:
            return None, "", "invalid"
        if check.state is TokenState.EXPIRED:
            return None, check.uid, "expired"
        revoked_before = await self._context.store.tokens_revoked_before(check.uid, now_ms)
        if is_revoked(check.issued_s, revoked_before):
            return None, check.uid, "revoked"
        return identities.identity(check.uid, now_ms // 1000), "", None

    async def _welcome_moderator(self) -> None:
        """Volunteers sign in over HTTP; the session cookie rides on the WebSocket handshake."""
        context = self._context
        token = self._session_token
        name = None
        if token:
            name = await context.store.session_owner(session_token_hash(token), context.clock())
        if name is None:
            self.close(CloseCode.POLICY_VIOLATION, "moderator session required")
            return
        self.moderator = name
        self.identity = Identity(uid=f"mod:{name}", token="", name=volunteer_name(name))
        self._registry.moderator_arrived(name, self, session_token_hash(token or ""))
        await context.hub.join(feeds.MODERATORS, self, since=None, epoch=None, limit=0)
        await context.hub.join(feeds.moderator(name), self, since=None, epoch=None, limit=0)
        self.send(
            {
                "type": "welcome",
                "token": "",
                "name": self.identity.name,
                "author": context.identities.author_tag(self.identity.uid),
                "moderator": name,
            }
        )

    def _refuse(self, code: str, message: str, client_id: str | None = None) -> None:
        self.send(error_event(code, message, client_id=client_id))

    def _may_join(self, room: str) -> bool:
        if room in self._context.catalog:
            return True
        if not is_checkin_room(room) or self.identity is None:
            return False
        own = self._context.identities.checkin_room(self.identity.uid)
        return self.moderator is not None or room == own

    async def _join(self, join: Join) -> None:
        settings = self._context.settings
        if not self._may_join(join.room):
            self._refuse("unknown_room", "no such room")
        elif join.room in self.rooms:
            self._refuse("already_joined", "already in this room; leave first to rejoin")
        elif len(self.rooms) >= settings.max_rooms_per_connection:
            self._refuse("too_many_rooms", "leave a room before joining another")
        elif wait := self._join_wait():
            self._context.metrics.rate_limited.inc()
            self.send(
                error_event(
                    "rate_limited",
                    "joining too often; wait a moment",
                    retry_after_ms=int(wait * 1000) + 1,
                )
            )
        else:
            await self._enter(join, settings.join_history_messages)

    def _join_wait(self) -> float:
        """Seconds until this socket may join again, by its own bucket and its source's."""
        now = time.monotonic()
        wait = self._join_bucket.take(now)
        if wait > 0:
            return wait
        return self._registry.limits.join(self.sources[0], now)

    async def _enter(self, join: Join, limit: int) -> None:
        hub = self._context.hub
        try:
            history = await hub.join(
                join.room, self, since=join.since, epoch=join.epoch, limit=limit
            )
        except BrokerUnavailable:
            self.send(error_event("unavailable", "rooms are unreachable; retry", retryable=True))
            return
        except JoinAborted:
            return
        self.rooms.add(join.room)
        if join.since is not None:
            self._context.metrics.recoveries.labels(str(history.recovered).lower()).inc()
        local = hub.room(join.room)
        author_of = self._context.identities.author_tag
        joined: dict[str, Any] = {
            "type": "joined",
            "room": join.room,
            "epoch": history.epoch,
            "history": [history_item(m, author_of(m.uid)) for m in history.messages],
            "recovered": history.recovered,
            "count": local.visible_count if local is not None else 1,
        }
        if history.hidden:
            joined["hidden"] = list(history.hidden)
        self.send(joined)
        await self._show_meeting(join.room)

    async def _show_meeting(self, room: str) -> None:
        """A room in a meeting tells whoever joins where it stands (a late-comer included)."""
        store = self._context.meetings
        occurrence = meetings.occurrence_now(self._context, room)
        if store is None or occurrence is None:
            return
        try:
            state = await meetings.live_state(self._context, store, occurrence)
        except BrokerUnavailable:
            return  # the next change reaches this member anyway
        self.send(meetings.meeting_frame(room, occurrence, state))

    async def _meeting(self, command: MeetingCommand) -> None:
        store, identity = self._context.meetings, self.identity
        if command.room not in self.rooms or identity is None:
            self._refuse_action(command, "not_joined", "join the room first")
            return
        if store is None:
            self._refuse_action(command, "no_meeting", "there is no meeting in this room now")
            return
        if command.action == "react" and self._send_bucket.take(time.monotonic()) > 0:
            self._refuse_action(command, "rate_limited", "slow down a little")
            return
        person = Person(self._context.identities.author_tag(identity.uid), identity.name)
        action = Action(command.action, command.to, command.on, command.step, command.reaction)
        try:
            await meetings.act(
                self._context, store, command.room, Actor(person, self.moderator or ""), action
            )
        except MeetingRefused as refused:
            self._refuse_action(command, refused.code, str(refused))
        except BrokerUnavailable:
            self._refuse_action(command, "unavailable", "not done; retry", retryable=True)

    def _refuse_action(
        self, command: MeetingCommand, code: str, message: str, **extra: Any
    ) -> None:
        """A meeting action refused: the error names the action, so a page can tell it from
        a refused send or report."""
        self.send(error_event(code, message, action=command.action, **extra))

    async def _meeting_allows(self, send: Send) -> bool:
        """Whether a chaired meeting lets this person post now (cross-talk off: only the person
        sharing; paused: only the chair). A crisis always goes through: no meeting rule may
        silence someone in danger, and the gate then takes its usual path."""
        store, identity = self._context.meetings, self.identity
        if store is None or identity is None or self.moderator is not None:
            return True
        author = self._context.identities.author_tag(identity.uid)
        try:
            if await meetings.poster_may_post(self._context, store, send.room, author):
                return True
        except BrokerUnavailable:
            return True  # the send meets the same outage and is refused as retryable there
        return self._gate.is_crisis(send.room, send.text)

    async def _leave(self, leave: Leave) -> None:
        if leave.room not in self.rooms:
            self._refuse("not_joined", "not in this room")
            return
        self.rooms.discard(leave.room)
        await self._context.hub.leave(leave.room, self)
        self.send({"type": "left", "room": leave.room})

    async def _send_message(self, send: Send) -> None:
        metrics = self._context.metrics
        if send.room not in self.rooms:
            self._refuse("not_joined", "join the room first", send.client_id)
            return
        now = time.monotonic()
        wait = self._send_bucket.take(now)
        if wait > 0 and not self._reaches_out_past_limit(send, now):
            metrics.rate_limited.inc()
            self.send(
                error_event(
                    "rate_limited",
                    "slow down a little; your message was not sent",
                    client_id=send.client_id,
                    retry_after_ms=int(wait * 1000) + 1,
                )
            )
            return
        if not await self._meeting_allows(send):
            self.send(
                error_event(
                    "floor_only",
                    "during the meeting only the person sharing posts now; send support instead",
                    client_id=send.client_id,
                )
            )
            return
        metrics.messages_in.inc()
        try:
            outcome = await self._submit(send)
        except (BrokerUnavailable, GateUnavailable):
            self.send(
                error_event(
                    "unavailable",
                    "message not sent; retry",
                    client_id=send.client_id,
                    retryable=True,
                )
            )
            return
        if outcome.cooldown_s > 0:
            self._send_bucket.hold(time.monotonic(), outcome.cooldown_s)
        for frame in outcome.frames:
            self.send(frame)

    async def _submit(self, send: Send) -> Outcome:
        identity = self.identity
        if identity is None:  # _handle answers nothing but hello before the welcome
            raise RuntimeError("send before hello")
        if self.moderator is not None:
            return await self._gate.submit_volunteer(
                identity, self.moderator, send.room, send.text, send.client_id, send.thread
            )
        return await self._gate.submit(
            identity,
            send.room,
            send.text,
            send.client_id,
            tell=self.send,
            muted=self.muted_until_ms > self._context.clock(),
            region=self.region,
            badge=self.badge,
            thread=send.thread,
        )

    def _reaches_out_past_limit(self, send: Send, now: float) -> bool:
        """Whether a send the rate limit refused is a crisis, which goes through anyway.

        Someone who flooded the room a minute ago, or whose last line looked like spam, may be
        the one who now writes that they are about to use: making them wait out a cooldown
        before they see any help is the silence Harbor must never impose. The check costs a
        classifier pass, so refused sends are checked at most `_CRISIS_CHECK_RATE` per second
        (a few in a row): a flood cannot turn refusals into work, and each crisis that does
        pass still raises a flag a moderator sees.
        """
        if self.moderator is not None:
            return False
        if self._crisis_checks is None:
            self._crisis_checks = TokenBucket(
                rate=_CRISIS_CHECK_RATE, burst=_CRISIS_CHECK_BURST, now=now
            )
        if self._crisis_checks.take(now) > 0:
            return False
        return self._gate.is_crisis(send.room, send.text)

    async def _report(self, report: Report) -> None:
        if report.room not in self.rooms:
            self._refuse("not_joined", "join the room first")
            return
        if self._send_bucket.take(time.monotonic()) > 0:
            self._refuse("rate_limited", "slow down a little; try reporting again soon")
            return
        try:
            await self._gate.report(report)
        except Refused as refused:
            self._refuse(refused.code, str(refused))
            return
        except (BrokerUnavailable, GateUnavailable):
            self.send(error_event("unavailable", "report not sent; retry", retryable=True))
            return
        self.send({"type": "reported", "room": report.room, "id": report.id})

    async def _delete(self, delete: Delete) -> None:
        if delete.room not in self.rooms or self.identity is None:
            self._refuse("not_joined", "join the room first")
            return
        if self._send_bucket.take(time.monotonic()) > 0:
            self._refuse("rate_limited", "slow down a little; try again soon")
            return
        try:
            await self._gate.delete(self.identity, delete)
        except Refused as refused:
            self._refuse(refused.code, str(refused))
            return
        except (BrokerUnavailable, GateUnavailable):
            self.send(error_event("unavailable", "not deleted; retry", retryable=True))
            return
        self.send({"type": "deleted", "room": delete.room, "id": delete.id})

    async def _struggling(self, request: Struggling) -> None:
        """Post the room a gentle request for support (server/struggling.py)."""
        identity, client_id = self.identity, request.client_id
        if request.room not in self.rooms or identity is None or self.moderator is not None:
            self._refuse("not_joined", "join the room first", client_id)
            return
        now = time.monotonic()
        wait = self._struggled_at + self._context.settings.struggling_cooldown_s - now
        if wait <= 0:
            wait = self._send_bucket.take(now)
        if wait > 0:
            self.send(
                error_event(
                    "rate_limited",
                    "you asked a moment ago; the room has seen it",
                    client_id=client_id,
                    retry_after_ms=int(wait * 1000) + 1,
                )
            )
            return
        try:
            ack = await ask_for_support(
                self._context, identity, request.room, client_id, self.badge
            )
        except BrokerUnavailable:
            self.send(
                error_event("unavailable", "not sent; retry", client_id=client_id, retryable=True)
            )
            return
        self._struggled_at = now
        self.send(ack)


class ChatEntrance:
    """How the transport (server/transport.py `ChatServer`) opens chat connections: it holds
    the worker's wiring, so the transport needs nothing from this module."""

    def __init__(self, context: WorkerContext, registry: Registry, gate: MessageGate) -> None:
        self._context = context
        self._registry = registry
        self._gate = gate

    @property
    def settings(self) -> Settings:
        return self._context.settings

    def open(
        self, sink: FrameSink, codec: int, session_token: str | None, address: str | None
    ) -> ChatConnection:
        sources = self._context.source_keys.sources(address, time.time())
        return ChatConnection(
            self._context, self._registry, self._gate, sink, codec, session_token, sources
        )

    def drain_delay(self) -> float:
        """When to close one more socket for a restart: in batches of HARBOR_DRAIN_BATCH every
        HARBOR_DRAIN_INTERVAL_S, all within the shutdown grace (less 2 s to flush)."""
        settings = self._context.settings
        batch = self._registry.drain_slot() // settings.drain_batch
        spread = max(0.0, settings.shutdown_grace_s - 2.0)
        return min(batch * settings.drain_interval_s, spread)
