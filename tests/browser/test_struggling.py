""" "I'm struggling" end to end (issue #20, item 4): one tap posts a gentle request the room sees
with a look of its own, the private urge timer with coping steps runs (and survives a reload),
and a crisis written afterwards opens the help panel as usual."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import Client

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path

FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}
REQUEST = "I'm struggling right now and could use some support."
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
async def test_one_tap_asks_the_room_and_starts_a_private_urge_timer(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor(**FAST)
    page = await ChatPage.open(chromium, worker, viewport=viewport)
    await page.enter("relapse-prevention")
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join("relapse-prevention")

    await page.page.get_by_role("button", name="I'm struggling").click()
    seen = await other.expect("message", note="struggling")
    assert (seen["text"], seen["from"]) == (REQUEST, await page.name())
    mine = await page.wait_message(REQUEST)
    await expect(mine).to_have_class(re.compile(r"\bstruggling\b"))
    await expect(mine.locator(".msg-asks")).to_have_text("asks for support")
    timer = page.page.locator("#urge")
    await expect(timer).to_be_visible()
    await expect(timer.locator("#urge-status")).to_have_text(
        "The room has your request for support."
    )
    await expect(timer.locator("#urge-clock")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    await expect(timer.locator(".urge-steps li")).to_have_count(5)
    if viewport is PHONE:  # folded on a phone, one tap away
        await expect(timer.locator(".urge-steps")).to_be_hidden()
        await timer.locator("summary").click()
    await expect(timer.locator(".urge-steps li").first).to_have_text(re.compile("^Breathe"))
    await other.say("relapse-prevention", "We're here. What's going on tonight?", "o1")
    await page.wait_message("We're here. What's going on tonight?")
    size = "phone" if viewport is PHONE else "desktop"
    await page.page.screenshot(path=screenshot_path(f"{size}-struggling.png"))

    await page.page.get_by_role("button", name="I'm struggling").click()  # again, too soon
    await expect(timer.locator("#urge-status")).to_have_text(
        "You asked a moment ago; the room has seen it."
    )
    await expect(page.message(REQUEST)).to_have_count(1)

    await page.page.reload()
    await page.wait_joined()
    await expect(timer).to_be_visible()  # the timer is this tab's, and keeps running
    await expect(timer.locator("#urge-clock")).to_have_text(re.compile(r"^1[45]:\d\d$"))

    await page.say("I'm going to use tonight, I already have it")
    await expect(page.page.locator("#help-panel")).to_be_visible(timeout=ms(10))
    await page.page.locator("#help-panel").get_by_role("button", name="Close").click()
    await timer.get_by_role("button", name="Close").click()
    await expect(timer).to_be_hidden()
