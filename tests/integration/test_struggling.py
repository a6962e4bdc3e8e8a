""" "I'm struggling" on a real worker: one frame posts Harbor's gentle words under the person's
pseudonym, at most once per cooldown, and what they write next meets moderation as usual."""

from __future__ import annotations

from tests.conftest import HarborFactory
from tests.harness import Client

REQUEST = "I'm struggling right now and could use some support."


async def two_in(room: str, harbor: HarborFactory, **env: str) -> tuple[Client, Client]:
    worker = harbor(**env)
    asking, other = await Client.connect(worker.ws), await Client.connect(worker.ws)
    for client in (asking, other):
        await client.hello()
        await client.join(room)
    return asking, other


async def test_a_request_reaches_the_room_once_with_its_own_note(harbor: HarborFactory) -> None:
    asking, other = await two_in("alcohol", harbor)
    await asking.send({"type": "struggling", "room": "alcohol", "client_id": "s-1"})
    ack = await asking.expect("ack", client_id="s-1")
    message = await other.expect("message", id=ack["id"])
    assert (message["text"], message["note"], message["from"]) == (
        REQUEST,
        "struggling",
        asking.name,
    )
    assert "sensitive" not in message

    await asking.send({"type": "struggling", "room": "alcohol", "client_id": "s-2"})
    refused = await asking.expect("error", client_id="s-2")
    assert refused["code"] == "rate_limited" and refused["retry_after_ms"] > 100_000


async def test_a_crisis_written_after_a_request_gets_support(harbor: HarborFactory) -> None:
    asking, _ = await two_in("relapse-prevention", harbor)
    await asking.send({"type": "struggling", "room": "relapse-prevention", "client_id": "s0"})
    await asking.expect("ack", client_id="s0")
    await asking.say("relapse-prevention", "I'm going to use tonight, I already have it", "c1")
    support = await asking.expect("support", room="relapse-prevention")
    assert support["resources"], "the crisis path takes over as usual"


async def test_a_request_needs_the_room_joined_and_a_well_formed_frame(
    harbor: HarborFactory,
) -> None:
    asking, _ = await two_in("alcohol", harbor)
    await asking.send({"type": "struggling", "room": "opioids", "client_id": "s-9"})
    assert (await asking.expect("error", client_id="s-9"))["code"] == "not_joined"
    await asking.send({"type": "struggling", "room": "alcohol"})
    assert (await asking.expect("error"))["code"] == "bad_field"
    await asking.send({"type": "struggling", "room": "Alcohol!", "client_id": "s-8"})
    assert (await asking.expect("error", client_id="s-8"))["code"] == "bad_field"


async def test_a_declared_badge_rides_on_later_messages_only_when_it_is_a_milestone(
    harbor: HarborFactory,
) -> None:
    """A profile's badge is carried on the person's messages and requests; anything but a
    milestone is refused, and null takes the badge off."""
    asking, other = await two_in("wins-milestones", harbor)
    await asking.send({"type": "profile", "badge": "say hi to me"})
    assert (await asking.expect("error"))["code"] == "bad_field"
    await asking.send({"type": "profile", "badge": "90d"})
    assert (await asking.expect("profile"))["badge"] == "90d"
    ack = await asking.say("wins-milestones", "ninety days today", "b1")
    assert (await other.expect("message", id=ack["id"]))["badge"] == "90d"
    await asking.send({"type": "struggling", "room": "wins-milestones", "client_id": "b2"})
    ack = await asking.expect("ack", client_id="b2")
    assert (await other.expect("message", id=ack["id"]))["badge"] == "90d"
    await asking.send({"type": "profile", "badge": None})
    assert (await asking.expect("profile"))["badge"] is None
    ack = await asking.say("wins-milestones", "no badge now", "b3")
    assert "badge" not in await other.expect("message", id=ack["id"])
