"""Milestones on the page (issue #20, item 2): a start date kept on the device, a private day
count, an opt-in badge others see beside the pseudonym, and a new start that keeps a private
total; quick exit clears it all."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.async_api import Page, expect

from tests.conftest import HarborFactory
from tests.harness import Client

from .chat import ChatPage, ms
from .conftest import EXIT, Chromium, screenshot_path

FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}
UTC: dict[str, Any] = {"timezone_id": "UTC"}


def days_ago(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).isoformat()


async def open_settings(page: Page) -> None:
    # "Your settings" in the footer, "Settings" in a room's header: the same panel.
    await page.locator("#open-controls:visible, #room-controls:visible").first.click()
    await expect(page.locator("#controls-panel")).to_be_visible()


async def close_settings(page: Page) -> None:
    await page.locator("#controls-panel").get_by_role("button", name="Close").click()


async def test_a_badge_appears_to_others_at_a_milestone_and_a_new_start_keeps_the_total(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(**FAST)
    me = await ChatPage.open(chromium, worker, **UTC)
    reader = await ChatPage.open(chromium, worker, **UTC)
    listener = await Client.connect(worker.ws)
    await listener.hello()
    await listener.join("wins-milestones")
    await reader.enter("wins-milestones")

    await open_settings(me.page)
    panel = me.page.locator("#controls-panel")
    await expect(panel.locator("#milestone-count")).to_have_text("No start date set.")
    await expect(panel.get_by_label("Show my milestone badge beside my name")).to_be_disabled()
    await panel.get_by_label("My start date").fill(days_ago(31))
    await panel.get_by_role("button", name="Save date").click()
    await expect(panel.locator("#milestone-count")).to_have_text("31 days since your start date.")
    await panel.get_by_label("Show my milestone badge beside my name").check()
    await expect(panel.locator("#milestone-badge-note")).to_have_text(
        'Others see "30 days" beside your name on what you write from now on.'
    )
    await me.page.screenshot(path=screenshot_path("milestones-settings.png"))
    await close_settings(me.page)

    await me.enter("wins-milestones")
    await me.say("a month today")
    heard = await listener.expect("message", text="a month today", within=10)
    assert heard["badge"] == "30d"
    seen = await reader.wait_message("a month today")
    await expect(seen.locator(".msg-milestone")).to_have_text("30 days")
    await expect(seen.locator(".msg-from")).to_have_text(await me.name())
    mine = await me.wait_message("a month today")  # the writer sees it on their own too
    await expect(mine.locator(".msg-milestone")).to_have_text("30 days")
    await reader.page.screenshot(path=screenshot_path("milestone-badge.png"))

    await me.page.reload()  # kept on the device, and declared again after the new welcome
    await me.wait_joined()
    await me.say("still here after a reload")
    assert (await listener.expect("message", text="still here after a reload"))["badge"] == "30d"
    await expect(
        (await reader.wait_message("still here after a reload")).locator(".msg-milestone")
    ).to_have_text("30 days")

    await open_settings(me.page)
    await panel.get_by_role("button", name="Start a new count from today").click()
    await expect(panel.locator("#milestone-confirm")).to_contain_text(
        "Every earlier day stays in your total."
    )
    await panel.get_by_role("button", name="Start a new count", exact=True).click()
    await expect(panel.locator("#milestone-count")).to_have_text(
        "0 days since your start date; 31 days in all, counting earlier ones."
    )
    await expect(panel.locator("#milestone-badge-note")).to_have_text(
        "Your badge appears once your first 24 hours are through."
    )
    await close_settings(me.page)
    await me.say("day one again, and that's ok")
    heard = await listener.expect("message", text="day one again, and that's ok", within=10)
    assert "badge" not in heard
    later = await reader.wait_message("day one again, and that's ok")
    await expect(later.locator(".msg-milestone")).to_have_count(0)
    mine = await me.wait_message("day one again, and that's ok")
    await expect(mine.locator(".msg-you")).to_be_visible()
    await expect(mine.locator(".msg-milestone")).to_have_count(0)

    await me.page.get_by_role("link", name="Quick exit").click()
    await me.page.wait_for_url("about:blank", timeout=ms(10))
    await me.page.goto(worker.http + "/" + EXIT)
    await me.accept()
    await open_settings(me.page)
    await expect(panel.locator("#milestone-count")).to_have_text("No start date set.")


async def test_the_milestones_follow_the_calendar(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """The page's own arithmetic: the badge for a start date, at each boundary."""
    worker = harbor()
    page = await ChatPage.open(chromium, worker, **UTC)
    now = "Date.UTC(2026, 5, 15, 12)"  # 15 June 2026, midday
    cases: dict[str, Any] = {
        "2026-06-15": None,
        "2026-06-14": "24h",
        "2026-06-09": "24h",
        "2026-06-08": "1w",
        "2026-05-17": "1w",
        "2026-05-16": "30d",
        "2026-04-16": "60d",
        "2026-03-17": "90d",
        "2025-12-16": "90d",
        "2025-12-15": "6m",
        "2025-06-16": "6m",
        "2025-06-15": "1y",
        "2024-06-15": "2y",
        "1900-01-01": "60y",
    }
    found = await page.page.evaluate(
        f"""async (dates) => {{
            const m = await import("/chat/milestones.js");
            return Object.fromEntries(dates.map((d) => [d, m.badgeFor(m.parseDate(d), {now})]));
        }}""",
        list(cases),
    )
    assert found == cases
    refused = await page.page.evaluate(
        """async () => {
            const m = await import("/chat/milestones.js");
            return [m.parseDate("2026-02-30"), m.parseDate("yesterday"),
                    m.setStart({start: null, show: false, earlier: 0}, "2999-01-01", Date.now())];
        }"""
    )
    assert refused == [None, None, None]
