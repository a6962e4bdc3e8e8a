"""Chatting in a real browser: across workers, through a worker restart, with hostile text."""

from __future__ import annotations

import json

from playwright.async_api import WebSocketRoute, expect

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess

from .chat import ChatPage, ms
from .conftest import Chromium, frame, restart_on_same_port, screenshot_path

FAST = {"HARBOR_SEND_RATE_PER_10S": "1000", "HARBOR_SEND_BURST": "200"}
# What Chromium logs, as console errors, while a worker is down and the page keeps trying.
REFUSED_RECONNECT = r"^WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws' failed"
REFUSED_FETCH = r"^Failed to load resource: net::ERR_CONNECTION_REFUSED$"


async def test_two_pages_chat_across_two_workers_sharing_one_redis(
    chromium: Chromium, harbor: HarborFactory, redis_server: RedisProcess
) -> None:
    one, two = harbor(redis_server, **FAST), harbor(redis_server, **FAST)
    ana = await ChatPage.open(chromium, one)
    ben = await ChatPage.open(chromium, two)
    assert await ana.name() != await ben.name(), "two browsers are two anonymous people"
    await ana.enter("newcomers")
    await ben.enter("newcomers")

    await ana.say("Day 3 today. Hard evening.")
    mine = await ana.wait_message("Day 3 today. Hard evening.")
    await expect(mine).to_have_class("msg own")
    await expect(mine.locator(".msg-you")).to_have_text("you")
    theirs = await ben.wait_message("Day 3 today. Hard evening.")
    await expect(theirs.locator(".msg-from")).to_have_text(await ana.name())
    await expect(theirs).to_have_class("msg")
    await expect(theirs.get_by_role("button", name="Report")).to_be_visible()

    await ben.say("Glad you're here. Evenings got easier for me after week two.")
    await ana.wait_message("Glad you're here. Evenings got easier for me after week two.")
    await ben.wait_message("Glad you're here. Evenings got easier for me after week two.")
    # Presence crosses workers too: both pages count both people.
    for page in (ana, ben):
        await expect(page.page.locator("#room-count")).to_have_text("2 people here", timeout=ms(10))
    assert await ana.ids() == await ben.ids()
    await ana.page.screenshot(path=screenshot_path("room.png"))


async def test_worker_restart_under_an_open_page_loses_and_repeats_nothing(
    chromium: Chromium,
    harbor: HarborFactory,
    redis_server: RedisProcess,
    spare_workers: list[HarborProcess],
) -> None:
    chromium.allow_console_error(REFUSED_RECONNECT)
    chromium.allow_console_error(REFUSED_FETCH)
    one, two = harbor(redis_server, **FAST), harbor(redis_server, **FAST)
    page = await ChatPage.open(chromium, one)
    name = await page.name()
    await page.enter("relapse-prevention")
    await page.say("before the restart")
    await page.wait_message("before the restart")

    peer = await Client.connect(two.ws)
    await peer.hello()
    await peer.join("relapse-prevention")
    await peer.say("relapse-prevention", "peer: one", "p1")

    restarted_soon = one  # the page's worker: SIGTERM, as a deploy does
    one.stop()
    await expect(page.page.locator("#conn")).not_to_have_attribute("data-state", "online")
    await page.say("typed while the worker was down")
    pending = page.message("typed while the worker was down")
    await expect(pending).to_have_class("msg own pending")
    await expect(pending.locator(".msg-status")).to_have_text("sending…")
    await peer.say("relapse-prevention", "peer: two, while the page was away", "p2")

    restart_on_same_port(restarted_soon, spare_workers)
    await page.wait_online(within=40)
    assert await page.name() == name, "the stored token keeps the pseudonym"
    for text in (
        "before the restart",
        "peer: one",
        "typed while the worker was down",
        "peer: two, while the page was away",
    ):
        await page.wait_message(text, within=20)
    ids = await page.ids()
    assert len(ids) == len(set(ids)) == 4, f"a message shown twice or lost: {ids}"
    assert ids == sorted(ids), f"out of order: {ids}"
    # The resent message is stored only after the restart, so after what the peer said meanwhile.
    assert await page.texts() == [
        "before the restart",
        "peer: one",
        "peer: two, while the page was away",
        "typed while the worker was down",
    ]
    # The server stored the resent message once: a fresh member sees each text once.
    check = await Client.connect(two.ws)
    await check.hello()
    history = [m["text"] for m in (await check.join("relapse-prevention"))["history"]]
    assert history.count("typed while the worker was down") == 1
    assert len(history) == 4


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    '<a href="javascript:alert(4)">click</a>',
    "<iframe srcdoc='<script>alert(5)</script>'></iframe>",
    "<b>bold?</b> &amp; &lt;not an entity&gt;",
]


async def test_markup_in_messages_renders_as_literal_text(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(**FAST)
    page = await ChatPage.open(chromium, worker)
    await page.enter("newcomers")
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join("newcomers")
    for n, text in enumerate(HOSTILE):
        await page.say(text)
        await other.say("newcomers", text + " (from someone else)", f"x{n}")
    for text in HOSTILE:
        await page.wait_message(text)
        await expect(page.message(text).locator(".msg-text")).to_have_text(text)
        await page.wait_message(text + " (from someone else)")
    list_markup = page.page.locator("#messages-host")
    for tag in ("img", "script", "svg", "a", "iframe", "b"):
        assert await list_markup.locator(tag).count() == 0, f"a <{tag}> element was created"
    assert chromium.watch.dialogs == []


async def test_report_thanks_only_when_the_server_takes_it(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """A report shows "Thanks, reported." only when no refusal came back before the next pong;
    a server without reports (`unsupported`, simulated here on the real socket) gets a calm
    explanation instead."""
    worker = harbor(**FAST)
    refuse: list[bool] = [False]

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if refuse[0] and isinstance(message, str) and json.loads(message)["type"] == "report":
                ws.send(frame(type="error", code="unsupported", message="not yet"))
                return
            server.send(message)

        ws.on_message(to_server)

    page = await ChatPage.routed(chromium, worker, route)
    await page.enter("stimulants")
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join("stimulants")
    await other.say("stimulants", "a message someone might report", "r1")
    await other.say("stimulants", "another one", "r2")

    first = await page.wait_message("a message someone might report")
    await first.get_by_role("button", name="Report").click()
    await first.get_by_role("button", name="Spam or a scam").click()
    await expect(first.locator(".msg-status")).to_have_text("Thanks, reported.")

    refuse[0] = True
    second = await page.wait_message("another one")
    await second.get_by_role("button", name="Report").click()
    await second.get_by_role("button", name="Something else").click()
    await expect(second.locator(".msg-status")).to_have_text(
        "Reporting isn't available yet. If someone may be in danger, use Get help now."
    )


async def test_a_long_message_is_counted_and_refused_before_sending(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(**FAST)
    page = await ChatPage.open(chromium, worker)
    await page.enter("newcomers")
    box = page.page.get_by_label("Your message")
    await box.fill("é" * 2000)
    await expect(page.page.locator("#counter")).to_have_text("2000 / 2000")
    await expect(page.page.locator("#send")).to_be_enabled()
    await box.fill("😀" * 2001)  # code points, as the server counts, not UTF-16 units
    await expect(page.page.locator("#counter")).to_have_text("2001 / 2000: 1 too many")
    await expect(page.page.locator("#send")).to_be_disabled()
    await box.press("Enter")
    assert await page.messages().count() == 0
    await box.fill("line one")
    await box.press("Shift+Enter")
    await box.type("line two")
    assert await box.input_value() == "line one\nline two"
    await box.press("Enter")
    await page.wait_message("line one\nline two")
