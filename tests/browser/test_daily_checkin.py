"""The daily check-in thread (issue #20, item 2): a prompt pinned in each topic room, answers
marked as check-ins for everyone, counted for today, and a view of the check-ins alone."""

from __future__ import annotations

from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import Client

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path

FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}
PHONE = {"width": 390, "height": 844}


async def test_answers_to_the_daily_check_in_are_marked_counted_and_can_be_shown_alone(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(**FAST)
    page = await ChatPage.open(chromium, worker, viewport=PHONE)
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join("alcohol")
    await other.send(
        {
            "type": "send",
            "room": "alcohol",
            "text": "Day 40. Work was hard but I went to a meeting.",
            "client_id": "c1",
            "thread": "checkin",
        }
    )
    await other.expect("ack", client_id="c1")
    await other.say("alcohol", "anyone watching the match tonight?", "c2")

    await page.enter("alcohol")
    daily = page.page.locator("#daily")
    await expect(daily.get_by_role("heading")).to_have_text("Daily check-in: how did today go?")
    await expect(daily.locator("#daily-count")).to_have_text("1 check-in today.")
    theirs = await page.wait_message("Day 40. Work was hard but I went to a meeting.")
    await expect(theirs.locator(".msg-daily")).to_have_text("check-in")

    await daily.get_by_role("button", name="Check in").click()
    await expect(page.page.locator("#daily-mode")).to_be_visible()
    await expect(page.page.get_by_label("Your message")).to_be_focused()
    await page.say("Quiet day. Grateful for this room.")
    mine = await page.wait_message("Quiet day. Grateful for this room.")
    await expect(mine.locator(".msg-daily")).to_have_text("check-in")
    heard = await other.expect("message", text="Quiet day. Grateful for this room.")
    assert heard["thread"] == "checkin"
    await expect(daily.locator("#daily-count")).to_have_text("2 check-ins today.")
    await expect(page.page.locator("#daily-mode")).to_be_hidden()  # one answer, then back

    await page.say("an ordinary message after it")
    plain = await other.expect("message", text="an ordinary message after it")
    assert "thread" not in plain
    await daily.get_by_role("button", name="Show only check-ins").click()
    await expect(page.message("anyone watching the match tonight?")).to_be_hidden()
    await expect(page.message("an ordinary message after it")).to_be_hidden()
    await expect(theirs).to_be_visible()
    await page.page.screenshot(path=screenshot_path("phone-daily-checkin.png"))
    await daily.get_by_role("button", name="Show the whole room").click()
    await expect(page.message("anyone watching the match tonight?")).to_be_visible()

    await page.page.reload()  # the answers are in the room's history, marked
    await page.wait_joined()
    await expect(page.page.locator("#daily-count")).to_have_text(
        "2 check-ins today.", timeout=ms(10)
    )
