"""The chat page as a person on a phone at 2 am finds it (issue #18), at a phone's 390x844 and a
laptop's 1280x800: the newest message in view, pacing, room addresses, help by region, the
check-in invite after a reload, no wrapped buttons, the first paint and the 404 page."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, WebSocketRoute, expect

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, seconds

from .chat import ChatPage, ms
from .conftest import EXIT, Chromium, screenshot_path
from .test_accessibility import serious_violations

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
    await page.page.screenshot(path=screenshot_path(f"{size_name(viewport)}-room-newest.png"))


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


# ---------- 2. pacing ----------

SLOW_DOWN = re.compile(r"Slow down a little: you can send again in \d+ s\.")


@pytest.mark.parametrize("viewport", SIZES)
async def test_fast_typing_never_piles_up_more_than_the_server_allows(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    """Enter pressed on ten messages at once: the server's burst (3 here) are sent, the page says
    "slow down" with the wait, and the next words stay in the box instead of a stuck bubble."""
    worker = harbor(HARBOR_SEND_BURST="3", HARBOR_SEND_RATE_PER_10S="2")
    page = await open_sized(chromium, worker, viewport)
    await page.enter("stimulants")
    box = page.page.get_by_label("Your message")
    for n in range(10):
        await box.fill(f"fast {n}")
        await box.press("Enter")
    await expect(page.page.locator("#pace")).to_have_text(SLOW_DOWN)
    await expect(box).to_have_value("fast 9")
    for n in range(3):
        await page.wait_message(f"fast {n}")
    assert await page.texts() == ["fast 0", "fast 1", "fast 2"]
    await expect(page.page.locator(".msg.pending, .msg.failed")).to_have_count(0)
    await page.page.screenshot(path=screenshot_path(f"{size_name(viewport)}-slow-down.png"))
    # Once the wait is over the notice goes, and the words in the box send normally.
    await expect(page.page.locator("#pace")).to_be_hidden(timeout=ms(15))
    await box.press("Enter")
    await page.wait_message("fast 9")
    await expect(page.page.locator(".msg.failed")).to_have_count(0)


@pytest.mark.parametrize("viewport", SIZES)
async def test_a_server_refusal_shows_its_wait_and_each_message_is_sent_once(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    """A page that believes it may send more than the server allows (the welcome's pace is
    rewritten here) still sends each message once, after the server's `retry_after_ms`, and
    says so."""
    worker = harbor(HARBOR_SEND_BURST="1", HARBOR_SEND_RATE_PER_10S="4")
    refusals: list[int] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            data = json.loads(message)
            if data.get("type") == "welcome":
                data["pace"] = {"burst": 50, "per_10s": 1000}
            if data.get("type") == "error" and data.get("code") == "rate_limited":
                refusals.append(int(data["retry_after_ms"]))
            ws.send(json.dumps(data))

        server.on_message(to_page)

    context = await chromium.context(viewport=viewport, has_touch=viewport is PHONE)
    await context.route_web_socket(re.compile(r"/ws$"), route)
    browser_page = await context.new_page()
    chromium.watch_page(browser_page)
    await browser_page.goto(worker.http + "/" + EXIT)
    page = ChatPage(browser_page)
    await page.accept()
    await page.enter("alcohol")
    texts = [f"quick message {n}" for n in range(4)]
    for text in texts:
        await page.say(text)
    await expect(page.page.locator("#pace")).to_have_text(SLOW_DOWN)
    assert refusals, "the server never refused: the test did not test the refusal"
    accepted = await page.texts()
    assert len(accepted) >= 2 and accepted == texts[: len(accepted)], accepted
    for text in accepted:
        await page.wait_message(text, within=20)
    assert await page.texts() == accepted
    await expect(page.page.locator(".msg.failed")).to_have_count(0)
    if len(accepted) < len(texts):  # what was typed during the wait is still in the box
        await expect(page.page.get_by_label("Your message")).to_have_value(texts[-1])


# ---------- 3. room addresses, Back and drafts ----------


def address(worker: HarborProcess, path: str) -> re.Pattern[str]:
    """The page's address at `path`, whatever query it was opened with (`?exit=`)."""
    return re.compile(re.escape(worker.http + path) + r"(\?.*)?$")


async def view(page: Page) -> str:
    result: str = await page.evaluate("document.body.dataset.view")
    return result


@pytest.mark.parametrize("viewport", SIZES)
async def test_a_room_has_an_address_that_survives_a_reload_and_back_closes_help_then_the_room(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor()
    page = await open_sized(chromium, worker, viewport)
    browser_page = page.page
    await page.enter("alcohol")
    await expect(browser_page).to_have_url(address(worker, "/r/alcohol"))
    box = browser_page.get_by_label("Your message")
    await box.fill("a draft I'm not ready to send")
    await browser_page.reload()
    await page.wait_joined()
    await expect(browser_page.get_by_role("heading", name="Alcohol", level=1)).to_be_visible()
    await expect(browser_page).to_have_url(address(worker, "/r/alcohol"))
    await expect(box).to_have_value("a draft I'm not ready to send")

    await browser_page.get_by_role("link", name="Get help now").click()
    panel = browser_page.get_by_role("dialog", name="Get help now")
    await expect(panel).to_be_visible()
    await browser_page.go_back()  # Android's back gesture: the panel closes, the room stays
    await expect(panel).to_be_hidden()
    assert await view(browser_page) == "room"
    await expect(browser_page).to_have_url(address(worker, "/r/alcohol"))
    await browser_page.go_back()  # then the room closes, for the list, still on Harbor
    await expect(browser_page.get_by_role("heading", name="Rooms")).to_be_visible()
    await expect(browser_page).to_have_url(address(worker, "/"))
    # The draft waits in its room; another room has its own (empty) box.
    await page.enter("opioids")
    await expect(box).to_have_value("")
    await browser_page.get_by_role("button", name="Rooms").click()
    await expect(browser_page).to_have_url(address(worker, "/"))
    await page.enter("alcohol")
    await expect(box).to_have_value("a draft I'm not ready to send")
    await box.press("Enter")
    await page.wait_message("a draft I'm not ready to send")
    keys = await browser_page.evaluate("Object.keys(localStorage)")
    assert not [k for k in keys if k.startswith("harbor.draft.")], keys  # sent: no draft kept


@pytest.mark.parametrize("viewport", SIZES)
async def test_a_room_address_opened_fresh_shows_the_welcome_then_the_room_and_back_the_list(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor()
    browser_page = await chromium.page(
        worker.http + "/r/opioids" + EXIT, viewport=viewport, has_touch=viewport is PHONE
    )
    page = ChatPage(browser_page)
    await expect(browser_page.get_by_role("heading", name="Welcome to Harbor")).to_be_visible()
    await page.accept()
    await page.wait_joined()
    await expect(browser_page.get_by_role("heading", name="Opioids", level=1)).to_be_visible()
    await browser_page.go_back()
    await expect(browser_page.get_by_role("heading", name="Rooms")).to_be_visible()
    assert browser_page.url.startswith(worker.http), "Back left Harbor"


@pytest.mark.parametrize("viewport", SIZES)
async def test_an_unknown_room_or_page_gets_a_calm_404_with_help_and_quick_exit(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int], axe_source: str
) -> None:
    worker = harbor()
    chromium.allow_console_error(r"status of 404 \(Not Found\)")  # the page itself, as it should
    context = await chromium.context(viewport=viewport, has_touch=viewport is PHONE)
    await context.add_init_script(script=axe_source)
    browser_page = await context.new_page()
    chromium.watch_page(browser_page)
    for path in ("/r/no-such-room", "/no-such-page"):
        response = await browser_page.goto(worker.http + path + EXIT)
        assert response is not None and response.status == 404
        await expect(
            browser_page.get_by_role("heading", name="This page isn't here")
        ).to_be_visible()
        await expect(browser_page.get_by_role("link", name="Get help now")).to_have_attribute(
            "href", "/help/"
        )
        await expect(browser_page.get_by_role("link", name="Go to Harbor's rooms")).to_be_visible()
        assert await serious_violations(browser_page) == []
    await browser_page.screenshot(path=screenshot_path(f"{size_name(viewport)}-not-found.png"))
    await browser_page.get_by_role("link", name="Quick exit").click()
    await browser_page.wait_for_url("about:blank", timeout=ms(10))


# ---------- 4. help by region ----------


async def visible_lines(panel: Locator) -> list[str]:
    """The tel:/sms: links a person sees without opening "other countries"."""
    links = panel.locator("a[href^='tel:']:visible, a[href^='sms:']:visible")
    hrefs: list[str] = await links.evaluate_all("nodes => nodes.map(n => n.getAttribute('href'))")
    return hrefs


@pytest.mark.parametrize("viewport", SIZES)
async def test_help_lines_come_by_region_from_the_browser_and_the_region_can_be_changed(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor()
    page = await open_sized(chromium, worker, viewport, locale="en-GB", timezone_id="Europe/London")
    browser_page = page.page
    await browser_page.get_by_role("link", name="Get help now").click()
    panel = browser_page.get_by_role("dialog", name="Get help now")
    picker = panel.get_by_label("Lines for")
    await expect(picker).to_have_value("GB")
    lines = await visible_lines(panel.locator("#help-static"))
    assert "tel:116123" in lines and "tel:999" in lines and "tel:988" not in lines, lines
    await expect(panel.get_by_text("Lines in other countries")).to_be_visible()
    await browser_page.screenshot(path=screenshot_path(f"{size_name(viewport)}-help-region.png"))
    await picker.select_option("AU")
    lines = await visible_lines(panel.locator("#help-static"))
    assert "tel:131114" in lines and "tel:000" in lines and "tel:116123" not in lines, lines
    # The choice is kept on this device; the help page shows the same.
    await browser_page.goto(worker.http + "/help/")
    await expect(browser_page.get_by_label("Lines for")).to_have_value("AU")
    lines = await visible_lines(browser_page.locator("#resources"))
    assert "tel:131114" in lines and "tel:000" in lines


@pytest.mark.parametrize(
    ("locale", "zone", "region", "number"),
    [
        ("en-US", "America/Chicago", "US", "tel:988"),
        ("en-CA", "America/Toronto", "CA", "tel:988"),
        ("en-IE", "Europe/Dublin", "IE", "tel:116123"),
        ("de-DE", "Europe/Berlin", "EU", "tel:112"),
        ("en-NZ", "Pacific/Auckland", "NZ", "tel:1737"),
        ("en-AU", "UTC", "AU", "tel:131114"),  # no zone hint: the language's region decides
    ],
)
async def test_the_help_page_picks_the_region_from_time_zone_or_language(
    chromium: Chromium, harbor: HarborFactory, locale: str, zone: str, region: str, number: str
) -> None:
    worker = harbor()
    page = await chromium.page(
        worker.http + "/help/", locale=locale, timezone_id=zone, viewport=PHONE
    )
    await expect(page.get_by_label("Lines for")).to_have_value(region)
    assert number in await visible_lines(page.locator("#resources"))


async def test_an_operators_resources_replace_the_defaults_on_both_pages(
    chromium: Chromium, harbor: HarborFactory, tmp_path: Path
) -> None:
    resources = tmp_path / "resources.json"
    resources.write_text(
        json.dumps(
            [
                {"name": "Local warmline", "action": "Call 555 0100", "href": "tel:5550100",
                 "region": "US"},
                {"name": "Emergency", "action": "Call 911", "href": "tel:911", "region": "US"},
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    worker = harbor(HARBOR_RESOURCES=str(resources))
    page = await chromium.page(
        worker.http + "/help/", locale="en-US", timezone_id="America/New_York"
    )
    await expect(page.locator("#resources")).to_contain_text("Local warmline")
    assert await visible_lines(page.locator("#resources")) == ["tel:5550100", "tel:911"]
    chat = await ChatPage.open(chromium, worker, locale="en-US", timezone_id="America/New_York")
    await chat.page.get_by_role("link", name="Get help now").click()
    await expect(chat.page.locator("#help-static")).to_contain_text("Local warmline")


# ---------- 5. the check-in invitation after a reload ----------


async def routed_sized(
    chromium: Chromium,
    worker: HarborProcess,
    viewport: dict[str, int],
    route: Callable[[WebSocketRoute], Any],
) -> ChatPage:
    context = await chromium.context(viewport=viewport, has_touch=viewport is PHONE)
    await context.route_web_socket(re.compile(r"/ws$"), route)
    browser_page = await context.new_page()
    chromium.watch_page(browser_page)
    await browser_page.goto(worker.http + "/" + EXIT)
    page = ChatPage(browser_page)
    await page.accept()
    return page


@pytest.mark.parametrize("viewport", SIZES)
async def test_a_check_in_invitation_survives_a_reload_and_so_does_the_check_in(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor()
    routes: list[WebSocketRoute] = []
    welcomes: list[dict[str, Any]] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            data = json.loads(message)
            if data.get("type") == "welcome":
                welcomes.append(data)
            ws.send(message)

        server.on_message(to_page)
        routes.append(ws)

    page = await routed_sized(chromium, worker, viewport, route)
    browser_page = page.page
    invite = "A volunteer would like to check in with you, privately."
    room = welcomes[-1]["checkin_room"]
    routes[-1].send(json.dumps({"type": "checkin", "room": room, "message": invite}))
    banner = browser_page.locator("#banner")
    join = browser_page.get_by_role("button", name="Join private check-in")
    await expect(banner).to_contain_text(invite)
    await expect(join).to_be_visible()

    await browser_page.reload()
    await page.wait_online()
    await expect(banner).to_contain_text(invite)  # restored for the same identity
    await expect(join).to_be_visible()
    await browser_page.screenshot(path=screenshot_path(f"{size_name(viewport)}-checkin-invite.png"))
    await join.click()
    await page.wait_joined()
    await expect(browser_page).to_have_url(address(worker, "/r/checkin"))
    await expect(browser_page.get_by_role("heading", name="Private check-in")).to_be_visible()
    assert room not in browser_page.url, "the check-in's id must not reach the history"

    await browser_page.reload()
    await page.wait_joined()
    await expect(browser_page.get_by_role("heading", name="Private check-in")).to_be_visible()
    await expect(banner).to_be_hidden()
    await browser_page.go_back()
    await expect(browser_page.get_by_role("heading", name="Rooms")).to_be_visible()
    await expect(browser_page.locator(f"button[data-room='{room}']")).to_be_visible()
    # Quick exit takes the invitation with everything else.
    await browser_page.get_by_role("link", name="Quick exit").click()
    await browser_page.wait_for_url("about:blank", timeout=ms(10))
    await browser_page.go_back()
    assert not browser_page.url.startswith(worker.http), "Back returned to Harbor"


# ---------- 6. no wrapped buttons, a true first paint ----------

# Every control with a one-line label whose text spans more than one line box. Room cards are
# buttons laid out as blocks on purpose (title, description, count) and are left out.
_WRAPPED_LABELS = """() => {
    const controls = document.querySelectorAll(
        "button:not(.room-button), .btn, summary, select, label");
    const wrapped = [];
    for (const el of controls) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0 || el.closest("[hidden]")) continue;
        const range = document.createRange();
        range.selectNodeContents(el);
        const tops = [...range.getClientRects()].filter((r) => r.width > 0)
            .map((r) => r.top).sort((a, b) => a - b);
        const lines = tops.filter((top, i) => i === 0 || top - tops[i - 1] > 8).length;
        if (lines > 1 || el.scrollWidth > el.clientWidth + 1) {
            wrapped.push(`${el.textContent.trim()} (${lines} lines)`);
        }
    }
    return wrapped;
}"""

WIDTHS = [320, 360, 390, 768, 1280]


async def wrapped_labels(page: Page) -> list[str]:
    result: list[str] = await page.evaluate(_WRAPPED_LABELS)
    return result


async def test_the_wrap_check_can_fail(chromium: Chromium, harbor: HarborFactory) -> None:
    worker = harbor()
    page = await chromium.page(worker.http + "/help/", viewport={"width": 320, "height": 640})
    await page.evaluate(
        "() => { const b = document.createElement('button'); b.textContent = 'Two words';"
        " b.className = 'squeezed'; document.querySelector('main').append(b);"
        " b.style.width = '2rem'; }"
    )
    assert [label.split(" (")[0] for label in await wrapped_labels(page)] == ["Two words"]


@pytest.mark.parametrize("width", WIDTHS)
async def test_no_button_label_wraps_on_any_view(
    chromium: Chromium, harbor: HarborFactory, width: int
) -> None:
    chromium.allow_console_error(r"status of 404 \(Not Found\)")
    worker = harbor()
    routes: list[WebSocketRoute] = []
    welcomes: list[dict[str, Any]] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            data = json.loads(message)
            if data.get("type") == "welcome":
                welcomes.append(data)
            ws.send(message)

        server.on_message(to_page)
        routes.append(ws)

    context = await chromium.context(viewport={"width": width, "height": 800})
    await context.route_web_socket(re.compile(r"/ws$"), route)
    browser_page = await context.new_page()
    chromium.watch_page(browser_page)
    await browser_page.goto(worker.http + "/" + EXIT)
    page = ChatPage(browser_page)
    found: dict[str, list[str]] = {}
    found["welcome"] = await wrapped_labels(browser_page)
    await page.accept()
    await expect(browser_page.locator(".room-button").first).to_be_visible()
    routes[-1].send(
        json.dumps({"type": "checkin", "room": welcomes[-1]["checkin_room"], "message": "Hi."})
    )
    await expect(browser_page.get_by_role("button", name="Join private check-in")).to_be_visible()
    found["rooms, with a check-in invitation"] = await wrapped_labels(browser_page)
    await page.enter("newcomers")
    other = await someone(worker, "newcomers")
    await other.say("newcomers", "hello there", "wrap-1")
    await page.say("hi")
    await page.wait_message("hi")
    await page.wait_message("hello there")
    found["room"] = await wrapped_labels(browser_page)
    await browser_page.get_by_role("link", name="Get help now").click()
    await expect(browser_page.get_by_role("dialog")).to_be_visible()
    found["help panel"] = await wrapped_labels(browser_page)
    await browser_page.keyboard.press("Escape")
    await eventually(
        lambda: browser_page.evaluate("history.state?.panel !== true"), "the panel's entry is gone"
    )
    for path in ("/help/", "/no-such-page"):
        await browser_page.goto(worker.http + path)
        found[path] = await wrapped_labels(browser_page)
    assert {view: labels for view, labels in found.items() if labels} == {}


@pytest.mark.parametrize("viewport", SIZES)
async def test_the_first_paint_says_only_what_is_true(
    chromium: Chromium, harbor: HarborFactory, viewport: dict[str, int]
) -> None:
    worker = harbor()
    html = worker.get_text("/")
    assert "Not connected" not in html and "checking…" not in html
    page = await open_sized(chromium, worker, viewport, accept=False)
    conn = page.page.locator("#conn")
    duty = page.page.locator("#duty")
    await expect(page.page.get_by_role("heading", name="Welcome to Harbor")).to_be_visible()
    await expect(conn).to_be_hidden()  # nothing was tried before the guidelines are accepted
    await expect(duty).to_be_hidden()
    await page.page.screenshot(path=screenshot_path(f"{size_name(viewport)}-welcome.png"))
    await page.accept()
    await expect(conn).to_have_text("Connected")
    # The welcome says who is on duty: shown at once, with no later change needed.
    await expect(duty).to_have_text("Moderators: none on duty right now")
    await page.page.reload()
    await expect(duty).to_have_text("Moderators: none on duty right now")
    await expect(page.page.locator(".room-button").first).to_be_visible()
    await page.page.screenshot(path=screenshot_path(f"{size_name(viewport)}-rooms.png"))
