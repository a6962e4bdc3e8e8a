"""The safety controls: Get help now (with and without JavaScript), support frames, quick exit,
the first-visit welcome and forget me."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from playwright.async_api import WebSocketRoute, expect

from tests.conftest import HarborFactory
from tests.harness import REPO, Client

from .chat import ChatPage, ms
from .conftest import Chromium, frame, screenshot_path

CRISIS_NUMBERS = ["988", "1-800-662-4357", "741741", "116 123", "911", "999", "112"]
SECRET = "my sponsor is called Dana and I work at the bakery"


async def test_get_help_now_opens_the_panel_and_escape_closes_it(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor()
    page = await ChatPage.open(chromium, worker)
    await page.enter("newcomers")
    help_link = page.page.get_by_role("link", name="Get help now")
    await expect(help_link).to_have_attribute("href", "/help/")
    await help_link.click()
    panel = page.page.get_by_role("dialog", name="Get help now")
    await expect(panel).to_be_visible()
    for number in CRISIS_NUMBERS:
        await expect(panel).to_contain_text(number)
    await expect(panel.locator("a[href='tel:988']").first).to_be_visible()
    await expect(panel.locator("a[href='sms:741741?body=HOME']")).to_be_visible()
    await page.page.screenshot(path=screenshot_path("support-panel.png"))
    await page.page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(help_link).to_be_focused()  # focus comes back to where it was


@pytest.mark.parametrize("reopened", ["before the close event", "before the step back"])
async def test_help_opened_again_just_after_it_closed_stays_open(
    chromium: Chromium, harbor: HarborFactory, reopened: str
) -> None:
    """A support frame can arrive the moment someone closes the panel. Closing steps back over
    the panel's history entry, and that step lands a moment later: it must not shut the panel
    that opened again meanwhile (it did once in CI, on a support frame). The page itself opens
    the panel again at each of the two moments, so the race is certain, not timed."""
    worker = harbor()
    page = await ChatPage.open(chromium, worker)
    await page.enter("newcomers")
    browser_page = page.page
    await browser_page.get_by_role("link", name="Get help now").click()
    panel = browser_page.get_by_role("dialog", name="Get help now")
    await expect(panel).to_be_visible()
    await browser_page.wait_for_function("history.state && history.state.panel === true")
    # Both openings run in tasks of the page itself. The evaluation ends once the step back
    # over the closed panel's entry has landed (its popstate), or after 2 s when none comes
    # (when the panel was open again before its close event, nothing steps back).
    await browser_page.evaluate(
        """(reopened) => new Promise((settled) => {
            addEventListener("popstate", () => setTimeout(settled), { once: true });
            setTimeout(settled, 2000);
            const panel = document.getElementById("help-panel");
            const open = () => document.getElementById("help-link").click();
            if (reopened === "before the step back") {
                panel.addEventListener("close", open, { once: true });  // after the page's own
                panel.querySelector("[data-close]").click();
            } else {  // close() and open in one task: the close event comes after the open
                panel.querySelector("[data-close]").click();
                open();
            }
        })""",
        reopened,
    )
    assert await browser_page.evaluate("history.state.panel") is True
    await expect(panel).to_be_visible()
    await expect(panel.locator("#help-message")).to_contain_text("you don't have to wait")
    await browser_page.go_back()  # Back still closes the panel, and the room stays
    await expect(panel).to_be_hidden()
    await expect(browser_page.locator("#text")).to_be_visible()


async def test_get_help_now_is_on_every_view(chromium: Chromium, harbor: HarborFactory) -> None:
    worker = harbor()
    page = await ChatPage.open(chromium, worker, accept=False)
    help_link = page.page.get_by_role("link", name="Get help now")
    await expect(help_link).to_be_visible()  # welcome
    await page.accept()
    await expect(help_link).to_be_visible()  # rooms
    await page.enter("alcohol")
    await expect(help_link).to_be_visible()  # a room
    await page.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await expect(help_link).to_be_in_viewport()  # the top bar stays in reach


async def test_help_page_works_without_javascript(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor()
    page = await chromium.page(worker.http + "/help", java_script_enabled=False)
    assert page.url == worker.http + "/help/"
    await expect(page.get_by_role("heading", name="Get help now", level=1)).to_be_visible()
    for number in CRISIS_NUMBERS:
        await expect(page.locator("main")).to_contain_text(number)
    await page.screenshot(path=screenshot_path("help-page-no-js.png"))
    # The chat page without JavaScript: a plain message, and the link still reaches help.
    await page.goto(worker.http + "/")
    await expect(page.get_by_text("Harbor's chat needs JavaScript.")).to_be_visible()
    await page.get_by_role("link", name="Get help now").first.click()
    await expect(page).to_have_url(worker.http + "/help/")
    await expect(page.locator("main")).to_contain_text("116 123")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        if tag == "a" and re.match(r"^(tel|sms):", href):
            self.hrefs.add(href)


def _phone_links(path: Path) -> set[str]:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.hrefs


def test_help_panel_and_help_page_list_the_same_lines() -> None:
    """The panel in index.html duplicates help/index.html (no JS needed there): keep them equal."""
    page = _phone_links(REPO / "web" / "help" / "index.html")
    assert page >= {"tel:988", "sms:988", "tel:+18006624357", "sms:741741?body=HOME", "tel:116123"}
    assert page >= {"tel:911", "tel:999", "tel:112"}
    assert _phone_links(REPO / "web" / "index.html") >= page


async def test_support_and_duty_frames_open_the_panel_and_show_moderators(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """The moderation release will send these frames; inject them into a real connection."""
    worker = harbor()
    routes: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        routes.append(ws)

    page = await ChatPage.routed(chromium, worker, route)
    browser_page = page.page
    await page.enter("mental-health")
    duty = browser_page.locator("#duty")
    # From the welcome on, no later change needed (issue #18, finding 7).
    await expect(duty).to_have_text("Moderators: none on duty right now")

    routes[-1].send(frame(type="duty", on_duty=True))
    await expect(duty).to_have_text("Moderators: a volunteer is on duty")
    routes[-1].send(frame(type="duty", on_duty=False))
    await expect(duty).to_have_text("Moderators: none on duty right now")

    routes[-1].send(
        frame(
            type="support",
            message="You're not alone. A volunteer will check in when one is on duty.",
            resources=[
                {
                    "name": "Local warmline",
                    "action": "Call 555 0100",
                    "href": "tel:5550100",
                    "region": "US",
                },
                {"name": "Bad link", "action": "Click", "href": "javascript:alert(1)"},
                "<b>plain text resource</b>",
            ],
        )
    )
    panel = browser_page.get_by_role("dialog", name="Get help now")
    await expect(panel).to_be_visible()
    await expect(panel.locator("#help-message")).to_have_text(
        "You're not alone. A volunteer will check in when one is on duty."
    )
    extra = panel.locator("#help-extra")
    await expect(extra).to_contain_text("Local warmline: Call 555 0100")
    await expect(extra.get_by_role("link", name="Call 555 0100")).to_have_attribute(
        "href", "tel:5550100"
    )
    await expect(extra).to_contain_text("Bad link: Click")
    await expect(extra).to_contain_text("<b>plain text resource</b>")
    assert await extra.locator("a[href^='javascript']").count() == 0
    await expect(panel.locator("#help-static")).to_be_hidden()  # the server's list replaces it
    await expect(panel).to_contain_text("911")
    await panel.get_by_role("button", name="Close").click()
    await expect(panel).to_be_hidden()
    # Without a message the frame still opens the panel, with the general kind wording.
    routes[-1].send(frame(type="support"))
    await expect(panel.locator("#help-message")).to_contain_text("you don't have to wait")
    await expect(panel.locator("#help-static")).to_contain_text("988")


async def _room_with_secret(chromium: Chromium, harbor: HarborFactory) -> ChatPage:
    worker = harbor()
    page = await ChatPage.open(chromium, worker)
    await page.enter("family-friends")
    await page.say(SECRET)
    await page.wait_message(SECRET)
    return page


async def _assert_exited(page: ChatPage) -> None:
    await page.page.wait_for_url("about:blank", timeout=ms(10))
    assert SECRET not in await page.page.content()
    await page.page.go_back()
    assert not page.page.url.startswith("http://127.0.0.1"), "Back returned to the chat"
    assert SECRET not in await page.page.content()


async def test_quick_exit_button_leaves_no_chat_behind(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    page = await _room_with_secret(chromium, harbor)
    await page.page.get_by_role("link", name="Quick exit").click()
    await _assert_exited(page)


async def test_escape_three_times_leaves_no_chat_behind(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    page = await _room_with_secret(chromium, harbor)
    await page.page.get_by_label("Your message").focus()  # even from inside the text box
    for _ in range(3):
        await page.page.keyboard.press("Escape")
    await _assert_exited(page)


async def test_escape_pressed_slowly_does_not_exit(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    page = await _room_with_secret(chromium, harbor)
    for _ in range(2):
        await page.page.keyboard.press("Escape")
    await page.page.wait_for_timeout(1700)  # past the 1.5 s window: the count starts over
    await page.page.keyboard.press("Escape")
    await page.wait_message(SECRET)
    assert page.page.url.startswith("http://127.0.0.1")


async def test_quick_exit_target_cannot_be_pointed_elsewhere(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor()
    page = await chromium.page(worker.http + "/")
    targets = await page.evaluate(
        """async () => {
            const { exitTarget } = await import("/shared/quickexit.js");
            const root = document.documentElement;
            const at = (search) => exitTarget(new URL(location.origin + "/" + search), root);
            return [at(""), at("?exit=https://evil.example/"), at("?exit=about:blank"),
                    at("?exit=/help/"), at("?exit=javascript:alert(1)")];
        }"""
    )
    default = "https://www.wikipedia.org/wiki/Special:Random"
    assert targets == [default, default, "about:blank", worker.http + "/help/", default]


async def test_welcome_is_remembered_and_forget_me_makes_a_new_person(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor()
    page = await ChatPage.open(chromium, worker, accept=False)
    welcome = page.page.get_by_role("heading", name="Welcome to Harbor")
    await expect(welcome).to_be_visible()
    await expect(page.page.locator("#view-welcome")).to_contain_text(
        "Peer support, not professional care."
    )
    await expect(page.page.locator("#view-welcome")).to_contain_text("988")
    await page.page.screenshot(path=screenshot_path("welcome.png"))
    await page.accept()
    first = await page.name()
    await page.page.reload()
    await page.wait_online()
    await expect(welcome).to_be_hidden()
    assert await page.name() == first, "the token in localStorage keeps the pseudonym"

    await page.page.get_by_role("button", name="Forget me on this device").click()
    await expect(welcome).to_be_visible()
    stored = await page.page.evaluate(
        "[localStorage.getItem('harbor.token'), localStorage.getItem('harbor.accepted.v1')]"
    )
    assert stored == [None, None]
    await page.accept()
    assert await page.name() != first


async def test_a_terminal_close_code_does_not_loop_and_4008_resumes(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """4008 (too slow) → reconnect and resume with `since`, and say older messages are gone when
    history no longer reaches back; 1008 → stop, and say so, instead of hammering the server."""
    worker = harbor(
        HARBOR_HISTORY_LEN="3", HARBOR_SEND_RATE_PER_10S="1000", HARBOR_SEND_BURST="200"
    )
    routes: list[WebSocketRoute] = []
    held: list[bool] = [False]

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        routes.append(ws)

        def to_page(message: str | bytes) -> None:
            if not held[0]:
                ws.send(message)

        server.on_message(to_page)

    page = await ChatPage.routed(chromium, worker, route)
    browser_page = page.page
    await page.enter("sober-living")
    other = await Client.connect(worker.ws)
    await other.hello()
    await other.join("sober-living")
    await other.say("sober-living", "seen before the gap", "g0")
    await page.wait_message("seen before the gap")

    held[0] = True  # the page stops hearing the server, as a slow member would
    for n in range(6):
        await other.say("sober-living", f"missed {n}", f"g{n + 1}")
    await routes[-1].close(code=4008, reason="too slow")
    held[0] = False
    await page.wait_online()
    await page.wait_joined()
    await expect(browser_page.locator(".msg-notice")).to_have_text(
        "Some older messages are no longer available."
    )
    for n in (3, 4, 5):
        await page.wait_message(f"missed {n}")
    assert await page.message("seen before the gap").count() == 1
    assert len(routes) == 2

    await routes[-1].close(code=1008, reason="policy")
    await expect(browser_page.locator("#conn")).to_have_text(
        "Disconnected. Reload the page to try again."
    )
    await browser_page.wait_for_timeout(1500)  # longer than the first backoff could be
    assert len(routes) == 2, "reconnected after a do-not-reconnect close"


async def test_backoff_is_capped_and_jittered(chromium: Chromium, harbor: HarborFactory) -> None:
    worker = harbor()
    page = await chromium.page(worker.http + "/")
    result = await page.evaluate(
        """async () => {
            const s = await import("/shared/socket.js");
            const at = (n, r) => s.backoffDelay(n, () => r);
            return {
                low: [0, 1, 2, 6, 20].map((n) => at(n, 0)),
                high: [0, 1, 2, 6, 20].map((n) => at(n, 0.999999)),
                terminal: [1000, 1001, 1006, 1011, 1012, 4008, 4499, 1008, 4500, 4503, 4999]
                    .map((code) => s.closeIsTerminal(code)),
            };
        }"""
    )
    assert result["low"] == [250, 500, 1000, 15000, 15000]
    assert result["high"] == [750, 1500, 3000, 45000, 45000]
    assert result["terminal"] == [False] * 7 + [True] * 4


async def test_the_support_text_and_the_room_note_are_honest_about_who_is_on_duty(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """With nobody on duty, neither the writer nor the room is told a moderator is with them,
    and the writer keeps their own words in their own bubble; once a volunteer signs in, the
    writer is told one has been alerted."""
    worker = harbor(terminal=True)  # the volunteer signs in with the one-time link
    writer = await ChatPage.open(chromium, worker)
    reader = await ChatPage.open(chromium, worker)
    for page in (writer, reader):
        await page.enter("opioids")
    words = "I took the whole bottle of pills an hour ago and my lips are going numb"
    await writer.say(words)
    panel = writer.page.get_by_role("dialog", name="Get help now")
    await expect(panel).to_be_visible(timeout=ms(10))
    message = panel.locator("#help-message")
    await expect(message).to_contain_text("No volunteer moderator is online here right now")
    await expect(message).not_to_contain_text("alerted")
    assert (await message.inner_text()).index("24/7") < (await message.inner_text()).index(
        "No volunteer"
    ), "the 24/7 lines come first"
    await panel.get_by_role("button", name="Close").click()
    own = await writer.wait_message(words)
    await expect(own.locator(".msg-status")).to_contain_text("Only you see your words here")
    await expect(own.locator(".msg-status")).to_contain_text("No volunteer moderator is online")
    note = reader.messages().last
    await expect(note.locator(".msg-text")).to_contain_text("shown where to get help")
    await expect(reader.page.locator("#messages-host")).not_to_contain_text(words)
    await expect(reader.page.locator("#messages-host")).not_to_contain_text("moderator is with")
    await expect(writer.page.locator("#duty")).to_have_text("Moderators: none on duty right now")

    # A volunteer signs in (the embedded default's one-time link).
    chromium.allow_console_error(r"status of 401 \(Unauthorized\)")
    link = worker.wait_for_output(r"/mod/#link=[\w-]+").group(0)
    volunteer = await chromium.page(worker.http + link)
    await expect(volunteer.locator("#conn")).to_have_attribute("data-state", "online")
    await expect(writer.page.locator("#duty")).to_have_text(
        "Moderators: a volunteer is on duty", timeout=ms(10)
    )
    await writer.say("I want to die, I can't do this anymore")
    await expect(panel).to_be_visible(timeout=ms(10))
    await expect(message).to_contain_text("A volunteer moderator has been alerted")
    await expect(message).not_to_contain_text("No volunteer moderator is online")


async def test_a_message_that_drops_the_connection_each_time_is_not_resent_in_a_loop(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """If sending one message keeps ending the connection (a server fault), the page resends
    it after each reconnect only a few times, then marks it not sent for the person to retry."""
    worker = harbor()
    sends: list[str] = []
    closing: list[asyncio.Task[None]] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and '"poison"' in message:
                sends.append(message)
                closing.append(asyncio.create_task(ws.close(code=1011, reason="internal error")))
                return
            server.send(message)

        ws.on_message(to_server)

    page = await ChatPage.routed(chromium, worker, route)
    browser_page = page.page
    await page.enter("newcomers")
    await page.say("poison")
    failed = page.message("poison")
    await expect(failed).to_have_class(re.compile(r"\bfailed\b"), timeout=ms(30))
    await expect(failed).to_contain_text("The connection dropped each time this was sent.")
    count = len(sends)
    assert count == 3
    await page.wait_online()
    await browser_page.wait_for_timeout(2000)  # longer than a reconnect and re-join take
    assert len(sends) == count, "resent after it was marked not sent"
    await page.say("an ordinary line still goes through")
    await page.wait_message("an ordinary line still goes through")
