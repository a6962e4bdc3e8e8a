"""Meetings on the dashboard (#20, items 3 and 4), across two workers on one Redis: a
coordinator adds a meeting while Harbor runs and it appears on the schedule page and in the
calendar file of the other worker; the dashboard's "Meetings on now" says it needs a chair and
its link opens the room as a volunteer, who takes the chair; a volunteer sees no form; and the
coordinator removes the meeting again."""

from __future__ import annotations

import datetime as dt
import re

from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess, until

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path
from .dashboard import Dashboard, add_moderators
from .test_accessibility import serious_violations

DESKTOP = {"width": 1280, "height": 900}
TITLE = "Lunchtime check-in"


def titles(worker: HarborProcess) -> set[str]:
    return {m["title"] for m in worker.get_json("/api/meetings")["meetings"]}


async def test_a_coordinator_adds_a_meeting_a_volunteer_chairs_it_from_the_dashboard(
    chromium: Chromium, harbor: HarborFactory, redis_server: RedisProcess, axe_source: str
) -> None:
    add_moderators(redis_server, "cole", role="coordinator")
    add_moderators(redis_server, "volunteer")
    first = harbor(redis_server)
    second = harbor(redis_server)

    desk = await Dashboard.signed_in(chromium, first, "cole", viewport=DESKTOP)
    await desk.page.context.add_init_script(script=axe_source)  # outside the page's CSP
    await desk.page.reload()
    await desk.wait_live()
    meetings = desk.page.locator("#meetings")
    await expect(meetings.locator("#meetings-now")).to_have_text("No meeting is on right now.")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    form = meetings.locator("#meeting-add-form")
    await form.get_by_label("Room").select_option(label="Opioids")
    await form.get_by_label("Title").fill(TITLE)
    await form.get_by_label("First start (local time)").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_label("Time zone").fill("UTC")
    await form.get_by_label("Repeats").select_option(label="Every day")
    await form.get_by_role("button", name="Add meeting").click()
    await expect(meetings.locator("#meetings-status")).to_have_text(
        f'Added "{TITLE}". It is on the schedule page and in the calendar file now.'
    )
    await expect(meetings.locator("#meeting-added")).to_contain_text(TITLE)
    now = meetings.locator("#meetings-now li").filter(has_text=TITLE)
    await expect(now).to_contain_text("in Opioids")
    await expect(now).to_contain_text("Needs a chair.")
    await desk.page.screenshot(path=screenshot_path("desktop-dashboard-meetings.png"))
    assert await serious_violations(desk.page) == []

    # The other worker lists it (within a sweep), in the viewer's zone, with its calendar file.
    await until(lambda: TITLE in titles(second), 10, "the other worker to list it")
    schedule = await chromium.page(second.http + "/meetings/", viewport=DESKTOP)
    items = schedule.locator(".meeting-item").filter(has_text=TITLE)
    await expect(items).to_have_count(15, timeout=ms(10))  # daily: under way, and 14 more
    item = items.first
    ics = second.get_text(
        str(await item.get_by_role("link", name=re.compile("calendar")).get_attribute("href"))
    )
    assert f"SUMMARY:{TITLE} (Opioids)" in ics

    # A volunteer's dashboard: the meeting and its link, no form.
    volunteer = await Dashboard.signed_in(chromium, second, "volunteer", viewport=DESKTOP)
    theirs = volunteer.page.locator("#meetings")
    await expect(theirs.locator("#meeting-admin")).to_be_hidden()
    link = theirs.get_by_role("link", name=re.compile(f"^Chair this meeting: {TITLE}"))
    assert await link.get_attribute("href") == "/r/opioids?volunteer"
    async with volunteer.page.context.expect_page() as opened:
        await link.click()
    room = ChatPage(await opened.value)
    chromium.watch_page(room.page)
    await room.accept()
    await room.wait_joined()
    panel = room.page.locator("#meeting")
    await expect(panel.locator("#meeting-title")).to_contain_text(TITLE)
    await panel.get_by_role("button", name="Take the chair").click()
    await expect(panel.locator("#meeting-status")).to_have_text("You are the chair.")
    await desk.page.reload()
    await desk.wait_live()
    await expect(now).to_contain_text("Chair: Volunteer.")
    await expect(now.get_by_role("link", name=re.compile("^Join as a volunteer"))).to_be_visible()

    await meetings.locator("#meeting-added").get_by_role("button", name=f"Remove {TITLE}").click()
    await expect(meetings.locator("#meetings-status")).to_have_text(f'Removed "{TITLE}".')
    await expect(panel.locator("#meeting-status")).to_have_text(
        "This meeting has ended. Thank you for coming."
    )
    await until(lambda: TITLE not in titles(second), 10, "the other worker to drop it")
    await schedule.reload()
    await expect(schedule.locator(".meeting-item").filter(has_text=TITLE)).to_have_count(0)
