"""A meeting across two workers on one Redis: one share queue and one floor for everyone,
cross-talk off (with a crisis still let through), a late-comer told where things stand, the
chair handed over, and bad actions answered with error frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess, until
from tests.integration.test_moderation_flow import Moderator, add_moderator
from tests.meetings import MEETING_ID, MEETING_ROOM, rooms_with_a_meeting

ROOM = MEETING_ROOM
CRISIS = "honestly i want to die, i don't see the point of waking up anymore"


async def member(worker: HarborProcess) -> tuple[Client, str]:
    client = await Client.connect(worker.ws)
    welcome = await client.hello()
    await client.join(ROOM)
    return client, welcome["author"]


async def act(client: Client, action: str, **fields: Any) -> None:
    await client.send({"type": "meeting", "room": ROOM, "action": action, **fields})


async def meeting_until(client: Client, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first `meeting` frame (of the next few) that shows what `wanted` looks for: each
    change is one frame, and a test reads past the earlier ones."""
    for _ in range(30):
        frame = await client.expect("meeting", room=ROOM)
        if wanted(frame):
            return frame
    raise AssertionError("the meeting never reached the state wanted")


def names(frame: dict[str, Any], field: str) -> list[str]:
    return [person["name"] for person in frame[field]]


async def test_one_queue_and_one_floor_across_two_workers(
    harbor: HarborFactory, redis_server: RedisProcess, tmp_path: Path
) -> None:
    rooms = str(rooms_with_a_meeting(tmp_path / "rooms"))
    add_moderator(redis_server, "volunteer")
    first = harbor(redis_server, HARBOR_ROOMS=rooms)
    second = harbor(redis_server, HARBOR_ROOMS=rooms)

    chair = Moderator(first, "volunteer")
    await chair.sign_in()
    feed = await chair.connect_feed()
    await feed.join(ROOM)
    shown = await feed.expect("meeting", room=ROOM)  # joining a room in a meeting shows it
    assert (shown["id"], shown["chair"], shown["step"]) == (MEETING_ID, None, 0)
    assert shown["steps"][0]["title"] == "Opening words" and shown["turn_s"] == 300

    ana, ana_tag = await member(first)
    bo, bo_tag = await member(second)
    await act(ana, "chair")
    assert (await ana.expect("error", action="chair"))["code"] == "not_chair"
    await act(feed, "chair")
    opened = await meeting_until(bo, lambda f: f["chair"] is not None)  # on the other worker
    assert opened["chair"]["name"] == "Volunteer"

    await act(ana, "raise")
    await meeting_until(feed, lambda f: len(f["queue"]) == 1)  # hands are taken in order
    await act(bo, "raise")
    queued = await meeting_until(feed, lambda f: len(f["queue"]) == 2)
    assert names(queued, "queue") == [ana.name, bo.name]

    await act(feed, "crosstalk", on=False)
    await act(feed, "give")
    given = await meeting_until(bo, lambda f: f["floor"] is not None and not f["crosstalk"])
    assert given["floor"]["author"] == ana_tag and names(given, "queue") == [bo.name]
    assert given["floor"]["until_ms"] == given["floor_since_ms"] + 300_000

    await ana.say(ROOM, "I've been sober three weeks and tonight was hard.", "a1")
    await bo.send({"type": "send", "room": ROOM, "text": "same here!", "client_id": "b1"})
    refused = await bo.expect("error", client_id="b1")
    assert refused["code"] == "floor_only"
    await bo.send({"type": "send", "room": ROOM, "text": CRISIS, "client_id": "b2"})
    assert (await bo.expect("ack", client_id="b2"))["id"] is not None  # never silenced
    assert (await bo.expect("support", room=ROOM))["resources"]
    await act(bo, "react", reaction="heart")
    reaction = await ana.expect("meeting_reaction", room=ROOM)
    assert reaction == {"type": "meeting_reaction", "room": ROOM, "reaction": "heart"}

    late, _ = await member(second)  # a late-comer sees where the meeting stands at once
    now = await late.expect("meeting", room=ROOM)
    assert (now["floor"]["name"], now["crosstalk"], names(now, "queue")) == (
        ana.name,
        False,
        [bo.name],
    )
    assert now["greeting"].startswith("Welcome, come on in.")
    await act(late, "listen")
    assert (await late.expect("meeting", room=ROOM, listening=1))["listening"] == 1

    await act(ana, "done")
    await act(feed, "give", to=bo_tag)
    await act(feed, "hand", to=bo_tag)
    await meeting_until(ana, lambda f: (f["chair"] or {}).get("author") == bo_tag)
    await act(feed, "step", step=2)
    assert (await feed.expect("error", action="step"))["code"] == "not_chair"
    await act(bo, "step", step=5)
    await act(bo, "end")
    ended = await meeting_until(late, lambda f: f["ended"])
    assert (ended["step"], ended["crosstalk"], ended["queue"]) == (5, True, [])
    await late.say(ROOM, "thank you all", "l1")  # the room is a room again
    await chair.close()


async def test_meeting_frames_are_validated(harbor: HarborFactory, tmp_path: Path) -> None:
    worker = harbor(HARBOR_ROOMS=str(rooms_with_a_meeting(tmp_path / "rooms")))
    ana, _ = await member(worker)
    assert (await ana.expect("meeting", room=ROOM))["chair"] is None
    for bad in (
        {"action": "dance"},
        {"action": "give", "to": "Calm Heron 12"},
        {"action": "hand"},
        {"action": "crosstalk", "on": "no"},
        {"action": "step", "step": -1},
        {"action": "react", "reaction": "boo"},
    ):
        await ana.send({"type": "meeting", "room": ROOM, **bad})
        assert (await ana.expect("error"))["code"] == "bad_field", bad
    await ana.send({"type": "meeting", "room": "opioids", "action": "raise"})
    assert (await ana.expect("error", action="raise"))["code"] == "not_joined"
    await ana.join("opioids")
    await ana.send({"type": "meeting", "room": "opioids", "action": "raise"})
    assert (await ana.expect("error", action="raise"))["code"] == "no_meeting"
    await act(ana, "give")
    assert (await ana.expect("error", action="give"))["code"] == "not_chair"


async def test_the_schedule_and_its_calendar_files(harbor: HarborFactory, tmp_path: Path) -> None:
    worker = harbor(HARBOR_ROOMS=str(rooms_with_a_meeting(tmp_path / "rooms")))
    listed = worker.get_json("/api/meetings")["meetings"]
    assert [m["id"] for m in listed] == [MEETING_ID] * 15  # today's, under way, and 14 more
    first = listed[0]
    assert (first["room"], first["room_title"], first["repeat"], first["zone"]) == (
        ROOM,
        "Alcohol",
        "daily",
        "UTC",
    )
    assert first["end_ms"] - first["start_ms"] == 90 * 60_000
    assert first["format"][0] == "Opening words"
    rooms = {room["id"]: room for room in worker.get_json("/api/rooms")["rooms"]}
    assert rooms[ROOM]["meeting"]["start_ms"] == first["start_ms"]
    assert "meeting" not in rooms["opioids"]
    one = worker.get_text(f"/api/meetings/{MEETING_ID}.ics")
    assert one.count("BEGIN:VEVENT") == 15
    assert worker.status("/api/meetings/no-such-meeting.ics") == 404
    assert worker.status("/api/meetings/Bad..Name.ics") == 404
    assert worker.get_text("/api/meetings.ics").count("BEGIN:VEVENT") == 15


# A meeting whose shares last 6 s with a warning 3 s before the end, whose people are let go
# 3 s after their last connection, and whose workers sweep every half second.
TIMED = {
    "HARBOR_MEETING_TURN_WARNING_S": "3",
    "HARBOR_MEETING_RESUME_S": "3",
    "HARBOR_MEETING_SWEEP_S": "0.5",
}


async def frames_until(
    client: Client, wanted: Callable[[dict[str, Any]], bool], within: float = 15
) -> list[dict[str, Any]]:
    """Every `meeting` frame up to and including the first that shows what `wanted` looks for."""
    frames: list[dict[str, Any]] = []
    for _ in range(60):
        frames.append(await client.expect("meeting", within=within, room=ROOM))
        if wanted(frames[-1]):
            return frames
    raise AssertionError("the meeting never reached the state wanted")


def sharing(frame: dict[str, Any]) -> str | None:
    return (frame["floor"] or {}).get("author")


async def two_timed_workers(
    harbor: HarborFactory, redis_server: RedisProcess, rooms: str
) -> tuple[HarborProcess, HarborProcess, Moderator, Client]:
    """Two workers over Redis with the meetings of `rooms` swept fast, and a volunteer signed in
    on the first whose feed has joined the meeting's room."""
    add_moderator(redis_server, "volunteer")
    first = harbor(redis_server, HARBOR_ROOMS=rooms, **TIMED)
    second = harbor(redis_server, HARBOR_ROOMS=rooms, **TIMED)
    chair = Moderator(first, "volunteer")
    await chair.sign_in()
    feed = await chair.connect_feed()
    await feed.join(ROOM)
    return first, second, chair, feed


def sweeps(worker: HarborProcess) -> float:
    """How many rounds of its meeting sweep `worker` has completed (its /metrics): a round
    that failed is not a sweep over the turn."""
    for line in worker.get_text("/metrics").splitlines():
        if line.startswith('harbor_meeting_sweeps_total{result="ok"} '):
            return float(line.split()[1])
    raise AssertionError('no harbor_meeting_sweeps_total{result="ok"} in /metrics')


async def test_a_turn_limit_warns_then_ends_the_share_once_across_two_workers(
    harbor: HarborFactory, redis_server: RedisProcess, tmp_path: Path
) -> None:
    rooms = str(rooms_with_a_meeting(tmp_path / "rooms", turn_s=6, turn_min=None))
    first, second, chair, feed = await two_timed_workers(harbor, redis_server, rooms)
    ana, ana_tag = await member(first)
    bo, bo_tag = await member(second)
    await act(feed, "chair")
    await act(ana, "raise")
    await meeting_until(bo, lambda f: len(f["queue"]) == 1)
    await act(bo, "raise")
    await meeting_until(bo, lambda f: len(f["queue"]) == 2)
    await act(feed, "give")
    given = await meeting_until(bo, lambda f: sharing(f) == ana_tag)
    assert given["floor"]["warned"] is False and given["turn_s"] == 6

    # Bo, on the other worker, sees the warning and then the end, each exactly once, though
    # both workers sweep the room.
    seen = await frames_until(bo, lambda f: f["timed_out"] is not None)
    warned = [f for f in seen if f["floor"] and f["floor"]["warned"]]
    assert len(warned) == 1 and sharing(warned[0]) == ana_tag
    over = seen[-1]
    assert over["floor"] is None and over["timed_out"]["author"] == ana_tag
    assert names(over, "queue") == [bo.name]  # the floor went back to the chair, who decides
    assert over["chair"]["name"] == "Volunteer"
    await ana.send({"type": "send", "room": ROOM, "text": "one more thing", "client_id": "a9"})
    await ana.expect("ack", client_id="a9")  # cross-talk is on: the room is open again

    # Sweeps go on over the ended turn (three rounds of both workers): nothing more happens,
    # so the next frame anyone sees is the chair's own next action.
    rounds = [sweeps(worker) for worker in (first, second)]
    await until(
        lambda: all(sweeps(w) >= done + 3 for w, done in zip((first, second), rounds, strict=True)),
        10,
        "three more sweeps on both workers",
    )
    await act(feed, "give")
    following = await bo.expect("meeting", room=ROOM)
    assert sharing(following) == bo_tag and following["timed_out"] is None
    await chair.close()


async def test_people_who_leave_are_let_go_and_a_departed_chair_hands_it_back(
    harbor: HarborFactory, redis_server: RedisProcess, tmp_path: Path
) -> None:
    rooms = str(rooms_with_a_meeting(tmp_path / "rooms"))
    first, second, chair, feed = await two_timed_workers(harbor, redis_server, rooms)
    ana, ana_tag = await member(first)
    bo, bo_tag = await member(second)
    cy, cy_tag = await member(second)
    await act(feed, "chair")
    for person in (ana, bo, cy):
        await act(person, "raise")
    await meeting_until(ana, lambda f: len(f["queue"]) == 3)
    await act(feed, "give", to=cy_tag)
    await act(feed, "hand", to=bo_tag)
    handed = await meeting_until(ana, lambda f: (f["chair"] or {}).get("author") == bo_tag)
    assert sharing(handed) == cy_tag and names(handed, "queue") == [ana.name]

    await cy.close()  # the person sharing closes the page: the floor is released
    released = await meeting_until(ana, lambda f: f["floor"] is None)
    assert names(released, "queue") == [ana.name]
    assert (released["chair"] or {}).get("author") == bo_tag

    await bo.close()  # the member chairing goes: the chair goes back to the volunteer
    back = await meeting_until(ana, lambda f: (f["chair"] or {}).get("author") != bo_tag)
    assert back["chair"]["name"] == "Volunteer"

    await feed.close()  # and the volunteer goes too: the chair waits for a volunteer
    vacant = await meeting_until(ana, lambda f: f["chair"] is None)
    assert names(vacant, "queue") == [ana.name]  # Ana is still here, hand still up
    await ana.say(ROOM, "is anyone chairing?", "a1")  # no chair: nothing is restricted
    second_chair = Moderator(second, "volunteer")
    await second_chair.sign_in()
    again = await second_chair.connect_feed()
    await again.join(ROOM)
    await act(again, "chair")
    taken = await meeting_until(ana, lambda f: f["chair"] is not None)
    assert taken["chair"]["name"] == "Volunteer" and names(taken, "queue") == [ana.name]
    await chair.close()
    await second_chair.close()
