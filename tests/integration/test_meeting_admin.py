"""Meetings a coordinator adds and removes while Harbor runs (#20), across two workers on one
Redis: only a coordinator (or an admin) may, the entry is checked like the rooms file's, every
worker lists it on the schedule and in the calendar and runs it, and the rooms file's own
meetings stay put. The dashboard's list of meetings on now says whether each has a chair."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess, until
from tests.meetings import MEETING_ID, rooms_with_a_meeting

from .test_roles import add, moderator

ROOM = "opioids"


def entry(**fields: Any) -> dict[str, Any]:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return {
        "room": ROOM,
        "title": "Lunchtime check-in",
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "timezone": "UTC",
        "repeat": "daily",
        "length_min": 60,
        **fields,
    }


def listed(worker: HarborProcess) -> list[str]:
    return [m["title"] for m in worker.get_json("/api/meetings")["meetings"]]


async def test_a_coordinator_adds_a_meeting_every_worker_runs_and_removes_it(
    harbor: HarborFactory, redis_server: RedisProcess, tmp_path: Path
) -> None:
    add(redis_server, "vera")
    add(redis_server, "cole", "--role", "coordinator")
    first = harbor(redis_server, HARBOR_MEETINGS_ADDED_MAX="2")
    second = harbor(redis_server, HARBOR_MEETINGS_ADDED_MAX="2")
    vera, cole = await moderator(first, "vera"), await moderator(first, "cole")
    assert (await vera.http.get("/mod/api/meetings")).json()["on_now"] == []

    refused = await vera.http.post("/mod/api/meetings", json=entry())
    assert refused.status_code == 403 and refused.json()["error"] == "role_required"
    for bad in (
        entry(room="nowhere"),
        entry(start="tomorrow"),
        entry(timezone="Mars/Olympus"),
        entry(title=""),
        entry(length_min=0),
        entry(colour="blue"),
    ):
        answer = await cole.http.post("/mod/api/meetings", json=bad)
        assert answer.status_code == 400, bad
    made = await cole.http.post("/mod/api/meetings", json=entry(id="lunch", turn_min=3))
    assert made.status_code == 201, made.text
    assert made.json()["meeting"]["id"] == "lunch"
    again = await cole.http.post("/mod/api/meetings", json=entry(id="lunch"))
    assert again.status_code == 409 and again.json()["error"] == "exists"

    # Every worker lists it, in the calendar too, within a sweep.
    await until(lambda: "Lunchtime check-in" in listed(second), 10, "the other worker")
    assert "SUMMARY:Lunchtime check-in (Opioids)" in second.get_text("/api/meetings.ics")
    assert second.get_text("/api/meetings/lunch.ics").count("BEGIN:VEVENT") == 15
    rooms = {room["id"]: room for room in second.get_json("/api/rooms")["rooms"]}
    assert rooms[ROOM]["meeting"]["title"] == "Lunchtime check-in"

    # ...and runs it: a member on the other worker is in the meeting, and a volunteer chairs it.
    ana = await Client.connect(second.ws)
    await ana.hello()
    await ana.join(ROOM)
    shown = await ana.expect("meeting", room=ROOM)
    assert (shown["id"], shown["turn_s"], shown["chair"]) == ("lunch", 180, None)
    on_now = (await vera.http.get("/mod/api/meetings")).json()["on_now"]
    assert [(m["id"], m["chair"], m["started"], m["link"]) for m in on_now] == [
        ("lunch", None, True, f"/r/{ROOM}?volunteer")
    ]
    feed = await vera.connect_feed()
    await feed.join(ROOM)
    await act_in(feed, "chair")
    await meeting_in(ana, lambda f: f["chair"] is not None)
    on_now = (await vera.http.get("/mod/api/meetings")).json()["on_now"]
    assert on_now[0]["chair"] == "Volunteer vera"

    second_one = await cole.http.post(
        "/mod/api/meetings", json=entry(title="Morning", room="alcohol")
    )
    assert second_one.status_code == 201  # an id made from the title
    assert second_one.json()["meeting"]["id"].startswith("morning-")
    full = await cole.http.post("/mod/api/meetings", json=entry(title="Third"))
    assert full.status_code == 409 and full.json()["error"] == "full"

    assert (await vera.http.delete("/mod/api/meetings/lunch")).status_code == 403
    gone = await cole.http.delete("/mod/api/meetings/lunch")
    assert gone.status_code == 200
    ended = await meeting_in(ana, lambda f: f["ended"])  # the room is told it is over
    assert ended["id"] == "lunch"
    await ana.say(ROOM, "see you tomorrow", "a1")
    assert (await cole.http.delete("/mod/api/meetings/lunch")).status_code == 404
    await until(lambda: "Lunchtime check-in" not in listed(second), 10, "the other worker")
    assert listed(second) and set(listed(second)) == {"Morning"}
    await vera.close()
    await cole.close()


async def act_in(client: Client, action: str) -> None:
    await client.send({"type": "meeting", "room": ROOM, "action": action})


async def meeting_in(client: Client, wanted: Any) -> dict[str, Any]:
    for _ in range(30):
        frame = await client.expect("meeting", room=ROOM)
        if wanted(frame):
            return frame
    raise AssertionError("the meeting never reached the state wanted")


async def test_the_rooms_files_meetings_are_not_removed_here(
    harbor: HarborFactory, redis_server: RedisProcess, tmp_path: Path
) -> None:
    add(redis_server, "cole", "--role", "coordinator")
    worker = harbor(redis_server, HARBOR_ROOMS=str(rooms_with_a_meeting(tmp_path / "rooms")))
    cole = await moderator(worker, "cole")
    answer = await cole.http.delete(f"/mod/api/meetings/{MEETING_ID}")
    assert answer.status_code == 409 and answer.json()["error"] == "rooms_file"
    clash = await cole.http.post("/mod/api/meetings", json=entry(id=MEETING_ID))
    assert clash.status_code == 409
    await cole.close()
