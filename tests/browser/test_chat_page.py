"""The chat page as a person on a phone at 2 am finds it (issue #18), at a phone's 390x844 and a
laptop's 1280x800: the newest message in view, pacing, room addresses, help by region, the
check-in invite after a reload, no wrapped buttons, the first paint and the 404 page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, seconds

from .chat import ChatPage
from .conftest import Chromium, screenshot_path

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
SIZES = [pytest.param(PHONE, id="phone"), pytest.param(LAPTOP, id="laptop")]
FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}


def size_name(viewport: dict[str, int]) -> str:
    return "phone" if viewport["width"] < 600 else "laptop"


async def open_sized(
    chromium: Chromium, worker: HarborProcess, viewport: dict[str, int], **options: Any
) -> ChatPage:
    return await ChatPage.open(
        chromium, worker, viewport=viewport, has_touch=viewport is PHONE, **options
    )


async def someone(worker: HarborProcess, room: str) -> Client:
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join(room)
    return other


_IN_VIEW = """el => {
    const box = el.getBoundingClientRect();
    const composer = document.getElementById("composer").getBoundingClientRect();
    const topbar = document.querySelector(".topbar").getBoundingClientRect();
    return box.bottom <= composer.top + 1 && box.bottom > topbar.bottom;
}"""


async def in_view(message: Locator) -> bool:
    """The message's last line is visible: above the pinned composer, below the top bar."""
    result: bool = await message.evaluate(_IN_VIEW)
    return result


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 5) -> None:
    """Wait, bounded in time and count, for `check` to hold (the page's CSP rules out
    Playwright's string-evaluating wait_for_function)."""
    deadline = time.monotonic() + seconds(within)
    for _ in range(1000):
        if await check():
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"never true: {what}")


async def wait_in_view(message: Locator, within: float = 5) -> None:
    await eventually(lambda: in_view(message), "the message is in view", within)


async def scroll_y_is(page: Page, value: int) -> bool:
    result: bool = await page.evaluate("window.scrollY") == value
    return result


async def scrollable(page: Page) -> bool:
    result: bool = await page.evaluate(
        "document.documentElement.scrollHeight > window.innerHeight + 100"
    )
    return result


# ---------- 1. the newest message stays in view ----------


@pytest.mark.parametrize("viewport", SIZES)
async def test_eight_messages_from_someone_then_mine_leave_mine_in_view(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor(**FAST)
    page = await open_sized(chromium, worker, viewport)
    await page.enter("newcomers")
    other = await someone(worker, "newcomers")
    for n in range(8):
        await other.send(
            {
                "type": "send",
                "room": "newcomers",
                "text": f"message {n} from someone\nwith a second line\nand a third",
                "client_id": f"scroll-{n}",
            }
        )
    await page.say("and here is mine")  # typed while their messages are still arriving
    mine = await page.wait_message("and here is mine")
    await page.wait_message("message 7 from someone\nwith a second line\nand a third")
    assert await scrollable(page.page), "the test needs a conversation taller than the screen"
    await wait_in_view(page.messages().last)
    assert await in_view(mine)
    await expect(page.page.locator("#new-messages")).to_be_hidden()
    await page.page.screenshot(path=screenshot_path(f"{size_name(viewport)}-room.png"))


@pytest.mark.parametrize("viewport", SIZES)
async def test_scrolled_up_a_new_message_shows_a_pill_and_the_pill_goes_to_it(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor(**FAST)
    page = await open_sized(chromium, worker, viewport)
    await page.enter("alcohol")
    other = await someone(worker, "alcohol")
    for n in range(10):
        await other.say("alcohol", f"earlier {n}\nsecond line\nthird line", f"early-{n}")
    last_early = await page.wait_message("earlier 9\nsecond line\nthird line")
    await wait_in_view(last_early)
    assert await scrollable(page.page)
    await page.page.mouse.move(viewport["width"] / 2, viewport["height"] / 2)
    await page.page.mouse.wheel(0, -5000)  # the reader scrolls up to read
    await eventually(lambda: scroll_y_is(page.page, 0), "scrolled to the top")

    await other.say("alcohol", "something new while you read", "late-1")
    late = await page.wait_message("something new while you read")
    pill = page.page.get_by_role("button", name="New messages")
    await expect(pill).to_be_visible()
    assert await page.page.evaluate("window.scrollY") == 0, "the reader's place was moved"
    assert not await in_view(late)
    await page.page.screenshot(path=screenshot_path(f"{size_name(viewport)}-new-messages.png"))
    await pill.click()
    await wait_in_view(late)
    await expect(pill).to_be_hidden()
