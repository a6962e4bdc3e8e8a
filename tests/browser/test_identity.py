"""Identity in a real browser (issue #17, findings 8 and 10): quick exit leaves no token or
draft behind; a token that stopped opening its identity is replaced, and the page says so; and
"yours" is decided by the writer's tag, never by a display name two people may share."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Page, WebSocketRoute, expect

from tests.conftest import TEST_SECRET, HarborFactory
from tests.tokens import aged

from .chat import ChatPage, ms
from .conftest import Chromium

DRAFT = "half a thought I never sent"


async def stored(page: Page) -> dict[str, dict[str, str]]:
    """Every key in this origin's localStorage and (this tab's) sessionStorage."""
    result: dict[str, dict[str, str]] = await page.evaluate(
        """() => ({
            local: Object.fromEntries(Object.entries(localStorage)),
            session: Object.fromEntries(Object.entries(sessionStorage)),
        })"""
    )
    return result


async def test_quick_exit_leaves_no_token_or_draft_in_the_browser(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """Before: only "Forget me" removed the token, so the next person at the device reopened
    the last one's name and private check-in."""
    worker = harbor()
    page = await ChatPage.open(chromium, worker)
    await page.enter("newcomers")
    await page.page.get_by_label("Your message").fill(DRAFT)
    # Drafts as a page keeps them, including one saved as the page goes away (it must not
    # survive either).
    await page.page.evaluate(
        """(draft) => {
            localStorage.setItem("harbor.draft.newcomers", draft);
            sessionStorage.setItem("harbor.draft.newcomers", draft);
            addEventListener("pagehide", () => sessionStorage.setItem("harbor.draft.late", draft));
        }""",
        DRAFT,
    )
    before = await stored(page.page)
    assert before["local"].get("harbor.token"), "the page keeps its token while it is open"

    await page.page.get_by_role("link", name="Quick exit").click()
    await page.page.wait_for_url("about:blank", timeout=ms(10))

    await page.page.goto(worker.http + "/help/")  # the same tab: its sessionStorage too
    assert await stored(page.page) == {"local": {}, "session": {}}


async def test_an_expired_token_gets_a_new_name_and_the_page_says_so(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """A token unused for longer than HARBOR_TOKEN_IDLE_DAYS: a new identity, told honestly."""
    worker = harbor(HARBOR_SECRET=TEST_SECRET)
    page = await ChatPage.open(chromium, worker)
    first = await page.name()
    token = (await stored(page.page))["local"]["harbor.token"]
    await page.page.evaluate(
        "(token) => localStorage.setItem('harbor.token', token)", aged(TEST_SECRET, token, 31)
    )
    await page.page.reload()
    await page.wait_online()
    banner = page.page.locator("#banner-text")
    await expect(banner).to_contain_text("It's been a while, so Harbor gave you a new name")
    await expect(banner).to_contain_text("no longer linked to this device")
    second = await page.name()
    assert second != first
    await expect(banner).to_contain_text(second)
    assert (await stored(page.page))["local"]["harbor.token"] != token


async def test_a_message_from_someone_else_with_my_name_is_not_mine(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """Before: any message carrying your display name was marked "you" and lost its Report
    link, so a name collision (or a copied name) hid someone else's words from reporting."""
    worker = harbor()
    routes: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        routes.append(ws)

    page = await ChatPage.routed(chromium, worker, route)
    await page.enter("newcomers")
    await page.say("my own words")
    mine = await page.wait_message("my own words")
    await expect(mine).to_have_class("msg own")
    await expect(mine.get_by_role("button", name="Report")).to_have_count(0)

    name = await page.name()
    impostor: dict[str, Any] = {
        "type": "message",
        "room": "newcomers",
        "id": 10_000,
        "from": name,
        "author": "0123456789ab",
        "text": "same name, someone else",
        "ts": 1_700_000_000_000,
    }
    routes[-1].send(json.dumps(impostor))
    theirs = await page.wait_message("same name, someone else")
    await expect(theirs.locator(".msg-from")).to_have_text(name)
    await expect(theirs).to_have_class("msg")
    await expect(theirs.locator(".msg-you")).to_have_count(0)
    await expect(theirs.get_by_role("button", name="Report")).to_be_visible()


async def test_i_can_delete_my_own_message_and_the_page_says_who_removed_it(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """Finding 6's last line: nobody could delete their own message. Now "Delete" sits on my
    stored messages only, asks once, and takes the words away for everyone; a late joiner's
    history leaves them out. Each viewer is told only what they can know: I deleted mine; a
    removal I didn't ask for can only have been a moderator's; others just see it went."""
    worker = harbor()
    routes: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        routes.append(ws)

    mine = await ChatPage.routed(chromium, worker, route)
    other = await ChatPage.open(chromium, worker)
    for page in (mine, other):
        await page.enter("newcomers")
    await other.say("words of someone else")
    await mine.say("something I regret saying")
    regret_id = await (await mine.wait_message("something I regret saying")).get_attribute(
        "data-id"
    )
    regret = mine.page.locator(f'.msg[data-id="{regret_id}"]')  # its text is about to change
    theirs = await mine.wait_message("words of someone else")
    await expect(
        theirs.get_by_role("button", name="Delete this message for everyone")
    ).to_have_count(0)

    delete = regret.get_by_role("button", name="Delete this message for everyone")
    await delete.click()
    await expect(regret.locator(".msg-ask")).to_contain_text("Delete for everyone?")
    await regret.get_by_role("button", name="Keep").click()
    await expect(regret.locator(".msg-text")).to_have_text("something I regret saying")
    await expect(delete).to_be_focused()

    await delete.click()
    await regret.get_by_role("button", name="Delete", exact=True).click()
    await expect(regret.locator(".msg-text")).to_have_text("You deleted this message.")
    await expect(regret.get_by_role("button")).to_have_count(0)
    seen_by_other = other.page.locator(f'.msg[data-id="{regret_id}"]')
    await expect(seen_by_other.locator(".msg-text")).to_have_text("This message was removed.")
    await expect(seen_by_other.get_by_role("button", name="Report")).to_have_count(0)

    late = await ChatPage.open(chromium, worker)
    await late.enter("newcomers")
    await late.wait_message("words of someone else")
    assert "something I regret saying" not in await late.texts()

    # A removal I didn't ask for, on my own message: only a moderator can have made it.
    await mine.say("a second thought")
    second_id = await (await mine.wait_message("a second thought")).get_attribute("data-id")
    second = mine.page.locator(f'.msg[data-id="{second_id}"]')
    routes[-1].send(json.dumps({"type": "hidden", "room": "newcomers", "id": int(second_id or 0)}))
    await expect(second.locator(".msg-text")).to_have_text("A moderator removed this message.")
