"""A meeting in the browser (issue #20, item 1), with several people across two workers on one
Redis: a volunteer takes the chair, hands go up, cross-talk goes off and the chair gives the
floor (the person sharing highlighted, the others sending quiet support), a late-comer is
greeted and just listens, the chair is handed over, and the new chair ends the meeting. Plus
the schedule page in the viewer's time zone, with its calendar file."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from playwright.async_api import Locator, expect

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess
from tests.meetings import MEETING_ROOM, rooms_with_a_meeting

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path
from .dashboard import Dashboard, add_moderators
from .test_accessibility import serious_violations

ROOM = MEETING_ROOM
FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SHARE = "Three weeks today. Evenings are the hardest part, so I came here."


def panel(chat: ChatPage) -> Locator:
    return chat.page.locator("#meeting")


async def test_a_meeting_across_two_workers(
    chromium: Chromium,
    harbor: HarborFactory,
    redis_server: RedisProcess,
    tmp_path: Path,
    axe_source: str,
) -> None:
    rooms = str(rooms_with_a_meeting(tmp_path / "rooms", started_min_ago=5))
    add_moderators(redis_server, "volunteer")
    first = harbor(redis_server, HARBOR_ROOMS=rooms, **FAST)
    second = harbor(redis_server, HARBOR_ROOMS=rooms, **FAST)

    desk = await Dashboard.signed_in(chromium, first, "volunteer", viewport=DESKTOP)
    await desk.page.context.add_init_script(script=axe_source)
    await desk.page.goto(first.http + f"/r/{ROOM}?volunteer")
    chair = ChatPage(desk.page)
    await chair.accept()
    await chair.wait_joined()
    ana = await ChatPage.open(chromium, first, viewport=PHONE)
    await expect(ana.page.locator(f"button[data-room='{ROOM}'] .room-meeting")).to_have_text(
        "Meeting now: Evening meeting"
    )
    await ana.enter(ROOM)
    bo = await ChatPage.open(chromium, second, viewport=DESKTOP)
    await bo.enter(ROOM)
    ana_name, bo_name = await ana.name(), await bo.name()

    await expect(panel(bo).locator("#meeting-title")).to_contain_text("Evening meeting")
    await expect(panel(bo).locator("#meeting-status")).to_have_text(
        "Waiting for the chair to open the meeting."
    )
    await expect(panel(bo).get_by_role("button", name="Take the chair")).to_have_count(0)
    await panel(chair).get_by_role("button", name="Take the chair").click()
    await expect(panel(bo).locator("#meeting-status")).to_have_text("Chair: Volunteer.")
    await expect(panel(chair).locator("#meeting-status")).to_have_text("You are the chair.")

    await panel(ana).get_by_role("button", name="Raise my hand").click()
    await expect(panel(bo).locator("#meeting-queue")).to_have_text(f"Hands raised: {ana_name}.")
    await panel(bo).get_by_role("button", name="Raise my hand").click()
    await expect(panel(chair).locator("#meeting-queue")).to_have_text(
        f"Hands raised: {ana_name}, {bo_name}."
    )
    await expect(panel(bo).get_by_role("button", name="Lower my hand")).to_be_visible()

    await panel(chair).get_by_role("button", name="Turn cross-talk off").click()
    await expect(panel(bo).locator("#meeting-note")).to_contain_text("Cross-talk is off")
    await panel(chair).get_by_role("button", name="Give the floor to the next hand").click()
    await expect(panel(ana).locator("#meeting-floor")).to_have_text(
        re.compile(r"^You have the floor · [45]:\d\d left\.$")
    )
    await expect(panel(bo).locator("#meeting-floor")).to_have_text(
        re.compile(rf"^Sharing now: {ana_name} · [45]:\d\d left\.$")
    )
    await expect(panel(bo).locator("#meeting-queue")).to_have_text(
        f"Hands raised: {bo_name} (you)."
    )

    await ana.say(SHARE)
    shared = await bo.wait_message(SHARE)
    await expect(shared).to_have_class(re.compile(r"\bsharing\b"))  # highlighted for others
    await bo.say("same here, evenings are rough")
    refused = bo.message("same here, evenings are rough")
    await expect(refused).to_have_class(re.compile(r"\bfailed\b"), timeout=ms(10))
    await expect(refused.locator(".msg-status")).to_contain_text("Cross-talk is off")
    await panel(bo).get_by_role("button", name="With you").click()
    await panel(bo).get_by_role("button", name="Thank you").click()
    await expect(panel(ana).locator("#meeting-reactions")).to_have_text(
        "Quiet support: With you ×1, Thank you ×1"
    )
    await expect(panel(ana).locator("#meeting-greeting")).to_be_hidden()  # ana saw it open
    await expect(panel(bo).locator("#meeting-floor")).to_have_text(
        re.compile(r" · 4:[0-5]\d left\.$"), timeout=ms(10)
    )  # the turn's time counts down
    await bo.page.screenshot(path=screenshot_path("desktop-meeting.png"))
    await ana.page.screenshot(path=screenshot_path("phone-meeting.png"))

    context = await chromium.context(viewport=PHONE)
    await context.add_init_script(script=axe_source)  # injected outside the page's CSP
    late_page = await context.new_page()
    chromium.watch_page(late_page)
    await late_page.goto(second.http + "/")
    late = ChatPage(late_page)
    await late.accept()
    await late.enter(ROOM)
    greeting = panel(late).locator("#meeting-greeting")
    await expect(greeting).to_be_visible()
    await expect(greeting).to_contain_text("Welcome, come on in. The meeting has started")
    await expect(panel(late).locator("#meeting-floor")).to_contain_text(f"Sharing now: {ana_name}")
    await late.wait_message(SHARE)
    assert await serious_violations(late_page) == []
    assert await serious_violations(chair.page) == []  # the chair's controls too
    await panel(late).get_by_role("button", name="Just listening").click()
    await expect(panel(chair).locator("#meeting-queue")).to_have_text(
        f"Hands raised: {bo_name}. 1 just listening."
    )

    await panel(ana).get_by_role("button", name="I'm done sharing").click()
    await expect(panel(bo).locator("#meeting-floor")).to_be_hidden()
    await panel(chair).get_by_role("button", name="Give the floor to the next hand").click()
    await expect(panel(bo).locator("#meeting-floor")).to_have_text(
        re.compile(r"^You have the floor")
    )
    chair_people = panel(chair).locator(".meeting-people li")
    await chair_people.filter(has_text=bo_name).get_by_role("button", name="Hand the chair").click()
    await expect(panel(bo).locator("#meeting-status")).to_have_text("You are the chair.")
    await expect(panel(ana).locator("#meeting-status")).to_have_text(f"Chair: {bo_name}.")
    await expect(panel(chair).locator("#meeting-chair")).to_be_hidden()
    await panel(bo).get_by_role("button", name="Next: Check-in round").click()
    await expect(panel(late).locator("#meeting-step")).to_have_text(
        "Now: Check-in round (part 2 of 6)"
    )
    await panel(bo).get_by_role("button", name="End the meeting").click()
    await expect(panel(late).locator("#meeting-status")).to_have_text(
        "This meeting has ended. Thank you for coming."
    )
    await late.say("thank you all")  # the room is a room again
    await bo.wait_message("thank you all")


async def test_the_schedule_page_lists_meetings_in_the_viewers_zone_with_a_calendar(
    chromium: Chromium, harbor: HarborFactory, tmp_path: Path
) -> None:
    rooms = rooms_with_a_meeting(tmp_path / "rooms", started_min_ago=-60)  # in an hour
    worker = harbor(HARBOR_ROOMS=str(rooms))
    page = await chromium.page(worker.http + "/meetings/", timezone_id="Asia/Tokyo", viewport=PHONE)
    item = page.locator(".meeting-item").first
    await expect(item.get_by_role("heading")).to_have_text("Evening meeting")
    await expect(page.locator("#zone")).to_have_text(
        "Times are shown in your time zone (Asia/Tokyo)."
    )
    shown = await item.locator("time").get_attribute("datetime")
    expected = await page.evaluate(
        """(iso) => new Intl.DateTimeFormat(undefined, {hour: "numeric", minute: "2-digit"})
            .format(new Date(iso))""",
        shown,
    )
    await expect(item.locator("time")).to_contain_text(expected)
    await expect(item).to_contain_text("Every day in Alcohol.")
    await page.screenshot(path=screenshot_path("phone-meetings-schedule.png"))
    link = item.get_by_role("link", name="Add to my calendar (.ics)")
    ics = worker.get_text(str(await link.get_attribute("href")))
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and "SUMMARY:Evening meeting (Alcohol)" in ics
    assert ics.count("BEGIN:VEVENT") == 14  # daily, for the schedule's 14 days
    await item.get_by_role("link", name="Go to Alcohol").click()
    await page.wait_for_url(re.compile(r"/r/alcohol$"))


async def timed_meeting(
    chromium: Chromium,
    harbor: HarborFactory,
    redis_server: RedisProcess,
    tmp_path: Path,
    *,
    turn_s: int,
    warning_s: int,
) -> tuple[HarborProcess, HarborProcess, ChatPage]:
    """Two workers over Redis with a meeting whose turns last `turn_s` (the warning
    `warning_s` before the end, swept every half second), and a volunteer on the first who has
    taken the chair: the workers and the chair's page."""
    rooms = rooms_with_a_meeting(tmp_path / "rooms", turn_s=turn_s, turn_min=None)
    add_moderators(redis_server, "volunteer")
    timed = {
        "HARBOR_MEETING_TURN_WARNING_S": str(warning_s),
        "HARBOR_MEETING_SWEEP_S": "0.5",
        **FAST,
    }
    first = harbor(redis_server, HARBOR_ROOMS=str(rooms), **timed)
    second = harbor(redis_server, HARBOR_ROOMS=str(rooms), **timed)
    desk = await Dashboard.signed_in(chromium, first, "volunteer", viewport=DESKTOP)
    await desk.page.goto(first.http + f"/r/{ROOM}?volunteer")
    chair = ChatPage(desk.page)
    await chair.accept()
    await chair.wait_joined()
    await panel(chair).get_by_role("button", name="Take the chair").click()
    return first, second, chair


async def test_the_person_sharing_is_told_before_their_time_is_up_and_thanked_after(
    chromium: Chromium, harbor: HarborFactory, redis_server: RedisProcess, tmp_path: Path
) -> None:
    """The turn limit kept by the server, as the pages show it: a gentle word to the person
    sharing shortly before the end (nobody else is told), then the floor back with the chair,
    and a thank-you, on two workers."""
    first, second, chair = await timed_meeting(
        chromium, harbor, redis_server, tmp_path, turn_s=8, warning_s=5
    )
    ana = await ChatPage.open(chromium, second, viewport=PHONE)
    await ana.enter(ROOM)
    bo = await ChatPage.open(chromium, first, viewport=DESKTOP)
    await bo.enter(ROOM)
    ana_name = await ana.name()
    await panel(ana).get_by_role("button", name="Raise my hand").click()
    await expect(panel(chair).locator("#meeting-queue")).to_have_text(f"Hands raised: {ana_name}.")
    await panel(chair).get_by_role("button", name="Give the floor to the next hand").click()
    floor = panel(ana).locator("#meeting-floor")
    await expect(floor).to_have_text(
        re.compile(
            r"^You have the floor · 0:0\d left\. Your time is nearly up\. "
            r"Take a moment to finish your thought\.$"
        ),
        timeout=ms(10),
    )
    await expect(panel(bo).locator("#meeting-floor")).not_to_contain_text("nearly up")
    await expect(panel(ana).locator("#meeting-said")).to_have_text(
        "Your time is up. Thank you for sharing.", timeout=ms(10)
    )
    await expect(floor).to_be_hidden()
    await expect(panel(bo).locator("#meeting-said")).to_have_text(
        f"{ana_name}'s time is up. Thank you, {ana_name}."
    )
    await expect(panel(ana).get_by_role("button", name="Raise my hand")).to_be_visible()
    await expect(panel(chair).locator("#meeting-status")).to_have_text("You are the chair.")


async def test_a_pause_stops_the_turn_clock_and_resuming_gives_the_time_back(
    chromium: Chromium, harbor: HarborFactory, redis_server: RedisProcess, tmp_path: Path
) -> None:
    """The chair pausing mid-share stops the turn's clock on the server and on the page: the
    share outlives its limit while paused, and after resuming there is time left again."""
    _, second, chair = await timed_meeting(
        chromium, harbor, redis_server, tmp_path, turn_s=6, warning_s=2
    )
    ana = await ChatPage.open(chromium, second, viewport=PHONE)
    await ana.enter(ROOM)
    await panel(ana).get_by_role("button", name="Raise my hand").click()
    # the chair's page must show the hand first: a floor given to an empty queue goes to no one
    await expect(panel(chair).locator("#meeting-queue")).to_have_text(
        f"Hands raised: {await ana.name()}."
    )
    await panel(chair).get_by_role("button", name="Give the floor to the next hand").click()
    floor = panel(ana).locator("#meeting-floor")
    await expect(floor).to_contain_text("left.", timeout=ms(10))
    # The turn would have ended by this moment (its length, plus two sweeps of the server's
    # clock); a pause must carry the share past it. Waiting for something not to happen needs
    # the deadline itself, so the wait is tied to it rather than to a guess.
    unpaused_end = time.monotonic() + 6 + 2 * 0.5
    await panel(chair).get_by_role("button", name="Pause").click()
    await expect(floor).to_have_text("You have the floor · the clock is paused.")
    await asyncio.sleep(max(0.0, unpaused_end - time.monotonic()))
    await expect(floor).to_have_text("You have the floor · the clock is paused.")
    await expect(panel(ana).locator("#meeting-said")).not_to_contain_text("time is up")
    await panel(chair).get_by_role("button", name="Resume").click()
    await expect(floor).to_have_text(re.compile(r"^You have the floor · 0:0[1-5] left\."))
    await expect(panel(ana).locator("#meeting-said")).to_have_text(
        "Your time is up. Thank you for sharing.", timeout=ms(15)
    )
