"""Fair process (#19 item 5) against a real worker on Redis: a sanction tells the person its
reason and length and carries one appeal, which becomes a low-severity case that a coordinator
other than the sanctioning moderator decides; every sanction ends within
HARBOR_SANCTION_MAX_DAYS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess, seconds

from .test_abuse import moderators_cli
from .test_moderation_flow import PASSWORD, SOLICITING, Moderator, member

ENV = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}


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
    decided = await cara.act(case["id"], "resolve", outcome="supported", note="upheld")
    assert decided.status_code == 200
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
    with pytest.raises(Exception, match="4503"):
        await writer.recv(within=10)
    assert (await appeal(worker, told["appeal"], "I'm sorry, I was upset")).status_code == 200
    assert any(f["source"] == "appeal" for f in await alice.flags())
    await alice.close()
