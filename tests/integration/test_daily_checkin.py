"""The daily check-in thread on a real worker: an answer carries `thread: "checkin"` live and in
history, meets moderation like any message, and an unknown thread is refused."""

from __future__ import annotations

from tests.conftest import HarborFactory
from tests.harness import Client


async def test_a_check_in_answer_is_marked_live_and_in_history(harbor: HarborFactory) -> None:
    worker = harbor()
    writer, reader = await Client.connect(worker.ws), await Client.connect(worker.ws)
    for client in (writer, reader):
        await client.hello()
        await client.join("alcohol")
    await writer.send(
        {
            "type": "send",
            "room": "alcohol",
            "text": "Day 12. A calm one.",
            "client_id": "d1",
            "thread": "checkin",
        }
    )
    ack = await writer.expect("ack", client_id="d1")
    live = await reader.expect("message", id=ack["id"])
    assert live["thread"] == "checkin"
    plain = await writer.say("alcohol", "and an ordinary message", "d2")
    assert "thread" not in await reader.expect("message", id=plain["id"])

    later = await Client.connect(worker.ws)
    await later.hello()
    joined = await later.join("alcohol")
    threads = {item["id"]: item.get("thread") for item in joined["history"]}
    assert threads == {ack["id"]: "checkin", plain["id"]: None}

    await writer.send(
        {
            "type": "send",
            "room": "alcohol",
            "text": "I'm going to use tonight, I already have it",
            "client_id": "d3",
            "thread": "checkin",
        }
    )
    assert (await writer.expect("support", room="alcohol"))["resources"]

    await writer.send(
        {"type": "send", "room": "alcohol", "text": "x", "client_id": "d4", "thread": "news"}
    )
    refused = await writer.expect("error", client_id="d4")
    assert refused["code"] == "bad_field"
