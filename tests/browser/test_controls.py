"""Each person's own controls (issue #20, item 3): a mute that survives a reload and ends with
quick exit, the sensitive-content fold, and report reasons to pick from."""

from __future__ import annotations

import json

from playwright.async_api import WebSocketRoute, expect

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess

from .chat import ChatPage, ms
from .conftest import EXIT, Chromium, screenshot_path

FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}
SELF_HARM = "I cut myself again last night"


async def person(worker: HarborProcess, room: str) -> Client:
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join(room)
    return other


async def test_a_mute_hides_one_writer_survives_a_reload_and_ends_with_quick_exit(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(**FAST)
    page = await ChatPage.open(chromium, worker)
    await page.enter("newcomers")
    rude, kind = await person(worker, "newcomers"), await person(worker, "newcomers")
    await rude.say("newcomers", "ok whatever, nobody asked you", "m1")
    await kind.say("newcomers", "welcome, glad you're here", "k1")
    first = await page.wait_message("ok whatever, nobody asked you")
    await page.wait_message("welcome, glad you're here")

    await first.get_by_role("button", name="Mute").click()
    await expect(first.locator(".msg-ask")).to_contain_text(f"Hide everything {rude.name} writes")
    await first.get_by_role("button", name="Mute").last.click()
    await expect(page.message("ok whatever, nobody asked you")).to_be_hidden()
    await expect(page.message("welcome, glad you're here")).to_be_visible()

    await rude.say("newcomers", "still here, still talking", "m2")
    await kind.say("newcomers", "evenings are hard for me too", "k2")
    await expect(page.message("evenings are hard for me too")).to_be_visible(timeout=ms(10))
    await expect(page.message("still here, still talking")).to_have_count(1)
    await expect(page.message("still here, still talking")).to_be_hidden()

    await page.page.reload()
    await page.wait_joined()
    await expect(page.message("evenings are hard for me too")).to_be_visible()
    for text in ("ok whatever, nobody asked you", "still here, still talking"):
        await expect(page.message(text)).to_have_count(1)
        await expect(page.message(text)).to_be_hidden()
    await page.page.get_by_role("button", name="Settings").click()
    panel = page.page.locator("#controls-panel")
    await expect(panel.locator(".muted-person")).to_have_text([f"{rude.name}Unmute"])
    await page.page.screenshot(path=screenshot_path("controls-panel.png"))
    await panel.get_by_role("button", name="Close").click()

    await page.page.get_by_role("link", name="Quick exit").click()
    await page.page.wait_for_url("about:blank", timeout=ms(10))
    await page.page.goto(worker.http + "/" + EXIT)
    await page.accept()
    await page.enter("newcomers")
    await expect(page.message("ok whatever, nobody asked you")).to_be_visible(timeout=ms(10))


async def test_the_sensitive_fold_hides_words_behind_a_show_tap(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(**FAST)
    page = await ChatPage.open(chromium, worker)
    await page.enter("mental-health")
    other = await person(worker, "mental-health")
    await other.say("mental-health", SELF_HARM, "s1")
    words = await page.wait_message(SELF_HARM)
    await expect(words.locator(".msg-text")).to_be_visible()  # folding is a choice, off at first

    await page.page.get_by_role("button", name="Settings").click()
    await page.page.get_by_label("Fold messages about suicide, self-harm or using").check()
    await page.page.locator("#controls-panel").get_by_role("button", name="Close").click()
    await expect(words.locator(".msg-text")).to_be_hidden()
    await expect(words.locator(".msg-fold")).to_have_text(
        "This message talks about self-harm. Show"
    )
    await other.say("mental-health", "made it to my meeting tonight, 40 days", "s2")
    ordinary = await page.wait_message("made it to my meeting tonight, 40 days")
    await expect(ordinary.locator(".msg-fold")).to_have_count(0)
    await other.say("mental-health", "I want to die, I can't do this anymore", "s3")
    later = page.messages().filter(has_text="This message talks about suicide.")
    await expect(later).to_have_count(1, timeout=ms(10))
    await page.page.screenshot(path=screenshot_path("sensitive-fold.png"))

    await page.page.reload()  # the choice is kept on the device
    await page.wait_joined()
    folded = page.messages().filter(has_text="This message talks about self-harm.")
    await expect(folded).to_have_count(1)
    await folded.get_by_role("button", name="Show").click()
    await expect(page.message(SELF_HARM)).to_be_visible()
    await expect(page.message(SELF_HARM).locator(".msg-text")).to_be_focused()


async def test_a_report_goes_with_the_reason_picked(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(**FAST)
    reports: list[dict[str, object]] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and json.loads(message)["type"] == "report":
                reports.append(json.loads(message))
            server.send(message)

        ws.on_message(to_server)

    page = await ChatPage.routed(chromium, worker, route)
    await page.enter("stimulants")
    other = await person(worker, "stimulants")
    ack = await other.say("stimulants", "dm me, I can get you whatever you need", "d1")
    message = await page.wait_message("dm me, I can get you whatever you need")
    await message.get_by_role("button", name="Report").click()
    reasons = message.get_by_role("group", name="Why are you reporting this?")
    await expect(reasons.get_by_role("button")).to_have_text(
        [
            "Someone may be in danger",
            "Harassment or hate",
            "Selling or sourcing drugs",
            "Sharing personal details",
            "Spam or a scam",
            "Something else",
            "Cancel",
        ]
    )
    await reasons.get_by_role("button", name="Cancel").click()
    await expect(reasons).to_have_count(0)
    assert reports == [], "nothing is sent before a reason is picked"
    await message.get_by_role("button", name="Report").click()
    await message.get_by_role("button", name="Selling or sourcing drugs").click()
    await expect(message.locator(".msg-status")).to_have_text("Thanks, reported.")
    assert reports == [
        {
            "type": "report",
            "room": "stimulants",
            "id": ack["id"],
            "reason": "Selling or sourcing drugs",
        }
    ]
