"""Time to a human, end to end: two workers on one Redis, a moderator on duty who does not
claim, and a backup-list webhook receiver on 127.0.0.1 that the unclaimed flag rings."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess, seconds, until

from .test_moderation_flow import CRISIS, CRISIS_WITH_MEANS, add_moderator, member, signed_in

WEBHOOK_SECRET = "backup-secret-for-tests"
TARGET_S = 2
BACKUP_AFTER_S = 2


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A tiny webhook receiver: records each POST; answers the first `failures` of each event
    (a flag's call, a rota gap's) with 503."""

    failures: int = 0
    calls: list[Call] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def of(self, event: str) -> list[Call]:
        return [c for c in self.calls if json.loads(c.body).get("event") == event]

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/ring"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver(failures=1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                received.calls.append(
                    Call(self.path, dict(self.headers.items()), body, time.monotonic())
                )
                event = json.loads(body).get("event")
                same = [c for c in received.calls if json.loads(c.body).get("event") == event]
                failing = len(same) <= received.failures
            self.send_response(503 if failing else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(seconds(5))


@pytest.fixture
def workers(
    harbor: HarborFactory, redis_server: RedisProcess, receiver: Receiver
) -> tuple[HarborProcess, ...]:
    add_moderator(redis_server, "alice")
    env = {
        "HARBOR_SEND_RATE_PER_10S": "200",
        "HARBOR_SEND_BURST": "50",
        "HARBOR_TARGET_IMMINENT_S": str(TARGET_S),
        "HARBOR_TARGET_HIGH_S": str(TARGET_S),
        "HARBOR_BACKUP_AFTER_S": str(BACKUP_AFTER_S),
        "HARBOR_BACKUP_WEBHOOK_URL": receiver.url,
        "HARBOR_BACKUP_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    return harbor(redis_server, **env), harbor(redis_server, **env)


def signature_matches(call: Call) -> bool:
    timestamp = call.headers["X-Harbor-Timestamp"]
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + call.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(call.headers["X-Harbor-Signature"], f"sha256={expected}")


async def test_an_imminent_flag_nobody_claims_realerts_then_rings_the_backup_list(
    workers: tuple[HarborProcess, ...], receiver: Receiver
) -> None:
    one, two = workers
    moderator = await signed_in(two)  # on duty, but does not claim
    assert moderator.feed is not None
    writer = await member(one)
    await writer.send(
        {"type": "send", "room": "newcomers", "text": CRISIS_WITH_MEANS, "client_id": "i1"}
    )
    await writer.expect("ack", client_id="i1")
    raised_at = time.monotonic()
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    assert flag["severity"] == "imminent" and flag["claimed_ms"] == 0

    # Past its target: every moderator on duty is alerted again.
    overdue = await moderator.feed.expect("flag", within=TARGET_S + 5, event="overdue")
    assert overdue["flag"]["id"] == flag["id"]
    # Then, still unclaimed, the backup list: the dashboards are told, and the receiver rings.
    called = await moderator.feed.expect("flag", within=BACKUP_AFTER_S + 5, event="backup")
    assert called["flag"]["id"] == flag["id"] and called["flag"]["backup_ms"] > 0
    # The first attempt got a 503; the retry (after a 1 s pause) is answered.
    await until(lambda: len(receiver.of("flag_unanswered")) >= 2, 10, "the call and its retry")
    first, retry = receiver.of("flag_unanswered")[:2]
    assert retry.at - raised_at <= seconds(TARGET_S + BACKUP_AFTER_S + 8)
    assert first.body == retry.body and first.path == retry.path == "/ring"

    for call in (first, retry):
        assert signature_matches(call)
        assert call.headers["Content-Type"] == "application/json"
        text = call.body.decode()
        assert CRISIS_WITH_MEANS not in text and "pills" not in text
        assert writer.name is not None and writer.name not in text
    document = json.loads(retry.body)
    assert document["event"] == "flag_unanswered" and document["flag"] == flag["id"]
    assert document["severity"] == "imminent" and document["room"] == "newcomers"
    assert document["target_s"] == TARGET_S and document["moderators_on_duty"] >= 1
    assert document["waiting_s"] >= TARGET_S + BACKUP_AFTER_S - 1
    assert set(document) == {
        "event",
        "flag",
        "severity",
        "categories",
        "room",
        "waiting_s",
        "target_s",
        "moderators_on_duty",
        "dashboard",
        "sent_ms",
    }
    # A forged body does not verify.
    forged = Call(first.path, first.headers, first.body.replace(b"imminent", b"high"), 0)
    assert not signature_matches(forged)

    # Claiming now records the first claim; the flag never rings again.
    response = await moderator.act(flag["id"], "claim")
    assert response.status_code == 200 and response.json()["flag"]["claimed_ms"] > 0
    await moderator.close()


def histogram_count(metrics: str, name: str, severity: str) -> float:
    match = re.search(rf'^{name}_count{{severity="{severity}"}} ([0-9.e+]+)$', metrics, re.M)
    return float(match.group(1)) if match else 0.0


async def test_time_to_claim_and_to_first_words_in_a_check_in_reach_metrics_and_the_dashboard(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    assert moderator.feed is not None
    writer = await member(one)
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "h1"})
    await writer.expect("ack", client_id="h1")
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    severity = flag["severity"]
    assert histogram_count(two.get_text("/metrics"), "harbor_time_to_claim_seconds", severity) == 0

    claimed = (await moderator.act(flag["id"], "claim")).json()["flag"]
    assert claimed["claimed_ms"] >= flag["created_ms"]
    room = (await moderator.act(flag["id"], "checkin")).json()["room"]
    await moderator.feed.send({"type": "join", "room": room})
    await moderator.feed.expect("joined", room=room)
    await moderator.feed.send(
        {"type": "send", "room": room, "text": "Hi, I'm here with you.", "client_id": "v1"}
    )
    await moderator.feed.expect("ack", client_id="v1")
    answered = await moderator.feed.expect("flag", within=10, event="answered")
    assert answered["flag"]["first_words_ms"] >= claimed["claimed_ms"]

    # A second message does not count again.
    await moderator.feed.send(
        {"type": "send", "room": room, "text": "Take your time.", "client_id": "v2"}
    )
    await moderator.feed.expect("ack", client_id="v2")
    metrics = two.get_text("/metrics")
    assert histogram_count(metrics, "harbor_time_to_claim_seconds", severity) == 1
    assert histogram_count(metrics, "harbor_time_to_first_words_seconds", severity) == 1

    response = await moderator.http.get("/mod/api/response")
    assert response.status_code == 200
    figures = {row["severity"]: row for row in response.json()["severities"]}
    assert figures[severity]["claimed"] == 1 and figures[severity]["answered"] == 1
    assert figures[severity]["claim_median_s"] is not None
    assert figures[severity]["waiting"] == 0
    await moderator.close()


async def test_a_reply_in_the_room_counts_only_from_the_volunteer_who_holds_the_flag(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    add_moderator(redis_server, "alice")
    add_moderator(redis_server, "bob")
    worker = harbor(redis_server)
    alice, bob = await signed_in(worker, "alice"), await signed_in(worker, "bob")
    assert alice.feed is not None and bob.feed is not None
    writer = await member(worker)
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "r1"})
    await writer.expect("ack", client_id="r1")
    flag = (await alice.feed.expect("flag", within=10, event="raised"))["flag"]
    await alice.act(flag["id"], "claim")
    for volunteer in (bob, alice):
        assert volunteer.feed is not None
        await volunteer.feed.send({"type": "join", "room": "newcomers"})
        await volunteer.feed.expect("joined", room="newcomers")
    await bob.feed.send(
        {"type": "send", "room": "newcomers", "text": "welcome all", "client_id": "b1"}
    )
    await bob.feed.expect("ack", client_id="b1")
    (stored,) = await alice.flags()
    assert stored["first_words_ms"] == 0  # bob's words were not to this person
    await alice.feed.send(
        {"type": "send", "room": "newcomers", "text": "I'm here, talk to me", "client_id": "a1"}
    )
    await alice.feed.expect("ack", client_id="a1")
    (stored,) = await alice.flags()
    assert stored["first_words_ms"] > 0
    for client in (alice, bob):
        await client.close()


async def test_a_rota_gap_rings_the_backup_list_once_with_no_coordinator_signed_in(
    workers: tuple[HarborProcess, ...], receiver: Receiver
) -> None:
    """Before: a gap was shown only on a signed-in coordinator's dashboard. Nobody is signed in
    and the rota is empty (one gap, all day): one of the two workers rings the webhook for it,
    signed, naming nobody."""

    def gap_bodies() -> set[bytes]:
        return {c.body for c in receiver.of("rota_gap")}

    await until(lambda: len(gap_bodies()) >= 1, 15, "the rota gap call")
    (body,) = gap_bodies()
    document = json.loads(body)
    assert document["to_ms"] - document["from_ms"] == 24 * 3600 * 1000
    assert document["starts_in_s"] == 0 and document["dashboard"] == "/mod/"
    assert set(document) == {"event", "from_ms", "to_ms", "starts_in_s", "dashboard", "sent_ms"}
    await until(lambda: len(receiver.of("rota_gap")) >= 2, 10, "the retry after the 503")
    assert all(signature_matches(call) for call in receiver.calls)
    assert gap_bodies() == {body}, "one gap, one call across both workers"


async def test_a_backup_call_whose_worker_dies_mid_retry_is_finished_by_another_worker(
    harbor: HarborFactory, redis_server: RedisProcess, receiver: Receiver
) -> None:
    """Before: a call was held in the memory of the worker retrying it, and lost with it. The
    receiver answers 503 three times; the worker that took the flag is killed after the first;
    a worker started afterwards resumes the call from Redis and it is answered, once."""
    receiver.failures = 3
    env = {
        "HARBOR_TARGET_IMMINENT_S": str(TARGET_S),
        "HARBOR_TARGET_HIGH_S": str(TARGET_S),
        "HARBOR_BACKUP_AFTER_S": str(BACKUP_AFTER_S),
        "HARBOR_BACKUP_WEBHOOK_URL": receiver.url,
        "HARBOR_BACKUP_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HARBOR_BACKUP_WEBHOOK_TIMEOUT_S": "2",
        "HARBOR_BACKUP_WEBHOOK_ATTEMPTS": "6",
    }
    first_worker = harbor(redis_server, **env)
    writer = await member(first_worker)
    await writer.send(
        {"type": "send", "room": "newcomers", "text": CRISIS_WITH_MEANS, "client_id": "k1"}
    )
    await writer.expect("ack", client_id="k1")
    await until(lambda: len(receiver.of("flag_unanswered")) >= 1, 20, "the first attempt")
    first_worker.stop(signal.SIGKILL)  # mid-retry: it paused after the 503
    dead_at = len(receiver.of("flag_unanswered"))
    assert dead_at < 4, "the dead worker never got an answer"

    harbor(redis_server, **env)  # another worker, which never took the flag
    await until(lambda: len(receiver.of("flag_unanswered")) >= 4, 30, "the resumed call")
    calls = receiver.of("flag_unanswered")
    assert len(calls) == 4, "one caller at a time: three 503s, then the answered call"
    assert len({call.body for call in calls}) == 1, "the same call, byte for byte"
    assert all(signature_matches(call) for call in calls)
    assert json.loads(calls[-1].body)["event"] == "flag_unanswered"
