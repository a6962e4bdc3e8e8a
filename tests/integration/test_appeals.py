"""Fair process (#19 item 5) against a real worker on Redis: a sanction tells the person its
reason and length and carries one appeal, which becomes a low-severity case that a coordinator
other than the sanctioning moderator decides; every sanction ends within
HARBOR_SANCTION_MAX_DAYS."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess, seconds

from .test_abuse import from_source, moderators_cli
from .test_moderation_flow import PASSWORD, SOLICITING, Moderator, member

ENV = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}
# Where the banned people connect from: another loopback address is, to the server, another
# network (tests/integration/test_abuse.py), so only this one is held by their bans.
HOME = "127.0.0.23"


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    for name, role in (("alice", "coordinator"), ("bob", "volunteer"), ("cara", "coordinator")):
        moderators_cli(
            redis_server, "add", name, "--role", role, "--password-stdin", password=PASSWORD
        )
    return harbor(redis_server, HARBOR_SANCTION_MAX_DAYS="2", **ENV)


async def signed(worker: HarborProcess, name: str) -> Moderator:
    moderator = Moderator(worker, name)
    await moderator.sign_in()
    return moderator


async def flagged(worker: HarborProcess, moderator: Moderator) -> tuple[Client, dict[str, Any]]:
    writer = await member(worker)
    await writer.send({"type": "send", "room": "newcomers", "text": SOLICITING, "client_id": "s1"})
    await writer.expect("ack", client_id="s1")
    (flag,) = await moderator.flags()
    return writer, flag


@pytest.fixture
def two_workers(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, ...]:
    for name, role in (("alice", "volunteer"), ("cara", "coordinator")):
        moderators_cli(
            redis_server, "add", name, "--role", role, "--password-stdin", password=PASSWORD
        )
    return harbor(redis_server, **ENV), harbor(redis_server, **ENV)


async def status(worker: HarborProcess, ticket: object) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        response = await http.post("/api/appeal/status", json={"ticket": ticket})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def appealed_case(moderator: Moderator) -> dict[str, Any]:
    (case,) = [f for f in await moderator.flags() if f["source"] == "appeal"]
    return case


async def appeal(worker: HarborProcess, ticket: object, text: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        return await http.post("/api/appeal", json={"ticket": ticket, "text": text})


async def test_a_mute_tells_its_reason_and_length_and_one_appeal_reaches_another_coordinator(
    worker: HarborProcess,
) -> None:
    alice = await signed(worker, "alice")
    writer, flag = await flagged(worker, alice)
    unexplained = await alice.act(flag["id"], "mute", minutes=60, reason=" ", confirm=True)
    assert unexplained.status_code == 400 and "reason" in unexplained.json()["message"]
    too_long = await alice.act(flag["id"], "mute", minutes=2 * 1440 + 1, reason="x", confirm=True)
    assert too_long.status_code == 400, "no sanction outlasts HARBOR_SANCTION_MAX_DAYS"
    done = await alice.act(flag["id"], "mute", minutes=60, reason="selling pills", confirm=True)
    assert done.status_code == 200
    told = await writer.expect("sanction", within=10)
    words = "A moderator paused your messages for 1 hour. The reason: selling pills"
    assert told["message"] == words
    until = done.json()["until_ms"]
    assert (told["kind"], told["minutes"], told["until_ms"]) == ("mute", 60, until)
    assert "alice" not in str(told), "the person is never told who"

    assert (await appeal(worker, told["appeal"] + "x", "it wasn't me")).status_code == 400
    assert (await appeal(worker, told["appeal"], "")).status_code == 400
    sent = await appeal(worker, told["appeal"], "I was asking where NOT to go")
    assert sent.status_code == 200
    again = await appeal(worker, told["appeal"], "please")
    assert (again.status_code, again.json()["error"]) == (409, "already_appealed")

    cases = [f for f in await alice.flags() if f["source"] == "appeal"]
    assert len(cases) == 1
    (case,) = cases
    assert (case["severity"], case["text"], case["name"]) == (
        "watch",
        "I was asking where NOT to go",
        flag["name"],
    )
    assert case["appeal"]["by"] == "alice" and case["appeal"]["reason"] == "selling pills"
    own = await alice.act(case["id"], "claim")
    assert (own.status_code, own.json()["error"]) == (403, "own_sanction")
    bob = await signed(worker, "bob")
    volunteer = await bob.act(case["id"], "claim")
    assert (volunteer.status_code, volunteer.json()["error"]) == (403, "role_required")
    cara = await signed(worker, "cara")
    assert (await cara.act(case["id"], "claim")).status_code == 200
    plain = await cara.act(case["id"], "resolve", outcome="supported")
    assert (plain.status_code, plain.json()["error"]) == (409, "decide_required")
    decided = await cara.act(case["id"], "decide", decision="upheld", note="the rule is clear")
    assert decided.status_code == 200
    told_decision = await writer.expect("appeal_decided", within=10)
    assert told_decision["decision"] == "upheld" and "stays" in told_decision["message"]
    assert "cara" not in str(told_decision), "the person is never told who decided"
    for moderator in (alice, bob, cara):
        await moderator.close()


async def test_a_banned_person_is_told_why_and_until_when_and_can_still_appeal(
    worker: HarborProcess,
) -> None:
    alice = await signed(worker, "alice")
    writer, flag = await flagged(worker, alice)
    done = await alice.act(flag["id"], "ban", minutes=1440, reason="threats", confirm=True)
    assert done.status_code == 200
    told = await writer.expect("sanction", within=10)
    assert told["message"] == "A moderator paused your name for 1 day. The reason: threats"
    await closed_for_ban(writer)
    assert (await appeal(worker, told["appeal"], "I'm sorry, I was upset")).status_code == 200
    assert any(f["source"] == "appeal" for f in await alice.flags())
    await alice.close()


async def test_a_mute_lifted_on_appeal_ends_at_once_on_the_persons_worker_and_is_told_and_audited(
    two_workers: tuple[HarborProcess, ...],
) -> None:
    """The person writes on one worker; the moderators act on the other. Before: deciding an
    appeal changed nothing, and the person never heard of it."""
    one, two = two_workers
    alice = await signed(two, "alice")
    writer, flag = await flagged(one, alice)
    await alice.act(flag["id"], "mute", minutes=60, reason="selling pills", confirm=True)
    ticket = (await writer.expect("sanction", within=10))["appeal"]
    await writer.send({"type": "send", "room": "newcomers", "text": "hello", "client_id": "m1"})
    await writer.expect("error", code="muted", within=10)
    assert (await status(one, ticket))["state"] == "open"
    assert (await appeal(one, ticket, "I was asking where NOT to go")).status_code == 200
    assert (await status(one, ticket))["state"] == "waiting"

    cara = await signed(two, "cara")
    case = await appealed_case(cara)
    shorter = await cara.act(case["id"], "decide", decision="shortened", minutes=90)
    assert shorter.status_code == 400, "a shortened pause must end sooner"
    lifted = await cara.act(case["id"], "decide", decision="lifted", note="a fair question")
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["flag"]["outcome"] == "lifted"
    told = await writer.expect("appeal_decided", within=10)
    assert (told["decision"], told["until_ms"]) == ("lifted", None)
    assert told["message"] == (
        "Your appeal was read, and the pause on your messages is lifted: you can write again."
    )
    await writer.send({"type": "send", "room": "newcomers", "text": "thank you", "client_id": "m2"})
    await writer.expect("ack", client_id="m2", within=10)

    known = await status(one, ticket)
    assert (known["state"], known["decision"], known["until_ms"]) == ("decided", "lifted", None)
    assert "cara" not in str(known) and "alice" not in str(known)
    again = await cara.act(case["id"], "decide", decision="upheld")
    assert (again.status_code, again.json()["error"]) == (409, "already_resolved")
    entries = (await cara.http.get("/mod/api/audit")).json()["entries"]
    (entry,) = [e for e in entries if e["action"] == "decide"]
    assert entry["action_text"] == "Decided the appeal"
    assert entry["detail_text"] == "outcome: lifted: the pause ended"
    assert entry["moderator"] == "cara"
    for moderator in (alice, cara):
        await moderator.close()


async def test_a_ban_lifted_on_appeal_lets_the_person_back_at_once_in_their_own_name(
    two_workers: tuple[HarborProcess, ...],
) -> None:
    one, two = two_workers
    alice = await signed(two, "alice")
    cara = await signed(two, "cara")
    writer, flag = await flagged(one, alice)
    token, name = writer.token, writer.name
    await alice.act(flag["id"], "ban", minutes=1440, reason="threats", confirm=True)
    ticket = (await writer.expect("sanction", within=10))["appeal"]
    assert (await appeal(one, ticket, "I'm sorry, I was upset")).status_code == 200
    shut = await Client.connect(one.ws)
    await shut.send({"type": "hello", "token": token})
    with pytest.raises(Exception, match="4503"):
        await shut.recv(within=10)

    case = await appealed_case(cara)
    lifted = await cara.act(case["id"], "decide", decision="lifted")
    assert lifted.status_code == 200, lifted.text
    back = await Client.connect(one.ws)
    welcome = await back.hello(token)
    assert welcome["name"] == name and "replaced" not in welcome
    known = await status(one, ticket)
    assert (known["state"], known["decision"]) == ("decided", "lifted")
    assert known["message"].endswith("the pause on your name is lifted: you can write again.")
    for client in (back, shut):
        await client.close()
    for moderator in (alice, cara):
        await moderator.close()


async def new_name_from(worker: HarborProcess, address: str) -> bool:
    """Whether a person with no name yet, coming from `address`, is given one (else the ban's
    hold on that network closes the socket with 4503)."""
    fresh = await from_source(worker, address)
    await fresh.send({"type": "hello"})
    try:
        frame = await fresh.recv(within=5)
    except Exception as closed:
        assert "4503" in str(closed)
        return False
    assert frame["type"] == "welcome"
    await fresh.close()
    return True


async def network_held(worker: HarborProcess, address: str) -> None:
    """Wait until the ban's hold is in place: the worker that closed the banned socket writes it
    in the background. Bounded: 50 tries."""
    for _ in range(50):
        if not await new_name_from(worker, address):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("a new name from the banned network was welcomed")


async def at_home(worker: HarborProcess) -> Client:
    """A person at HOME with a name, in the newcomers room."""
    person = await from_source(worker, HOME)
    await person.hello()
    await person.join("newcomers")
    return person


async def banned(writer: Client, moderator: Moderator, text: str) -> str:
    """`writer` says `text` and is banned for a day over it; their appeal ticket."""
    await writer.say("newcomers", text, "h1")
    (flag,) = [f for f in await moderator.flags() if f["text"] == text]
    done = await moderator.act(flag["id"], "ban", minutes=1440, reason="threats", confirm=True)
    assert done.status_code == 200, done.text
    ticket: str = (await writer.expect("sanction", within=10))["appeal"]
    await closed_for_ban(writer)
    return ticket


async def closed_for_ban(writer: Client) -> None:
    """Wait for the banned socket's close with 4503 (CI saw a frame already on its way, a
    presence or duty update, arrive first). Bounded: 50 frames."""
    for _ in range(50):
        try:
            await writer.recv(within=10)
        except Exception as closed:  # the close is what we wait for
            assert "4503" in str(closed)
            return
    raise AssertionError("the banned socket was not closed with 4503")


async def holds_written(redis_server: RedisProcess, count: int) -> None:
    """Wait until `count` bans have their holds recorded (each ban's own holds set): a hold
    written late, by the worker that closed the socket, must not stand in for one ended
    wrongly. Bounded: 50 tries."""
    client = aioredis.from_url(redis_server.url)
    try:
        for _ in range(50):
            if len([key async for key in client.scan_iter("harbor:{mod}:holds:*")]) == count:
                return
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()
    raise AssertionError(f"expected the holds of {count} bans")


async def test_a_ban_lifted_on_appeal_frees_the_network_it_held_on_every_worker(
    two_workers: tuple[HarborProcess, ...],
) -> None:
    """Before: the person had their name back, but the household, shelter or carrier address
    they shared stayed closed to new names until the ban's original end."""
    one, two = two_workers
    alice = await signed(two, "alice")
    cara = await signed(two, "cara")
    writer = await at_home(one)
    ticket = await banned(writer, alice, SOLICITING)
    await network_held(two, HOME)
    assert not await new_name_from(one, HOME)
    assert (await appeal(one, ticket, "I'm sorry, I was upset")).status_code == 200

    case = await appealed_case(cara)
    lifted = await cara.act(case["id"], "decide", decision="lifted")
    assert lifted.status_code == 200, lifted.text
    assert await new_name_from(one, HOME), "the lifted ban no longer holds its network"
    assert await new_name_from(two, HOME)
    await writer.close()
    for moderator in (alice, cara):
        await moderator.close()


async def test_a_lifted_ban_leaves_the_hold_of_another_standing_ban_on_the_same_network(
    two_workers: tuple[HarborProcess, ...], redis_server: RedisProcess
) -> None:
    """Two people at one address, both banned; one ban lifted on appeal: the other ban still
    holds the network, so no new name starts there until it ends."""
    one, two = two_workers
    alice = await signed(two, "alice")
    cara = await signed(two, "cara")
    first, second = await at_home(one), await at_home(two)
    ticket = await banned(first, alice, SOLICITING)
    await banned(second, alice, SOLICITING + " tonight")
    await holds_written(redis_server, 2)
    assert (await appeal(one, ticket, "it was not what it looked like")).status_code == 200
    case = await appealed_case(cara)
    lifted = await cara.act(case["id"], "decide", decision="lifted")
    assert lifted.status_code == 200, lifted.text
    assert not await new_name_from(one, HOME), "the second ban still holds the network"
    assert not await new_name_from(two, HOME)
    for client in (first, second):
        await client.close()
    for moderator in (alice, cara):
        await moderator.close()


async def test_a_mute_shortened_on_appeal_still_holds_until_its_new_end(
    two_workers: tuple[HarborProcess, ...],
) -> None:
    one, two = two_workers
    alice = await signed(two, "alice")
    cara = await signed(two, "cara")
    writer, flag = await flagged(one, alice)
    done = await alice.act(flag["id"], "mute", minutes=1440, reason="spam", confirm=True)
    ticket = (await writer.expect("sanction", within=10))["appeal"]
    assert (await appeal(one, ticket, "it was one link")).status_code == 200
    case = await appealed_case(cara)
    shorter = await cara.act(case["id"], "decide", decision="shortened", minutes=30)
    assert shorter.status_code == 200, shorter.text
    told = await writer.expect("appeal_decided", within=10)
    assert told["decision"] == "shortened"
    assert told["until_ms"] < done.json()["until_ms"] - 23 * 3600_000
    await writer.send({"type": "send", "room": "newcomers", "text": "hi", "client_id": "m3"})
    await writer.expect("error", code="muted", within=10)
    known = await status(one, ticket)
    assert (known["state"], known["until_ms"]) == ("decided", told["until_ms"])
    for moderator in (alice, cara):
        await moderator.close()


async def test_take_next_never_hands_an_appeal_to_a_volunteer_or_to_the_sanctioning_moderator(
    worker: HarborProcess,
) -> None:
    """Before: "Take next most urgent" gave the appeal to whoever asked first, the moderator who
    gave the sanction included."""
    alice = await signed(worker, "alice")
    writer, flag = await flagged(worker, alice)
    await alice.act(flag["id"], "mute", minutes=60, reason="selling pills", confirm=True)
    ticket = (await writer.expect("sanction", within=10))["appeal"]
    resolved = await alice.act(flag["id"], "resolve", outcome="supported")
    assert resolved.status_code == 200
    assert (await appeal(worker, ticket, "it was a joke")).status_code == 200
    bob = await signed(worker, "bob")
    cara = await signed(worker, "cara")
    for moderator in (bob, alice):
        taken = await moderator.http.post("/mod/api/flags/next", json={})
        assert (taken.status_code, taken.json()) == (200, {"flag": None}), moderator.name
    refused = await bob.act((await appealed_case(cara))["id"], "claim")
    assert (refused.status_code, refused.json()["error"]) == (403, "role_required")
    assert "only a coordinator" in refused.json()["message"]
    taken = await cara.http.post("/mod/api/flags/next", json={})
    assert taken.json()["flag"]["source"] == "appeal"
    assert taken.json()["flag"]["owner"] == "cara"
    for moderator in (alice, bob, cara):
        await moderator.close()
