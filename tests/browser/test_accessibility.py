"""Accessibility (axe-core, light and dark), keyboard-only use, and a phone-width layout."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess

from .chat import ChatPage
from .conftest import Chromium, screenshot_path

_RUN_AXE = """async () => {
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
}"""


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    violations: list[dict[str, Any]] = await page.evaluate(_RUN_AXE)
    return [v for v in violations if v["impact"] in ("serious", "critical")]


async def someone_says(worker: HarborProcess, room: str, text: str) -> None:
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join(room)
    await other.say(room, text, "a11y-1")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_chat_page_has_no_serious_axe_violations(
    chromium: Chromium, harbor: HarborFactory, axe_source: str, scheme: str
) -> None:
    worker = harbor()
    context = await chromium.context(color_scheme=scheme)
    await context.add_init_script(script=axe_source)  # injected outside the page's CSP
    browser_page = await context.new_page()
    chromium.watch_page(browser_page)
    await browser_page.goto(worker.http + "/")
    page = ChatPage(browser_page)
    found: dict[str, list[dict[str, Any]]] = {}

    found["welcome"] = await serious_violations(browser_page)
    await page.accept()
    await expect(browser_page.locator(".room-button").first).to_be_visible()
    found["rooms"] = await serious_violations(browser_page)
    await page.enter("newcomers")
    await someone_says(worker, "newcomers", "Welcome! One day at a time.")
    await page.say("Thank you. First week here.")
    await page.wait_message("Thank you. First week here.")
    await page.wait_message("Welcome! One day at a time.")
    await browser_page.get_by_label("Your message").fill("typing a reply")
    found["room"] = await serious_violations(browser_page)
    await browser_page.get_by_role("link", name="Get help now").click()
    await expect(browser_page.get_by_role("dialog")).to_be_visible()
    found["help panel"] = await serious_violations(browser_page)
    if scheme == "dark":
        await browser_page.screenshot(path=screenshot_path("help-panel-dark.png"))
        await browser_page.keyboard.press("Escape")
        await browser_page.screenshot(path=screenshot_path("room-dark.png"))
    assert {view: v for view, v in found.items() if v} == {}


async def test_help_page_has_no_serious_axe_violations(
    chromium: Chromium, harbor: HarborFactory, axe_source: str
) -> None:
    worker = harbor()
    context = await chromium.context()
    await context.add_init_script(script=axe_source)
    page = await context.new_page()
    chromium.watch_page(page)
    await page.goto(worker.http + "/help/")
    assert await serious_violations(page) == []


async def test_keyboard_only_from_welcome_to_a_sent_message(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor()
    page = await ChatPage.open(chromium, worker, accept=False)
    keyboard = page.page.keyboard
    accept = page.page.get_by_role("button", name="I understand, continue")
    for _ in range(40):  # Tab until the accept button has focus: everything before is reachable
        await keyboard.press("Tab")
        if await accept.evaluate("b => b === document.activeElement"):
            break
    await expect(accept).to_be_focused()
    outline = await accept.evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline == "solid", "focus must be visible"
    await keyboard.press("Enter")
    await page.wait_online()
    await expect(page.page.get_by_role("heading", name="Rooms")).to_be_focused()
    first_room = page.page.locator(".room-button").first
    await expect(first_room).to_be_visible()
    await keyboard.press("Tab")
    await expect(first_room).to_be_focused()
    await keyboard.press("Enter")
    await page.wait_joined()
    await expect(page.page.get_by_label("Your message")).to_be_focused()
    await keyboard.type("sent with the keyboard only")
    await keyboard.press("Enter")
    await page.wait_message("sent with the keyboard only")
    # New messages from others reach screen readers through the polite live region.
    await someone_says(worker, "newcomers", "heard you")
    await expect(page.page.locator("#announcer")).to_contain_text("heard you")
    assert await page.page.locator("#announcer").get_attribute("aria-live") == "polite"
    # Back to the room list puts focus on the room we came from.
    await page.page.get_by_role("button", name="Rooms").click()
    await expect(first_room).to_be_focused()


async def _no_horizontal_scroll(page: Page) -> None:
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scroll at phone width: {widths}"


async def test_phone_width_layout_has_no_horizontal_scroll(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor()
    page = await ChatPage.open(
        chromium, worker, accept=False, viewport={"width": 360, "height": 740}, has_touch=True
    )
    await _no_horizontal_scroll(page.page)
    await page.page.screenshot(path=screenshot_path("phone-welcome.png"))
    await page.accept()
    await expect(page.page.locator(".room-button").first).to_be_visible()
    await _no_horizontal_scroll(page.page)
    await page.page.screenshot(path=screenshot_path("phone-rooms.png"))
    await page.enter("opioids")
    await someone_says(worker, "opioids", "Nine months on buprenorphine. It counts.")
    await page.say("It counts. Thank you for saying that.")
    await page.wait_message("It counts. Thank you for saying that.")
    await _no_horizontal_scroll(page.page)
    for control in ("Get help now", "Quick exit"):
        box = await page.page.get_by_role("link", name=control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, control
    await page.page.screenshot(path=screenshot_path("phone-room.png"))
    await page.say("x" * 300)  # one unbroken word must wrap, not widen the page
    await page.say("https://example.org/" + "a/" * 80)
    await page.wait_message("https://example.org/" + "a/" * 80)
    await _no_horizontal_scroll(page.page)
    await page.page.get_by_role("link", name="Get help now").click()
    await expect(page.page.get_by_role("dialog")).to_be_visible()
    await _no_horizontal_scroll(page.page)
    await page.page.screenshot(path=screenshot_path("phone-help.png"))


async def test_the_axe_check_can_fail(
    chromium: Chromium, harbor: HarborFactory, axe_source: str
) -> None:
    """axe really runs: an image without alt text on the page is reported as critical."""
    worker = harbor()
    context = await chromium.context()
    await context.add_init_script(script=axe_source)
    page = await context.new_page()
    chromium.watch_page(page)
    await page.goto(worker.http + "/help/")
    await page.evaluate(
        "() => { const img = document.createElement('img'); img.src = '/favicon.svg';"
        " document.querySelector('main').append(img); }"
    )
    assert [v["id"] for v in await serious_violations(page)] == ["image-alt"]
