"""Calling the backup list: the operator's webhook rings when a crisis flag waits unclaimed.

Re-alerting the moderators on duty (server/duty.py) reaches only those at a dashboard; at 3 am
that may be nobody. So an imminent or high flag that nobody has claimed HARBOR_BACKUP_AFTER_S
past its target is handed by the store to exactly one worker (`take_unanswered`), which posts
one small JSON document to HARBOR_BACKUP_WEBHOOK_URL: the operator's receiver (a pager service,
an SMS gateway, a script) rings whoever is on the backup list.

What the document carries is chosen for a lock screen and a provider's logs: the flag's id,
severity, categories, how long it has waited, its target and how many moderators are on duty --
never the message text, the writer's pseudonym or anything else about the person. A check-in
room's id is derived from the person's identity, so it is sent as "a private check-in".

Each call is signed: `X-Harbor-Signature: sha256=<hex>` is HMAC-SHA256 with
HARBOR_BACKUP_WEBHOOK_SECRET over `<X-Harbor-Timestamp>.<body>`, so the receiver can refuse
forgeries and replays. A failed attempt (no answer within the timeout, or not 2xx) is retried
with doubling pauses, HARBOR_BACKUP_WEBHOOK_ATTEMPTS in all. Calls wait in a bounded queue
(HARBOR_BACKUP_CALLS_QUEUED); a few are in flight at once, so one slow receiver answer does not
hold up the next flag.

The pure part (`backup_document`, `signed_headers`, `retry_pauses`) has no I/O; `BackupCaller`
posts through the standard library in a worker thread (a few calls a night do not justify an
HTTP client dependency in the server).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from casework.flags import Flag

from .identity import is_checkin_room
from .metrics import Metrics
from .pending_calls import MemoryPendingCalls, PendingCall, PendingCalls

logger = logging.getLogger("harbor.backup")

# Calls posted at the same moment; more wait their turn in the queue.
_CALLS_AT_ONCE = 4
_FIRST_PAUSE_S = 1.0
_LONGEST_PAUSE_S = 30.0
# A lease covers an attempt's timeout and the pause before it, and this much more.
_LEASE_MARGIN_S = 2.0
# How often a worker looks for calls whose caller went away.
_RESUME_EVERY_S = 1.0

Post = Callable[[str, bytes, Mapping[str, str], float], Awaitable[int]]


def backup_document(flag: Flag, *, now_ms: int, target_ms: int, on_duty: int) -> dict[str, Any]:
    """What the receiver learns about a flag: enough to ring the right person, nothing that
    says who wrote what."""
    room = flag.draft.room
    return {
        "event": "flag_unanswered",
        "flag": flag.id,
        "severity": flag.draft.severity,
        "categories": list(flag.draft.categories),
        "room": "a private check-in" if is_checkin_room(room) else room,
        "waiting_s": max(0, now_ms - flag.waiting_since_ms) // 1000,
        "target_s": target_ms // 1000,
        "moderators_on_duty": on_duty,
        "dashboard": "/mod/",
        "sent_ms": now_ms,
    }


def encode_document(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Harbor-backup-call",
        "X-Harbor-Timestamp": str(timestamp),
        "X-Harbor-Signature": signature(secret, timestamp, body),
    }


def retry_pauses(attempts: int) -> tuple[float, ...]:
    """The pauses between `attempts` tries: 1 s, 2 s, 4 s ..., never more than 30 s."""
    return tuple(min(_FIRST_PAUSE_S * 2**n, _LONGEST_PAUSE_S) for n in range(attempts - 1))


async def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> int:
    """POST `body`; the HTTP status, or 0 when no answer came."""

    def post() -> int:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            error.close()
            return error.code
        except (OSError, ValueError):
            return 0

    return await anyio.to_thread.run_sync(post, abandon_on_cancel=True)


def lease_ms(timeout_s: float, pause_s: float) -> int:
    """How long a caller holds a call for one attempt (and the pause before it): no other worker
    resumes the call sooner, and one that died is resumed this long after its last renewal."""
    return int((pause_s + timeout_s + _LEASE_MARGIN_S) * 1000)


class BackupCaller:
    """One worker's queue of backup calls and the task that posts them (`run`). Every call is
    kept in `pending` (server/pending_calls.py) from `offer` until it is answered or out of
    attempts, so a call this worker cannot finish (it died, or its queue was full) is resumed by
    whichever worker's `run` takes it next, from the attempt it had reached."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        attempts: int,
        timeout_s: float,
        queued: int,
        metrics: Metrics,
        clock: Callable[[], int],
        pending: PendingCalls | None = None,
        post: Post = post_json,
    ) -> None:
        self._url = url
        self._secret = secret
        self._pauses = retry_pauses(attempts)
        self._timeout_s = timeout_s
        self._metrics = metrics
        self._clock = clock
        self._pending: PendingCalls = pending or MemoryPendingCalls()
        self._owner = secrets.token_hex(8)
        self._post = post
        send, receive = anyio.create_memory_object_stream[PendingCall](queued)
        self._send: MemoryObjectSendStream[PendingCall] = send
        self._receive: MemoryObjectReceiveStream[PendingCall] = receive

    async def offer(self, document: Mapping[str, Any]) -> bool:
        """Keep a call and queue it here; False (counted and logged) when the queue is full: the
        call is kept and resumed, here or on another worker, when its lease ends."""
        body = encode_document(document)
        until = self._clock() + lease_ms(self._timeout_s, 0)
        try:
            call = await self._pending.add(body, self._owner, until)
        except Exception as exc:  # Redis unreachable: still call, from this worker's memory
            logger.warning("backup call not kept (%s); calling anyway", type(exc).__name__)
            call = PendingCall(secrets.token_hex(8), body, 0, kept=False)
        return self._queue(call)

    def _queue(self, call: PendingCall) -> bool:
        try:
            self._send.send_nowait(call)
        except anyio.WouldBlock:
            self._metrics.backup_calls.labels("deferred").inc()
            logger.error("backup call %s waits: the queue is full", call.id)
            return False
        return True

    async def run(self) -> None:
        in_flight = anyio.Semaphore(_CALLS_AT_ONCE)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._resume_stalled)
            while True:
                await in_flight.acquire()
                call = await self._receive.receive()
                tg.start_soon(self._deliver, call, in_flight)

    async def _resume_stalled(self) -> None:
        """Take the calls whose caller went away (any worker's), every `_RESUME_EVERY_S`."""
        while True:
            await anyio.sleep(_RESUME_EVERY_S)
            try:
                now = self._clock()
                lease = now + lease_ms(self._timeout_s, 0)
                for call in await self._pending.take_stalled(self._owner, now, lease):
                    logger.warning("resuming backup call %s after its caller went away", call.id)
                    self._queue(call)
            except Exception as exc:  # a Redis blip: the next look takes them
                logger.warning("could not look for stalled backup calls (%s)", type(exc).__name__)

    async def _deliver(self, call: PendingCall, in_flight: anyio.Semaphore) -> None:
        try:
            await self._attempts(call)
        except Exception as exc:  # a Redis blip: the lease runs out and someone resumes it
            logger.warning("backup call %s interrupted (%s)", call.id, type(exc).__name__)
        finally:
            in_flight.release()

    async def _hold(self, call: PendingCall, attempt: int, pause_s: float) -> bool:
        """Renew the call's lease for the next attempt (and the pause before it); False when
        another worker has taken it over."""
        if not call.kept:
            return True
        until = self._clock() + lease_ms(self._timeout_s, pause_s)
        return await self._pending.renew(call.id, self._owner, attempt, until)

    async def _finish(self, call: PendingCall) -> None:
        if call.kept:
            await self._pending.done(call.id, self._owner)

    async def _attempts(self, call: PendingCall) -> None:
        total = len(self._pauses) + 1
        for attempt in range(call.attempt, total):
            if attempt > call.attempt:
                pause = self._pauses[attempt - 1]
                if not await self._hold(call, attempt, pause):
                    return  # taken over by another worker: it carries on
                await anyio.sleep(pause)
            if not await self._hold(call, attempt + 1, 0):
                return
            timestamp = self._clock() // 1000
            headers = signed_headers(self._secret, timestamp, call.body)
            status = await self._post(self._url, call.body, headers, self._timeout_s)
            if 200 <= status < 300:
                self._metrics.backup_calls.labels("delivered").inc()
                await self._finish(call)
                return
            logger.warning("backup call attempt %d failed (status %d)", attempt + 1, status)
        self._metrics.backup_calls.labels("failed").inc()
        logger.error("backup call failed after %d attempts", total)
        await self._finish(call)
