"""Moderation end to end: live workers on one Redis, real clients, a signed-in moderator."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET, HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess, add_moderator_account, seconds

PASSWORD = "correct horse battery staple"
CRISIS_WITH_MEANS = (
    "i can't do this anymore, the pills are lined up and i'm taking them all tonight"
)
CRISIS = "honestly i want to die, i don't see the point of waking up anymore"
SOLICITING = "anyone selling oxy near downtown? dm me, paying cash"


def add_moderator(redis: RedisProcess, name: str) -> None:
    add_moderator_account(name, PASSWORD, REDIS_URL=redis.url, HARBOR_SECRET=TEST_SECRET)


class Moderator:
    """A volunteer signed in over HTTP, with the live feed on a chat socket."""

    def __init__(self, worker: HarborProcess, name: str) -> None:
        self.worker = worker
        self.name = name
        self.http = httpx.AsyncClient(base_url=worker.http, timeout=seconds(10))
        self.feed: Client | None = None

    async def sign_in(self) -> None:
        response = await self.http.post(
            "/mod/api/session", json={"name": self.name, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text

    async def connect_feed(self) -> Client:
        cookie = self.http.cookies.get("harbor_mod")
        self.feed = await Client.connect(
            self.worker.ws, additional_headers={"Cookie": f"harbor_mod={cookie}"}
        )
        await self.feed.send({"type": "hello", "moderator": True})
        await self.feed.expect("welcome", moderator=self.name)
        return self.feed

    async def act(self, flag_id: str, action: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"/mod/api/flags/{flag_id}/{action}", json=body)

    async def flags(self, **params: str) -> list[dict[str, Any]]:
        response = await self.http.get("/mod/api/flags", params=params)
        assert response.status_code == 200
        flags: list[dict[str, Any]] = response.json()["flags"]
        return flags

    async def close(self) -> None:
        await self.http.aclose()

    @classmethod
    async def signed_in_elsewhere(cls, worker: HarborProcess, name: str) -> list[dict[str, Any]]:
        """The queue as a moderator signing in afresh on `worker` loads it."""
        other = cls(worker, name)
        try:
            await other.sign_in()
            return await other.flags()
        finally:
            await other.close()


@pytest.fixture
def workers(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, ...]:
    add_moderator(redis_server, "alice")
    add_moderator(redis_server, "bob")
    env = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}
    return harbor(redis_server, **env), harbor(redis_server, **env)


async def member(worker: HarborProcess, room: str = "newcomers") -> Client:
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join(room)
    return client


async def signed_in(worker: HarborProcess, name: str = "alice") -> Moderator:
    moderator = Moderator(worker, name)
    await moderator.sign_in()
    await moderator.connect_feed()
    return moderator


async def test_a_crisis_message_gives_its_writer_support_and_a_moderator_on_another_worker_a_flag(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    writer, reader = await member(one), await member(one)
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "c1"})
    support = await writer.expect("support")
    assert support["resources"] and "not alone" in support["message"]
    ack = await writer.expect("ack", client_id="c1")
    assert (await reader.expect("message", id=ack["id"]))["text"] == CRISIS
    assert moderator.feed is not None
    raised = await moderator.feed.expect("flag", within=10, event="raised")
    assert raised["flag"]["text"] == CRISIS
    assert raised["flag"]["severity"] in ("imminent", "high")
    assert "suicide" in raised["flag"]["categories"]
    assert raised["flag"]["spans"], "moderators see which words matched"
    await moderator.close()


async def test_a_crisis_ending_in_a_lone_surrogate_still_gets_support_and_a_flag(
    workers: tuple[HarborProcess, ...],
) -> None:
    """A broken emoji (a JSON "\\ud83d" escape with no pair) once closed the socket with 1011
    and lost the crisis: now the words are kept, U+FFFD stands in, and the socket stays up."""
    one, two = workers
    moderator = await signed_in(two)
    writer = await member(one)
    text = "I am going to kill myself tonight \ud83d"
    frame = {"type": "send", "room": "newcomers", "text": text, "client_id": "s1"}
    await writer.ws.send(json.dumps(frame, ensure_ascii=True))
    await writer.expect("support")
    ack = await writer.expect("ack", client_id="s1")
    assert isinstance(ack["id"], int)
    assert moderator.feed is not None
    raised = await moderator.feed.expect("flag", within=10, event="raised")
    assert raised["flag"]["text"] == "I am going to kill myself tonight \ufffd"
    assert "suicide" in raised["flag"]["categories"]
    await writer.send({"type": "ping"})
    await writer.expect("pong")  # still open: no 1011
    await moderator.close()


async def test_a_flag_survives_killing_the_worker_that_raised_it(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    writer = await member(one)
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "k1"})
    await writer.expect("ack", client_id="k1")
    one.stop(signal.SIGKILL)
    moderator = Moderator(two, "alice")
    await moderator.sign_in()
    flags = await moderator.flags()
    assert [f["text"] for f in flags] == [CRISIS]
    await moderator.close()


async def test_a_held_message_reaches_no_member_until_a_moderator_releases_it(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    writer, reader = await member(one), await member(two)
    await writer.send(
        {"type": "send", "room": "newcomers", "text": CRISIS_WITH_MEANS, "client_id": "h1"}
    )
    await writer.expect("support")
    ack = await writer.expect("ack", client_id="h1")
    assert ack["held"] is True
    placeholder = await reader.expect("message", id=ack["id"])
    assert placeholder["note"] == "held" and placeholder["text"] != CRISIS_WITH_MEANS
    assert moderator.feed is not None
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    marker = await writer.say("newcomers", "still here", "h2")
    seen = [m["text"] for m in reader.backlog if m.get("type") == "message"]
    await reader.expect("message", id=marker["id"])
    assert CRISIS_WITH_MEANS not in seen
    response = await moderator.act(flag["id"], "release-held", reason="safe to share")
    assert response.status_code == 200, response.text
    released = await reader.expect("message", note="released")
    assert released["text"] == CRISIS_WITH_MEANS
    await reader.expect("hidden", id=ack["id"])
    (stored,) = await moderator.flags()
    assert stored["released"] is True and stored["released_id"] == released["id"]
    assert stored["hidden"] is False, "the words are in the room again"
    # Hiding it now removes the released copy (the placeholder is gone already).
    response = await moderator.act(flag["id"], "hide", reason="changed my mind")
    assert response.status_code == 200, response.text
    assert response.json()["hidden"] == released["id"]
    await reader.expect("hidden", id=released["id"])
    (stored,) = await moderator.flags()
    assert stored["hidden"] is True
    await moderator.close()


async def test_solicitation_is_held_from_the_room_and_its_writer_is_told(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    writer, reader = await member(one), await member(one)
    await writer.send({"type": "send", "room": "newcomers", "text": SOLICITING, "client_id": "s1"})
    ack = await writer.expect("ack", client_id="s1")
    assert ack["id"] is None and ack["held"] is True and ack["notice"] == "held_for_review"
    marker = await writer.say("newcomers", "ok", "s2")
    await reader.expect("message", id=marker["id"])
    assert all(m.get("text") != SOLICITING for m in reader.backlog)
    assert moderator.feed is not None
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    assert "solicitation" in flag["categories"] and flag["held"] is True
    await moderator.close()


async def test_a_moderator_hides_a_message_for_members_on_every_worker(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    writer, far_reader = await member(one), await member(two)
    ack = await writer.say("newcomers", "the coffee at the tuesday meeting is terrible", "x1")
    await writer.send({"type": "report", "room": "newcomers", "id": ack["id"], "reason": "mean"})
    await writer.expect("reported", id=ack["id"])
    assert moderator.feed is not None
    flag = (await moderator.feed.expect_any(("flag",), within=10, event="raised"))["flag"]
    response = await moderator.act(flag["id"], "hide", reason="insult")
    assert response.status_code == 200
    assert response.json()["flag"]["hidden"] is True
    await far_reader.expect("hidden", id=ack["id"])
    late = await member(one)
    assert all(item["id"] != ack["id"] for item in late.last_joined["history"])
    # Recorded on the flag: the feed's frame, and the queue any dashboard loads later, say so.
    assert moderator.feed is not None
    frame = await moderator.feed.expect("flag", within=10, event="hide")
    assert frame["flag"]["id"] == flag["id"] and frame["flag"]["hidden"] is True
    (stored,) = await Moderator.signed_in_elsewhere(one, "bob")
    assert stored["id"] == flag["id"] and stored["hidden"] is True
    again = await moderator.act(flag["id"], "hide", reason="insult")
    assert again.status_code == 409 and again.json()["error"] == "already_hidden"
    await moderator.close()


async def test_a_report_of_a_message_whose_flag_was_resolved_reopens_it(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    assert moderator.feed is not None
    writer, first, second = await member(one), await member(one), await member(two)
    ack = await writer.say("newcomers", "the coffee at the tuesday meeting is terrible", "r1")
    await first.send({"type": "report", "room": "newcomers", "id": ack["id"], "reason": "mean"})
    await first.expect("reported", id=ack["id"])
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    response = await moderator.act(flag["id"], "resolve", outcome="false_alarm", note="banter")
    assert response.status_code == 200, response.text
    assert await moderator.flags() == []

    await second.send({"type": "report", "room": "newcomers", "id": ack["id"], "reason": "again"})
    await second.expect("reported", id=ack["id"])
    frame = await moderator.feed.expect("flag", within=10, event="reopened")
    assert frame["flag"]["id"] == flag["id"] and frame["flag"]["state"] == "open"
    (stored,) = await moderator.flags()
    assert stored["id"] == flag["id"] and stored["state"] == "open"
    assert stored["reports"] == 1 and stored["outcome"] is None and stored["reopened_ms"] > 0
    audit = (await moderator.http.get("/mod/api/audit")).json()["entries"]
    assert [(e["action"], e["target"]) for e in audit[:2]] == [
        ("reopen", flag["id"]),
        ("resolve", flag["id"]),
    ]
    assert audit[0]["detail"] == {"reports": 2}

    # While it is open, one more report only counts.
    await first.send({"type": "report", "room": "newcomers", "id": ack["id"]})
    await first.expect("reported", id=ack["id"])
    frame = await moderator.feed.expect("flag", within=10, event="reported")
    assert frame["flag"]["reports"] == 2 and frame["flag"]["state"] == "open"
    for client in (writer, first, second, moderator.feed):
        await client.ws.close()
    await moderator.close()


async def test_mute_and_ban_need_confirmation_then_apply_on_any_worker(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = Moderator(two, "alice")
    await moderator.sign_in()
    writer = await member(one)
    await writer.send({"type": "send", "room": "newcomers", "text": SOLICITING, "client_id": "m1"})
    await writer.expect("ack", client_id="m1")
    flag = (await moderator.flags())[0]
    unconfirmed = await moderator.act(flag["id"], "mute", minutes=10, reason="dealing")
    assert unconfirmed.status_code == 409
    assert unconfirmed.json()["error"] == "confirm_required"
    confirmed = await moderator.act(flag["id"], "mute", minutes=10, reason="dealing", confirm=True)
    assert confirmed.status_code == 200
    told = await writer.expect("sanction", within=10)
    assert (told["kind"], told["reason"], told["minutes"]) == ("mute", "dealing", 10)
    await writer.send({"type": "send", "room": "newcomers", "text": "hello?", "client_id": "m2"})
    assert (await writer.expect("error", client_id="m2"))["code"] == "muted"
    asked = await moderator.act(flag["id"], "ban", minutes=60, reason="dealing")
    assert asked.status_code == 409
    assert "share" in asked.json()["note"]  # the volunteer is told a ban holds a shared address
    banned = await moderator.act(flag["id"], "ban", minutes=60, reason="dealing", confirm=True)
    assert banned.status_code == 200
    with pytest.raises(Exception, match="4503"):
        while True:
            await writer.recv(within=10)
    again = await Client.connect(one.ws)
    await again.send({"type": "hello", "token": writer.token})
    with pytest.raises(Exception, match="4503"):
        await again.recv(within=10)
    await moderator.close()


async def test_two_moderators_claiming_at_once_on_two_workers_get_exactly_one_claim(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    writer = await member(one)
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "r1"})
    await writer.expect("ack", client_id="r1")
    alice, bob = Moderator(one, "alice"), Moderator(two, "bob")
    await alice.sign_in()
    await bob.sign_in()
    flag_id = (await alice.flags())[0]["id"]
    results = await asyncio.gather(alice.act(flag_id, "claim"), bob.act(flag_id, "claim"))
    assert sorted(r.status_code for r in results) == [200, 409]
    owner = (await bob.flags())[0]["owner"]
    assert owner in ("alice", "bob")
    winner = alice if owner == "alice" else bob
    resolved = await winner.act(flag_id, "resolve", outcome="supported", note="talked")
    assert resolved.status_code == 200
    audit = (await winner.http.get("/mod/api/audit")).json()["entries"]
    actions = [(e["moderator"], e["action"]) for e in audit]
    assert (owner, "resolve") in actions and (owner, "claim") in actions
    assert all("text" not in e["detail"] for e in audit)
    await alice.close()
    await bob.close()


async def test_a_claim_lapses_back_to_open_when_its_moderator_is_gone(
    harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    add_moderator(redis_server, "alice")
    add_moderator(redis_server, "bob")
    worker = harbor(redis_server, HARBOR_CLAIM_LEASE_S="1.5")
    watcher = await signed_in(worker, "bob")
    writer = await member(worker)
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "l1"})
    assert watcher.feed is not None
    flag = (await watcher.feed.expect("flag", within=10, event="raised"))["flag"]
    # alice claims, but has no live connection to renew her lease: as if her laptop closed.
    away = Moderator(worker, "alice")
    await away.sign_in()
    assert (await away.act(flag["id"], "claim")).status_code == 200
    await watcher.feed.expect("flag", within=10, event="claim")
    lapsed = await watcher.feed.expect("flag", within=15, event="lapsed")
    assert lapsed["flag"]["id"] == flag["id"] and lapsed["flag"]["owner"] is None
    assert (await away.flags())[0]["state"] == "open"
    await watcher.close()
    await away.close()


async def test_a_checkin_room_admits_its_person_and_moderators_only(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    writer, other = await member(one), await member(one)
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "ci"})
    await writer.expect("ack", client_id="ci")
    assert moderator.feed is not None
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    response = await moderator.act(flag["id"], "checkin")
    room = response.json()["room"]
    invite = await writer.expect("checkin", within=10)
    assert invite["room"] == room
    await writer.join(room)
    await moderator.feed.join(room)
    await other.send({"type": "join", "room": room})
    assert (await other.expect("error"))["code"] == "unknown_room"
    hello = await moderator.feed.say(room, "Hi, I'm here with you. How are you doing?", "v1")
    heard = await writer.expect("message", id=hello["id"], room=room)
    assert heard["note"] == "volunteer" and heard["from"] == "Volunteer alice"
    await moderator.close()


async def test_members_hear_when_a_moderator_comes_on_duty(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    person = await Client.connect(one.ws)
    welcome = await person.hello()
    assert welcome["on_duty"] is False
    moderator = await signed_in(two)
    await person.expect("duty", within=10, on_duty=True)
    await moderator.close()


async def test_each_room_follows_its_own_policy_from_the_rooms_file(
    harbor: HarborFactory, tmp_path: Path
) -> None:
    """One worker, two rooms: the shipped default redacts a phone number before delivery; a
    room whose entry sets `"redact_pii": false` (say, sponsors swapping numbers on purpose)
    delivers it as written. Its writer still gets no redaction notice there."""
    rooms = tmp_path / "rooms.json"
    rooms.write_text(
        json.dumps(
            [
                {"id": "newcomers", "title": "Newcomers"},
                {"id": "sponsors", "title": "Sponsors", "moderation": {"redact_pii": False}},
            ]
        ),
        encoding="utf-8",
    )
    worker = harbor(HARBOR_ROOMS=str(rooms))
    writer, reader = await member(worker), await member(worker)  # both in newcomers
    text = "call me at (614) 555-0133 after the meeting"
    await writer.join("sponsors")
    await reader.join("sponsors")
    redacted = await writer.say("newcomers", text, "p1")
    kept = await writer.say("sponsors", text, "p2")
    assert redacted.get("notice") == "pii_redacted" and "notice" not in kept
    seen = await reader.expect("message", id=redacted["id"], room="newcomers")
    assert "555-0133" not in seen["text"] and "[removed]" in seen["text"]
    seen = await reader.expect("message", id=kept["id"], room="sponsors")
    assert seen["text"] == text


async def test_spam_is_held_and_its_writer_must_wait_the_cooldown_before_the_next_send(
    harbor: HarborFactory,
) -> None:
    worker = harbor(HARBOR_SPAM_COOLDOWN_S="8")
    writer = await member(worker)
    spam = "click here to earn $500 a day from home, visit www.easy-cash.example now"
    ack = await writer.say("newcomers", spam, "x1")
    assert ack["held"] is True and ack["notice"] == "held_for_review"
    await writer.send({"type": "send", "room": "newcomers", "text": "sorry", "client_id": "x2"})
    refusal = await writer.expect("error", client_id="x2")
    assert refusal["code"] == "rate_limited" and 7000 <= refusal["retry_after_ms"] <= 8001


async def test_a_crisis_goes_through_a_spam_hold_at_once_and_only_a_few_refusals_are_read(
    harbor: HarborFactory,
) -> None:
    """Whoever tripped the spam hold may be the one who next writes that they want to die: that
    message is delivered with its support frame at once, not after the cooldown. Refused sends
    are read for a crisis a few times in a row only, so a flood buys no classifier passes."""
    worker = harbor(HARBOR_SPAM_COOLDOWN_S="60")
    writer, reader = await member(worker), await member(worker)
    spam = "click here to earn $500 a day from home, visit www.easy-cash.example now"
    assert (await writer.say("newcomers", spam, "s1"))["held"] is True
    await writer.send({"type": "send", "room": "newcomers", "text": "sorry", "client_id": "s2"})
    assert (await writer.expect("error", client_id="s2"))["code"] == "rate_limited"

    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "c1"})
    support = await writer.expect("support")
    assert support["resources"]
    ack = await writer.expect("ack", client_id="c1")
    assert (await reader.expect("message", id=ack["id"]))["text"] == CRISIS

    for number in range(3):  # spends what is left of the checks
        client_id = f"f{number}"
        await writer.send(
            {"type": "send", "room": "newcomers", "text": "ok", "client_id": client_id}
        )
        assert (await writer.expect("error", client_id=client_id))["code"] == "rate_limited"
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "c2"})
    refusal = await writer.expect("error", client_id="c2")
    assert refusal["code"] == "rate_limited" and refusal["retry_after_ms"] > 0


async def test_signing_out_on_one_device_hands_back_only_the_cases_claimed_there(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: sign-out released every case of that moderator, also those they were working on
    from their other device (a phone beside the laptop)."""
    one, two = workers
    laptop, phone = Moderator(one, "alice"), Moderator(two, "alice")
    await laptop.sign_in()
    await phone.sign_in()
    writers = [await member(one), await member(one)]
    for n, writer in enumerate(writers):
        client_id = f"s{n}"
        await writer.send(
            {"type": "send", "room": "newcomers", "text": SOLICITING, "client_id": client_id}
        )
        await writer.expect("ack", client_id=client_id)
    first, second = await laptop.flags()
    assert (await laptop.act(first["id"], "claim")).status_code == 200
    taken = await phone.http.post("/mod/api/flags/next", json={})
    assert taken.json()["flag"]["id"] == second["id"]

    assert (await laptop.http.delete("/mod/api/session")).status_code == 200
    states = {f["id"]: (f["state"], f["owner"]) for f in await phone.flags()}
    assert states == {first["id"]: ("open", None), second["id"]: ("claimed", "alice")}
    assert (await phone.http.delete("/mod/api/session")).status_code == 200
    left = await Moderator.signed_in_elsewhere(one, "bob")
    assert {f["id"]: f["state"] for f in left} == {first["id"]: "open", second["id"]: "open"}
    for moderator in (laptop, phone):
        await moderator.close()
