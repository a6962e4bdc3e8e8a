"""The abuse suite, identity findings (issue #17, findings 8 and 10), against real workers; each
test failed on the code as it stood before the fix.

8: tokens never expired and could not be revoked, so whoever next held a device rejoined the
last person's private check-in. 10: 405,504 pseudonyms (2 collisions among 1,500 identities),
and "yours" decided by display name.

Tokens are forged with the test's knowledge of HARBOR_SECRET (tests/tokens.py), the way nobody
without the secret can.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from server.identity import IdentityIssuer
from tests.conftest import TEST_SECRET, HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess
from tests.tokens import aged, issued_s, token_for, uid_of, untimed

from .test_abuse import ELSEWHERE, closed_with, from_source, workers  # noqa: F401 (fixture)
from .test_moderation_flow import member, signed_in


async def welcomed(
    worker: HarborProcess, token: str | None = None
) -> tuple[Client, dict[str, Any]]:
    client = await Client.connect(worker.ws)
    welcome = await client.hello(token)
    return client, welcome


async def refused_join(client: Client, room: str) -> str:
    await client.send({"type": "join", "room": room})
    frame = await client.expect_any(("joined", "error"))
    assert frame["type"] == "error", f"joined {room}"
    code: str = frame["code"]
    return code


@pytest.fixture
def embedded(harbor: HarborFactory) -> HarborProcess:
    return harbor(HARBOR_SECRET=TEST_SECRET)


async def test_an_expired_token_gets_a_new_identity_that_cannot_reach_the_old_check_in(
    embedded: HarborProcess,
) -> None:
    """Before: a token worked forever, so the next person at a shared device walked back into
    the last one's name and private check-in."""
    person, first = await welcomed(embedded)
    await person.join(first["checkin_room"])  # the check-in is theirs while the token is live
    await person.close()

    for stale in (aged(TEST_SECRET, first["token"], 31), untimed(TEST_SECRET, first["token"])):
        next_person, welcome = await welcomed(embedded, stale)
        assert welcome["replaced"] == "expired"
        assert welcome["name"] != first["name"]
        assert welcome["checkin_room"] != first["checkin_room"]
        assert uid_of(welcome["token"]) != uid_of(first["token"])
        assert await refused_join(next_person, first["checkin_room"]) == "unknown_room"
        await next_person.close()

    recent, welcome = await welcomed(embedded, aged(TEST_SECRET, first["token"], 29))
    assert welcome["name"] == first["name"] and "replaced" not in welcome, "29 days is fine"
    await recent.join(first["checkin_room"])


async def test_a_shorter_idle_window_is_the_operators_setting(harbor: HarborFactory) -> None:
    """HARBOR_TOKEN_IDLE_DAYS=1: a two-day-old token has expired."""
    worker = harbor(HARBOR_SECRET=TEST_SECRET, HARBOR_TOKEN_IDLE_DAYS="1")
    _, first = await welcomed(worker)
    _, welcome = await welcomed(worker, aged(TEST_SECRET, first["token"], 2))
    assert welcome["replaced"] == "expired" and welcome["name"] != first["name"]


async def test_the_welcome_refreshes_the_token(embedded: HarborProcess) -> None:
    """Before: the welcome handed back the same token, forever. Now every welcome issues a
    fresh one (same identity, issued now), so an active person never expires."""
    _, first = await welcomed(embedded)
    ten_days_old = aged(TEST_SECRET, first["token"], 10)
    started = int(time.time())
    _, welcome = await welcomed(embedded, ten_days_old)
    assert (welcome["name"], welcome["checkin_room"]) == (first["name"], first["checkin_room"])
    assert "replaced" not in welcome
    assert welcome["token"] != ten_days_old
    assert issued_s(welcome["token"]) >= started - 1
    _, again = await welcomed(embedded, welcome["token"])
    assert again["name"] == first["name"]


async def test_a_banned_identitys_tokens_stay_refused_after_the_ban_ends(
    workers: tuple[HarborProcess, ...],  # noqa: F811
    redis_server: RedisProcess,
) -> None:
    """Before: once a ban ran out, the banned token (on whatever device it was left) opened the
    identity and its check-in again."""
    one, two = workers
    moderator = await signed_in(two)
    writer = await from_source(one, ELSEWHERE)
    first = await writer.hello()
    older_token = aged(TEST_SECRET, first["token"], 3)
    await writer.join("newcomers")
    insult = "you are all pathetic losers and nobody here will ever stay clean, just quit"
    ack = await writer.say("newcomers", insult, "b1")
    reporter = await member(one)
    await reporter.send({"type": "report", "room": "newcomers", "id": ack["id"]})
    assert moderator.feed is not None
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    response = await moderator.act(flag["id"], "ban", minutes=5, reason="abuse", confirm=True)
    assert response.status_code == 200, response.text
    await closed_with(writer, 4503)

    during = await Client.connect(one.ws)  # from another network, with the banned token
    await during.send({"type": "hello", "token": first["token"]})
    await closed_with(during, 4503)

    # The ban ends: its sanctions (the identity's, and the hold on its source) run out.
    client = aioredis.from_url(redis_server.url)
    try:
        keys = [key async for key in client.scan_iter(match="harbor:{mod}:sanction:*")]
        assert keys, "the ban was recorded"
        await client.delete(*keys)
    finally:
        await client.aclose()

    for token in (first["token"], older_token):
        for worker in (one, two):
            after, welcome = await welcomed(worker, token)
            assert welcome["replaced"] == "revoked"
            assert welcome["name"] != first["name"]
            assert welcome["checkin_room"] != first["checkin_room"]
            assert await refused_join(after, first["checkin_room"]) == "unknown_room"
            await after.close()
    await moderator.close()


def two_uids_with_one_name(secret: str) -> tuple[bytes, bytes]:
    """Two identities whose pseudonyms collide under `secret`: a birthday search over fixed
    uids (about 30,000 names for one pair among 5.5e8), bounded."""
    issuer = IdentityIssuer(secret)
    seen: dict[str, bytes] = {}
    for i in range(400_000):
        uid = i.to_bytes(16, "big")
        name = issuer._pseudonym(uid)
        if name in seen:
            return seen[name], uid
        seen[name] = uid
    raise AssertionError("no two names collided in the search bound")


async def test_two_people_with_the_same_name_are_told_apart_by_their_tags(
    embedded: HarborProcess,
) -> None:
    """Before: messages carried only the display name, and a page marked every message with its
    own name as its own. Now each message carries its writer's tag (from the welcome), which a
    name collision does not share and which is neither the uid nor the token."""
    one, other = two_uids_with_one_name(TEST_SECRET)
    ana, ana_welcome = await welcomed(embedded, token_for(TEST_SECRET, one))
    ben, ben_welcome = await welcomed(embedded, token_for(TEST_SECRET, other))
    assert ana_welcome["name"] == ben_welcome["name"], "one display name, two people"
    assert ana_welcome["author"] != ben_welcome["author"]
    for welcome, uid in ((ana_welcome, one), (ben_welcome, other)):
        assert len(welcome["author"]) == 12
        assert welcome["author"] not in uid.hex() and welcome["author"] not in welcome["token"]

    await ana.join("newcomers")
    await ben.join("newcomers")
    said = await ana.say("newcomers", "which of us wrote this?", "t1")
    for reader in (ana, ben):
        message = await reader.expect("message", id=said["id"])
        assert message["from"] == ana_welcome["name"]
        assert message["author"] == ana_welcome["author"] != ben_welcome["author"]
    late = await member(embedded)
    (item,) = [m for m in late.last_joined["history"] if m["id"] == said["id"]]
    assert item["author"] == ana_welcome["author"]
    assert one.hex() not in str(item)
